/**
 * The frame channel's promises: a full buffer is waited on once, a peer silent or not reading for
 * the idle time ends the session, a throwing handler ends it too, and every end settles `closed`.
 * Driven by a fake stream, without gRPC.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Role, type TransferFrame } from '../../src/generated/blit.js';
import { FrameChannel, type FrameStream, PeerStalled } from '../../src/transport/frame-channel.js';

class FakeStream extends EventEmitter implements FrameStream {
  written: TransferFrame[] = [];
  destroyed = false;
  writableEnded = false;
  /** What write() answers: false once the buffer is "full". */
  accepts = true;
  write(frame: TransferFrame): boolean {
    this.written.push(frame);
    return this.accepts;
  }
  end(): void {
    this.writableEnded = true;
  }
}

const beat: NonNullable<TransferFrame['body']> = {
  $case: 'progress',
  value: { phase: 0, filesDone: 0n, bytesDone: 0n, filesTotal: 0n, bytesTotal: 0n, currentPath: '' },
};

test('frames go out with the role; a full buffer is one wait, released by the drain', async () => {
  const stream = new FakeStream();
  const channel = new FrameChannel(stream, Role.ROLE_SOURCE, 60_000);
  assert.equal(channel.send(beat), undefined);
  assert.equal(stream.written[0]?.role, Role.ROLE_SOURCE);
  stream.accepts = false;
  const first = channel.send(beat);
  const second = channel.send(beat);
  assert.ok(first instanceof Promise);
  assert.equal(first, second, 'one wait shared by every send until the drain');
  stream.emit('drain');
  await first;
  stream.accepts = true;
  assert.equal(channel.send(beat), undefined);
  stream.emit('end');
  await channel.closed;
});

test('a peer that reads nothing for the idle time ends the session, heartbeats or not', {
  timeout: 5000,
}, async () => {
  const stream = new FakeStream();
  const channel = new FrameChannel(stream, Role.ROLE_SOURCE, 100);
  stream.accepts = false;
  const wait = channel.send(beat);
  // Its own frames keep coming: the receive side is alive, the send side is not.
  const frames = setInterval(() => stream.emit('data', { role: Role.ROLE_DESTINATION, body: beat }), 20);
  try {
    await assert.rejects(
      channel.closed,
      (error: Error) => error instanceof PeerStalled && /read nothing/.test(error.message),
    );
    await wait; // released, not left hanging
  } finally {
    clearInterval(frames);
  }
});

test('a peer silent for the idle time ends the session', { timeout: 5000 }, async () => {
  const channel = new FrameChannel(new FakeStream(), Role.ROLE_SOURCE, 50);
  // The channel's timers do not keep a process alive (a real session's stream does).
  const alive = setTimeout(() => {}, 10_000);
  try {
    await assert.rejects(
      channel.closed,
      (error: Error) => error instanceof PeerStalled && /no word from the peer/.test(error.message),
    );
  } finally {
    clearTimeout(alive);
  }
});

test('a handler that throws ends the session with its error; frames after it are dropped', async () => {
  const stream = new FakeStream();
  const channel = new FrameChannel(stream, Role.ROLE_DESTINATION, 60_000);
  let seen = 0;
  channel.onFrame(() => {
    seen++;
    throw new Error('bad frame');
  });
  stream.emit('data', { role: Role.ROLE_SOURCE, body: beat });
  stream.emit('data', { role: Role.ROLE_SOURCE, body: beat });
  await assert.rejects(channel.closed, /bad frame/);
  assert.equal(seen, 1);
  // The session failed here, but the peer is still told why.
  assert.equal(channel.send(beat), undefined);
  assert.equal(stream.written.length, 1);
});
