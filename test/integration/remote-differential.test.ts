/**
 * Remote transfers leave exactly what the same local transfer leaves: from identical starting
 * trees, `blit VERB` locally, pushed to a real blitd on 127.0.0.1 and pulled from it must end in
 * identical trees (names, kinds, contents, modes, mtimes, link targets), with the same exit code
 * and counts. Trees come from the seeded generator of the rsync differential test.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { diffSnapshots, jsonReport, prng, snapshot, tempDir } from '../helpers.js';
import { cpA, generateSource, mutateDestination } from '../trees.js';
import { runBlit, startDaemon } from './daemon-harness.js';

interface Case {
  name: string;
  seed: number;
  verb: 'copy' | 'mirror' | 'move';
  flags: string[];
  typeConflicts: boolean;
}

const CASES: Case[] = [
  { name: 'mirror', seed: 11, verb: 'mirror', flags: ['--yes'], typeConflicts: false },
  { name: 'mirror with type conflicts', seed: 12, verb: 'mirror', flags: ['--yes'], typeConflicts: true },
  { name: 'mirror -c', seed: 13, verb: 'mirror', flags: ['--yes', '-c'], typeConflicts: false },
  {
    name: 'mirror with filters',
    seed: 14,
    verb: 'mirror',
    flags: ['--yes', '--exclude', '*.bin*', '--exclude', 'x*/'],
    typeConflicts: false,
  },
  {
    name: 'mirror --include',
    seed: 15,
    verb: 'mirror',
    flags: ['--yes', '--include', 'file*'],
    typeConflicts: false,
  },
  { name: 'copy', seed: 16, verb: 'copy', flags: [], typeConflicts: true },
  {
    name: 'copy --ignore-times --max-size',
    seed: 17,
    verb: 'copy',
    flags: ['--ignore-times', '--max-size', '10K'],
    typeConflicts: false,
  },
  { name: 'move', seed: 18, verb: 'move', flags: [], typeConflicts: false },
];

/** The counts a report gives, without timing. */
function counts(stdout: string) {
  const report = jsonReport({ status: 0, stdout, stderr: '' });
  return {
    copied: report.copied,
    skipped: report.skipped,
    updated: report.updated,
    deleted: report.deleted,
    failed: report.failed,
    bytes: report.bytes,
  };
}

/**
 * Each case runs on one of the four combinations of transport (the TCP data plane, or file data
 * forced into the control stream) and file-operation path (the addon, or BLIT_NO_NATIVE=1 on both
 * sides), so that every combination meets mirrors, filters, -c and moves.
 */
const PATHS: { name: string; env: Record<string, string> }[] = [
  { name: 'data plane, addon', env: {} },
  { name: 'gRPC data, addon', env: { BLIT_FORCE_GRPC_DATA: '1' } },
  { name: 'data plane, no addon', env: { BLIT_NO_NATIVE: '1' } },
  { name: 'gRPC data, no addon', env: { BLIT_FORCE_GRPC_DATA: '1', BLIT_NO_NATIVE: '1' } },
];

describe('remote transfers leave what local ones leave', () => {
  for (const [index, c] of CASES.entries()) {
    const path = PATHS[index % PATHS.length]!;
    test(`seed ${c.seed}: ${c.name} (push and pull; ${path.name})`, async (t) => {
      const root = tempDir(t, 'blit-remote-diff-');
      const module = join(root, 'module');
      mkdirSync(module);
      const rand = prng(c.seed);
      // Three identical sources (a move empties its own) and three identical destinations.
      const srcLocal = join(root, 'src-local');
      const generated = generateSource(srcLocal, rand);
      const srcPush = join(root, 'src-push');
      const srcPull = join(module, 'src-pull');
      cpA(srcLocal, srcPush);
      cpA(srcLocal, srcPull);
      const dstLocal = join(root, 'dst-local');
      cpA(srcLocal, dstLocal);
      mutateDestination(dstLocal, generated, rand, { typeConflicts: c.typeConflicts });
      const dstPush = join(module, 'dst-push');
      const dstPull = join(root, 'dst-pull');
      cpA(dstLocal, dstPush);
      cpA(dstLocal, dstPull);

      const daemon = await startDaemon(t, ['--root', module], path.env);
      const remote = `127.0.0.1:${daemon.port}:/default`;
      const local = await runBlit([c.verb, ...c.flags, '--json', `${srcLocal}/`, `${dstLocal}/`]);
      const env = { env: path.env };
      const push = await runBlit([c.verb, ...c.flags, '--json', `${srcPush}/`, `${remote}/dst-push/`], env);
      const pull = await runBlit([c.verb, ...c.flags, '--json', `${remote}/src-pull/`, `${dstPull}/`], env);

      // A copy that meets a directory where the source has a file fails that entry (exit 2), on every path.
      assert.ok(local.status === 0 || (local.status === 2 && c.verb === 'copy'), `local: ${local.stderr}`);
      assert.equal(push.status, local.status, `push: ${push.stderr}`);
      assert.equal(pull.status, local.status, `pull: ${pull.stderr}`);
      assert.deepEqual(counts(push.stdout), counts(local.stdout), 'push counts');
      assert.deepEqual(counts(pull.stdout), counts(local.stdout), 'pull counts');
      const expected = snapshot(dstLocal);
      const tolerance = { mtimeToleranceNs: 2000n };
      assert.deepEqual(
        diffSnapshots(snapshot(dstPush), expected, tolerance),
        [],
        `seed ${c.seed}: push vs local`,
      );
      assert.deepEqual(
        diffSnapshots(snapshot(dstPull), expected, tolerance),
        [],
        `seed ${c.seed}: pull vs local`,
      );
      // What a move leaves of its sources is the same too (the emptied root's mtime is when it emptied).
      const sourceLeft = snapshot(srcLocal);
      const after = { ...tolerance, ignoreRootMtime: true };
      assert.deepEqual(diffSnapshots(snapshot(srcPush), sourceLeft, after), [], 'push source after');
      assert.deepEqual(diffSnapshots(snapshot(srcPull), sourceLeft, after), [], 'pull source after');
      assert.ok(generated.entries.length > 10, 'the tree is not trivial');
      // The transport the case meant to run on is the one that ran.
      const sockets = [...daemon.log().matchAll(/"rpc":"transfer".*"dataSockets":(\d+)/g)].map((m) =>
        Number(m[1]),
      );
      assert.equal(sockets.length, 2, daemon.log());
      const forced = path.env.BLIT_FORCE_GRPC_DATA === '1';
      assert.ok(
        sockets.every((n) => (forced ? n === 0 : n >= 1)),
        `data sockets ${sockets}`,
      );
    });
  }
});
