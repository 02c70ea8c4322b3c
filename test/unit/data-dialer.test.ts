/**
 * The client's dialer of data sockets (remote/data-dialer.ts): Accept's grant is dialed once file
 * data is asked for (a need sent or received) or half its tokens' lifetime on, and never after the
 * session's outcome is known. Against a real listener on 127.0.0.1 that admits every socket, with a
 * frame channel over a fake stream.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { type DataPlaneGrant, Role, type TransferFrame } from '../../src/generated/blit.js';
import { dataPlaneDialer } from '../../src/remote/data-dialer.js';
import { FrameChannel, type FrameStream } from '../../src/transport/frame-channel.js';
import { ADMITTED } from '../../src/transport/tcp/dial.js';
import { SessionSockets } from '../../src/transport/tcp/session-sockets.js';

class FakeStream extends EventEmitter implements FrameStream {
  destroyed = false;
  writableEnded = false;
  write(_frame: TransferFrame): boolean {
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
}

/** A data port that admits whatever connects, counting the connections. */
async function admittingPort(t: { after(fn: () => void): void }): Promise<{ port: number; server: Server }> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => {});
    socket.write(Buffer.of(ADMITTED));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { port: address.port, server };
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
  );
}

/** Resolves once `server` has seen `n` connections, or fails after `ms`. */
async function connected(server: Server, n: number, ms = 5_000): Promise<void> {
  for (const deadline = Date.now() + ms; (await connections(server)) < n; ) {
    assert.ok(Date.now() < deadline, `${n} connection(s) within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const need: NonNullable<TransferFrame['body']> = { $case: 'needBatch', value: { needs: [] } };

function setup(port: number) {
  const stream = new FakeStream();
  const channel = new FrameChannel(stream, Role.ROLE_SOURCE, 60_000);
  const sockets = new SessionSockets();
  // Every dial starts by expecting its sockets: counted here, synchronously, before any connects.
  const dials: number[] = [];
  const expect = sockets.expect.bind(sockets);
  sockets.expect = (ms: number) => {
    dials.push(ms);
    expect(ms);
  };
  const warnings: string[] = [];
  const dialer = dataPlaneDialer({ host: '127.0.0.1', port }, sockets, channel, undefined, (line) =>
    warnings.push(line),
  );
  const grant = (expiresMs: number): DataPlaneGrant => ({
    port,
    tokens: [Buffer.alloc(32, 1)],
    expiresMs,
    tls: false,
  });
  return { stream, channel, sockets, dialer, grant, warnings, dials };
}

test('a grant is not dialed until a need is received; then at once', async (t) => {
  const { port, server } = await admittingPort(t);
  const { stream, sockets, dialer, grant, dials } = setup(port);
  t.after(() => sockets.close());
  dialer.dialWhenNeeded(grant(60_000));
  // Other frames come and go meanwhile: still nothing dialed.
  stream.emit('data', { role: Role.ROLE_DESTINATION, body: { $case: 'manifestComplete', value: {} } });
  assert.equal(dials.length, 0);
  stream.emit('data', { role: Role.ROLE_DESTINATION, body: need });
  assert.equal(dials.length, 1);
  await connected(server, 1);
  await sockets.settled;
  assert.equal(sockets.total, 1);
});

test('a grant is dialed when this side sends its first need (a pull)', async (t) => {
  const { port, server } = await admittingPort(t);
  const { channel, sockets, dialer, grant, dials } = setup(port);
  t.after(() => sockets.close());
  dialer.dialWhenNeeded(grant(60_000));
  assert.equal(dials.length, 0);
  channel.send(need);
  await connected(server, 1);
  // A second need dials nothing more.
  channel.send(need);
  await sockets.settled;
  assert.equal(dials.length, 1);
  assert.equal(await connections(server), 1);
});

test('without a need, a grant is dialed at half its lifetime, before its tokens expire', async (t) => {
  const { port, server } = await admittingPort(t);
  const { sockets, dialer, grant } = setup(port);
  t.after(() => sockets.close());
  const started = Date.now();
  dialer.dialWhenNeeded(grant(2_000));
  await connected(server, 1);
  const after = Date.now() - started;
  // At about 1 s: not at once, and well before the tokens' 2 s are out.
  assert.ok(after >= 600 && after < 2_000, `dialed after ${after} ms`);
});

test('a session over before any need dials nothing, even once the grant is half through its lifetime', async (t) => {
  const { port, server } = await admittingPort(t);
  const { stream, sockets, dialer, grant, warnings, dials } = setup(port);
  t.after(() => sockets.close());
  dialer.dialWhenNeeded(grant(100));
  dialer.finish();
  stream.emit('data', { role: Role.ROLE_DESTINATION, body: need });
  // Well past the timer it would have dialed at (50 ms).
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(dials.length, 0);
  assert.equal(await connections(server), 0);
  assert.deepEqual(warnings, []);
});

test('a grant that names no lifetime is dialed at once', async (t) => {
  const { port, server } = await admittingPort(t);
  const { sockets, dialer, grant } = setup(port);
  t.after(() => sockets.close());
  dialer.dialWhenNeeded(grant(0));
  await connected(server, 1);
});
