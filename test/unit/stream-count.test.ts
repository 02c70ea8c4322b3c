/**
 * The data plane's socket count: one more socket is asked for after a window of bulk data that left
 * a CPU core idle, kept while throughput still grows by a tenth, and never beyond the cap; small
 * windows and windows before the requested socket connected decide nothing. The machine's idle
 * cores as measured from its CPU times. The block layout both sides check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  blockCount,
  blockLength,
  blocksOf,
  DATA_BLOCK_BYTES,
  SMALL_FILE_BYTES,
} from '../../src/transport/tcp/layout.js';
import { MAX_DATA_SOCKETS, SPARE_CORES_FOR_MORE, StreamCount } from '../../src/transport/tcp/stream-count.js';
import { cpuTimes, spareCores } from '../../src/util/spare-cores.js';

const MiB = 1 << 20;
/** A window of `mibPerS` MiB/s over half a second with `sockets` connected. */
const window = (mibPerS: number, sockets: number) => ({ bytes: (mibPerS * MiB) / 2, ms: 500, sockets });

test('a socket is added while throughput grows, and the count stops at the first that does not help', () => {
  const count = new StreamCount();
  assert.equal(count.observe(window(100, 1)), true, 'bulk work: ask for a second socket');
  assert.equal(count.observe(window(100, 1)), false, 'not connected yet: no decision');
  assert.equal(count.observe(window(150, 2)), true, '+50%: ask for a third');
  assert.equal(count.observe(window(160, 3)), false, '+7%: stop');
  assert.equal(count.settled, true);
  assert.equal(count.observe(window(400, 3)), false, 'settled stays settled');
});

test('windows without bulk data decide nothing', () => {
  const count = new StreamCount();
  assert.equal(count.observe({ bytes: MiB, ms: 500, sockets: 1 }), false);
  assert.equal(count.observe({ bytes: 0, ms: 0, sockets: 1 }), false);
  assert.equal(count.settled, false);
  assert.equal(count.observe(window(100, 1)), true);
});

test('never more than the cap', () => {
  const count = new StreamCount();
  let sockets = 1;
  for (let rate = 100; count.observe(window(rate, sockets)); rate *= 2) sockets++;
  assert.equal(sockets, MAX_DATA_SOCKETS);
  assert.equal(count.settled, true);
});

test('no socket is asked for while the machine has no core idle; one is once a core is free', () => {
  const count = new StreamCount();
  const busy = { ...window(100, 1), spareCores: SPARE_CORES_FOR_MORE - 0.1 };
  assert.equal(count.observe(busy), false, 'every core busy: another socket would only contend');
  assert.equal(count.observe(busy), false);
  assert.equal(count.settled, false, 'a later window may find a core free');
  assert.equal(count.observe({ ...window(100, 1), spareCores: SPARE_CORES_FOR_MORE }), true);
  // The second socket helped (judged once); the third waits for a free core as the second did.
  assert.equal(count.observe({ ...window(150, 2), spareCores: 0.5 }), false);
  // A slower busy window later is not the second socket's test again (against the rate before it).
  assert.equal(count.observe({ ...window(90, 2), spareCores: 0.5 }), false);
  assert.equal(count.settled, false);
  // A core frees: the third is asked for, measured against this window's rate.
  assert.equal(count.observe({ ...window(150, 2), spareCores: 3 }), true);
  // A socket that did not help settles the count, cores or not.
  assert.equal(count.observe({ ...window(160, 3), spareCores: 3 }), false);
  assert.equal(count.settled, true);
});

test('a socket that brought nothing settles the count in a busy window too', () => {
  const count = new StreamCount();
  assert.equal(count.observe({ ...window(100, 1), spareCores: 1.5 }), true);
  assert.equal(count.observe({ ...window(105, 2), spareCores: 0.2 }), false);
  assert.equal(count.settled, true);
});

test("idle cores: the CPUs' idle time per wall-clock time between two readings", () => {
  const cpu = (idle: number) => ({ times: { user: 0, nice: 0, sys: 0, idle, irq: 0 } });
  const before = cpuTimes([cpu(5000), cpu(4000)]);
  // Over 1 s: one core 80% idle, the other 30%.
  const after = cpuTimes([cpu(5800), cpu(4300)]);
  assert.ok(Math.abs(spareCores(before, after, 1000)! - 1.1) < 1e-9, `${spareCores(before, after, 1000)}`);
  // Time neither idle nor reported (a VM's steal, iowait) is not idle: half a core over 2 s.
  assert.ok(Math.abs(spareCores(before, cpuTimes([cpu(5500), cpu(4500)]), 2000)! - 0.5) < 1e-9);
  assert.equal(spareCores(before, cpuTimes([cpu(9000), cpu(9000)]), 1000), 2, 'never more than the cores');
  assert.equal(spareCores(before, after, 0), undefined, 'no time passed');
  assert.equal(spareCores(after, before, 1000), undefined, 'the counters went back');
  assert.equal(spareCores(before, cpuTimes([cpu(5800)]), 1000), undefined, 'the CPUs changed');
  assert.equal(spareCores(undefined, after, 1000), undefined);
  assert.equal(cpuTimes([]), undefined, 'a platform that reports no CPUs');
  const live = cpuTimes();
  assert.ok(live && live.cores >= 1 && live.idleMs >= 0, 'this machine reports its CPUs');
});

test('blocks: files above one block travel as fixed blocks, the last one shorter', () => {
  assert.equal(blockCount(DATA_BLOCK_BYTES), 0, 'one block or less travels whole');
  assert.equal(blockCount(DATA_BLOCK_BYTES + 1), 2);
  assert.equal(blockCount(3 * DATA_BLOCK_BYTES), 3);
  const size = 2 * DATA_BLOCK_BYTES + 5;
  assert.equal(blockLength(size, 0), DATA_BLOCK_BYTES);
  assert.equal(blockLength(size, 2 * DATA_BLOCK_BYTES), 5);
  assert.equal(blockLength(size, 1), undefined, 'not at a block boundary');
  assert.equal(blockLength(size, 3 * DATA_BLOCK_BYTES), undefined, 'past the end');
  // A file too large for a batch may also travel as blocks (by sendfile it does): one if it fits one.
  assert.equal(blockLength(DATA_BLOCK_BYTES, 0), DATA_BLOCK_BYTES);
  assert.equal(blockLength(SMALL_FILE_BYTES + 1, 0), SMALL_FILE_BYTES + 1);
  assert.equal(blocksOf(SMALL_FILE_BYTES + 1), 1);
  assert.equal(blocksOf(size), 3);
  assert.equal(blockLength(SMALL_FILE_BYTES, 0), undefined, 'a file a batch takes never travels as blocks');
  assert.equal(blockLength(0, 0), undefined, 'an empty file has no blocks');
});
