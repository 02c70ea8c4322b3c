/**
 * The TCP data plane end to end: a real blitd on 127.0.0.1 and the real CLI. Files on every side of
 * the record layout's limits (empty, batched, whole, exactly one block, blocks) arrive intact by
 * push and by pull over data sockets (the daemon's log says how many the session had); the same
 * with --force-grpc-data uses none; and when data connections are refused (a proxy in front of
 * the daemon lets only the control connection through) the transfer still completes, with one
 * warning that says why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertSameTree, jsonReport, tempDir } from '../helpers.js';
import { type Daemon, runBlit, startDaemon } from './daemon-harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 4 * MiB;

/** Sizes around each limit of the record layout (src/transport/tcp/layout.ts). */
const SIZES = [0, 1, 4 * KiB, 64 * KiB, 64 * KiB + 1, MiB + 3, BLOCK, BLOCK + 1, 2 * BLOCK + 17];

function makeTree(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'many'), { recursive: true });
  for (const size of SIZES) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 997) data[i] = (i / 997 + size) % 251;
    writeFileSync(join(src, `f${size}`), data);
  }
  for (let i = 0; i < 300; i++) writeFileSync(join(src, 'many', `n${i}`), `file ${i}\n`.repeat(i % 7));
  return src;
}

/** makeTree's tree in a temp root, and a blitd (with `env`) serving an empty module beside it. */
async function servedTree(
  t: TestContext,
  env: Record<string, string> = {},
): Promise<{ root: string; src: string; module: string; daemon: Daemon }> {
  const root = tempDir(t, 'blit-data-');
  const src = makeTree(root);
  const module = join(root, 'module');
  mkdirSync(module);
  return { root, src, module, daemon: await startDaemon(t, ['--root', module], env) };
}

/** The daemon's log lines of finished transfers, as parsed: data sockets, outcome and time. */
function transfers(daemon: Daemon): { dataSockets?: number; code?: string; ms?: number }[] {
  return daemon
    .log()
    .split('\n')
    .filter((line) => line.includes('"rpc":"transfer"'))
    .map((line) => JSON.parse(line));
}

/** The data sockets the daemon's last finished transfer had. */
function dataSockets(daemon: Daemon): number {
  const last = transfers(daemon).at(-1) ?? {};
  assert.equal(last.code, 'OK', daemon.log());
  return last.dataSockets ?? -1;
}

test('push and pull over data sockets leave identical trees, at every record size', async (t) => {
  const { root, src, module, daemon } = await servedTree(t);
  const push = await runBlit(['copy', '--json', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst/`]);
  assert.equal(push.status, 0, push.stderr);
  assert.equal(push.stderr, '', 'no warning');
  // Every file, and the directory `many`.
  assert.equal(jsonReport(push).copied, SIZES.length + 300 + 1);
  assertSameTree(join(module, 'dst'), src);
  assert.ok(dataSockets(daemon) >= 1, 'the push used the data plane');

  const back = join(root, 'back');
  const pull = await runBlit(['copy', '--json', `127.0.0.1:${daemon.port}:/default/dst/`, back]);
  assert.equal(pull.status, 0, pull.stderr);
  assert.equal(pull.stderr, '', 'no warning');
  assertSameTree(back, src);
  assert.ok(dataSockets(daemon) >= 1, 'the pull used the data plane');
});

/** The addon the CLI and blitd load (src/fsops/native.ts). */
const ADDON = fileURLToPath(new URL('../../native/build/Release/blit_native.node', import.meta.url));

test('BLIT_TEST_NO_SOCKET_THREAD=1: the addon refuses a socket thread as at a task limit, with EAGAIN, and keeps no descriptor', () => {
  // In a process of its own (the switch is read once): a connected socket handed to dataSocketOpen.
  const script = `
    const net = require('node:net');
    const { readdirSync } = require('node:fs');
    const addon = require(${JSON.stringify(ADDON)});
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const socket = net.connect(server.address().port, '127.0.0.1', () => {
        const open = () => readdirSync('/proc/self/fd').length;
        const before = open();
        let refused = 'not refused';
        try {
          addon.dataSocketOpen(socket._handle.fd, () => {});
        } catch (error) {
          refused = error.code + ' ' + error.syscall;
        }
        process.stdout.write(JSON.stringify({ refused, kept: open() - before }));
        process.exit(0);
      });
    });`;
  const run = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, BLIT_TEST_NO_SOCKET_THREAD: '1' },
  });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { refused: 'EAGAIN pthread_create', kept: 0 });
});

test("a data socket whose thread cannot start stays on Node's path: push and pull complete, blitd serves on", async (t) => {
  // Both processes refused every socket thread, as at a task limit (BLIT_TEST_NO_SOCKET_THREAD).
  const env = { BLIT_TEST_NO_SOCKET_THREAD: '1' };
  const { root, src, module, daemon } = await servedTree(t, env);
  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst/`], { env });
  assert.equal(push.status, 0, push.stderr);
  assert.equal(push.stderr, '', 'no warning');
  assertSameTree(join(module, 'dst'), src);
  assert.ok((await nthTransfer(daemon, 1)).dataSockets >= 1, 'the push used the data plane');
  const back = join(root, 'back');
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/dst/`, back], { env });
  assert.equal(pull.status, 0, pull.stderr);
  assertSameTree(back, src);
  assert.ok((await nthTransfer(daemon, 2)).dataSockets >= 1, 'the pull used the data plane');
  assert.equal(daemon.process.exitCode, null, `blitd is still running: ${daemon.log()}`);
  // What each refused thread was given (the socket's duplicate, its eventfd) is closed again:
  // more sessions leave no more descriptors open in blitd. Counted once a session is logged as
  // over (its sockets closed).
  const open = () => readdirSync(`/proc/${daemon.process.pid}/fd`).length;
  const before = open();
  for (let i = 0; i < 3; i++) {
    const again = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/again${i}/`], { env });
    assert.equal(again.status, 0, again.stderr);
    assert.ok((await nthTransfer(daemon, 3 + i)).dataSockets >= 1, 'the push used the data plane');
  }
  for (const deadline = Date.now() + 10_000; open() > before + 2; ) {
    assert.ok(Date.now() < deadline, `blitd's descriptors went from ${before} to ${open()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

/** The daemon's `n`th finished transfer (1-based), once it has logged it (bounded). */
async function nthTransfer(daemon: Daemon, n: number): Promise<{ dataSockets: number; ms: number }> {
  // The daemon logs a transfer as it ends, which may be just after its client exits.
  for (const deadline = Date.now() + 10_000; transfers(daemon).length < n; ) {
    assert.ok(Date.now() < deadline, `transfer ${n} logged: ${daemon.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const line = transfers(daemon)[n - 1]!;
  assert.equal(line.code, 'OK', daemon.log());
  return { dataSockets: line.dataSockets ?? -1, ms: line.ms ?? 0 };
}

/**
 * Whether a transfer that had nothing to copy opened a socket on its own account: one that took
 * 5 s or more dials at half its tokens' lifetime whether anything is asked for or not
 * (remote/data-dialer.ts).
 */
function openedIdleSocket({ dataSockets, ms }: { dataSockets: number; ms: number }): boolean {
  return dataSockets >= 1 && ms < 5_000;
}

test('after a run that copied nothing, a mirror with nothing to copy opens no data socket; one with a file to copy does (push and pull)', async (t) => {
  const { root, src, daemon } = await servedTree(t);
  const remote = `127.0.0.1:${daemon.port}:/default`;
  const back = join(root, 'back');
  let session = 0;
  /** A push mirror, then a pull mirror back, each succeeding: the daemon's line for each. */
  const pushThenPull = async () => {
    const lines: { way: string; transfer: Awaited<ReturnType<typeof nthTransfer>> }[] = [];
    for (const [way, args] of [
      ['push', [`${src}/`, `${remote}/dst/`]],
      ['pull', [`${remote}/dst/`, back]],
    ] as const) {
      const done = await runBlit(['mirror', '--yes', ...args]);
      assert.equal(done.status, 0, done.stderr);
      lines.push({ way, transfer: await nthTransfer(daemon, ++session) });
    }
    return lines;
  };
  // The first runs copy everything; the next ones nothing, with a run that copied before them (the
  // sockets are dialed at Accept then, and may or may not connect before the end).
  for (const round of ['copies', 'nothing after a copy', 'nothing after nothing']) {
    for (const { way, transfer } of await pushThenPull()) {
      if (round === 'copies') assert.ok(transfer.dataSockets >= 1, `${way}: ${round}`);
      if (round === 'nothing after nothing')
        assert.equal(openedIdleSocket(transfer), false, `${way}: ${round}`);
    }
  }
  assertSameTree(back, src);
  // One file changed, after runs that copied nothing: dialed at the first need, both ways.
  writeFileSync(join(src, 'many', 'n1'), 'changed\n');
  for (const { way, transfer } of await pushThenPull())
    assert.ok(transfer.dataSockets >= 1, `${way} of a change`);
  assertSameTree(back, src);
});

test('a session that ends before its data sockets connect warns of nothing', async (t) => {
  // An empty pull or a push with nothing to send ends at once: the daemon forgets the session's
  // tokens while the client is still dialing, and that refusal is no reason to warn.
  const root = tempDir(t, 'blit-data-');
  const module = join(root, 'module');
  mkdirSync(join(module, 'empty'), { recursive: true });
  const one = join(root, 'one');
  mkdirSync(one);
  writeFileSync(join(one, 'a'), 'a\n');
  const daemon = await startDaemon(t, ['--root', module]);
  const remote = `127.0.0.1:${daemon.port}:/default`;
  for (let round = 0; round < 3; round++) {
    const pull = await runBlit(['copy', `${remote}/empty/`, join(root, `pulled${round}`)]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(pull.stderr, '', `no warning on an empty pull (round ${round})`);
    const push = await runBlit(['copy', `${one}/`, `${remote}/one/`]);
    assert.equal(push.status, 0, push.stderr);
    assert.equal(push.stderr, '', `no warning on a push with nothing to send (round ${round})`);
  }
});

test('--force-grpc-data and BLIT_FORCE_GRPC_DATA=1 keep file data in the control stream', async (t) => {
  const { root, src, module, daemon } = await servedTree(t);
  const push = await runBlit([
    'copy',
    '--force-grpc-data',
    `${src}/`,
    `127.0.0.1:${daemon.port}:/default/dst/`,
  ]);
  assert.equal(push.status, 0, push.stderr);
  assertSameTree(join(module, 'dst'), src);
  assert.equal(dataSockets(daemon), 0);
  const back = join(root, 'back');
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/dst/`, back], {
    env: { BLIT_FORCE_GRPC_DATA: '1' },
  });
  assert.equal(pull.status, 0, pull.stderr);
  assertSameTree(back, src);
  assert.equal(dataSockets(daemon), 0);
});

/**
 * A proxy on 127.0.0.1 in front of the daemon: connections that open as HTTP/2 (the control
 * plane) are relayed, any other (a data socket) is cut at its first byte, as a middlebox that lets
 * only the control connection through would.
 */
async function controlOnlyProxy(t: { after(fn: () => unknown): void }, port: number): Promise<number> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    client.once('data', (first: Buffer) => {
      if (first[0] !== 'P'.charCodeAt(0)) {
        client.destroy();
        return;
      }
      const daemon = connect({ host: '127.0.0.1', port });
      open.add(daemon);
      daemon.on('close', () => {
        open.delete(daemon);
        client.destroy();
      });
      daemon.on('error', () => {});
      client.on('close', () => daemon.destroy());
      daemon.write(first);
      client.pipe(daemon).pipe(client);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of open) socket.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

test('data connections refused: the transfer completes through the control stream, with one warning', async (t) => {
  const { root, src, module, daemon } = await servedTree(t);
  const proxy = await controlOnlyProxy(t, daemon.port);
  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${proxy}:/default/dst/`]);
  assert.equal(push.status, 0, push.stderr);
  assertSameTree(join(module, 'dst'), src);
  const warnings = push.stderr.split('\n').filter(Boolean);
  assert.equal(warnings.length, 1, push.stderr);
  assert.match(
    warnings[0]!,
    /^blit: warning: no data connection to 127\.0\.0\.1:\d+ \(.+\); file data goes through the control connection/,
  );

  const back = join(root, 'back');
  const pull = await runBlit(['copy', `127.0.0.1:${proxy}:/default/dst/`, back]);
  assert.equal(pull.status, 0, pull.stderr);
  assertSameTree(back, src);
  assert.equal(pull.stderr.split('\n').filter(Boolean).length, 1, pull.stderr);
});

/**
 * "A file that changes while it is copied is not installed" on a remote send, for each record a
 * file can travel in over the data plane (batched, whole, in blocks), with the addon and without
 * it, and inside the gRPC stream (--force-grpc-data). BLIT_TEST_CHANGE_SOURCE=PATH
 * (util/test-hang.ts) rewrites the file's first byte before the check that it is still what the
 * scan saw: once its data has been read; with the addon, a batched file just before its last read
 * (read and checked in one call, fsops/read-listed.ts), a larger one once its blocks have left by
 * sendfile, before its CHECKED record (record-sender.ts sendFromFile). The old version at the
 * destination must stay.
 */
const SENDS: { way: string; env: Record<string, string>; dataPlane: boolean }[] = [
  { way: 'with the addon', env: {}, dataPlane: true },
  { way: 'without the addon', env: { BLIT_NO_NATIVE: '1' }, dataPlane: true },
  { way: 'inside the gRPC stream', env: { BLIT_FORCE_GRPC_DATA: '1' }, dataPlane: false },
];
for (const [kind, size] of [
  ['a batched file', 5000],
  ['a file sent whole', 100 * KiB],
  ['a file sent in blocks', 2 * BLOCK + 5],
] as const)
  for (const { way, env, dataPlane } of SENDS)
    test(`${kind} that changes while it is sent is not installed, by push and by pull, ${way}`, async (t) => {
      const root = tempDir(t, 'blit-data-');
      const module = join(root, 'module');
      const src = join(module, 'src');
      mkdirSync(src, { recursive: true });
      const data = Buffer.alloc(size, 7);
      writeFileSync(join(src, 'changing'), data);
      writeFileSync(join(src, 'steady'), 'steady');
      const dst = join(root, 'dst');
      mkdirSync(dst);
      writeFileSync(join(dst, 'changing'), 'the old version, kept');
      const daemon = await startDaemon(t, ['--root', module], {
        ...env,
        BLIT_TEST_CHANGE_SOURCE: join(src, 'changing'),
      });

      const pull = await runBlit(['copy', '--json', `127.0.0.1:${daemon.port}:/default/src/`, dst], { env });
      assert.equal(pull.status, 2, pull.stderr);
      assert.equal(readFileSync(join(dst, 'changing'), 'utf8'), 'the old version, kept');
      assert.equal(readFileSync(join(dst, 'steady'), 'utf8'), 'steady');
      assert.match(JSON.stringify(jsonReport(pull).failures), /changing.*changed while it was copied/);
      assert.equal(dataSockets(daemon) >= 1, dataPlane, 'the pull went the way named');

      const local = join(root, 'local');
      mkdirSync(local);
      writeFileSync(join(local, 'changing'), data);
      writeFileSync(join(local, 'steady'), 'steady');
      mkdirSync(join(module, 'dst'));
      writeFileSync(join(module, 'dst', 'changing'), 'the old version, kept');
      const push = await runBlit(['copy', '--json', `${local}/`, `127.0.0.1:${daemon.port}:/default/dst/`], {
        env: { ...env, BLIT_TEST_CHANGE_SOURCE: join(local, 'changing') },
      });
      assert.equal(push.status, 2, push.stderr);
      assert.equal(readFileSync(join(module, 'dst', 'changing'), 'utf8'), 'the old version, kept');
      assert.equal(readFileSync(join(module, 'dst', 'steady'), 'utf8'), 'steady');
      assert.match(JSON.stringify(jsonReport(push).failures), /changing.*changed while it was copied/);
      assert.equal(dataSockets(daemon) >= 1, dataPlane, 'the push went the way named');
    });
