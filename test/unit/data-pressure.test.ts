/**
 * The receiving side's memory bound (byte-budget.ts): the range writer and the landing queue ask the
 * sockets to stop being read once more than 64 MiB waits on the landing threads, and to read again once it has
 * drained to half, with every range and file answered.
 */
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PathDestinationFs } from '../../src/fsops/destination-fs.js';
import { ByteBudget, SharedBudget } from '../../src/transport/tcp/byte-budget.js';
import { LandingQueue } from '../../src/transport/tcp/landing-queue.js';
import { RangeWriter } from '../../src/transport/tcp/range-writer.js';
import { releaseView, SlabQuota, spareSlabs } from '../../src/transport/tcp/slab-pool.js';
import { emptySpareSlabs, tempDir } from '../helpers.js';

const MiB = 1 << 20;

test('the range writer pauses reading past 64 MiB in flight and resumes once drained', async (t) => {
  const dir = tempDir(t, 'blit-pressure-');
  const fd = openSync(join(dir, 'big'), constants.O_WRONLY | constants.O_CREAT, 0o600);
  t.after(() => closeSync(fd));
  const pressure: boolean[] = [];
  const written: number[] = [];
  const writer = new RangeWriter<number>(new ByteBudget((full) => pressure.push(full)), {
    written: (owner, _offset, _length, error) => {
      assert.equal(error, undefined);
      written.push(owner);
    },
  });
  const chunk = Buffer.alloc(8 * MiB, 1);
  for (let i = 0; i < 9; i++) writer.add({ fd, offset: i * chunk.length, data: chunk, owner: i, rel: 'f' });
  assert.deepEqual(pressure, [true], '72 MiB queued: stop reading');
  await writer.idle();
  assert.deepEqual(pressure, [true, false], 'drained: read again');
  assert.deepEqual(
    written.sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.equal(statSync(join(dir, 'big')).size, 9 * chunk.length);
});

test('the landing queue pauses reading past 64 MiB waiting and resumes once landed', async (t) => {
  const dir = tempDir(t, 'blit-pressure-');
  const pressure: boolean[] = [];
  const landed: bigint[] = [];
  let done!: () => void;
  const allLanded = new Promise<void>((resolve) => {
    done = resolve;
  });
  const queue = new LandingQueue(new PathDestinationFs(dir), new ByteBudget((full) => pressure.push(full)), {
    landed: (fileId) => {
      landed.push(fileId);
      if (landed.length === 5) done();
    },
    failed: (_fileId, error) => assert.fail(String(error)),
  });
  for (let i = 0; i < 5; i++) {
    const data = Buffer.alloc(16 * MiB, 2);
    queue.add({ fileId: BigInt(i), rel: `f${i}`, data, mode: 0o644, mtimeNs: 1_700_000_000_000_000_000n });
  }
  assert.deepEqual(pressure, [true], '80 MiB waiting: stop reading');
  await allLanded;
  assert.deepEqual(pressure, [true, false], 'landed: read again');
  assert.deepEqual(readdirSync(dir).sort(), ['f0', 'f1', 'f2', 'f3', 'f4']);
});

test('small files landed from views of one read buffer charge all of it, once, until the last has landed', async (t) => {
  const dir = tempDir(t, 'blit-pressure-');
  const charged: number[] = [];
  const budget = new ByteBudget(() => {});
  const take = budget.take.bind(budget);
  const give = budget.give.bind(budget);
  budget.take = (bytes) => {
    charged.push(bytes);
    take(bytes);
  };
  budget.give = (bytes) => {
    charged.push(-bytes);
    give(bytes);
  };
  let done!: () => void;
  const allLanded = new Promise<void>((resolve) => {
    done = resolve;
  });
  let landed = 0;
  const queue = new LandingQueue(new PathDestinationFs(dir), budget, {
    landed: () => {
      if (++landed === 3) done();
    },
    failed: (_fileId, error) => assert.fail(String(error)),
  });
  // A 4 MiB read buffer holding three small files (as a data-plane batch arrives).
  const slab = Buffer.alloc(4 * MiB);
  slab.write('one', 0);
  slab.write('two', 100);
  slab.write('three', 4 * MiB - 5);
  const views = [slab.subarray(0, 3), slab.subarray(100, 103), slab.subarray(4 * MiB - 5)];
  views.forEach((data, i) => {
    queue.add({ fileId: BigInt(i), rel: `f${i}`, data, mode: 0o644, mtimeNs: 1_700_000_000_000_000_000n });
  });
  assert.deepEqual(charged, [4 * MiB], 'the whole buffer, once, however many files it holds');
  await allLanded;
  assert.deepEqual(charged, [4 * MiB, -4 * MiB], 'given back once the last of them landed');
  assert.deepEqual(
    readdirSync(dir)
      .sort()
      .map((name) => readFileSync(join(dir, name), 'utf8')),
    ['one', 'two', 'three'],
  );
});

describe('a daemon-wide budget over every session', () => {
  test('sessions together past the shared limit all stop reading; drained to half, all read again', () => {
    const shared = new SharedBudget(100);
    const said: string[] = [];
    const a = new ByteBudget((full) => said.push(`a ${full}`), 80, shared);
    const b = new ByteBudget((full) => said.push(`b ${full}`), 80, shared);
    a.take(60);
    b.take(30);
    assert.deepEqual(said, [], 'each below its own limit, together at 90 of 100');
    b.take(20);
    assert.equal(shared.bytes, 110);
    assert.deepEqual(said.sort(), ['a true', 'b true'], 'together past 100: both stop');
    said.length = 0;
    a.give(40);
    assert.deepEqual(said, [], 'still 70, above half of the shared limit');
    b.give(30);
    assert.deepEqual(said.sort(), ['a false', 'b false'], 'at 40: both read again');
  });

  test("a session's own limit still holds alone, and a closed session stops counting", () => {
    const shared = new SharedBudget(100);
    const said: string[] = [];
    const a = new ByteBudget((full) => said.push(`a ${full}`), 20, shared);
    const b = new ByteBudget((full) => said.push(`b ${full}`), 80, shared);
    a.take(30);
    assert.deepEqual(said, ['a true']);
    b.take(75);
    assert.deepEqual(said, ['a true', 'b true'], 'together 105: b stops too');
    said.length = 0;
    // a's session fails with its bytes still held: they stop counting at once.
    a.close();
    assert.equal(shared.bytes, 75);
    assert.deepEqual(said, [], 'still above half of the shared limit');
    b.give(30);
    assert.deepEqual(said, ['b false']);
    a.give(30);
    assert.equal(shared.bytes, 45, "a closed session's late gives leave the shared count alone");
  });
});

test("a socket's read buffer is read into again only once the files and ranges kept from it are written", async (t) => {
  const dir = tempDir(t, 'blit-pressure-');
  // Slabs spare from earlier tests out of reach: this test's slabs are the only ones that can come back.
  emptySpareSlabs();
  const quota = new SlabQuota();
  let landed!: () => void;
  const allLanded = new Promise<void>((resolve) => {
    landed = resolve;
  });
  const queue = new LandingQueue(new PathDestinationFs(dir), new ByteBudget(() => {}), {
    landed: () => landed(),
    failed: (_fileId, error) => assert.fail(String(error)),
  });
  const fd = openSync(join(dir, 'big'), constants.O_WRONLY | constants.O_CREAT, 0o600);
  t.after(() => closeSync(fd));
  const writer = new RangeWriter<number>(new ByteBudget(() => {}), {
    written: (_owner, _offset, _length, error) => assert.equal(error, undefined),
  });

  // A small file waiting to land: its slab is not spare when the socket moves on to its next read.
  const forFile = quota.take();
  forFile.write('small', 0);
  queue.add({
    fileId: 1n,
    rel: 'small',
    data: forFile.subarray(0, 5),
    mode: 0o644,
    mtimeNs: 1_700_000_000_000_000_000n,
  });
  releaseView(forFile);
  assert.equal(spareSlabs(), 0, 'held by the landing queue');
  await allLanded;
  assert.equal(spareSlabs(), 1, 'back once the file has landed');
  assert.equal(readFileSync(join(dir, 'small'), 'utf8'), 'small');

  // A range waiting to be written: the same.
  const forRange = quota.take();
  forRange.fill(7, MiB, 2 * MiB);
  writer.add({ fd, offset: 0, data: forRange.subarray(MiB, 2 * MiB), owner: 1, rel: 'big' });
  releaseView(forRange);
  assert.equal(spareSlabs(), 0, 'held by the range writer');
  await writer.idle();
  assert.equal(spareSlabs(), 1, 'back once the range is written');
  assert.ok(readFileSync(join(dir, 'big')).equals(Buffer.alloc(MiB, 7)));
});

test('a small file whose directory is missing when it lands is landed once more once the directory is made, its read buffer held throughout', async (t) => {
  const dir = tempDir(t, 'blit-pressure-');
  emptySpareSlabs();
  const quota = new SlabQuota();
  const slab = quota.take();
  slab.write('again', 0);
  const failed: unknown[] = [];
  let landed!: () => void;
  const allLanded = new Promise<void>((resolve) => {
    landed = resolve;
  });
  const queue = new LandingQueue(new PathDestinationFs(dir), new ByteBudget(() => {}), {
    landed: () => landed(),
    failed: (_fileId, error) => {
      failed.push(error);
      landed();
    },
  });
  // `sub` does not exist: the first landing fails with ENOENT, the queue makes it and lands again.
  queue.add({
    fileId: 1n,
    rel: 'sub/f',
    data: slab.subarray(0, 5),
    mode: 0o644,
    mtimeNs: 1_700_000_000_000_000_000n,
  });
  releaseView(slab);
  await allLanded;
  assert.deepEqual(failed, []);
  assert.equal(readFileSync(join(dir, 'sub', 'f'), 'utf8'), 'again');
  assert.equal(spareSlabs(), 1, 'its read buffer back once it has landed');
});
