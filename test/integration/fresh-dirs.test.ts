/**
 * The small files of directories a remote session makes are taken from a table, not planned one by
 * one (transport/stream/fresh-files.ts): a push's blitd and a pull's client land the same tree as
 * the usual path would, owners and odd names included, with the other entries of those
 * directories (links, a large file, a subdirectory) going the usual way beside them. How many files
 * went by the table is what the destination's perf-history record says (`freshFiles`). Not when
 * each file's action is listed, in a dry run, or for a move. Needs the addon.
 */
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { assertSameTree, jsonReport, perfRecord, perfRecords, T, tempDir, writeFile } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const NEEDS = { skip: nativeAddon() ? false : 'needs the addon' };
const DIRS = 4;
const FILES = 15;
const ROOT = process.getuid?.() === 0;

/**
 * DIRS directories of FILES small files (modes and times of their own), and beside them a large
 * file, a link, an odd name, a nested directory and, as root, files of another owner; one file at
 * the top. Returns how many small regular files there are.
 */
function makeTree(src: string): number {
  let small = 0;
  for (let d = 0; d < DIRS; d++) {
    for (let f = 0; f < FILES; f++) {
      writeFile(join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`.repeat(f * 40), {
        mode: f % 3 === 0 ? 0o600 : 0o644,
        mtime: T + d * 100 + f,
      });
      small++;
    }
  }
  writeFile(join(src, 'd0', 'large'), Buffer.alloc(300_000, 7), { mtime: T });
  symlinkSync('f1', join(src, 'd1', 'link'));
  writeFile(join(src, 'd1', 'line\nbreak é 日本'), 'odd name\n', { mtime: T });
  writeFile(join(src, 'd2', 'inner', 'deep'), 'deeper\n', { mtime: T });
  writeFile(join(src, 'd3', 'empty'), '', { mtime: T });
  small += 3;
  if (ROOT) {
    for (const name of ['f4', 'f5']) chownSync(join(src, 'd3', name), 4321, 4322);
  }
  writeFile(join(src, 'top'), 'at the root\n', { mtime: T });
  return small + 1;
}

/** What these tests read of a perf-history record. */
type FreshRecord = { operation: string; dryRun: boolean; copied: { files: number }; freshFiles?: number };

function assertOwners(dst: string): void {
  if (!ROOT) return;
  for (const name of ['f4', 'f5']) {
    const stats = lstatSync(join(dst, 'd3', name));
    assert.deepEqual([stats.uid, stats.gid], [4321, 4322], `${name} keeps its owner`);
  }
}

test(
  'a push lands the small files of the directories it makes from a table, as the walk would',
  NEEDS,
  async (t) => {
    const root = tempDir(t, 'blit-fresh-');
    const module = join(root, 'module');
    mkdirSync(module);
    const src = join(root, 'src');
    const small = makeTree(src);
    const config = join(root, 'daemon-config');
    const daemon = await startDaemon(t, ['--root', module], { XDG_CONFIG_HOME: config });
    const to = (path: string) => `127.0.0.1:${daemon.port}:/default/${path}`;

    const copied = await runBlit(['copy', '--json', `${src}/`, to('dst/')]);
    assert.equal(copied.status, 0, copied.stderr);
    assert.equal(jsonReport(copied).failed, 0);
    assertSameTree(join(module, 'dst'), src);
    assertOwners(join(module, 'dst'));
    assert.equal((await perfRecords<FreshRecord>(config, 1))[0]!.freshFiles, small);
    assert.deepEqual(
      readdirSync(join(module, 'dst', 'd0')).filter((name) => name.startsWith('.')),
      [],
      'no temp file left',
    );

    // Onto the tree it made: nothing is new, nothing from a table.
    const again = await runBlit(['copy', '--json', `${src}/`, to('dst/')]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(jsonReport(again).copied, 0);
    assert.equal((await perfRecords<FreshRecord>(config, 2))[1]!.freshFiles, 0);

    // Each file's action listed (-v): every file planned by name, none from a table.
    const verbose = await runBlit(['copy', '-v', `${src}/`, to('listed/')]);
    assert.equal(verbose.status, 0, verbose.stderr);
    assert.match(verbose.stdout, /d2\/f14/);
    assertSameTree(join(module, 'listed'), src);
    assert.equal((await perfRecords<FreshRecord>(config, 3))[2]!.freshFiles, 0);

    // A dry run writes nothing.
    const dry = await runBlit(['copy', '--dry-run', `${src}/`, to('dry/')]);
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(existsSync(join(module, 'dry')), false);

    // Size limits skip some of the files a table would take: planned by name.
    const limited = await runBlit(['copy', '--json', '--max-size', '100', `${src}/`, to('limited/')]);
    assert.equal(limited.status, 0, limited.stderr);
    assert.equal(existsSync(join(module, 'limited', 'd0', 'f0')), true, 'an empty file');
    assert.equal(existsSync(join(module, 'limited', 'd0', 'f1')), false, '400 bytes: over the limit');
    assert.equal(
      (
        await perfRecord<FreshRecord>(
          config,
          (r) => r.operation === 'copy' && !r.dryRun && r.copied.files > 0 && r.copied.files < small,
        )
      )?.freshFiles,
      0,
    );

    // A move removes each source that landed: planned by name.
    const moved = await runBlit(['move', '--json', `${src}/`, to('moved/')]);
    assert.equal(moved.status, 0, moved.stderr);
    assert.deepEqual(readdirSync(src), [], 'the sources went');
    assert.equal((await perfRecord<FreshRecord>(config, (r) => r.operation === 'move'))?.freshFiles, 0);
    assert.equal(readdirSync(join(module, 'moved', 'd1')).length, FILES + 2);
  },
);

test('a pull lands them at the client the same way; set-ID bits go only on a push', NEEDS, async (t) => {
  const root = tempDir(t, 'blit-fresh-');
  const module = join(root, 'module');
  const src = join(module, 'src');
  const small = makeTree(src);
  writeFile(join(src, 'd0', 'tool'), '#!/bin/sh\n', { mode: 0o6755, mtime: T });
  const config = join(root, 'client-config');
  const daemon = await startDaemon(t, ['--root', module]);
  const pulled = join(root, 'pulled');
  const pull = await runBlit(['copy', '--json', `127.0.0.1:${daemon.port}:/default/src/`, `${pulled}/`], {
    env: { XDG_CONFIG_HOME: config },
  });
  assert.equal(pull.status, 0, pull.stderr);
  assertSameTree(pulled, src);
  assertOwners(pulled);
  assert.equal((await perfRecords<FreshRecord>(config, 1))[0]!.freshFiles, small + 1);

  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/pushed/`]);
  assert.equal(push.status, 0, push.stderr);
  assert.equal(
    lstatSync(join(module, 'pushed', 'd0', 'tool')).mode & 0o7777,
    0o755,
    'a push drops set-ID bits',
  );
  assert.equal(
    readFileSync(join(module, 'pushed', 'd0', 'f3'), 'utf8'),
    readFileSync(join(src, 'd0', 'f3'), 'utf8'),
  );
});
