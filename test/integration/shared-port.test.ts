/**
 * One port for gRPC and data sockets (daemon/shared-port.ts), on real sockets on 127.0.0.1: gRPC
 * calls work through it, a data socket with a good token reaches its session with the bytes sent
 * after the token, and everything else — bad, used, expired or revoked tokens, garbage, silence —
 * is closed without a byte in reply. Every wait is bounded; every server is stopped.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { credentials, Server, status } from '@grpc/grpc-js';
import type { DaemonConfig } from '../../src/daemon/config.js';
import { createLogger } from '../../src/daemon/logger.js';
import {
  type RunningServer,
  type ServerOptions,
  STOP_GRACE_MS,
  startServer,
} from '../../src/daemon/server.js';
import { classify, HTTP2_PREFACE, listenShared } from '../../src/daemon/shared-port.js';
import { BlitClient, Role, type TransferFrame } from '../../src/generated/blit.js';
import { localHello } from '../../src/protocol/handshake.js';
import { RemoteClient } from '../../src/remote/client.js';
import { DataAdmission } from '../../src/transport/tcp/admission.js';
import { encodePreamble, PREAMBLE_BYTES, PREAMBLE_MAGIC } from '../../src/transport/tcp/records.js';
import { nowMs } from '../../src/util/clock.js';
import { tempDir } from '../helpers.js';
import { startDaemon } from './daemon-harness.js';
import { open } from './frames.js';

const WAIT_MS = 5000;
const QUICK_HANDSHAKE_MS = 200;
const log = createLogger('silent');

function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Polls `condition` every 5 ms until it holds; fails after `ms`. */
async function waitUntil(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = nowMs() + ms;
  while (!condition()) {
    if (nowMs() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A connected socket to 127.0.0.1:port, with what it receives until it closes. */
async function dial(port: number) {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const started = nowMs();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  // A reset is as good as a close here: the daemon sent nothing either way.
  socket.on('error', () => {});
  const closed = new Promise<{ received: Buffer; afterMs: number }>((resolve) => {
    socket.once('close', () => resolve({ received: Buffer.concat(chunks), afterMs: nowMs() - started }));
  });
  await withTimeout(once(socket, 'connect'), 'connecting');
  return {
    socket,
    received: () => Buffer.concat(chunks),
    /** Waits (bounded) for the daemon to close the connection. */
    closed: (ms = WAIT_MS) => withTimeout(closed, 'the daemon closing the connection', ms),
  };
}

/** Reads `length` bytes from `socket` (resuming it), bounded. */
function readBytes(socket: Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const all = new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= length) {
        socket.off('data', onData);
        socket.pause();
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${got} of ${length} bytes`)));
    socket.resume();
  });
  return withTimeout(all, `reading ${length} bytes`);
}

/** Issues a token whose socket resolves `delivered`. */
function expectSocket(admission: DataAdmission, sessionId: string, ttlMs?: number) {
  let deliver!: (socket: Socket) => void;
  const delivered = new Promise<Socket>((resolve) => {
    deliver = resolve;
  });
  const token = admission.issue(sessionId, (socket) => deliver(socket), ttlMs);
  return { token, delivered: withTimeout(delivered, 'the session receiving its data socket') };
}

/** Sends `bytes` one at a time, each in a segment of its own. */
async function dribble(socket: Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    await new Promise<void>((resolve) => socket.write(Buffer.of(byte), () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A daemon of its own on 127.0.0.1 for one test, with `options` (shortened limits). */
async function ownServer(
  t: { after(fn: () => unknown): void },
  options: ServerOptions,
): Promise<RunningServer> {
  const running = await startServer(
    {
      bind: '127.0.0.1',
      port: 0,
      motd: '',
      logLevel: 'silent',
      modules: [{ name: 'default', path: tempDir(t), readOnly: false, comment: '' }],
    },
    log,
    options,
  );
  t.after(() => running.stop());
  return running;
}

/** A plain HTTP/2 connection to `port`, closed after the test. */
function h2(t: { after(fn: () => unknown): void }, port: number): ClientHttp2Session {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  t.after(() => session.destroy());
  return session;
}

/**
 * A gRPC call on `session` whose request declares `declared` bytes and sends `sent` of them
 * (`end`: and ends its side); `answered` resolves with the grpc-status it gets, from the trailers
 * or alone in the response headers (trailers-only).
 */
function rawCall(session: ClientHttp2Session, method: string, declared: number, sent: number, end = false) {
  const stream = session.request({
    ':method': 'POST',
    ':path': `/blit.v1.Blit/${method}`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(declared, 1);
  const bytes = Buffer.concat([prefix, Buffer.alloc(sent)]);
  if (end) stream.end(bytes);
  else stream.write(bytes);
  stream.resume();
  const answered = new Promise<string>((resolve) => {
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) resolve(String(headers['grpc-status']));
    });
    stream.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
  });
  return { stream, answered };
}

describe('the shared port', () => {
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
  let root: string;
  let config: DaemonConfig;
  let server: RunningServer;
  /** The same, but quick to give up on a connection that says nothing. */
  let quick: RunningServer;

  before(async () => {
    root = tempDir(suite, 'blit-shared-port-');
    config = {
      bind: '127.0.0.1',
      port: 0,
      motd: 'hello',
      logLevel: 'silent',
      modules: [{ name: 'default', path: root, readOnly: false, comment: 'test module' }],
    };
    server = await startServer(config, log);
    quick = await startServer(config, log, { handshakeMs: QUICK_HANDSHAKE_MS });
  });
  after(async () => {
    await Promise.all([server?.stop(), quick?.stop()]);
    for (const fn of cleanups.reverse()) await fn();
  });

  /** A connection that sends `bytes` is closed by the daemon with nothing sent back. */
  async function refusedSilently(bytes: Buffer, port = server.port) {
    const client = await dial(port);
    client.socket.write(bytes);
    const { received } = await client.closed();
    assert.equal(received.length, 0, `the daemon answered ${JSON.stringify(received.toString('latin1'))}`);
  }

  test('first bytes: the whole HTTP/2 preface, or the magic and a whole token; anything else at once', () => {
    const token = Buffer.alloc(32, 7);
    assert.equal(classify(Buffer.alloc(0)), 'undecided');
    assert.equal(classify(HTTP2_PREFACE.subarray(0, 1)), 'undecided');
    assert.equal(classify(HTTP2_PREFACE.subarray(0, 23)), 'undecided');
    assert.equal(classify(HTTP2_PREFACE), 'grpc');
    assert.equal(classify(Buffer.concat([HTTP2_PREFACE, Buffer.alloc(100)])), 'grpc');
    assert.equal(classify(PREAMBLE_MAGIC), 'undecided');
    assert.equal(classify(encodePreamble(token).subarray(0, PREAMBLE_BYTES - 1)), 'undecided');
    assert.equal(classify(encodePreamble(token)), 'data');
    assert.equal(classify(Buffer.concat([encodePreamble(token), Buffer.from('more')])), 'data');
    assert.equal(classify(Buffer.from('G')), 'refused');
    assert.equal(classify(Buffer.from('PRI * HTTP/1.1')), 'refused');
    assert.equal(classify(Buffer.from('BLITDAT2')), 'refused');
    // A TLS ClientHello: taken by a daemon with TLS on, refused by one without (below).
    assert.equal(classify(Buffer.of(0x16)), 'undecided');
    assert.equal(classify(Buffer.of(0x16, 0x03, 0x01)), 'tls');
    assert.equal(classify(Buffer.of(0x16, 0x04)), 'refused');
  });

  test('gRPC calls work through the shared port', async () => {
    const client = await RemoteClient.connect({ host: '127.0.0.1', port: server.port }, { spec: 'test' });
    try {
      assert.equal(client.daemon.softwareVersion, localHello('blitd').softwareVersion);
      const answer = await client.listModules({ spec: 'test' });
      assert.deepEqual(answer.modules, [{ name: 'default', comment: 'test module', readOnly: false }]);
      assert.equal(answer.motd, 'hello');
    } finally {
      client.close();
    }
  });

  test('a data socket with a fresh token reaches its session, with the bytes sent after the token', async () => {
    const { token, delivered } = expectSocket(server.admission, 'session-1');
    const client = await dial(server.port);
    client.socket.write(Buffer.concat([encodePreamble(token), Buffer.from('first bytes')]));
    const socket = await delivered;
    assert.equal(socket.isPaused(), true, 'handed over paused');
    client.socket.write(' and then more');
    assert.equal((await readBytes(socket, 25)).toString(), 'first bytes and then more');
    socket.write('from the daemon');
    await waitUntil(() => client.received().length >= 15, 'the reply reaching the client');
    assert.equal(client.received().toString(), 'from the daemon');
    client.socket.destroy();
    socket.destroy();
  });

  test('a token is refused silently when it is wrong, used, expired, revoked or from another daemon', async () => {
    const never = () => assert.fail('a refused token reached a session');

    await refusedSilently(encodePreamble(Buffer.alloc(32, 0xab)));

    const oneByteOff = server.admission.issue('session-2', never);
    oneByteOff[31]! ^= 0x80;
    await refusedSilently(encodePreamble(oneByteOff));

    const { token: used, delivered } = expectSocket(server.admission, 'session-3');
    const first = await dial(server.port);
    first.socket.write(encodePreamble(used));
    (await delivered).destroy();
    await first.closed();
    await refusedSilently(encodePreamble(used));

    const expiring = server.admission.issue('session-4', never, 1);
    const issued = nowMs();
    while (nowMs() <= issued + 1) await new Promise((resolve) => setImmediate(resolve));
    await refusedSilently(encodePreamble(expiring));

    const revoked = server.admission.issue('session-5', never);
    server.admission.revoke('session-5');
    await refusedSilently(encodePreamble(revoked));

    const foreign = new DataAdmission().issue('session-6', never);
    await refusedSilently(encodePreamble(foreign));
  });

  test('a session that ends takes its outstanding tokens with it', async () => {
    const grpc = new BlitClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    cleanups.push(() => grpc.close());
    const stream = grpc.transfer();
    stream.on('error', () => {});
    const accepted = new Promise<string>((resolve) => {
      stream.on('data', (frame: TransferFrame) => {
        if (frame.body?.$case === 'accept') resolve(frame.body.value.sessionId);
      });
    });
    stream.write({ role: Role.ROLE_SOURCE, body: { $case: 'hello', value: localHello('blit') } });
    stream.write({ role: Role.ROLE_SOURCE, body: open('default', '') });
    const sessionId = await withTimeout(accepted, 'the daemon accepting the session');
    const token = server.admission.issue(sessionId, () => assert.fail('a revoked token reached a session'));
    assert.equal(server.admission.held(sessionId), 1);
    stream.cancel();
    await waitUntil(() => server.admission.held(sessionId) === 0, 'the ended session revoking its tokens');
    await refusedSilently(encodePreamble(token));
  });

  test('garbage is closed at once with nothing sent back', async () => {
    const garbage = [
      'GET / HTTP/1.1\r\nHost: blitd\r\n\r\n',
      'PRI * HTTP/1.1\r\n\r\n',
      // Starts as the preface and leaves it at its last byte (Node's http2 would answer SETTINGS and GOAWAY).
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r!',
      `BLITDAT2${'x'.repeat(32)}`,
      'x'.repeat(5000),
    ];
    for (const text of garbage) await refusedSilently(Buffer.from(text, 'latin1'));
    // The same, one byte at a time: it is still held back until the preface is complete.
    const late = await dial(server.port);
    await dribble(late.socket, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r!', 'latin1')).catch(() => {});
    assert.equal((await late.closed()).received.length, 0);
    // A TLS ClientHello's first bytes.
    await refusedSilently(Buffer.of(0x16, 0x03, 0x01, 0x00, 0xa5));
  });

  test('a connection that says nothing, or not all of it, is closed after the handshake time', async () => {
    const partial = [
      Buffer.alloc(0),
      HTTP2_PREFACE.subarray(0, 10),
      encodePreamble(Buffer.alloc(32, 1)).subarray(0, PREAMBLE_BYTES - 1),
    ];
    for (const bytes of partial) {
      const client = await dial(quick.port);
      if (bytes.length > 0) client.socket.write(bytes);
      const { received, afterMs } = await client.closed(QUICK_HANDSHAKE_MS + WAIT_MS);
      assert.equal(received.length, 0);
      assert.ok(afterMs >= QUICK_HANDSHAKE_MS - 5, `closed after ${afterMs} ms, before the handshake time`);
    }
  });

  test('a preamble or a preface sent one byte at a time still works', async () => {
    const { token, delivered } = expectSocket(server.admission, 'session-7');
    const client = await dial(server.port);
    await dribble(client.socket, Buffer.concat([encodePreamble(token), Buffer.from('after')]));
    assert.equal((await readBytes(await delivered, 5)).toString(), 'after');
    client.socket.destroy();

    // gRPC through a relay that passes the client's first 40 bytes one at a time.
    const relayed = new Set<Socket>();
    const relay = createServer((inbound) => {
      const outbound = connect({ host: '127.0.0.1', port: server.port });
      relayed.add(inbound).add(outbound);
      outbound.setNoDelay(true);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
      outbound.pipe(inbound);
      let dribbled = 0;
      let queue = Promise.resolve();
      inbound.on('data', (chunk: Buffer) => {
        const slow = chunk.subarray(0, Math.max(0, 40 - dribbled));
        const rest = chunk.subarray(slow.length);
        dribbled += slow.length;
        queue = queue.then(async () => {
          await dribble(outbound, slow);
          if (rest.length > 0) outbound.write(rest);
        });
      });
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    const relayPort = (relay.address() as { port: number }).port;
    try {
      const grpc = await RemoteClient.connect({ host: '127.0.0.1', port: relayPort }, { spec: 'test' });
      try {
        assert.equal((await grpc.listModules({ spec: 'test' })).modules.length, 1);
      } finally {
        grpc.close();
      }
    } finally {
      for (const socket of relayed) socket.destroy();
      relay.close();
    }
  });
});

describe('listenShared', () => {
  test('holds at most maxPending undecided connections; more are closed at once', async (t) => {
    const admission = new DataAdmission();
    const shared = await listenShared({
      host: '127.0.0.1',
      port: 0,
      grpc: new Server(),
      admission,
      log,
      maxPending: 2,
    });
    t.after(() => shared.close(0));
    const waiting = [await dial(shared.port), await dial(shared.port)];
    const third = await dial(shared.port);
    assert.equal((await third.closed()).received.length, 0);
    for (const client of waiting) assert.equal(client.socket.closed, false);
    // The daemon closes one (garbage): its place is free again for a data socket.
    waiting[0]!.socket.write('x');
    await waiting[0]!.closed();
    const { token, delivered } = expectSocket(admission, 'late');
    const fourth = await dial(shared.port);
    fourth.socket.write(encodePreamble(token));
    (await delivered).destroy();
    await fourth.closed();
    assert.equal(waiting[1]!.socket.closed, false);
  });

  for (const [which, caps] of [
    ['from one address', { maxConnectionsPerPeer: 2 }],
    ['in all', { maxConnections: 2 }],
  ] as const) {
    test(`holds at most so many connections ${which}; more are closed at once, and room comes back`, async (t) => {
      const shared = await listenShared({
        host: '127.0.0.1',
        port: 0,
        grpc: new Server(),
        admission: new DataAdmission(),
        log,
        ...caps,
      });
      t.after(() => shared.close(0));
      const open = [await dial(shared.port), await dial(shared.port)];
      const third = await dial(shared.port);
      assert.equal((await third.closed()).received.length, 0);
      for (const client of open) assert.equal(client.socket.closed, false);
      // The daemon closes one (garbage; in this process, so its count drops before the client
      // hears of it): a new connection is held again.
      open[0]!.socket.write('x');
      await open[0]!.closed();
      const fourth = await dial(shared.port);
      const fifth = await dial(shared.port);
      assert.equal((await fifth.closed()).received.length, 0);
      assert.equal(fourth.socket.closed, false);
      fourth.socket.destroy();
      open[1]!.socket.destroy();
    });
  }

  test('closing stops accepting, drops undecided connections at once and cuts off the rest after the grace time', async () => {
    const admission = new DataAdmission();
    const shared = await listenShared({ host: '127.0.0.1', port: 0, grpc: new Server(), admission, log });
    const { token, delivered } = expectSocket(admission, 'held');
    const held = await dial(shared.port);
    held.socket.write(encodePreamble(token));
    await delivered;
    const undecided = await dial(shared.port);
    const graceMs = 300;
    const started = nowMs();
    const closing = shared.close(graceMs);
    assert.equal((await undecided.closed()).received.length, 0);
    assert.ok(nowMs() - started < graceMs, 'the undecided connection waited for the grace time');
    assert.equal(await withTimeout(closing, 'closing'), 1);
    await held.closed();
    assert.ok(nowMs() - started >= graceMs - 5);
    const late = connect({ host: '127.0.0.1', port: shared.port });
    const [error] = (await withTimeout(once(late, 'error'), 'a refused connection')) as [
      NodeJS.ErrnoException,
    ];
    assert.equal(error.code, 'ECONNREFUSED');
  });

  test('a gRPC connection that makes no call is closed after the idle time', async (t) => {
    const running = await ownServer(t, { idleMs: 300 });
    // A plain HTTP/2 connection: the preface and settings, then nothing.
    const session = h2(t, running.port);
    await withTimeout(once(session, 'connect'), 'the HTTP/2 handshake');
    await withTimeout(once(session, 'close'), 'closing the idle connection');
  });

  for (const method of ['List', 'Purge', 'Space']) {
    test(`a unary request (${method}) left a byte short is answered DEADLINE_EXCEEDED after the request time`, async (t) => {
      const running = await ownServer(t, { calls: { requestMs: 300 } });
      // A message declared 1 MiB long, of which 10 bytes come; then nothing.
      const { answered } = rawCall(h2(t, running.port), method, 1 << 20, 10);
      assert.equal(await withTimeout(answered, 'the refusal'), String(status.DEADLINE_EXCEEDED));
      // A whole request on the same daemon is still answered.
      const client = await RemoteClient.connect({ host: '127.0.0.1', port: running.port }, { spec: 'test' });
      client.close();
    });
  }

  for (const [which, calls] of [
    ['from one address', { maxCallsPerPeer: 2 }],
    ['in all', { maxCalls: 2 }],
  ] as const) {
    test(`calls in flight ${which} are capped: one more is refused at once, and room comes back`, async (t) => {
      const running = await ownServer(t, { calls });
      const session = h2(t, running.port);
      // List calls whose requests stay a byte short.
      const first = rawCall(session, 'List', 1 << 20, 1000);
      const second = rawCall(session, 'List', 1 << 20, 1000);
      const third = rawCall(session, 'List', 1 << 20, 1000);
      assert.equal(await withTimeout(third.answered, 'the refusal'), String(status.RESOURCE_EXHAUSTED));
      // The first call gives up: a whole request (an empty Ping) is served again. On the same
      // connection, so the daemon has read the first call's end before the new call.
      first.stream.close();
      const ping = rawCall(session, 'Ping', 0, 0, true);
      assert.equal(await withTimeout(ping.answered, 'the ping'), String(status.OK));
      second.stream.close();
    });
  }

  test('stopping the daemon with an idle gRPC client connected does not wait for the grace time', async (t) => {
    const root = tempDir(t);
    const running = await startServer(
      {
        bind: '127.0.0.1',
        port: 0,
        motd: '',
        logLevel: 'silent',
        modules: [{ name: 'default', path: root, readOnly: false, comment: '' }],
      },
      log,
    );
    const client = await RemoteClient.connect({ host: '127.0.0.1', port: running.port }, { spec: 'test' });
    t.after(() => client.close());
    const started = nowMs();
    await withTimeout(running.stop(), 'stopping', STOP_GRACE_MS * 2);
    assert.ok(nowMs() - started < STOP_GRACE_MS, `stopping took ${nowMs() - started} ms`);
  });
});

test('200 calls each left a byte short of a 4 MiB request do not take blitd past its bound', async (t) => {
  const root = tempDir(t, 'blit-flood-');
  const daemon = await startDaemon(t, ['--root', root]);
  const pid = daemon.process.pid!;
  const peakMiB = () => {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    return Number(line?.[1] ?? 0) / 1024;
  };
  const before = peakMiB();
  const sessions = Array.from({ length: 4 }, () => http2Connect(`http://127.0.0.1:${daemon.port}`));
  // The daemon may reset a connection that holds too much (CI saw `read ECONNRESET` once, unheard):
  // what is asserted is its memory, so a reset is an answer like any other.
  for (const session of sessions) session.on('error', () => {});
  t.after(() => {
    for (const session of sessions) session.destroy();
  });
  const body = Buffer.alloc((4 << 20) - 5 - 1);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length + 1, 1);
  const settled: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    const stream = sessions[i % sessions.length]!.request({
      ':method': 'POST',
      ':path': '/blit.v1.Blit/List',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    stream.resume();
    // Either the whole body is taken (the call holds it, one byte short) or the call is refused.
    settled.push(
      new Promise<void>((resolve) => {
        stream.write(Buffer.concat([prefix, body]), () => resolve());
        stream.once('close', () => resolve());
      }),
    );
  }
  await withTimeout(Promise.all(settled), 'sending the calls', 60_000);
  const peak = peakMiB();
  // 64 calls from one address at 4 MiB each, and the daemon's own: far below the ~900 MB measured
  // before calls were capped.
  assert.ok(
    peak < before + 64 * 4 + 160,
    `blitd peaked at ${Math.round(peak)} MiB (from ${Math.round(before)} MiB)`,
  );
});
