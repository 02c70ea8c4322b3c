/**
 * The xattr mark (perf/xattr-mark.ts): a re-run of a local mirror leaves unread the xattrs of
 * entries unchanged on both sides since the last clean run, and still brings over every change made
 * since: an xattr or ACL changed at the source, xattrs added or removed at the destination. A
 * destination whose root changed, `-c`, and another job over the same trees read everything.
 * How many entries went unread is what the run's perf-history record says (`xattrsUnread`).
 * Needs setfattr/getfattr (Debian `attr`), setfacl (`acl`), the addon and a disk with user xattrs.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { MARGIN_MS } from '../../src/perf/xattr-mark.js';
import { blit, tempDir } from '../helpers.js';
import { setX, XATTR_TOOLS as TOOLS, xattrDump } from '../xattr-tools.js';

const FILES_PER_DIR = 20;

/** Waits (bounded) until the wall clock is past every change time below `roots` by the mark's margin. */
async function clockPast(...roots: string[]): Promise<void> {
  let latest = 0;
  const visit = (path: string) => {
    const stats = statSync(path);
    latest = Math.max(latest, stats.ctimeMs);
    if (stats.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const root of roots) visit(root);
  const until = latest + MARGIN_MS + 20;
  for (let i = 0; i < 100 && Date.now() <= until; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(Date.now() > until, 'the clock moved on');
}

test('a re-run reads only the xattrs of entries changed since the last clean run, and misses no change', {
  skip: !TOOLS || !nativeAddon() ? 'needs setfattr/getfattr/setfacl and the addon' : false,
}, async (t) => {
  const root = tempDir(t, 'blit-xattr-mark-');
  const config = join(root, 'config');
  const src = join(root, 'src');
  const dst = join(root, 'dst');
  for (const dir of ['one', 'two']) {
    mkdirSync(join(src, dir), { recursive: true });
    for (let i = 0; i < FILES_PER_DIR; i++) writeFileSync(join(src, dir, `f${i}`), `file ${dir} ${i}`);
  }
  const probe = join(src, 'one', 'f0');
  if (spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', probe]).status !== 0) {
    t.skip('this file system keeps no user xattrs');
    return;
  }
  setX(join(src, 'one', 'f1'), 'user.colour', 'blue');
  setX(join(src, 'two', 'f2'), 'user.size', 'large');

  /** Runs blit with its own config (marks, history); returns how many entries it left unread. */
  const run = (...args: string[]): number => {
    const result = blit([...args, `${src}/`, `${dst}/`], { env: { XDG_CONFIG_HOME: config } });
    assert.equal(result.status, 0, result.stderr);
    const lines = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
      .trim()
      .split('\n');
    return (JSON.parse(lines.at(-1)!) as { xattrsUnread?: number }).xattrsUnread ?? -1;
  };
  const mirror = () => run('mirror', '--yes');
  const same = (when: string) => assert.equal(xattrDump(dst), xattrDump(src), when);

  mirror(); // copies everything: the destination's entries are new
  same('after the first run');
  await clockPast(src, dst);
  assert.equal(mirror(), 0, 'entries written by the last run are read once');
  await clockPast(src, dst);
  const all = 2 * FILES_PER_DIR;
  // The source entry changed last is read (its change time is the source's mark), the rest not.
  assert.ok(mirror() >= all - 2, 'unchanged entries are left unread');
  same('converged');

  // Changes on either side since the last run, none of which moves a size or an mtime.
  setX(join(src, 'one', 'f3'), 'user.new', 'at the source');
  setX(join(src, 'one', 'f1'), 'user.colour', 'green');
  execFileSync('setfacl', ['-m', 'u:1234:rw-', join(src, 'two', 'f4')]);
  setX(join(dst, 'two', 'f5'), 'user.stray', 'only at the destination');
  execFileSync('setfattr', ['-x', 'user.size', join(dst, 'two', 'f2')]);
  const unread = mirror();
  same('every change since the last run is brought over');
  assert.ok(unread > 0 && unread <= all - 5, `the changed entries were read (${unread} unread)`);

  // A destination whose root changed (as one rolled back to a snapshot would show) reads everything.
  await clockPast(src, dst);
  assert.ok(mirror() > 0);
  chmodSync(dst, statSync(dst).mode & 0o7777);
  assert.equal(mirror(), 0, 'a destination root changed since the mark: no entry left unread');

  // -c, and another job on the same trees (another filter), read everything.
  await clockPast(src, dst);
  assert.ok(mirror() > 0);
  assert.equal(run('mirror', '--yes', '-c'), 0, '-c reads every entry');
  assert.equal(run('mirror', '--yes', '--exclude', '*.none'), 0, 'another job has no mark');
  same('still converged');
});
