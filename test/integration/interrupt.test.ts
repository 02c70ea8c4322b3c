/**
 * SIGINT and SIGTERM stop a run cleanly: exit 130 / 143 with one line, no temp file left, every file
 * that landed complete, nothing deleted by a mirror interrupted while copying, and deletions under
 * way stopped where they were. Copies and deletions are slowed down (BLIT_TEST_HANG=copy-each,
 * delete-each) so the signal always arrives mid-run.
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

/** True once a file of the source's landed in `dst`: blit is running its copies. */
const someLanded = (dst: string) => () => filesBelow(dst).some((rel) => /^f\d+$/.test(rel.split('/').pop()!));

/**
 * Runs blit, waits (bounded) until `ready` says it is where the test wants it, sends `signal`, and
 * returns how it ended.
 */
async function interrupted(
  args: string[],
  ready: () => boolean,
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
    if (ready()) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr };
}

/**
 * Asserts that a copy stopped by SIGINT said so in one line with exit 130 and left no temp file
 * (nor a directory still under its temp name) in `dst`; returns the files that landed.
 */
function stoppedCleanly(result: { code: number | null; stderr: string }, dst: string): string[] {
  assert.equal(result.code, 130, result.stderr);
  assert.match(
    result.stderr,
    /^blit: interrupted \(SIGINT\): .*no temp file was left; run again to finish\n$/,
  );
  const landed = filesBelow(dst);
  assert.deepEqual(
    landed.filter((rel) => rel.split('/').some((part) => part.startsWith('.blit-'))),
    [],
    'no temp file left, nor a directory still under its temp name',
  );
  return landed;
}

/**
 * `blit VERB… src/ dst` where `dst/DIR` holds 300 files blit removes (slowed to 30 ms each: 9 s),
 * interrupted by SIGINT once the first few have gone: exit 130, part of DIR still there, the
 * copied file in place. Returns stderr.
 */
async function interruptedRemoval(
  t: { after(fn: () => void): void },
  verb: string[],
  dir: string,
  env: Record<string, string> = {},
): Promise<string> {
  const root = tempDir(t);
  const src = join(root, 'src');
  const dst = join(root, 'dst');
  writeFile(join(src, 'kept'), 'kept\n');
  for (let i = 0; i < 300; i++) writeFile(join(dst, dir, `x${i}`), 'x');
  const left = () => filesBelow(join(dst, dir)).length;
  const result = await interrupted([...verb, `${src}/`, dst], () => left() < 295, 'SIGINT', {
    ...env,
    BLIT_TEST_HANG: 'delete-each:30',
  });
  assert.equal(result.code, 130, result.stderr);
  const remaining = left();
  assert.ok(remaining > 0 && remaining < 300, `${remaining} of 300 left`);
  assert.equal(read(join(dst, 'kept')), 'kept\n');
  return result.stderr;
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
      const result = await interrupted(['copy', `${src}/`, dst], someLanded(dst), 'SIGINT', env);
      const landed = stoppedCleanly(result, dst);
      const names = readdirSync(dst, { recursive: true }) as string[];
      assert.deepEqual(
        names.filter((rel) => rel.split('/').some((part) => part.startsWith('.blit-'))),
        [],
        'no empty staging directory either',
      );
      assert.ok(landed.length < 90, `stopped early: ${landed.length} of 90 files`);
      for (const rel of landed) assert.equal(read(join(dst, rel)), read(join(src, rel)), rel);
    });

    test('SIGINT among new subdirectories: none is left under a temp name, every landed file complete', async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      // 15 subdirectories between 10 slow files: stopped after 5 files, the job has made some of
      // them (under temp names, for jobs that will not run) whatever the listing order.
      for (let i = 0; i < 10; i++) writeFile(join(src, 'a', `f${i}`), `a${i}\n`);
      for (let i = 0; i < 15; i++) writeFile(join(src, 'a', `s${i}`, 'g'), `s${i}\n`);
      // The native job has made a subdirectory's staging directory inside its own by then.
      const staged = name === 'native copy threads' ? 2 : 0;
      let ready = false;
      const fiveLanded = () => {
        let names: string[] = [];
        try {
          names = readdirSync(dst, { recursive: true }) as string[];
        } catch {
          // entries come and go while blit runs: look again
        }
        ready =
          names.filter((rel) => /^f\d+$/.test(rel.split('/').pop()!)).length >= 5 &&
          names.some((rel) => rel.split('/').filter((part) => part.startsWith('.blit-')).length >= staged);
        return ready;
      };
      const result = await interrupted(['copy', `${src}/`, dst], fiveLanded, 'SIGINT', env);
      assert.ok(ready, 'interrupted with five files in and a subdirectory staged');
      assert.equal(result.code, 130, result.stderr);
      const names = readdirSync(dst, { recursive: true }) as string[];
      assert.deepEqual(
        names.filter((rel) => rel.split('/').some((part) => part.startsWith('.blit-'))),
        [],
        'no temp file or staging directory left',
      );
      const landed = filesBelow(dst);
      assert.ok(landed.length < 25, `stopped early: ${landed.length} of 25 files`);
      for (const rel of landed) assert.equal(read(join(dst, rel)), read(join(src, rel)), rel);
    });

    test('SIGINT during a tiny job copied on the main thread: it stops between files', async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      // Eight files: the tiny-job fast path copies them inline, here 400 ms each.
      for (let i = 0; i < 8; i++) writeFile(join(src, `f${i}`), `f${i}\n`.repeat(20));
      const result = await interrupted(['copy', `${src}/`, dst], someLanded(dst), 'SIGINT', {
        ...env,
        BLIT_TEST_HANG: 'copy-each:400',
      });
      const landed = stoppedCleanly(result, dst);
      assert.ok(
        landed.length >= 1 && landed.length < 8,
        `stopped between files: ${landed.length} of 8 landed`,
      );
      for (const rel of landed) assert.equal(read(join(dst, rel)), read(join(src, rel)), rel);
    });

    test('SIGTERM during a mirror: exit 143, nothing deleted', async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      tree(src);
      writeFile(join(dst, 'extra'), 'not in the source');
      writeFile(join(dst, 'a', 'extra too'), 'not in the source');
      const result = await interrupted(['mirror', '--yes', `${src}/`, dst], someLanded(dst), 'SIGTERM', env);
      assert.equal(result.code, 143, result.stderr);
      assert.match(result.stderr, /^blit: interrupted \(SIGTERM\)/);
      assert.equal(read(join(dst, 'extra')), 'not in the source');
      assert.equal(read(join(dst, 'a', 'extra too')), 'not in the source');
    });

    test('SIGINT while a mirror deletes: exit 130, the deletions stop where they were', async (t) => {
      const stderr = await interruptedRemoval(t, ['mirror', '--yes'], 'extra dir', env);
      assert.equal(
        stderr,
        'blit: interrupted (SIGINT): deleting stopped where it was; run again to finish\n',
      );
    });
  });
}

test("SIGINT while a dead run's staging directory is removed: exit 130, it says so, the rest stays for later", async (t) => {
  const stderr = await interruptedRemoval(t, ['copy'], '.blit-999999999-0123456789ab.tmp');
  assert.equal(
    stderr,
    "blit: interrupted (SIGINT): removing a dead run's temp directories stopped where it was; run again to finish\n",
  );
});
