/**
 * The data plane's receiving loop on a real loopback socket pair, on the JS path and (with the
 * addon) on the socket's own thread: records reach the sink range by range; silence between
 * records is fine, but a record left half-sent fails the session after the idle time (never a
 * total deadline); a socket closed before its end record fails it too.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { DataPlaneStalled } from '../../src/transport/tcp/data-failure.js';
import { NativeSocket } from '../../src/transport/tcp/native-socket.js';
import { type RangeSink, receiveRecords } from '../../src/transport/tcp/record-receiver.js';
import { batchHeader, endRecord, fileHeader } from '../../src/transport/tcp/records.js';
import {
  holdView,
  releaseView,
  SLAB_BYTES,
  SLABS_PER_SOCKET,
  slabsMade,
} from '../../src/transport/tcp/slab-pool.js';
import { emptySpareSlabs, loopbackPair } from '../helpers.js';

/** A connected pair on 127.0.0.1: `server` is read by receiveRecords, `client` writes. */

/** A sink that keeps what it is given, every range accepted. */
function recordingSink() {
  const events: string[] = [];
  const sink: RangeSink = {
    begin: (id, offset, length) => {
      events.push(`begin ${id} ${offset} ${length}`);
      return true;
    },
    data: (id, _offset, data) => events.push(`data ${id} ${data.toString()}`),
    done: (id, final) => events.push(`done ${id} ${final}`),
    checked: (id) => events.push(`checked ${id}`),
    fail: (id, reason) => events.push(`fail ${id} ${reason}`),
  };
  return { events, sink };
}

/** Resolves with the first error receiveRecords reports, or rejects after `ms`. */
function firstError(ms: number) {
  let report!: (error: Error) => void;
  const reported = new Promise<Error>((resolve, reject) => {
    report = resolve;
    setTimeout(() => reject(new Error(`no error within ${ms} ms`)), ms).unref();
  });
  return { report, reported };
}

test('a record left half-sent fails after the idle time; silence between records does not', async (t) => {
  const { server, client } = await loopbackPair(t);
  const { events, sink } = recordingSink();
  const errors: Error[] = [];
  const { report, reported } = firstError(10_000);
  receiveRecords(
    server,
    sink,
    (error) => {
      errors.push(error);
      report(error);
    },
    200,
    'js',
  );
  client.write(Buffer.concat([fileHeader(1n, 4), Buffer.from('abcd')]));
  // A whole idle period passes between records: the socket's own time-out fires, nothing fails.
  await once(server, 'timeout');
  assert.deepEqual(errors, []);
  assert.deepEqual(events, ['begin 1 0 4', 'data 1 abcd', 'done 1 true']);

  client.write(Buffer.concat([fileHeader(2n, 8), Buffer.from('half')]));
  const error = await reported;
  assert.ok(error instanceof DataPlaneStalled);
  assert.match(error.message, /stalled in the middle of a record/);
});

for (const path of ['js', 'auto'] as const) {
  const skip = path === 'auto' && !nativeAddon() ? 'the native addon is not built' : false;
  test(`a socket closed before its end record fails; one closed after it does not (${path})`, {
    skip,
  }, async (t) => {
    const early = await loopbackPair(t);
    const lost = firstError(10_000);
    receiveRecords(early.server, recordingSink().sink, lost.report, undefined, path);
    early.client.end(fileHeader(3n, 4));
    assert.match((await lost.reported).message, /closed before its end record/);

    const clean = await loopbackPair(t);
    const errors: Error[] = [];
    receiveRecords(clean.server, recordingSink().sink, (error) => errors.push(error), undefined, path);
    clean.client.end(endRecord());
    await once(clean.server, 'close');
    assert.deepEqual(errors, []);
  });
}

for (const path of ['js', 'auto'] as const) {
  const skip = path === 'auto' && !nativeAddon() ? 'the native addon is not built' : false;
  test(`a batch read whole goes to the sink at once; the members it does not take come range by range, in order (${path})`, {
    skip,
  }, async (t) => {
    const pair = await loopbackPair(t);
    const { events, sink } = recordingSink();
    let batches = 0;
    // Takes file 2 only.
    sink.batch = (ids, lengths, data) => {
      batches++;
      events.push(`batch ${ids.join(',')} ${lengths.join(',')} ${data.toString()}`);
      return Uint8Array.from(ids, (id) => (id === 2n ? 1 : 0));
    };
    const errors: Error[] = [];
    receiveRecords(pair.server, sink, (error) => errors.push(error), undefined, path);
    const members = [
      { fileId: 1n, length: 1 },
      { fileId: 2n, length: 2 },
      { fileId: 3n, length: 0 },
      { fileId: 4n, length: 3 },
    ];
    pair.client.end(Buffer.concat([batchHeader(members), Buffer.from('abbccc'), endRecord()]));
    await once(pair.server, 'close');
    assert.deepEqual(errors, []);
    const oneByOne = ['begin 1 0 1', 'data 1 a', 'done 1 true'];
    const rest = ['begin 3 0 0', 'done 3 true', 'begin 4 0 3', 'data 4 ccc', 'done 4 true'];
    // The socket's thread reads a batch's payload in one read; Node's reads may cut it.
    if (path === 'auto') assert.equal(batches, 1);
    assert.deepEqual(
      events,
      batches === 1
        ? ['batch 1,2,3,4 1,2,0,3 abbccc', ...oneByOne, ...rest]
        : [...oneByOne, 'begin 2 0 2', 'data 2 bb', 'done 2 true', ...rest],
    );
  });
}

for (const path of ['js', 'auto'] as const) {
  for (const sent of ['its table', 'half its payload'] as const) {
    test(`a batch that stops after ${sent} fails after the idle time (${path})`, {
      skip: path === 'auto' && !nativeAddon() ? 'the native addon is not built' : false,
    }, async (t) => {
      const { server, client } = await loopbackPair(t);
      const { sink } = recordingSink();
      sink.batch = () => undefined;
      const { report, reported } = firstError(10_000);
      receiveRecords(server, sink, report, 100, path);
      const table = batchHeader([
        { fileId: 1n, length: 4 },
        { fileId: 2n, length: 4 },
      ]);
      client.write(sent === 'its table' ? table : Buffer.concat([table, Buffer.from('abcd')]));
      const error = await reported;
      assert.ok(error instanceof DataPlaneStalled);
      assert.match(error.message, /stalled in the middle of a record/);
    });
  }
}

test('on the socket thread too, a record left half-sent fails after the idle time; silence between records does not', {
  skip: nativeAddon() ? false : 'the native addon is not built',
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const { events, sink } = recordingSink();
  const errors: Error[] = [];
  const { report, reported } = firstError(10_000);
  const started = Date.now();
  receiveRecords(
    server,
    sink,
    (error) => {
      errors.push(error);
      report(error);
    },
    100,
  );
  client.write(Buffer.concat([fileHeader(1n, 4), Buffer.from('abcd')]));
  // Between records the thread's reads time out and are asked again: several idle periods pass
  // (the second record is sent only once the first is in and 5 idle times have gone).
  while (events.length < 3) await new Promise((resolve) => setImmediate(resolve));
  while (Date.now() - started < 500) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(errors, []);
  assert.deepEqual(events, ['begin 1 0 4', 'data 1 abcd', 'done 1 true']);

  client.write(Buffer.concat([fileHeader(2n, 8), Buffer.from('half')]));
  const error = await reported;
  assert.ok(error instanceof DataPlaneStalled);
  assert.match(error.message, /stalled in the middle of a record/);
});

test('on the socket thread, files held unlanded keep their read buffers: the socket waits for one to come back, never reads over them', {
  skip: nativeAddon() ? false : 'the native addon is not built',
  timeout: 30_000,
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const FILES = 28;
  const SIZE = 1 << 20;
  /** File `id`'s bytes: each file's own pattern, so bytes read over by another file show. */
  const contents = (id: number) => {
    const bytes = Buffer.allocUnsafe(SIZE);
    for (let i = 0; i < SIZE; i++) bytes[i] = (i * 31 + id * 17) & 255;
    return bytes;
  };
  const expected = Array.from({ length: FILES }, (_, id) => contents(id));
  // Slabs spare from earlier tests are taken out of reach: every slab of this run is counted.
  emptySpareSlabs();
  const madeBefore = slabsMade();

  // The sink keeps every view (as files waiting to land do) until nearly 4 slabs' worth are held;
  // then, after the socket has asked for a fifth, it checks and lets go of the oldest 4 MiB.
  const held: { id: number; offset: number; data: Buffer }[] = [];
  let heldBytes = 0;
  let releasing = false;
  let checked = 0;
  const check = (view: { id: number; offset: number; data: Buffer }) => {
    assert.ok(
      view.data.equals(expected[view.id]!.subarray(view.offset, view.offset + view.data.length)),
      `file ${view.id} at ${view.offset} read over while held`,
    );
    checked += view.data.length;
    releaseView(view.data);
  };
  const releaseOldest = () => {
    releasing = false;
    for (let freed = 0; freed < SLAB_BYTES && held.length > 0; ) {
      const view = held.shift()!;
      heldBytes -= view.data.length;
      freed += view.data.length;
      check(view);
    }
  };
  let lastDone!: () => void;
  const ended = new Promise<void>((resolve) => {
    lastDone = resolve;
  });
  const sink: RangeSink = {
    begin: () => true,
    data: (id, offset, data) => {
      holdView(data);
      held.push({ id: Number(id), offset, data });
      heldBytes += data.length;
      if (heldBytes >= SLABS_PER_SOCKET * SLAB_BYTES - (64 << 10) && !releasing) {
        releasing = true;
        setImmediate(releaseOldest);
      }
    },
    done: (id) => {
      if (Number(id) === FILES - 1) lastDone();
    },
    checked: () => {},
    fail: () => {},
  };
  const errors: Error[] = [];
  receiveRecords(server, sink, (error) => errors.push(error));
  for (let id = 0; id < FILES; id++)
    client.write(Buffer.concat([fileHeader(BigInt(id), SIZE), expected[id]!]));
  client.write(endRecord());
  await ended;
  for (const view of held.splice(0)) check(view);
  assert.deepEqual(errors, []);
  assert.equal(checked, FILES * SIZE);
  assert.ok(
    slabsMade() - madeBefore <= SLABS_PER_SOCKET,
    `${slabsMade() - madeBefore} slabs made for ${FILES} MiB`,
  );
});

test('on the socket thread, a batch takes two reads (its first bytes, then the rest of its table and its payload at once), and the record after a range received into its file is asked for before that receive answers', {
  skip: nativeAddon() ? false : 'the native addon is not built',
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const dir = mkdtempSync(join(tmpdir(), 'blit-ahead-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, 'file'), 'w+');
  t.after(() => closeSync(fd));
  // The steps the receiver asks of the socket's thread, and when each receive answers.
  const steps: string[] = [];
  const proto = NativeSocket.prototype;
  const { read, receive } = proto;
  t.after(() => {
    proto.read = read;
    proto.receive = receive;
  });
  proto.read = function (this: NativeSocket, into, idleMs, whole) {
    steps.push(`read ${into.length}${whole ? ' whole' : ''}`);
    return read.call(this, into, idleMs, whole);
  };
  proto.receive = function (this: NativeSocket, file, offset, length, idleMs) {
    steps.push(`receive ${length}`);
    return receive.call(this, file, offset, length, idleMs).then((outcome) => {
      steps.push('receive answered');
      return outcome;
    });
  };
  const { events, sink } = recordingSink();
  sink.batch = (ids) => {
    events.push(`batch ${ids.join(',')} after ${steps.length} steps`);
    return new Uint8Array(ids.length).fill(1);
  };
  sink.direct = () => ({ fd, written: (error) => events.push(`written ${error ?? ''}`) });
  const errors: Error[] = [];
  receiveRecords(server, sink, (error) => errors.push(error));
  const members = [1n, 2n, 3n].map((fileId) => ({ fileId, length: 1000 }));
  const file = Buffer.alloc(100_000, 'x');
  client.end(
    Buffer.concat([
      batchHeader(members),
      Buffer.alloc(3000, 'b'),
      fileHeader(4n, file.length),
      file,
      endRecord(),
    ]),
  );
  await once(server, 'close');
  assert.deepEqual(errors, []);
  // The batch's table (9 + 3 × 12 bytes) begins in the first read of 32 bytes; the second takes
  // the rest of it and the 3,000 bytes of payload.
  assert.equal(events[0], 'batch 1,2,3 after 3 steps');
  assert.deepEqual(steps.slice(0, 3), ['read 32', `read ${45 - 32 + 3000} whole`, 'read 32']);
  // The FILE's header and its first 15 bytes came in that read behind the batch; the rest goes
  // into the file, and the END record's read is asked before the receive answers.
  const at = steps.indexOf('receive 99985');
  assert.ok(at > 0, steps.join('; '));
  assert.deepEqual(steps.slice(at, at + 3), ['receive 99985', 'read 32', 'receive answered']);
  assert.equal(readFileSync(join(dir, 'file')).subarray(15).equals(file.subarray(15)), true);
});

test('on the socket thread, a batch whose table and payload do not fit one read buffer still comes whole: its payload in a read of its own', {
  skip: nativeAddon() ? false : 'the native addon is not built',
}, async (t) => {
  const { server, client } = await loopbackPair(t);
  const { events, sink } = recordingSink();
  const half = SLAB_BYTES / 2;
  sink.batch = (ids, lengths, data) => {
    events.push(`batch ${ids.join(',')} ${lengths.join(',')} ${data[0]} ${data[half]}`);
    return new Uint8Array(ids.length).fill(1);
  };
  const errors: Error[] = [];
  receiveRecords(server, sink, (error) => errors.push(error));
  const members = [
    { fileId: 1n, length: half },
    { fileId: 2n, length: half },
  ];
  // A payload of a whole read buffer (4 MiB): with its table, one byte more than a slab holds.
  client.end(
    Buffer.concat([batchHeader(members), Buffer.alloc(half, 1), Buffer.alloc(half, 2), endRecord()]),
  );
  await once(server, 'close');
  assert.deepEqual(errors, []);
  assert.deepEqual(events, [`batch 1,2 ${half},${half} 1 2`]);
});
