/**
 * SIGINT and SIGTERM stop a run cleanly: exit 130 / 143 with one line, no temp file left, every file
 * that landed complete, nothing deleted by an interrupted mirror. Copies are slowed down
 * (BLIT_TEST_HANG=copy-each) so the signal always arrives mid-run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type Dirent, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { BLIT, read, tempDir, testConfigHome, writeFile } from '../helpers.js';

/**
 * Every file below `root`, relative. Read while blit runs, so entries come and go (a temp file is
 * renamed): kinds come from the listing itself, and a directory that vanished lists as empty.
 */
function filesBelow(root: string, rel = ''): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(join(root, rel), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) out.push(...filesBelow(root, child));
    else out.push(child);
  }
  return out;
}

function tree(src: string): void {
  for (const dir of ['a', 'b', 'c']) {
    for (let i = 0; i < 30; i++) writeFile(join(src, dir, `f${i}`), `${dir}${i}\n`.repeat(50));
  }
}

/**
 * Runs blit, waits (bounded) until at least one file of the source's landed in `dst` (so blit is
 * running its copies), sends `signal`, and returns how it ended.
 */
async function interrupted(
  args: string[],
  dst: string,
  signal: NodeJS.Signals,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BLIT, ...args], {
    env: {
      ...process.env,
      XDG_CONFIG_HOME: testConfigHome(),
      BLIT_DISABLE_PERF_HISTORY: '1',
      BLIT_TEST_HANG: 'copy-each:100',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (filesBelow(dst).some((rel) => /^f\d+$/.test(rel.split('/').pop()!))) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr };
}

for (const [name, env] of [
  ['native copy threads', {}],
  ['pure-JS worker threads', { BLIT_NO_NATIVE: '1' }],
] as const) {
  describe(`interrupting a run (${name})`, () => {
    test('SIGINT: exit 130, one line, no temp file, every landed file complete', async (t) => {
      if (name === 'native copy threads') assert.ok(nativeAddon(), 'npm install builds the native addon');
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      tree(src);
      const result = await interrupted(['copy', `${src}/`, dst], dst, 'SIGINT', env);
      assert.equal(result.code, 130, result.stderr);
      assert.match(
        result.stderr,
        /^blit: interrupted \(SIGINT\): .*no temp file was left; run again to finish\n$/,
      );
      const landed = filesBelow(dst);
      assert.deepEqual(
        landed.filter((rel) => rel.split('/').pop()!.startsWith('.blit-')),
        [],
        'no temp file left',
      );
      assert.ok(landed.length < 90, `stopped early: ${landed.length} of 90 files`);
      for (const rel of landed) assert.equal(read(join(dst, rel)), read(join(src, rel)), rel);
    });

    test('SIGTERM during a mirror: exit 143, nothing deleted', async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      tree(src);
      writeFile(join(dst, 'extra'), 'not in the source');
      writeFile(join(dst, 'a', 'extra too'), 'not in the source');
      const result = await interrupted(['mirror', '--yes', `${src}/`, dst], dst, 'SIGTERM', env);
      assert.equal(result.code, 143, result.stderr);
      assert.match(result.stderr, /^blit: interrupted \(SIGTERM\)/);
      assert.equal(read(join(dst, 'extra')), 'not in the source');
      assert.equal(read(join(dst, 'a', 'extra too')), 'not in the source');
    });
  });
}
