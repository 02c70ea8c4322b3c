/** Socket buffers from the bandwidth-delay product: left to Linux's autotuning unless the path needs more. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  autotuneMax,
  BDP_HEADROOM,
  bufferFor,
  MAX_SOCKET_BUFFER,
} from '../../src/transport/tcp/socket-buffers.js';

const MiB = 1 << 20;

test('a short path is left to autotuning; a long fat one gets twice its product', () => {
  // Loopback: 2 GB/s over 50 µs is 100 kB in flight.
  assert.equal(bufferFor({ bytesPerSecond: 2e9, rttUs: 50 }, 16 * 1024, 4 * MiB), undefined);
  // 100 MB/s over 100 ms: 10 MB in flight, 20 MB wanted, beyond autotuning's 4 MiB.
  assert.equal(bufferFor({ bytesPerSecond: 100e6, rttUs: 100_000 }, 4 * MiB, 4 * MiB), 10e6 * BDP_HEADROOM);
  // The same path under a 32 MiB autotuning limit: left alone.
  assert.equal(bufferFor({ bytesPerSecond: 100e6, rttUs: 100_000 }, 4 * MiB, 32 * MiB), undefined);
});

test('the buffer never shrinks, never passes the cap, and nothing is set without a measurement', () => {
  assert.equal(bufferFor({ bytesPerSecond: 100e6, rttUs: 100_000 }, 32 * MiB, 4 * MiB), undefined);
  assert.equal(bufferFor({ bytesPerSecond: 10e9, rttUs: 500_000 }, 4 * MiB, 4 * MiB), MAX_SOCKET_BUFFER);
  assert.equal(bufferFor({ bytesPerSecond: 100e6, rttUs: 0 }, 0, 4 * MiB), undefined);
  assert.equal(bufferFor({ bytesPerSecond: 0, rttUs: 100_000 }, 0, 4 * MiB), undefined);
  assert.equal(bufferFor({ bytesPerSecond: Number.NaN, rttUs: 100_000 }, 0, 4 * MiB), undefined);
});

test("autotuning's limits are read from the kernel", () => {
  assert.ok(autotuneMax(true) > 0);
  assert.ok(autotuneMax(false) > 0);
});
