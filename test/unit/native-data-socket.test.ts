/**
 * The data plane on the addon's threads, on real loopback sockets: blocks received straight into
 * a file (splice) land byte for byte whatever the chunking, a file that cannot be written fails
 * alone while the stream goes on, a socket cut inside a range abandons it and fails the session,
 * and the sender's sendfile pads a file that shrank so the stream stays whole. Skipped where the
 * addon is not built (BLIT_NO_NATIVE=1 runs the same records through the JS path elsewhere).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { NativeSocket } from '../../src/transport/tcp/native-socket.js';
import {
  type DirectWrite,
  RangeAbandoned,
  type RangeSink,
  receiveRecords,
} from '../../src/transport/tcp/record-receiver.js';
import { blockHeader, endRecord, fileHeader, RecordDecoder } from '../../src/transport/tcp/records.js';
import { loopbackPair } from '../helpers.js';

const skip = nativeAddon() ? false : 'the native addon is not built';

function scratch(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'blit-native-socket-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function pattern(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed) & 0xff;
  return data;
}

/** A sink writing every range into `fd`: straight from the socket when offered, else from the data. */
function fileSink(fd: number, log: string[]): RangeSink {
  return {
    begin: (id, offset, length) => {
      log.push(`begin ${id} ${offset} ${length}`);
      return true;
    },
    data: (_id, offset, data) => {
      writeSync(fd, data, 0, data.length, offset);
    },
    done: (id, final) => log.push(`done ${id} ${final}`),
    checked: (id) => log.push(`checked ${id}`),
    fail: (id, reason) => log.push(`fail ${id} ${reason}`),
    direct: (id): DirectWrite => {
      log.push(`direct ${id}`);
      return {
        fd,
        written: (error) =>
          log.push(
            error === undefined ? `written ${id}` : `written ${id} ${(error as Error).constructor.name}`,
          ),
      };
    },
  };
}

test('blocks received by splice land whole, however the sender chunks them', { skip }, async (t) => {
  const { server, client } = await loopbackPair(t);
  const path = join(scratch(t), 'out');
  const fd = openSync(path, 'w+');
  t.after(() => closeSync(fd));
  const log: string[] = [];
  const sink = fileSink(fd, log);
  const errors: Error[] = [];
  receiveRecords(server, sink, (error) => errors.push(error));
  const first = pattern(3 << 20, 1);
  const second = pattern(1 << 20, 2);
  // Odd-sized writes, the header split from its data and glued to the previous record's end.
  client.write(blockHeader(7n, 0, first.length, false).subarray(0, 5));
  client.write(Buffer.concat([blockHeader(7n, 0, first.length, false).subarray(5), first.subarray(0, 777)]));
  client.write(first.subarray(777));
  client.write(Buffer.concat([blockHeader(7n, first.length, second.length, true), second]));
  client.end(endRecord());
  await once(server, 'close');
  assert.deepEqual(errors, []);
  assert.deepEqual(readFileSync(path), Buffer.concat([first, second]));
  assert.deepEqual(
    log.filter((line) => !line.startsWith('direct') && !line.startsWith('written')),
    [`begin 7 0 ${first.length}`, 'done 7 false', `begin 7 ${first.length} ${second.length}`, 'done 7 true'],
  );
  assert.ok(log.includes('written 7'), log.join('\n'));
});

test('bytes Node read before the thread took the socket are decoded first; the rest still goes by splice', {
  skip,
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const path = join(scratch(t), 'out');
  const fd = openSync(path, 'w+');
  t.after(() => closeSync(fd));
  const data = pattern(3 << 20, 4);
  // As a pull's first records can come with the daemon's admission: Node has read them already.
  client.write(Buffer.concat([blockHeader(7n, 0, data.length, true), data.subarray(0, 1000)]));
  const reading = () => {};
  server.on('readable', reading);
  for (let waited = 0; server.readableLength < 1000 + 22; waited += 10) {
    assert.ok(waited < 10_000, `Node read ${server.readableLength} bytes within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  server.off('readable', reading);
  const log: string[] = [];
  const errors: Error[] = [];
  receiveRecords(server, fileSink(fd, log), (error) => errors.push(error));
  client.write(data.subarray(1000));
  client.end(endRecord());
  await once(server, 'close');
  assert.deepEqual(errors, []);
  assert.deepEqual(readFileSync(path), data);
  assert.ok(log.includes('direct 7') && log.includes('written 7'), log.join('\n'));
  assert.equal(log.at(-1), 'done 7 true');
});

test('a file that cannot be written fails alone: its bytes are dropped, the next record is read', {
  skip,
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const dir = scratch(t);
  writeFileSync(join(dir, 'ro'), '');
  // Open for reading only: every write into it fails (EBADF), on the file's side.
  const readOnly = openSync(join(dir, 'ro'), 'r');
  t.after(() => closeSync(readOnly));
  const log: string[] = [];
  const sink = fileSink(readOnly, log);
  const kept: string[] = [];
  sink.data = (id, _offset, data) => kept.push(`${id}:${data.toString()}`);
  let fileError: unknown;
  const direct = sink.direct!;
  sink.direct = (id, offset, length) => {
    const target = direct(id, offset, length)!;
    return {
      fd: target.fd,
      written: (error) => {
        fileError = error;
        target.written(error);
      },
    };
  };
  const errors: Error[] = [];
  receiveRecords(server, sink, (error) => errors.push(error));
  const big = pattern(2 << 20, 3);
  client.write(Buffer.concat([fileHeader(1n, big.length), big, fileHeader(2n, 5), Buffer.from('after')]));
  client.end(endRecord());
  await once(server, 'close');
  assert.deepEqual(errors, []);
  assert.equal((fileError as NodeJS.ErrnoException | undefined)?.code, 'EBADF');
  // The second file came through whole after the first one's dropped bytes.
  assert.ok(log.includes('done 2 true'), log.join('\n'));
  assert.equal(kept.filter((k) => k.startsWith('2:')).join(''), '2:after');
});

test('a socket cut inside a range abandons it and fails the session', { skip }, async (t) => {
  const { server, client } = await loopbackPair(t);
  const fd = openSync(join(scratch(t), 'out'), 'w');
  t.after(() => closeSync(fd));
  const log: string[] = [];
  const reported = new Promise<Error>((resolve) => receiveRecords(server, fileSink(fd, log), resolve));
  client.write(blockHeader(4n, 0, 4 << 20, true));
  client.end(pattern(1 << 20, 4));
  const error = await reported;
  assert.match(error.message, /closed before its end record/);
  assert.ok(log.includes(`written 4 ${RangeAbandoned.name}`), log.join('\n'));
});

test('sendfile pads a file that shrank, so the record stays whole and the next one is read', {
  skip,
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const path = join(scratch(t), 'shrinks');
  writeFileSync(path, pattern(1 << 20, 5));
  const fd = openSync(path, 'r');
  t.after(() => closeSync(fd));
  const native = NativeSocket.take(client, false)!;
  t.after(() => native.close(true));
  truncateSync(path, 1000);
  const header = blockHeader(9n, 0, 1 << 20, false);
  const outcome = await native.send(header, fd, 0, 1 << 20, 5_000);
  assert.equal(outcome.side, 'file');
  assert.equal(outcome.error?.code, 'ENODATA');
  assert.equal(outcome.bytes, 1 << 20);
  assert.equal((await native.write(endRecord(), 5_000)).side, undefined);
  native.close(false);
  client.end();
  // The receiving end sees one whole block (its first 1000 bytes the file's, then zeros), then END.
  const decoder = new RecordDecoder();
  const received: Buffer[] = [];
  let ended = false;
  server.on('data', (chunk: Buffer) => {
    for (const event of decoder.push(chunk)) {
      if (event.kind === 'data') received.push(Buffer.from(event.data));
      if (event.kind === 'end') ended = true;
    }
  });
  await once(server, 'end');
  assert.ok(ended);
  const body = Buffer.concat(received);
  assert.equal(body.length, 1 << 20);
  assert.deepEqual(body.subarray(0, 1000), pattern(1 << 20, 5).subarray(0, 1000));
  assert.ok(body.subarray(1000).every((byte) => byte === 0));
});

test('a dropped range that claims petabytes is read through a bounded slab, never allocated', {
  skip,
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const log: string[] = [];
  const sink = fileSink(-1, log);
  // Every range refused (its file failed already): its bytes are read and dropped.
  sink.begin = () => false;
  const reported = new Promise<Error>((resolve) => receiveRecords(server, sink, resolve));
  const before = process.memoryUsage().arrayBuffers;
  client.write(fileHeader(5n, 2 ** 50));
  // 64 MiB of it, then the peer vanishes.
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < 64; i++) if (!client.write(chunk)) await once(client, 'drain');
  client.end();
  const error = await reported;
  assert.match(error.message, /closed before its end record/);
  assert.deepEqual(log, []);
  assert.ok(
    process.memoryUsage().arrayBuffers - before < 48 << 20,
    `${process.memoryUsage().arrayBuffers - before} bytes of buffers held`,
  );
});

test('a socket buffer is set through the addon only when the measured product needs it', {
  skip,
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const native = NativeSocket.take(client, false)!;
  t.after(() => native.close(true));
  server.resume();
  // A round trip measured: bytes out and acknowledged.
  for (let i = 0; i < 8; i++)
    assert.equal((await native.write(Buffer.alloc(64 << 10), 5_000)).side, undefined);
  // What loopback moves: left to autotuning.
  assert.equal(native.tuneBuffer(false, 100 << 20, 1000), undefined);
  // A path that moved far more per round trip than autotuning allows for: the buffer is set.
  const set = native.tuneBuffer(false, 1e14, 1000);
  assert.ok(set !== undefined && set > 0, `set to ${set}`);
});
