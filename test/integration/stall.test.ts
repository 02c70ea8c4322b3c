/**
 * The stall detector, driven by injected hangs (BLIT_TEST_HANG) and a 1 s time-out
 * (BLIT_STALL_TIMEOUT_MS) instead of the real 10 s.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { blit, read, tempDir, writeFile } from '../helpers.js';

function tree(root: string): string {
  const src = join(root, 'src');
  for (let i = 0; i < 20; i++) {
    writeFile(join(src, 'a', `f${i}`), `a${i}`);
    writeFile(join(src, 'hung dir', `g${i}`), `g${i}`);
  }
  return src;
}

// History off: the default plan (worker threads beyond 8 files) applies to every run here.
const FAST = { BLIT_STALL_TIMEOUT_MS: '1000', BLIT_DISABLE_PERF_HISTORY: '1' };

test('a scan stuck in a directory (a hung mount) aborts with exit 1, naming the phase and the directory', (t) => {
  const root = tempDir(t);
  const src = tree(root);
  const started = Date.now();
  const result = blit(['copy', `${src}/`, join(root, 'dst')], {
    env: { ...FAST, BLIT_TEST_HANG: 'scan:hung dir' },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /^blit: stalled: no progress for 1 s; in flight: scan: listing hung dir\n$/);
  assert.ok(Date.now() - started < 30_000, 'ended long before the injected minute-long hang');
});

test('a copy stuck in a worker aborts with exit 1, naming the file in flight', (t) => {
  const root = tempDir(t);
  const src = tree(root);
  const result = blit(['copy', `${src}/`, join(root, 'dst')], {
    env: { ...FAST, BLIT_TEST_HANG: 'copy:hung dir/g7' },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /stalled: no progress for 1 s; in flight: .*copy: hung dir\/g7\b/);
  assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
});

test('a run that keeps making progress is not a stall, however long it takes overall', (t) => {
  const root = tempDir(t);
  const src = tree(root);
  // 40 files at 150 ms each on two workers: about 3 s in all, three times the 1 s time-out, with a
  // beat every 150 ms (a slow mount that still moves).
  const started = Date.now();
  const result = blit(['copy', `${src}/`, join(root, 'dst')], {
    env: { ...FAST, BLIT_TEST_HANG: 'copy-each:150' },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(Date.now() - started > 2_000, 'the run outlasted the time-out');
  assert.equal(read(join(root, 'dst', 'hung dir', 'g7')), 'g7');
});

/** `count` one-line files f1… at the top of a new source directory. */
function flat(root: string, count: number): string {
  const src = join(root, 'src');
  for (let i = 1; i <= count; i++) writeFile(join(src, `f${i}`), `f${i}`);
  return src;
}

for (const [path, env] of [
  ['native addon', {}],
  ['pure JS', { BLIT_NO_NATIVE: '1' }],
] as const) {
  describe(`the file in flight is the one that hangs (${path})`, () => {
    test("in a batch of 100 files, not the batch's first", (t) => {
      const root = tempDir(t);
      const src = flat(root, 100);
      const result = blit(['copy', `${src}/`, join(root, 'dst')], {
        env: { ...FAST, ...env, BLIT_TEST_HANG: 'copy:f50' },
      });
      assert.equal(result.status, 1, result.stderr);
      assert.match(
        result.stderr,
        /^blit: stalled: no progress for 1 s; in flight: (.*; )?copy: f50(;.*)?\n$/,
      );
      assert.doesNotMatch(result.stderr, /more\)/);
    });

    test('in a tiny job copied on the main thread', (t) => {
      const root = tempDir(t);
      const src = flat(root, 3);
      const result = blit(['copy', `${src}/`, join(root, 'dst')], {
        env: { ...FAST, ...env, BLIT_TEST_HANG: 'copy:f2' },
      });
      // Without the addon the watchdog thread has no _exit: it kills the stuck process (SIGKILL).
      if (path === 'native addon') assert.equal(result.status, 1, result.stderr);
      else assert.notEqual(result.status, 0, result.stderr);
      assert.match(result.stderr, /^blit: stalled: no progress for 1 s; in flight: copy: f2\n$/);
    });

    test('a tiny job copied on the main thread that keeps moving is not a stall', (t) => {
      const root = tempDir(t);
      const src = flat(root, 8);
      // 8 files at 400 ms each, a beat after each: 3.2 s in all, longer than the 0.5 s time-out
      // and the watchdog's 2 s of grace together (the inline copy used not to beat at all).
      const started = Date.now();
      const result = blit(['copy', `${src}/`, join(root, 'dst')], {
        env: { ...FAST, ...env, BLIT_STALL_TIMEOUT_MS: '500', BLIT_TEST_HANG: 'copy-each:400' },
      });
      assert.equal(result.status, 0, result.stderr);
      assert.ok(Date.now() - started > 3_000, 'the run outlasted time-out and grace');
      assert.equal(read(join(root, 'dst', 'f8')), 'f8');
    });
  });
}

test('copies held for a fuller batch are sent when the next listing hangs, not kept waiting on it', (t) => {
  assert.ok(nativeAddon(), 'npm install builds the native addon');
  const root = tempDir(t);
  const src = join(root, 'src');
  for (let i = 0; i < 600; i++) writeFile(join(src, 'd1', `f${i}`), `f${i}`);
  writeFile(join(src, 'd1', 'hung', 'x'), 'x');
  // A filter makes the session walk every directory itself. d1's 600 files go out as two full
  // batches of 256, which keep both copy threads busy at the end of d1 (no idle thread to take the
  // other 88 there); then the walk lists d1/hung, which hangs.
  const result = blit(['copy', '--exclude', '*.nomatch', `${src}/`, join(root, 'dst')], {
    env: { ...FAST, BLIT_TEST_HANG: 'scan:d1/hung' },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /^blit: stalled: no progress for 1 s; in flight: scan: listing d1\/hung\n$/);
  const landed = readdirSync(join(root, 'dst', 'd1')).filter((name) => name.startsWith('f'));
  assert.equal(landed.length, 600, 'every file listed before the hang was copied');
  assert.equal(read(join(root, 'dst', 'd1', 'f599')), 'f599');
});

test('the first few files, held while the job might be tiny, are sent too when a listing hangs', (t) => {
  assert.ok(nativeAddon(), 'npm install builds the native addon');
  const root = tempDir(t);
  const src = join(root, 'src');
  for (let i = 0; i < 5; i++) writeFile(join(src, `f${i}`), `f${i}`);
  writeFile(join(src, 'hung', 'x'), 'x');
  const result = blit(['copy', '--exclude', '*.nomatch', `${src}/`, join(root, 'dst')], {
    env: { ...FAST, BLIT_TEST_HANG: 'scan:hung' },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /in flight: scan: listing hung\n$/);
  for (let i = 0; i < 5; i++) assert.equal(read(join(root, 'dst', `f${i}`)), `f${i}`);
});

/** A mirror whose deletions hold one directory of 400 files and one file. */
function mirrorWithExtras(root: string): { src: string; dst: string } {
  const src = join(root, 'src');
  const dst = join(root, 'dst');
  writeFile(join(src, 'kept'), 'kept');
  for (let i = 0; i < 400; i++) writeFile(join(dst, 'extra dir', `x${i}`), 'x');
  writeFile(join(dst, 'extra file'), 'x');
  return { src, dst };
}

test('a mirror deleting for longer than the time-out, one entry after another, is not a stall', (t) => {
  const root = tempDir(t);
  const { src, dst } = mirrorWithExtras(root);
  // 402 removals at 5 ms each: about 2 s of deletions on the main thread, twice the time-out.
  const started = Date.now();
  const result = blit(['mirror', '--yes', `${src}/`, dst], {
    env: { ...FAST, BLIT_TEST_HANG: 'delete-each:5' },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(Date.now() - started > 1_500, 'the deletions outlasted the time-out');
  assert.deepEqual(readdirSync(dst), ['kept']);
});

test('a deletion stuck on a directory aborts with exit 1, naming it', (t) => {
  const root = tempDir(t);
  const { src, dst } = mirrorWithExtras(root);
  const result = blit(['mirror', '--yes', `${src}/`, dst], {
    env: { ...FAST, BLIT_TEST_HANG: 'delete:extra dir' },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(
    result.stderr,
    /^blit: stalled: no progress for 1 s; in flight: delete: removing extra dir\n$/,
  );
  assert.equal(readdirSync(join(dst, 'extra dir')).length, 400, 'nothing of it removed');
});

describe('without the native addon (watchdog on a worker thread)', () => {
  const PURE_JS = { ...FAST, BLIT_NO_NATIVE: '1' };

  test('a stuck worker still ends the run with exit 1 and the paths in flight', (t) => {
    const root = tempDir(t);
    const src = tree(root);
    const result = blit(['copy', `${src}/`, join(root, 'dst')], {
      env: { ...PURE_JS, BLIT_TEST_HANG: 'copy:hung dir/g7' },
    });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /stalled: no progress for 1 s; in flight: .*copy: hung dir\/g7\b/);
  });

  test('a stuck main thread is ended by the watchdog (SIGKILL: no addon to _exit with)', (t) => {
    const root = tempDir(t);
    const src = tree(root);
    const result = blit(['copy', `${src}/`, join(root, 'dst')], {
      env: { ...PURE_JS, BLIT_TEST_HANG: 'scan:hung dir' },
    });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /^blit: stalled: no progress for 1 s; in flight: scan: listing hung dir\n$/);
  });
});
