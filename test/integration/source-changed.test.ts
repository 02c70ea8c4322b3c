/**
 * "A file that changes while it is copied is not installed; it is reported as failed" (README), on
 * every way a file is copied: the pure-JS copier (fsops/copy-file.ts copyFileJob) inline and on
 * worker threads, and the addon's (native/blit_native.cc CopyOne) inline, on its copy pool and in
 * whole-directory jobs (engine/whole-dirs.ts), new directories and directories on both sides; small
 * files, files big enough for the kernel's copy, and --checksum comparisons.
 *
 * The change is injected, not raced: BLIT_TEST_CHANGE_SOURCE=PATH (util/test-hang.ts) rewrites the
 * file's first byte in place once the copy has read its data, before the checks that the source
 * is still what the scan saw. The size stays: only the mtime tells, so only that check can catch it.
 * Each run's perf record says which way it went (fastPath, wholeDirs), so a change in how the
 * session picks its copier cannot quietly leave a way untested.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { blit, dirs, jsonReport, mtimeNs, T, tempDir, writeFile } from '../helpers.js';

const HAVE_ADDON = nativeAddon() !== undefined;
const OLD = 'the old version, kept';

interface Way {
  title: string;
  native: boolean;
  /** The changing file's directory: '' is the root (the walk batches its files), 'sub' goes whole with the addon. */
  dir: '' | 'sub';
  /** Files beside it: with more than 8 in all the run takes the copy pool, not the inline copier. */
  others: number;
  /** The destination already has the directory and an older version of the file. */
  existing: boolean;
  size: number;
  /** --checksum, the destination holding the same bytes under another mtime: compared, not copied. */
  checksum?: boolean;
  expect: { fastPath: 'inline' | 'pool'; wholeDirs: number };
}

const SMALL = 5000;
/** Past the 1 MiB buffer: copyFileSync in JS, copy_file_range in the addon. */
const KERNEL = (2 << 20) + 123;

const WAYS: Way[] = [
  {
    title: 'pure JS, inline',
    native: false,
    dir: '',
    others: 1,
    existing: false,
    size: SMALL,
    expect: { fastPath: 'inline', wholeDirs: 0 },
  },
  {
    title: 'pure JS, inline, a kernel copy over an old version',
    native: false,
    dir: '',
    others: 1,
    existing: true,
    size: KERNEL,
    expect: { fastPath: 'inline', wholeDirs: 0 },
  },
  {
    title: 'pure JS, worker threads',
    native: false,
    dir: 'sub',
    others: 20,
    existing: false,
    size: SMALL,
    expect: { fastPath: 'pool', wholeDirs: 0 },
  },
  {
    title: 'pure JS, worker threads, a kernel copy over an old version',
    native: false,
    dir: 'sub',
    others: 20,
    existing: true,
    size: KERNEL,
    expect: { fastPath: 'pool', wholeDirs: 0 },
  },
  {
    title: 'pure JS, --checksum',
    native: false,
    dir: '',
    others: 1,
    existing: true,
    size: SMALL,
    checksum: true,
    expect: { fastPath: 'inline', wholeDirs: 0 },
  },
  {
    title: 'addon, inline',
    native: true,
    dir: '',
    others: 1,
    existing: false,
    size: SMALL,
    expect: { fastPath: 'inline', wholeDirs: 0 },
  },
  {
    title: 'addon, inline, a kernel copy over an old version',
    native: true,
    dir: '',
    others: 1,
    existing: true,
    size: KERNEL,
    expect: { fastPath: 'inline', wholeDirs: 0 },
  },
  {
    title: 'addon, copy pool',
    native: true,
    dir: '',
    others: 20,
    existing: true,
    size: SMALL,
    expect: { fastPath: 'pool', wholeDirs: 0 },
  },
  {
    title: 'addon, --checksum',
    native: true,
    dir: '',
    others: 20,
    existing: true,
    size: SMALL,
    checksum: true,
    expect: { fastPath: 'pool', wholeDirs: 0 },
  },
  {
    title: 'addon, a new directory taken whole',
    native: true,
    dir: 'sub',
    others: 20,
    existing: false,
    size: SMALL,
    expect: { fastPath: 'pool', wholeDirs: 1 },
  },
  {
    title: 'addon, a new directory taken whole, a kernel copy',
    native: true,
    dir: 'sub',
    others: 20,
    existing: false,
    size: KERNEL,
    expect: { fastPath: 'pool', wholeDirs: 1 },
  },
  {
    title: 'addon, a directory on both sides taken whole',
    native: true,
    dir: 'sub',
    others: 20,
    existing: true,
    size: SMALL,
    expect: { fastPath: 'pool', wholeDirs: 1 },
  },
  {
    title: 'addon, a directory on both sides taken whole, --checksum',
    native: true,
    dir: 'sub',
    others: 20,
    existing: true,
    size: SMALL,
    checksum: true,
    expect: { fastPath: 'pool', wholeDirs: 1 },
  },
];

/** Every name below `dir`, recursively. */
function namesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

for (const way of WAYS) {
  test(`a file that changes while it is copied is not installed: ${way.title}`, (t) => {
    if (way.native && !HAVE_ADDON) {
      t.skip('native addon not built');
      return;
    }
    const root = tempDir(t);
    const { src, dst } = dirs(root);
    const rel = way.dir === '' ? 'changing.bin' : `${way.dir}/changing.bin`;
    const contents = Buffer.alloc(way.size, 'A');
    writeFile(join(src, rel), contents, { mtime: T });
    for (let i = 0; i < way.others; i++)
      writeFile(join(src, way.dir, `other${i}.txt`), `other ${i}`, { mtime: T });
    if (way.existing) {
      // Copied unless compared: another mtime; with --checksum the very same bytes.
      writeFile(join(dst, rel), way.checksum ? contents : OLD, { mtime: T - 100 });
    }
    const before = way.existing ? mtimeNs(join(dst, rel)) : undefined;
    const config = join(root, 'config');

    const result = blit(['copy', `${src}/`, dst, '--json', ...(way.checksum ? ['--checksum'] : [])], {
      env: {
        XDG_CONFIG_HOME: config,
        BLIT_TEST_CHANGE_SOURCE: join(src, rel),
        ...(way.native ? {} : { BLIT_NO_NATIVE: '1' }),
      },
    });

    assert.equal(readFileSync(join(src, rel))[0], 'A'.charCodeAt(0) ^ 0xff, 'the source did change');
    assert.equal(result.status, 2, `finished with a failure: ${result.stderr}`);
    const report = jsonReport(result);
    assert.deepEqual(report.failures, [
      { path: rel, reason: 'source changed while being copied; not updated' },
    ]);
    // Not installed: the old version stays, contents and mtime; a new file is not there at all.
    if (way.existing) {
      assert.deepEqual(readFileSync(join(dst, rel)), way.checksum ? contents : Buffer.from(OLD));
      assert.equal(mtimeNs(join(dst, rel)), before, 'the old mtime stays');
    } else {
      assert.ok(!namesBelow(dst).includes(rel), `${rel} not installed`);
    }
    // Nothing half-done left behind, and the rest copied.
    assert.deepEqual(
      namesBelow(dst).filter((name) => name.includes('.blit-')),
      [],
      'no temp file or staging directory left',
    );
    for (let i = 0; i < way.others; i++)
      assert.equal(readFileSync(join(dst, way.dir, `other${i}.txt`), 'utf8'), `other ${i}`);
    // The way it went.
    const [line] = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const record = JSON.parse(line!);
    assert.deepEqual(
      { fastPath: record.fastPath, wholeDirs: record.copied.wholeDirs ?? 0 },
      way.expect,
      'copied the way this test is about',
    );
  });
}
