/**
 * The same transfers through the native addon and through the pure-JS path (BLIT_NO_NATIVE=1):
 * both must leave identical, correct trees. Also checks that `blit --version` names the path.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { blit, diffSnapshots, jsonReport, snapshot, tempDir, writeFile } from '../helpers.js';

/** The addon sets mtimes to the nanosecond; Node's utimes lands on microseconds. */
const PATHS: { name: string; env: Record<string, string>; mtimeToleranceNs: bigint }[] = [
  { name: 'native addon', env: {}, mtimeToleranceNs: 1n },
  { name: 'pure JS', env: { BLIT_NO_NATIVE: '1' }, mtimeToleranceNs: 2000n },
];

/** 40 files (beyond the tiny-job limit, so worker threads copy them), sizes up to 3 MiB, odd modes. */
function buildSource(root: string): string {
  const src = join(root, 'src');
  for (let i = 0; i < 40; i++) {
    const size = i === 0 ? 0 : i === 1 ? 3 * 1024 * 1024 + 7 : (i * 977) % 20000;
    writeFile(join(src, `d${i % 4}`, `f ${i}.bin`), Buffer.alloc(size, i), {
      mode: [0o644, 0o600, 0o755, 0o444][i % 4],
      mtime: 1_600_000_000 + i + 0.123456789,
    });
  }
  mkdirSync(join(src, 'empty'));
  symlinkSync('d0/f 0.bin', join(src, 'link'));
  symlinkSync('/nonexistent/target', join(src, 'dangling'));
  return src;
}

for (const path of PATHS) {
  describe(`file operations: ${path.name}`, () => {
    test('--version says which path is active', () => {
      const result = blit(['--version'], { env: path.env });
      assert.equal(result.status, 0);
      assert.match(result.stdout, path.name === 'pure JS' ? /pure JS/ : /native addon/);
    });

    test('copy, then a converged mirror, then an edit', (t) => {
      const root = tempDir(t);
      const src = buildSource(root);
      const dst = join(root, 'dst');

      const first = blit(['copy', `${src}/`, `${dst}/`, '--json'], { env: path.env });
      assert.equal(first.status, 0, first.stderr);
      assert.deepEqual(
        diffSnapshots(snapshot(dst), snapshot(src), { mtimeToleranceNs: path.mtimeToleranceNs }),
        [],
      );
      assert.equal(jsonReport(first).copied, 40 + 4 + 1 + 2);

      const again = blit(['mirror', `${src}/`, `${dst}/`, '--yes', '--json'], { env: path.env });
      assert.equal(again.status, 0, again.stderr);
      assert.equal(jsonReport(again).copied, 0, 'a converged mirror copies nothing');

      writeFileSync(join(src, 'd1', 'f 1.bin'), 'changed');
      writeFileSync(join(dst, 'extra'), 'x');
      const third = blit(['mirror', `${src}/`, `${dst}/`, '--yes', '--json'], { env: path.env });
      assert.equal(third.status, 0, third.stderr);
      assert.equal(jsonReport(third).copied, 1);
      assert.equal(jsonReport(third).deleted, 1);
      assert.deepEqual(
        diffSnapshots(snapshot(dst), snapshot(src), { mtimeToleranceNs: path.mtimeToleranceNs }),
        [],
      );
    });

    test('checksum mirror copies only what differs in content', (t) => {
      const root = tempDir(t);
      const src = buildSource(root);
      const dst = join(root, 'dst');
      assert.equal(blit(['copy', `${src}/`, `${dst}/`], { env: path.env }).status, 0);
      // Same size, same mtime, different bytes: only --checksum sees it.
      writeFile(join(dst, 'd2', 'f 2.bin'), Buffer.alloc((2 * 977) % 20000, 0xee), {
        mode: 0o755,
        mtime: 1_600_000_000 + 2 + 0.123456789,
      });
      const result = blit(['mirror', '-c', `${src}/`, `${dst}/`, '--yes', '--json'], { env: path.env });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(jsonReport(result).copied, 1);
      assert.deepEqual(
        diffSnapshots(snapshot(dst), snapshot(src), { mtimeToleranceNs: path.mtimeToleranceNs }),
        [],
      );
    });

    test('move (copy, then remove) leaves the source empty and the destination complete', (t) => {
      const root = tempDir(t);
      const src = buildSource(root);
      const expected = snapshot(src);
      const dst = join(root, 'dst');
      // An existing target rules out the rename fast path: this moves file by file.
      mkdirSync(dst);
      const result = blit(['move', `${src}/`, dst, '--json'], { env: path.env });
      assert.equal(jsonReport(result).renamed, undefined);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(
        diffSnapshots(snapshot(dst), expected, {
          mtimeToleranceNs: path.mtimeToleranceNs,
          ignoreDirMtimes: true,
        }),
        [],
      );
      assert.deepEqual(readdirSync(src), [], 'SRC/ keeps the emptied root, nothing in it');
    });
  });
}
