/**
 * A remote mirror's destination takes a directory it already holds entry by entry as found, without
 * decoding or planning its entries (protocol/received-manifest.ts, protocol/native-manifest.ts
 * sameAsListed), and still brings over every change: a file's bytes, its mtime alone, its mode, an
 * extra entry at the destination, an entry gone from the source, a new subdirectory. How many
 * directories went unplanned is what the destination's perf-history record says (`unchangedDirs`):
 * blitd's own on a push, the client's on a pull. Needs the addon.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { assertSameTree, jsonReport, perfRecords, T, tempDir, writeFile } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const NEEDS = { skip: nativeAddon() ? false : 'needs the addon' };
const DIRS = 8;
const FILES = 10;

/** DIRS directories of FILES files each, and a file at the root. */
function makeTree(src: string): void {
  for (let d = 0; d < DIRS; d++)
    for (let f = 0; f < FILES; f++)
      writeFile(join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`, { mtime: T + f });
  writeFile(join(src, 'top'), 'top\n', { mtime: T });
}

/** The perf-history record `count` under `config`, once written (the daemon writes its own after its session). */
async function nthRecord(config: string, count: number): Promise<{ unchangedDirs?: number }> {
  return (await perfRecords<{ unchangedDirs?: number }>(config, count))[count - 1]!;
}

/**
 * `blit mirror --yes --json` runs between two paths, each answering with its report and the
 * perf-history record the destination wrote for it under `config` (blitd's on a push).
 */
function mirrorRuns(from: string, to: string, config: string, env: Record<string, string> = {}) {
  let runs = 0;
  return async (...extra: string[]) => {
    const result = await runBlit(['mirror', '--yes', '--json', ...extra, from, to], { env });
    assert.equal(result.status, 0, result.stderr);
    runs++;
    return { report: jsonReport(result), record: await nthRecord(config, runs) };
  };
}

/**
 * A blitd over a fresh module, its perf history under its own config; `push` mirrors `src` (made by
 * `make`) into the module's dst.
 */
async function pushSetUp(t: Parameters<typeof startDaemon>[0], make: (src: string) => void) {
  const root = tempDir(t, 'blit-unchanged-');
  const module = join(root, 'module');
  mkdirSync(module);
  const src = join(root, 'src');
  make(src);
  const config = join(root, 'daemon-config');
  const daemon = await startDaemon(t, ['--root', module], { XDG_CONFIG_HOME: config });
  const push = mirrorRuns(`${src}/`, `127.0.0.1:${daemon.port}:/default/dst/`, config);
  return { src, dst: join(module, 'dst'), config, daemon, push };
}

test(
  'a push mirror through blitd leaves unchanged directories unplanned and brings over every change',
  NEEDS,
  async (t) => {
    const { src, dst, push } = await pushSetUp(t, makeTree);

    const first = await push();
    assert.equal(first.report.copied, DIRS * FILES + DIRS + 1);
    assertSameTree(dst, src);

    const again = await push();
    assert.equal(again.report.copied, 0);
    assert.equal(again.report.skipped, DIRS * FILES + DIRS + 1);
    assert.equal(again.record.unchangedDirs, DIRS + 1, 'every directory, the root too, taken as found');

    // One change in each of d0-d5; d6 and d7 untouched.
    writeFileSync(join(src, 'd0', 'f0'), 'longer than it was\n');
    utimesSync(join(src, 'd1', 'f1'), T, T + 100); // the mtime alone
    chmodSync(join(src, 'd2', 'f2'), 0o600); // the mode alone
    writeFileSync(join(dst, 'd3', 'extra'), 'only at the destination\n');
    rmSync(join(src, 'd4', 'f4'));
    writeFile(join(src, 'd5', 'new', 'inner'), 'in a new directory\n', { mtime: T });
    const changed = await push();
    assertSameTree(dst, src);
    assert.equal(changed.report.copied, 2 + 2, 'f0 and f1, and the new directory and its file');
    assert.equal(changed.report.updated, 1, 'the mode of f2');
    assert.equal(changed.report.deleted, 2, 'the extra file and the one gone from the source');
    // The root lists d3, d4 and d5 with new mtimes; d0-d5 each changed; d5/new is new.
    assert.equal(changed.record.unchangedDirs, 2, 'd6 and d7');

    const settled = await push();
    assert.equal(settled.report.copied + settled.report.updated + settled.report.deleted, 0);
    assert.equal(settled.record.unchangedDirs, DIRS + 2, 'every directory again, d5/new among them');
    assert.equal(statSync(join(dst, 'd2', 'f2')).mode & 0o7777, 0o600);
  },
);

test(
  'a pull mirror leaves unchanged directories unplanned at the client and brings over a change',
  NEEDS,
  async (t) => {
    const root = tempDir(t, 'blit-unchanged-');
    const module = join(root, 'module');
    const src = join(module, 'src');
    makeTree(src);
    const dst = join(root, 'dst');
    const config = join(root, 'client-config');
    const daemon = await startDaemon(t, ['--root', module]);
    const pull = mirrorRuns(`127.0.0.1:${daemon.port}:/default/src/`, `${dst}/`, config, {
      XDG_CONFIG_HOME: config,
    });
    await pull();
    assertSameTree(dst, src);
    assert.equal((await pull()).record.unchangedDirs, DIRS + 1);
    writeFileSync(join(src, 'd7', 'f9'), 'changed at the source\n');
    const changed = await pull();
    assertSameTree(dst, src);
    assert.equal(changed.report.copied, 1);
    // Writing into a file leaves its directory's mtime: the root is as listed, d7 is not.
    assert.equal(changed.record.unchangedDirs, DIRS, 'all but d7');
  },
);

test('--checksum and set-ID bits at a daemon look past an equal listing', NEEDS, async (t) => {
  const { src, dst, push } = await pushSetUp(t, (src) => {
    makeTree(src);
    writeFile(join(src, 'tool'), '#!/bin/sh\n', { mode: 0o6755, mtime: T });
  });
  await push();
  assert.equal(statSync(join(dst, 'tool')).mode & 0o7777, 0o755, 'a push drops set-ID bits');

  // Someone at the daemon's end puts them back: the listings are then equal, yet they go again.
  chmodSync(join(dst, 'tool'), 0o6755);
  const setId = await push();
  assert.equal(statSync(join(dst, 'tool')).mode & 0o7777, 0o755, 'dropped again');
  assert.equal(setId.record.unchangedDirs, DIRS, 'every directory but the root');
  chmodSync(join(src, 'tool'), 0o755);

  // Bytes changed at the destination with size and mtime kept: only --checksum sees it.
  const file = join(dst, 'd3', 'f3');
  const { mtime } = statSync(file);
  writeFileSync(file, readFileSync(file, 'utf8').toUpperCase());
  utimesSync(file, mtime, mtime);
  assert.equal((await push()).record.unchangedDirs, DIRS + 1, 'without -c, d3 is as listed');
  const checksum = await push('-c');
  assert.equal(checksum.report.copied, 1);
  assert.equal(checksum.record.unchangedDirs, 0, 'none taken as found under -c');
  assertSameTree(dst, src);
});

test(
  'a directory of several batches is compared whole; --ignore-times and a move look past an equal listing',
  NEEDS,
  async (t) => {
    const { src, dst, config, daemon, push } = await pushSetUp(t, (src) => {
      // Listed in three batches (BATCH_ENTRIES, 1,024 entries each at most).
      mkdirSync(join(src, 'wide'), { recursive: true });
      for (let f = 0; f < 2_100; f++) writeFileSync(join(src, 'wide', `w${f}`), '');
      utimesSync(join(src, 'wide'), T, T);
    });
    const wide = join(src, 'wide');
    await push();
    assert.equal((await push()).record.unchangedDirs, 2, 'the root and wide');
    utimesSync(join(wide, 'w2000'), T, T + 5);
    const touched = await push();
    assert.equal(touched.report.copied, 1);
    assert.equal(touched.record.unchangedDirs, 1, 'the root: a file in the last batch changed');
    const all = await push('--ignore-times');
    assert.equal(all.report.copied, 2_100, 'every file again');
    assert.equal(all.record.unchangedDirs, 0);
    assertSameTree(dst, src);

    // A move onto an identical tree: every source entry landed, so every one is removed.
    const moved = await runBlit(['move', '--json', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst/`]);
    assert.equal(moved.status, 0, moved.stderr);
    assert.deepEqual(readdirSync(src), [], 'the sources went');
    assert.equal((await nthRecord(config, 5)).unchangedDirs, 0);
    assert.equal(readdirSync(join(dst, 'wide')).length, 2_100);
  },
);

test(
  'a link the plan replaces by a directory: what lies behind it is never taken for the directory (push and pull)',
  NEEDS,
  async (t) => {
    const root = tempDir(t, 'blit-unchanged-');
    const module = join(root, 'module');
    const src = join(module, 'src');
    /** b's files, the same wherever they are made: equal listings. */
    const makeB = (dir: string) => {
      for (const name of ['f1', 'f2']) writeFile(join(dir, name), `${name}\n`, { mtime: T });
      utimesSync(dir, T, T);
    };
    makeB(join(src, 'a', 'b'));
    const daemon = await startDaemon(t, ['--root', module]);
    /** A destination whose `a` is a link to `x`, x/b equal to the source's a/b. */
    const linked = (dst: string) => {
      makeB(join(dst, 'x', 'b'));
      symlinkSync('x', join(dst, 'a'));
    };
    const check = (dst: string, how: string) => {
      assert.ok(lstatSync(join(dst, 'a')).isDirectory(), `${how}: the link replaced`);
      assert.deepEqual(readdirSync(join(dst, 'a', 'b')).sort(), ['f1', 'f2'], `${how}: a/b copied`);
      assert.deepEqual(readdirSync(join(dst, 'x', 'b')).sort(), ['f1', 'f2'], `${how}: x untouched`);
    };
    const pushed = join(module, 'pushed');
    linked(pushed);
    const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/pushed/`]);
    assert.equal(push.status, 0, push.stderr);
    check(pushed, 'push');
    const pulled = join(root, 'pulled');
    linked(pulled);
    const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/src/`, `${pulled}/`]);
    assert.equal(pull.status, 0, pull.stderr);
    check(pulled, 'pull');
  },
);
