/**
 * Hard links (issue 17, rsync -H): names that are one inode in the source are one inode at the
 * destination, their data copied or sent once, locally (with the addon's whole-directory jobs and
 * without the addon) and through push and pull (TCP data plane and gRPC data); names already at the
 * destination are left, replaced by a link or linked as the group needs; --no-hard-links copies
 * every name as a file of its own.
 */
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { jsonReport, setMtime, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

/** Groups by name: each group's first name, then its other names. */
const GROUPS = [
  ['a/one', 'a/two', 'b/three'],
  ['c/x', 'c/y', 'z'],
];
const SOLO = ['solo', 'a/alone'];
/** Bytes of each group's data (and of each solo file). */
const GROUP_BYTES = [6, 8];

/** A source with two link groups (one across directories), files of their own, and enough files for whole-directory jobs. */
function makeSource(src: string): void {
  for (const dir of ['a', 'b', 'c', 'many']) mkdirSync(join(src, dir), { recursive: true });
  GROUPS.forEach((group, index) => {
    const first = join(src, group[0]!);
    writeFileSync(first, 'x'.repeat(GROUP_BYTES[index]!));
    setMtime(first, 1_500_000_000);
    for (const name of group.slice(1)) linkSync(first, join(src, name));
  });
  for (const name of SOLO) writeFileSync(join(src, name), 'solo');
  for (let i = 0; i < 20; i++) writeFileSync(join(src, 'many', `f${i}`), `file ${i}`);
}

const ino = (path: string) => statSync(path).ino;

/** Each group is one inode at `dst`, no two groups share one, and files of their own stay alone. */
function assertLinked(dst: string): void {
  const inodes = GROUPS.map((group) => {
    const first = ino(join(dst, group[0]!));
    for (const name of group) assert.equal(ino(join(dst, name)), first, `${name} is ${group[0]}'s inode`);
    assert.equal(statSync(join(dst, group[0]!)).nlink, group.length, `${group[0]}: link count`);
    return first;
  });
  assert.notEqual(inodes[0], inodes[1]);
  for (const name of SOLO) assert.equal(statSync(join(dst, name)).nlink, 1, `${name} stays alone`);
}

/** Every name is a file of its own. */
function assertSeparate(dst: string): void {
  for (const group of GROUPS)
    for (const name of group)
      assert.equal(statSync(join(dst, name)).nlink, 1, `${name} is a file of its own`);
}

/** Bytes copied when each group goes once: the groups, the solo files and the many. */
const BYTES_ONCE = GROUP_BYTES.reduce((a, b) => a + b, 0) + SOLO.length * 4 + 20 * 6 + 10 * 1;
const FOLLOWERS = GROUPS.reduce((sum, group) => sum + group.length - 1, 0);

function setup(t: { after(fn: () => void): void }) {
  const root = tempDir(t, 'blit-hard-links-');
  const src = join(root, 'src');
  makeSource(src);
  return { root, src, dst: join(root, 'dst') };
}

const LOCAL_PATHS: { name: string; env: Record<string, string> }[] = [
  { name: 'addon, whole directories', env: {} },
  { name: 'addon, walked', env: { BLIT_NO_WHOLE_DIRS: '1' } },
  { name: 'no addon', env: { BLIT_NO_NATIVE: '1' } },
];

describe('hard links, locally', () => {
  for (const path of LOCAL_PATHS) {
    test(`${path.name}: groups in one directory and across directories become one inode, data copied once`, async (t) => {
      const { src, dst } = setup(t);
      const result = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env });
      assert.equal(result.status, 0, result.stderr);
      assertLinked(dst);
      const report = jsonReport(result);
      assert.equal(report.bytes, BYTES_ONCE, 'each group is copied once');
      assert.deepEqual(report.fidelity?.hardLinks, { applied: FOLLOWERS, failed: 0 });

      const again = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env });
      assert.equal(again.status, 0, again.stderr);
      const second = jsonReport(again);
      assert.equal(second.copied, 0, 'a converged mirror copies nothing');
      assert.equal(second.bytes, 0);
      assertLinked(dst);
    });

    test(`${path.name}: names already at the destination: the same inode stays, a separate file is replaced, a missing one linked`, async (t) => {
      const { src, dst } = setup(t);
      assert.equal((await runBlit(['mirror', '--yes', `${src}/`, `${dst}/`], { env: path.env })).status, 0);
      const keptInode = ino(join(dst, 'c/y'));
      // b/three: a separate file with the same contents and time; a/two: missing.
      unlinkSync(join(dst, 'b/three'));
      writeFileSync(join(dst, 'b/three'), 'xxxxxx');
      setMtime(join(dst, 'b/three'), 1_500_000_000);
      unlinkSync(join(dst, 'a/two'));
      const result = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env });
      assert.equal(result.status, 0, result.stderr);
      assertLinked(dst);
      assert.equal(ino(join(dst, 'c/y')), keptInode, 'a name already linked stays as it is');
      const report = jsonReport(result);
      assert.equal(report.bytes, 0, 'no data: the first names are unchanged at the destination');
      assert.equal(report.copied, 2, 'two links made');
      assert.deepEqual(report.fidelity?.hardLinks, { applied: 2, failed: 0 });
    });
  }

  test("a group's data changed at the destination: copied once, its other names linked to the new copy", async (t) => {
    const { src, dst } = setup(t);
    assert.equal((await runBlit(['mirror', '--yes', `${src}/`, `${dst}/`])).status, 0);
    // Written in place: every name of the group at the destination sees the change.
    writeFileSync(join(dst, 'a/one'), 'changed!');
    const result = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`]);
    assert.equal(result.status, 0, result.stderr);
    assertLinked(dst);
    assert.equal(jsonReport(result).bytes, GROUP_BYTES[0]);
  });

  for (const path of LOCAL_PATHS) {
    test(`${path.name}: --no-hard-links copies every name as a file of its own`, async (t) => {
      const { src, dst } = setup(t);
      const result = await runBlit(['copy', '--no-hard-links', '--json', `${src}/`, `${dst}/`], {
        env: path.env,
      });
      assert.equal(result.status, 0, result.stderr);
      assertSeparate(dst);
      assert.equal(jsonReport(result).fidelity?.hardLinks, undefined);
    });
  }

  test('--max-size leaves out every name of a group above it', async (t) => {
    const { src, dst } = setup(t);
    const result = await runBlit(['copy', '--max-size', '5', `${src}/`, `${dst}/`]);
    assert.equal(result.status, 0, result.stderr);
    for (const group of GROUPS) for (const name of group) assert.ok(!existsSync(join(dst, name)), name);
    assert.ok(existsSync(join(dst, 'solo')));
  });

  test('a move removes every name of the source once the links landed', async (t) => {
    const { src, dst } = setup(t);
    // Contents only (`src/`): copied and removed, not renamed whole.
    const result = await runBlit(['move', '--json', `${src}/`, `${dst}/`]);
    assert.equal(result.status, 0, result.stderr);
    assertLinked(dst);
    for (const group of GROUPS) for (const name of group) assert.ok(!existsSync(join(src, name)), name);
  });
});

const REMOTE_PATHS: { name: string; env: Record<string, string> }[] = [
  { name: 'TCP data plane', env: {} },
  { name: 'gRPC data', env: { BLIT_FORCE_GRPC_DATA: '1' } },
  { name: 'no addon', env: { BLIT_NO_NATIVE: '1' } },
];

describe('hard links through blitd', () => {
  for (const path of REMOTE_PATHS) {
    test(`${path.name}: push and pull keep the groups, send each group's data once, and converge`, async (t) => {
      const { root, src } = setup(t);
      const module = join(root, 'module');
      mkdirSync(module);
      makeSource(join(module, 'src'));
      const daemon = await startDaemon(t, ['--root', module], path.env);
      const remote = `127.0.0.1:${daemon.port}:/default`;
      const env = { env: path.env };

      const push = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${remote}/pushed/`], env);
      assert.equal(push.status, 0, push.stderr);
      assertLinked(join(module, 'pushed'));
      assert.equal(jsonReport(push).bytes, BYTES_ONCE, 'push: each group sent once');
      assert.equal(jsonReport(push).fidelity?.hardLinks?.applied, FOLLOWERS);

      const pulled = join(root, 'pulled');
      const pull = await runBlit(['mirror', '--yes', '--json', `${remote}/src/`, `${pulled}/`], env);
      assert.equal(pull.status, 0, pull.stderr);
      assertLinked(pulled);
      assert.equal(jsonReport(pull).bytes, BYTES_ONCE, 'pull: each group sent once');

      // Names at the destination: one separate file, one missing; then nothing left to do.
      unlinkSync(join(pulled, 'b/three'));
      writeFileSync(join(pulled, 'b/three'), 'xxxxxx');
      setMtime(join(pulled, 'b/three'), 1_500_000_000);
      unlinkSync(join(module, 'pushed', 'a/two'));
      const pushAgain = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${remote}/pushed/`], env);
      const pullAgain = await runBlit(['mirror', '--yes', '--json', `${remote}/src/`, `${pulled}/`], env);
      for (const [what, run, dst] of [
        ['push', pushAgain, join(module, 'pushed')],
        ['pull', pullAgain, pulled],
      ] as const) {
        assert.equal(run.status, 0, run.stderr);
        assertLinked(dst);
        assert.equal(jsonReport(run).bytes, 0, `${what}: no data for names linked`);
        // The first name the walk meets leads: the separate file if it comes first (its other names then link to it).
        assert.ok(jsonReport(run).copied >= 1 && jsonReport(run).copied <= 2, `${what}: links made`);
      }
      const pushThird = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${remote}/pushed/`], env);
      assert.equal(jsonReport(pushThird).copied, 0, 'converged');

      const separate = await runBlit(['copy', '--no-hard-links', `${remote}/src/`, `${root}/separate/`], env);
      assert.equal(separate.status, 0, separate.stderr);
      assertSeparate(join(root, 'separate'));
    });
  }
});
