/**
 * blitd under hostile or careless clients: bytes that do not decode, messages over the size limit,
 * paths that try to leave their module, a mismatched protocol version. Each gets an error status,
 * and the daemon keeps serving. The Transfer stream has its own: transfer-protocol.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  BlitClient,
  type ListRequest,
  type ListResponse,
  type PingResponse,
  type PurgeResponse,
  Transport,
} from '../../src/generated/blit.js';
import { localHello, PROTOCOL_VERSION } from '../../src/protocol/handshake.js';
import { tempDir } from '../helpers.js';
import { type Daemon, startDaemon } from './daemon-harness.js';
import { rawBlitClient } from './raw-client.js';

const DEADLINE_MS = 10_000;
const deadline = () => new Date(Date.now() + DEADLINE_MS);

type RawClient = Client & {
  rawList(
    request: Buffer,
    metadata: Metadata,
    options: object,
    callback: (e: ServiceError | null) => void,
  ): void;
  rawPing(
    request: Buffer,
    metadata: Metadata,
    options: object,
    callback: (e: ServiceError | null) => void,
  ): void;
};

/** A client that sends arbitrary bytes as List and Ping requests. */
function rawClient(target: string): RawClient {
  return rawBlitClient(
    target,
    { rawList: 'List', rawPing: 'Ping' },
    {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    },
  ) as unknown as RawClient;
}

function rawCall(
  client: RawClient,
  name: 'rawList' | 'rawPing',
  bytes: Buffer,
): Promise<ServiceError | null> {
  return new Promise((resolve) =>
    client[name](bytes, new Metadata(), { deadline: deadline() }, (e) => resolve(e)),
  );
}

function unary<Res>(invoke: (callback: (e: ServiceError | null, r: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => invoke((e, r) => (e ? reject(e) : resolve(r))));
}

describe('blitd protocol robustness', () => {
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
  let daemon: Daemon;
  let client: BlitClient;
  let raw: RawClient;
  let moduleDir: string;

  const ping = () =>
    unary<PingResponse>((cb) =>
      client.ping({ hello: localHello('blit'), probes: [] }, new Metadata(), { deadline: deadline() }, cb),
    );
  const list = (request: Partial<ListRequest>) =>
    unary<ListResponse>((cb) =>
      client.list(
        { module: 'default', path: '', startAfter: '', limit: 0, noFollow: false, ...request },
        new Metadata(),
        { deadline: deadline() },
        cb,
      ),
    );
  const purge = (module: string, paths: string[]) =>
    unary<PurgeResponse>((cb) =>
      client.purge({ module, paths }, new Metadata(), { deadline: deadline() }, cb),
    );

  async function assertStillServing() {
    const response = await ping();
    assert.equal(response.hello?.protocolVersion, PROTOCOL_VERSION);
  }

  async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
    try {
      await promise;
    } catch (error) {
      return error as ServiceError;
    }
    assert.fail('the call succeeded');
  }

  before(async () => {
    const root = tempDir(suite);
    moduleDir = join(root, 'module');
    mkdirSync(join(moduleDir, 'dir'), { recursive: true });
    writeFileSync(join(moduleDir, 'dir', 'file'), 'data');
    writeFileSync(join(root, 'outside-file'), 'secret');
    symlinkSync(root, join(moduleDir, 'up'));
    daemon = await startDaemon(suite, ['--root', moduleDir]);
    const target = `127.0.0.1:${daemon.port}`;
    client = new BlitClient(target, credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    raw = rawClient(target);
    suite.after(() => {
      client.close();
      raw.close();
    });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  test('the handshake negotiates a transport and hash, and answers a bare ping', async () => {
    const response = await ping();
    assert.equal(response.hello?.softwareVersion.startsWith('blitd '), true);
    assert.equal(response.negotiated?.transport, Transport.TRANSPORT_TCP);
    const bare = await unary<PingResponse>((cb) =>
      client.ping({ probes: [] }, new Metadata(), { deadline: deadline() }, cb),
    );
    assert.equal(bare.negotiated, undefined);
    assert.equal(bare.hello?.protocolVersion, PROTOCOL_VERSION);
  });

  test('a client speaking another protocol version is refused with both versions named', async () => {
    const hello = { ...localHello('blit'), protocolVersion: 99 };
    const error = await refusal(
      unary((cb) => client.ping({ hello, probes: [] }, new Metadata(), { deadline: deadline() }, cb)),
    );
    assert.equal(error.code, status.FAILED_PRECONDITION);
    assert.match(
      error.details,
      new RegExp(`protocol version 99 .* does not match protocol version ${PROTOCOL_VERSION}`),
    );
    await assertStillServing();
  });

  test('megabytes of peer text are clipped in the reply and in the log', async () => {
    const huge = `${'m'.repeat(3 * 1024 * 1024)}\x1b[2J`;
    const unknown = await refusal(list({ module: huge }));
    assert.equal(unknown.code, status.NOT_FOUND);
    assert.match(unknown.details, /^unknown module 'm+…/);
    assert.ok(unknown.details.length < 2048, `${unknown.details.length} characters`);
    const hello = { ...localHello('blit'), protocolVersion: 99, softwareVersion: huge };
    const refused = await refusal(
      unary((cb) => client.ping({ hello, probes: [] }, new Metadata(), { deadline: deadline() }, cb)),
    );
    assert.equal(refused.code, status.FAILED_PRECONDITION);
    assert.ok(refused.details.length < 4096, `${refused.details.length} characters`);
    assert.doesNotMatch(refused.details, /\x1b/);
    const longest = Math.max(
      ...daemon
        .log()
        .split('\n')
        .map((line) => line.length),
    );
    assert.ok(longest < 8192, `a log line of ${longest} characters`);
    await assertStillServing();
  });

  test('a directory of 6,000 long names that are not UTF-8 pages like any other, each reported once', async () => {
    const dir = join(moduleDir, 'latin1');
    mkdirSync(dir);
    const base = Buffer.from(`${'\xe9'.repeat(200)}`, 'latin1');
    for (let i = 0; i < 6000; i++)
      writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), base, Buffer.from(String(i))]), '');
    writeFileSync(join(dir, 'plain'), 'x');
    const problems = new Set<string>();
    const names: string[] = [];
    let startAfter = '';
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 20, 'paging ends');
      const page = await list({ path: 'latin1', startAfter });
      assert.ok(page.entries.length + page.problems.length <= 1000);
      for (const problem of page.problems) problems.add(problem.path);
      names.push(...page.entries.map((entry) => entry.name));
      if (page.nextStartAfter === '') break;
      startAfter = page.nextStartAfter;
    }
    assert.equal(problems.size, 6000);
    assert.deepEqual(names, ['plain']);
  });

  test('bytes that do not decode are answered INVALID_ARGUMENT', async () => {
    for (const bytes of [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x0f]), // wire type 7 does not exist
      Buffer.from([0x0a, 0x10, 0x41]), // a string field longer than the message
    ]) {
      for (const method of ['rawList', 'rawPing'] as const) {
        const error = await rawCall(raw, method, bytes);
        assert.equal(
          error?.code,
          status.INVALID_ARGUMENT,
          `${method} ${bytes.toString('hex')}: ${error?.details}`,
        );
        assert.match(error.details, /^malformed (list|ping) request: /);
      }
    }
    await assertStillServing();
  });

  test('a message over the 4 MiB limit is refused with RESOURCE_EXHAUSTED', async () => {
    const error = await refusal(list({ path: 'x'.repeat(5 * 1024 * 1024) }));
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    const rawError = await rawCall(raw, 'rawList', Buffer.alloc(6 * 1024 * 1024, 0x41));
    assert.equal(rawError?.code, status.RESOURCE_EXHAUSTED);
    await assertStillServing();
  });

  test('paths that are too long, absolute, hold .. or NUL, or escape through a link are refused', async () => {
    const cases: [Partial<ListRequest>, status, RegExp][] = [
      [{ path: 'a/'.repeat(3000) }, status.INVALID_ARGUMENT, /longer than 4096 bytes/],
      [{ path: '/etc' }, status.INVALID_ARGUMENT, /absolute paths are not allowed/],
      [{ path: '../outside-file' }, status.INVALID_ARGUMENT, /'\.\.' is not allowed/],
      [{ path: 'dir/../../outside-file' }, status.INVALID_ARGUMENT, /'\.\.' is not allowed/],
      [{ path: 'dir//file' }, status.INVALID_ARGUMENT, /empty and '\.' path components/],
      [{ path: 'dir\0' }, status.INVALID_ARGUMENT, /NUL/],
      [{ path: 'up/outside-file' }, status.PERMISSION_DENIED, /symbolic link leads outside the module/],
      [{ path: 'up' }, status.PERMISSION_DENIED, /symbolic link leads outside the module/],
      [{ module: '' }, status.INVALID_ARGUMENT, /no module named/],
      [{ module: 'nope' }, status.NOT_FOUND, /unknown module 'nope'/],
    ];
    for (const [request, code, message] of cases) {
      const error = await refusal(list(request));
      assert.equal(error.code, code, `${JSON.stringify(request).slice(0, 80)}: ${error.details}`);
      assert.match(error.details, message);
    }
    const purgeCases: [string[], RegExp][] = [
      [['/etc'], /absolute paths/],
      [['../outside-file'], /'\.\.' is not allowed/],
      [['up/outside-file'], /symbolic link leads outside/],
      [[''], /module root itself cannot be removed/],
      [[], /no paths to remove/],
    ];
    for (const [paths, message] of purgeCases) {
      const error = await refusal(purge('default', paths));
      assert.match(error.details, message, JSON.stringify(paths));
    }
    // The link itself may be described (no_follow) and removed; what it points to stays.
    const link = await list({ path: 'up', noFollow: true });
    assert.equal(link.entries[0]?.name, 'up');
    await assertStillServing();
  });

  test('a purge that names one bad path removes nothing', async () => {
    const error = await refusal(purge('default', ['dir/file', '../outside-file']));
    assert.equal(error.code, status.INVALID_ARGUMENT);
    const still = await list({ path: 'dir' });
    assert.deepEqual(
      still.entries.map((e) => e.name),
      ['file'],
    );
  });

  test('SIGTERM stops the daemon cleanly', async () => {
    const code = await daemon.stop('SIGTERM');
    assert.equal(code, 0);
    assert.match(daemon.log(), /"msg":"stopped"/);
  });
});
