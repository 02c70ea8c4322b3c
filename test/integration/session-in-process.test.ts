/**
 * The session engine driven in-process (as the daemon will drive it), from the TypeScript sources:
 * worker threads and the stall watchdog must start under tsx too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveEndpoints } from '../../src/engine/endpoints.js';
import { WorkerPool } from '../../src/fsops/copy-pool.js';
import { localProbe } from '../../src/fsops/path-probe.js';
import { transferLocally } from '../../src/transport/in-process/local-transfer.js';
import { diffSnapshots, snapshot, tempDir, transferOptions, writeFile } from '../helpers.js';

test('transferLocally copies a tree through a worker pool started from the sources', async (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  for (let i = 0; i < 30; i++)
    writeFile(join(src, `d${i % 3}`, `f${i}`), `file ${i}`, { mode: 0o640, mtime: 1_500_000_000 + i });
  const endpoints = resolveEndpoints(`${src}/`, join(root, 'dst'), localProbe);
  let pool: WorkerPool | undefined;
  const report = await transferLocally(endpoints, transferOptions('copy'), {
    startExecutor: () => {
      pool = new WorkerPool(2);
      return pool;
    },
  });
  assert.ok(pool, 'the worker pool was used');
  assert.equal(report.failed, 0, JSON.stringify(report.failures));
  assert.equal(report.copied, 33);
  assert.deepEqual(
    diffSnapshots(snapshot(join(root, 'dst')), snapshot(src), { mtimeToleranceNs: 2000n }),
    [],
  );
});
