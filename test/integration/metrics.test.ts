/**
 * blitd's Prometheus metrics, read from a real daemon's GET /metrics after real blit runs: a push
 * and a pull of a known tree, a refused push, an ls and an rm move exactly the counters they
 * should; nothing else is served there; an unconfigured daemon listens on its own port only; a
 * metrics address that cannot be bound or parsed stops blitd with one line.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { createLogger } from '../../src/daemon/logger.js';
import { startServer } from '../../src/daemon/server.js';
import { BlitClient, EntryKind, Operation, type TransferFrame } from '../../src/generated/blit.js';
import { localHello } from '../../src/protocol/handshake.js';
import { tempDir } from '../helpers.js';
import { type Daemon, runBlit, runBlitdSync, startDaemon } from './daemon-harness.js';
import { type Body, batch, entry, open } from './frames.js';

/** A bounded wait for the daemon to finish its bookkeeping after the client has exited. */
const SETTLE_MS = 10_000;

interface Answer {
  status: number;
  type: string;
  body: string;
}

function get(address: string, path: string, method = 'GET'): Promise<Answer> {
  const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(address)!;
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), path, method, timeout: SETTLE_MS, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A scrape: `value('blitd_sessions_total', { verb: 'copy', … })`, undefined for a series not there. */
interface Scrape {
  text: string;
  value(name: string, labels?: Record<string, string>): number | undefined;
}

function parseScrape(text: string): Scrape {
  const series = new Map<string, number>();
  const key = (name: string, labels: Record<string, string>) =>
    `${name}{${Object.keys(labels)
      .sort()
      .map((label) => `${label}=${JSON.stringify(labels[label])}`)
      .join(',')}}`;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!;
    series.set(key(match[1]!, labels), Number(match[3]));
  }
  return { text, value: (name, labels = {}) => series.get(key(name, labels)) };
}

async function scrape(address: string): Promise<Scrape> {
  const answer = await get(address, '/metrics');
  assert.equal(answer.status, 200);
  assert.match(answer.type, /^text\/plain; version=0\.0\.4/);
  return parseScrape(answer.body);
}

/** Scrapes until `ready` holds (the daemon ends a session a moment after its client exits). */
async function scrapeWhen(address: string, ready: (s: Scrape) => boolean): Promise<Scrape> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const scraped = await scrape(address);
    if (ready(scraped)) return scraped;
    if (Date.now() > deadline) assert.fail(`metrics did not settle within ${SETTLE_MS} ms:\n${scraped.text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The TCP ports process `pid` listens on (Linux /proc): its sockets in LISTEN state. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const socket = /^socket:\[(\d+)\]$/.exec(target);
      if (socket) inodes.add(socket[1]!);
    } catch {
      // Closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; st 0A is LISTEN; inode is the tenth field.
      if (fields[3] === '0A' && inodes.has(fields[9]!))
        ports.push(Number.parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

function listeningLine(daemon: Daemon): Record<string, unknown> {
  const line = daemon
    .log()
    .split('\n')
    .find((l) => l.includes('"msg":"listening"'));
  return JSON.parse(line!) as Record<string, unknown>;
}

/**
 * A tree of known content: 5 files, 300,018 bytes, in two directories (one small file in a
 * directory a push makes: counted by its table, transport/stream/fresh-files.ts).
 */
function knownTree(root: string): { files: number; bytes: number } {
  mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
  const sizes: [string, number][] = [
    ['a.txt', 7],
    ['sub/b.bin', 100_000],
    ['sub/small.txt', 11],
    ['sub/deeper/c.bin', 200_000],
    ['empty', 0],
  ];
  for (const [name, size] of sizes) writeFileSync(join(root, name), Buffer.alloc(size, 0x61));
  return { files: sizes.length, bytes: sizes.reduce((sum, [, size]) => sum + size, 0) };
}

function config(root: string, lines: string[]): string {
  const data = join(root, 'data');
  const ro = join(root, 'ro');
  mkdirSync(data);
  mkdirSync(ro);
  const file = join(root, 'blitd.toml');
  writeFileSync(
    file,
    [
      '[daemon]',
      ...lines,
      '',
      '[[module]]',
      'name = "data"',
      `path = "${data}"`,
      '',
      '[[module]]',
      'name = "ro"',
      `path = "${ro}"`,
      'read_only = true',
      '',
    ].join('\n'),
  );
  return file;
}

test('a push, a pull, a refused push, ls and rm, as the metrics count them', async (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  const tree = knownTree(src);
  const daemon = await startDaemon(t, ['--config', config(root, ['metrics = "127.0.0.1:0"'])]);
  const metrics = String(listeningLine(daemon).metrics);
  const metricsPort = Number(/^127\.0\.0\.1:(\d+)$/.exec(metrics)?.[1]);
  assert.ok(metricsPort > 0, `the listening line names the port bound: ${metrics}`);
  assert.deepEqual(
    listeningPorts(daemon.process.pid!),
    [daemon.port, metricsPort].sort((a, b) => a - b),
  );

  const before = await scrape(metrics);
  for (const outcome of ['ok', 'partial', 'refused', 'failed', 'cancelled']) {
    assert.equal(before.value('blitd_sessions_total', { verb: 'mirror', direction: 'pull', outcome }), 0);
  }
  assert.equal(before.value('blitd_received_bytes_total', { module: 'ro' }), 0);
  assert.equal(before.value('blitd_sessions_active'), 0);
  assert.ok(before.value('process_cpu_seconds_total') !== undefined, "prom-client's process metrics");
  assert.ok(before.value('nodejs_heap_size_used_bytes') !== undefined);

  const remote = `127.0.0.1:${daemon.port}`;
  const push = await runBlit(['copy', `${src}/`, `${remote}:/data/tree`]);
  assert.equal(push.status, 0, push.stderr);
  const pull = await runBlit(['copy', `${remote}:/data/tree/`, join(root, 'back')]);
  assert.equal(pull.status, 0, pull.stderr);
  const refused = await runBlit(['copy', `${src}/`, `${remote}:/ro/tree`]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /read-only/);

  const sessions = (verb: string, direction: string, outcome: string) => ({ verb, direction, outcome });
  const after = await scrapeWhen(
    metrics,
    (s) =>
      s.value('blitd_sessions_active') === 0 &&
      s.value('blitd_sessions_total', sessions('copy', 'push', 'refused')) === 1,
  );
  assert.equal(after.value('blitd_sessions_total', sessions('copy', 'push', 'ok')), 1);
  assert.equal(after.value('blitd_sessions_total', sessions('copy', 'pull', 'ok')), 1);
  assert.equal(after.value('blitd_sessions_total', sessions('copy', 'push', 'refused')), 1);
  for (const outcome of ['partial', 'failed', 'cancelled'])
    for (const direction of ['push', 'pull'])
      assert.equal(after.value('blitd_sessions_total', sessions('copy', direction, outcome)), 0);
  assert.equal(after.value('blitd_sessions_total', sessions('mirror', 'push', 'ok')), 0);

  assert.equal(after.value('blitd_received_files_total', { module: 'data' }), tree.files);
  assert.equal(after.value('blitd_received_bytes_total', { module: 'data' }), tree.bytes);
  assert.equal(after.value('blitd_sent_files_total', { module: 'data' }), tree.files);
  assert.equal(after.value('blitd_sent_bytes_total', { module: 'data' }), tree.bytes);
  assert.equal(after.value('blitd_received_files_total', { module: 'ro' }), 0);
  assert.equal(after.value('blitd_sent_bytes_total', { module: 'ro' }), 0);

  assert.equal(after.value('blitd_session_errors_total', { code: 'PERMISSION_DENIED' }), 1);
  assert.equal(after.value('blitd_session_errors_total', { code: 'IO' }), 0);
  assert.equal(after.value('blitd_stalls_total', { plane: 'control' }), 0);
  assert.equal(after.value('blitd_stalls_total', { plane: 'data' }), 0);
  // The refused session is not timed; the push and the pull are, once each.
  const count = (direction: string) =>
    after.value('blitd_session_duration_seconds_count', { verb: 'copy', direction });
  assert.equal(count('push'), 1);
  assert.equal(count('pull'), 1);
  assert.equal(
    after.value('blitd_session_duration_seconds_bucket', { verb: 'copy', direction: 'push', le: '+Inf' }),
    1,
  );
  assert.equal(after.value('blitd_data_sockets_open'), 0);
  assert.ok(
    (after.value('blitd_data_sockets_total') ?? 0) >= 2,
    'the push and the pull each had a data socket',
  );

  // Unary calls, by status: an ls of what is there and of what is not, an rm.
  const calls = (s: Scrape, rpc: string, code: string) => s.value('blitd_calls_total', { rpc, code }) ?? 0;
  const ls = await runBlit(['ls', `${remote}:/data/tree/`]);
  assert.equal(ls.status, 0, ls.stderr);
  const missing = await runBlit(['ls', `${remote}:/data/nothing-here`]);
  assert.equal(missing.status, 1);
  const rm = await runBlit(['rm', '--yes', `${remote}:/data/tree/a.txt`]);
  assert.equal(rm.status, 0, rm.stderr);
  const unary = await scrape(metrics);
  assert.equal(calls(unary, 'list', 'NOT_FOUND') - calls(after, 'list', 'NOT_FOUND'), 1);
  assert.ok(calls(unary, 'list', 'OK') > calls(after, 'list', 'OK'));
  assert.equal(calls(unary, 'purge', 'OK'), 1);

  // Nothing else is served there.
  for (const [path, method] of [
    ['/', 'GET'],
    ['/metrics/x', 'GET'],
    ['/other', 'GET'],
    ['/metrics', 'POST'],
  ] as const) {
    assert.equal((await get(metrics, path, method)).status, 404, `${method} ${path}`);
  }
  assert.equal(await daemon.stop(), 0);
});

test('without [daemon] metrics, blitd says so and listens on its own port only', async (t) => {
  const root = tempDir(t);
  const daemon = await startDaemon(t, ['--config', config(root, [])]);
  assert.equal(listeningLine(daemon).metrics, 'off');
  assert.deepEqual(listeningPorts(daemon.process.pid!), [daemon.port]);
});

test('a metrics address that cannot be bound, or is no address, stops blitd with one line', async (t) => {
  const root = tempDir(t);
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const file = config(root, [`metrics = "127.0.0.1:${port}"`]);
  const busy = runBlitdSync(['--config', file, '--port', '0']);
  assert.equal(busy.status, 1);
  assert.equal(busy.stderr, `blitd: cannot serve metrics on 127.0.0.1:${port}: address already in use\n`);
  assert.equal(busy.stdout, '');

  const wrong = join(root, 'wrong.toml');
  writeFileSync(wrong, readFileSync(file, 'utf8').replace(`127.0.0.1:${port}`, '127.0.0.1'));
  const refused = runBlitdSync(['--config', wrong, '--port', '0']);
  assert.equal(refused.status, 1);
  assert.equal(
    refused.stderr,
    `blitd: ${wrong}:2: daemon.metrics: expected HOST:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9100\n`,
  );
});

test('stopping blitd closes the metrics listener', async (t) => {
  const root = tempDir(t);
  const running = await startServer(
    {
      bind: '127.0.0.1',
      port: 0,
      motd: '',
      logLevel: 'silent',
      metrics: { host: '127.0.0.1', port: 0 },
      modules: [{ name: 'data', path: root, readOnly: false, comment: '' }],
    },
    createLogger('silent'),
  );
  const address = running.metricsAddress!;
  assert.equal((await get(address, '/metrics')).status, 200);
  await running.stop();
  await assert.rejects(get(address, '/metrics'), /ECONNREFUSED/);
});

/** A hand-written client's session: Hello and `opening` sent, resolved once the daemon accepted. */
async function acceptedSession(client: BlitClient, opening: Body) {
  const stream = client.transfer();
  const accepted = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no Accept within 15 s')), 15_000);
    stream.on('data', (frame: TransferFrame) => {
      if (frame.body?.$case !== 'accept') return;
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', () => {});
  });
  stream.write({ role: 0, body: { $case: 'hello', value: localHello('blit') } });
  stream.write({ role: 0, body: opening });
  await accepted;
  return stream;
}

test('a session the client cancels, and one that breaks the protocol, as the metrics count them', async (t) => {
  const root = tempDir(t);
  const daemon = await startDaemon(t, ['--config', config(root, ['metrics = "127.0.0.1:0"'])]);
  const metrics = String(listeningLine(daemon).metrics);
  const client = new BlitClient(`127.0.0.1:${daemon.port}`, credentials.createInsecure());
  t.after(() => client.close());

  const mirror = open('data', 'x', { operation: Operation.OPERATION_MIRROR });
  const cancelled = await acceptedSession(client, mirror);
  assert.equal((await scrape(metrics)).value('blitd_sessions_active'), 1);
  cancelled.cancel();
  const broken = await acceptedSession(client, mirror);
  broken.write({ role: 0, body: batch('', [entry('../escape', EntryKind.ENTRY_KIND_FILE, 1)]) });

  const session = (outcome: string) => ({ verb: 'mirror', direction: 'push', outcome });
  const after = await scrapeWhen(
    metrics,
    (s) =>
      s.value('blitd_sessions_active') === 0 &&
      s.value('blitd_sessions_total', session('cancelled')) === 1 &&
      s.value('blitd_sessions_total', session('failed')) === 1,
  );
  broken.cancel();
  assert.equal(after.value('blitd_sessions_total', session('ok')), 0);
  assert.equal(after.value('blitd_sessions_total', session('refused')), 0);
  assert.equal(after.value('blitd_session_errors_total', { code: 'CANCELLED' }), 1);
  assert.equal(after.value('blitd_session_errors_total', { code: 'PROTOCOL' }), 1);
  assert.equal(after.value('blitd_stalls_total', { plane: 'control' }), 0);
  assert.equal(after.value('blitd_session_duration_seconds_count', { verb: 'mirror', direction: 'push' }), 2);
  assert.equal(after.value('blitd_received_files_total', { module: 'data' }), 0);
});
