/**
 * Extended attributes and POSIX ACLs (issue 17): local copy and mirror keep them on files, links
 * and directories, an xattr-only change is an update, --no-xattrs / --no-acls leave one kind out,
 * push and pull through blitd keep them, and a destination file system without xattrs warns once.
 * Needs setfattr/getfattr (Debian `attr`) and setfacl (Debian `acl`), and a disk that keeps user
 * xattrs; trusted.* and security.* need root.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { IS_ROOT, jsonReport, modeOf, tempDir, writeFile } from '../helpers.js';
import { setX, XATTR_TOOLS as TOOLS, xattrDump } from '../xattr-tools.js';
import { runBlit, startDaemon } from './daemon-harness.js';

function setAcl(path: string, ...args: string[]): void {
  execFileSync('setfacl', [...args, path]);
}

function xattrsOf(path: string): string {
  return spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', path], {
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .slice(1)
    .join('\n');
}

function supportsUserXattrs(dir: string): boolean {
  const probe = join(dir, 'probe');
  writeFile(probe, '');
  return spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', probe]).status === 0;
}

/**
 * A source tree: user/trusted/security xattrs on files, a directory with xattrs, a link with a
 * trusted one, a file with an access ACL, a directory with a default ACL holding a file without one.
 */
function makeTree(src: string): void {
  mkdirSync(join(src, 'sub'), { recursive: true });
  mkdirSync(join(src, 'shared'));
  writeFile(join(src, 'a.txt'), 'alpha');
  writeFile(join(src, 'sub', 'b.txt'), 'beta');
  writeFile(join(src, 'shared', 'plain.txt'), 'no acl here');
  writeFile(join(src, 'acl.txt'), 'acl');
  symlinkSync('a.txt', join(src, 'link'));
  setX(join(src, 'a.txt'), 'user.colour', 'blue');
  setX(join(src, 'a.txt'), 'user.empty', '');
  setX(join(src, 'sub'), 'user.dir', 'yes');
  setX(join(src, 'sub', 'b.txt'), 'user.big', 'x'.repeat(3000));
  if (IS_ROOT) {
    setX(join(src, 'sub', 'b.txt'), 'trusted.t', 'trusted value');
    setX(join(src, 'a.txt'), 'security.s', 'security value');
    setX(join(src, 'link'), 'trusted.onlink', 'link');
  }
  setAcl(join(src, 'acl.txt'), '-m', 'u:1234:rw-,g:5678:r--');
  // The file came before the default ACL: it has none, and a copy must not inherit one.
  setAcl(join(src, 'shared'), '-d', '-m', 'u:1234:rwx,g:5678:r-x');
  setAcl(join(src, 'shared'), '-m', 'u:4321:r-x');
}

const PATHS: { name: string; env: Record<string, string> }[] = [
  { name: 'whole directories', env: {} },
  { name: 'file by file', env: { BLIT_NO_WHOLE_DIRS: '1' } },
];

describe('xattrs and ACLs', { skip: TOOLS ? false : 'setfattr/getfattr/setfacl not installed' }, () => {
  for (const path of PATHS) {
    test(`a local mirror keeps xattrs and ACLs on files, links and directories (${path.name})`, async (t) => {
      const root = tempDir(t);
      if (!supportsUserXattrs(root)) return t.skip('no user xattrs on the temp directory');
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      makeTree(src);
      // A destination directory with a default ACL already: new files there inherit one unless removed.
      mkdirSync(join(dst, 'shared'), { recursive: true });
      setAcl(join(dst, 'shared'), '-d', '-m', 'u:999:rwx');
      const first = await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env });
      assert.equal(first.status, 0, first.stderr);
      assert.equal(xattrDump(dst), xattrDump(src));
      assert.equal(modeOf(join(dst, 'shared', 'plain.txt')), modeOf(join(src, 'shared', 'plain.txt')));
      assert.equal(modeOf(join(dst, 'acl.txt')), modeOf(join(src, 'acl.txt')));
      const fidelity = jsonReport(first).fidelity as Record<string, { applied: number; failed: number }>;
      assert.ok(fidelity.xattrs && fidelity.xattrs.applied > 0 && fidelity.xattrs.failed === 0);
      assert.ok(fidelity.acls && fidelity.acls.applied > 0 && fidelity.acls.failed === 0);

      // Converged: nothing to do.
      const again = jsonReport(
        await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env }),
      );
      assert.equal(again.copied, 0);
      assert.equal(again.updated, 0);

      // An xattr-only change (added, changed, removed) and an ACL-only change are updates, not copies.
      setX(join(src, 'a.txt'), 'user.colour', 'green');
      execFileSync('setfattr', ['-x', 'user.big', join(src, 'sub', 'b.txt')]);
      setAcl(join(src, 'acl.txt'), '-m', 'u:1234:r--');
      const update = jsonReport(
        await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env }),
      );
      assert.equal(update.copied, 0);
      assert.equal(update.updated, 3);
      assert.equal(xattrDump(dst), xattrDump(src));
      assert.equal(modeOf(join(dst, 'acl.txt')), modeOf(join(src, 'acl.txt')));

      // An xattr added at the destination alone goes too.
      setX(join(dst, 'a.txt'), 'user.stray', '1');
      const stray = jsonReport(
        await runBlit(['mirror', '--yes', '--json', `${src}/`, `${dst}/`], { env: path.env }),
      );
      assert.equal(stray.updated, 1);
      assert.equal(xattrDump(dst), xattrDump(src));
    });
  }

  test('--no-xattrs keeps ACLs only, --no-acls xattrs only', async (t) => {
    const root = tempDir(t);
    if (!supportsUserXattrs(root)) return t.skip('no user xattrs on the temp directory');
    const src = join(root, 'src');
    makeTree(src);
    const noX = join(root, 'no-x');
    const noA = join(root, 'no-a');
    assert.equal((await runBlit(['copy', '--no-xattrs', `${src}/`, `${noX}/`])).status, 0);
    assert.equal((await runBlit(['copy', '--no-acls', `${src}/`, `${noA}/`])).status, 0);
    assert.doesNotMatch(xattrsOf(join(noX, 'a.txt')), /user\.colour/);
    assert.match(xattrsOf(join(noX, 'acl.txt')), /system\.posix_acl_access/);
    assert.match(xattrsOf(join(noA, 'a.txt')), /user\.colour/);
    assert.doesNotMatch(xattrsOf(join(noA, 'acl.txt')), /posix_acl/);
    // Turned off, a difference of that kind alone is no update.
    setX(join(src, 'a.txt'), 'user.colour', 'red');
    const again = jsonReport(
      await runBlit(['mirror', '--yes', '--json', '--no-xattrs', `${src}/`, `${noX}/`]),
    );
    assert.equal(again.updated, 0);
    assert.equal(again.copied, 0);
  });

  test('push and pull through blitd keep xattrs and ACLs', async (t) => {
    const root = tempDir(t);
    if (!supportsUserXattrs(root)) return t.skip('no user xattrs on the temp directory');
    const module = join(root, 'module');
    const src = join(module, 'src');
    makeTree(src);
    const daemon = await startDaemon(t, ['--root', module]);
    const remote = `127.0.0.1:${daemon.port}:/default`;
    const pulled = join(root, 'pulled');
    const pull = await runBlit(['mirror', '--yes', `${remote}/src/`, `${pulled}/`]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(xattrDump(pulled), xattrDump(src));
    const push = await runBlit(['mirror', '--yes', `${src}/`, `${remote}/pushed/`]);
    assert.equal(push.status, 0, push.stderr);
    assert.equal(xattrDump(join(module, 'pushed')), xattrDump(src));
    // An xattr-only change is an update over the wire too.
    setX(join(src, 'a.txt'), 'user.colour', 'teal');
    const update = jsonReport(await runBlit(['mirror', '--yes', '--json', `${src}/`, `${remote}/pushed/`]));
    assert.equal(update.copied, 0);
    assert.equal(update.updated, 1);
    assert.equal(xattrDump(join(module, 'pushed')), xattrDump(src));
  });

  test('a destination without xattrs warns once per kind and keeps everything else', async (t) => {
    if (!IS_ROOT) return t.skip('mounting ramfs needs root');
    const root = tempDir(t);
    if (!supportsUserXattrs(root)) return t.skip('no user xattrs on the temp directory');
    const src = join(root, 'src');
    makeTree(src);
    const mount = join(root, 'ramfs');
    mkdirSync(mount);
    if (spawnSync('mount', ['-t', 'ramfs', 'none', mount]).status !== 0)
      return t.skip('cannot mount ramfs here');
    try {
      const result = await runBlit(['copy', `${src}/`, `${mount}/dst/`]);
      assert.equal(result.status, 0, result.stderr);
      const warnings = result.stderr.split('\n').filter((line) => line.includes('warning'));
      assert.equal(warnings.length, 2, result.stderr);
      assert.equal(warnings.filter((line) => line.includes('extended attributes')).length, 1, result.stderr);
      assert.match(result.stderr, /does not support them/);
      assert.equal(warnings.filter((line) => line.includes('ACLs')).length, 1, result.stderr);
      assert.equal(execFileSync('cat', [join(mount, 'dst', 'sub', 'b.txt')], { encoding: 'utf8' }), 'beta');
      assert.equal(modeOf(join(mount, 'dst', 'a.txt')), modeOf(join(src, 'a.txt')));
    } finally {
      // Before the temp directory goes (its after hook would meet a busy mount point).
      spawnSync('umount', [mount]);
    }
  });
});
