/**
 * The soak of issue 15: 50 sessions at once against one blitd on loopback (25 pushes, 25 pulls,
 * each with small files and one file large enough to go in blocks over the data plane), all
 * whole, within the daemon's call and connection caps, and its memory bounded.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertSameTree, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const SESSIONS = 50;

function tree(root: string, seed: number): string {
  mkdirSync(join(root, 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++)
    writeFileSync(join(root, i % 2 ? 'sub' : '', `f${i}`), `${seed} ${i}\n`.repeat(i + 1));
  // 5 MiB: two blocks (one by sendfile, the last read and checked).
  const big = Buffer.alloc(5 << 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096 + seed) & 0xff;
  writeFileSync(join(root, 'big'), big);
  return root;
}

test(`${SESSIONS} sessions at once against one daemon: every push and pull whole, memory bounded`, async (t) => {
  const root = tempDir(t, 'blit-soak-');
  const module = join(root, 'module');
  mkdirSync(module);
  for (let i = 0; i < SESSIONS / 2; i++) tree(join(module, `there${i}`), 1000 + i);
  const sources = Array.from({ length: SESSIONS / 2 }, (_, i) => tree(join(root, `src${i}`), i));
  const daemon = await startDaemon(t, ['--root', module]);
  const remote = `127.0.0.1:${daemon.port}:/default`;
  const runs = await Promise.all([
    ...sources.map((src, i) => runBlit(['copy', `${src}/`, `${remote}/here${i}`])),
    ...sources.map((_, i) => runBlit(['copy', `${remote}/there${i}/`, join(root, `back${i}`)])),
  ]);
  for (const [i, run] of runs.entries()) assert.equal(run.status, 0, `session ${i}: ${run.stderr}`);
  for (let i = 0; i < SESSIONS / 2; i++) {
    assertSameTree(join(module, `here${i}`), sources[i]!);
    assertSameTree(join(root, `back${i}`), join(module, `there${i}`));
  }
  // Each went over the data plane (the daemon logs the sockets each session had).
  const overData = daemon
    .log()
    .split('\n')
    .filter((line) => /"rpc":"transfer".*"dataSockets":[1-9]/.test(line));
  assert.equal(overData.length, SESSIONS, daemon.log().slice(-2000));
  const peak = Number(
    readFileSync(`/proc/${daemon.process.pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)?.[1],
  );
  // Each session may hold 64 MiB waiting to land; these hold far less. A bound, not a target.
  assert.ok(peak / 1024 < 1024, `blitd peaked at ${Math.round(peak / 1024)} MiB`);
  process.stderr.write(`soak: ${SESSIONS} sessions, blitd peak RSS ${Math.round(peak / 1024)} MiB\n`);
});
