/**
 * Owner and group fidelity (issue 17): as root, every written entry (file, directory, symbolic
 * link) keeps the source's uid and gid, locally and through a real blitd both ways; an owner-only
 * difference is an update, not a copy; --no-owner leaves owners alone; across machines owners go
 * by name (the destination's /etc/passwd and /etc/group, faked in a mount namespace), by number
 * with --numeric-ids; not root, owners are the writer's, without an error or a warning.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BLIT, IS_ROOT, NOBODY, tempDir, testConfigHome, writeFile } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const MODES: { name: string; env: Record<string, string> }[] = [
  { name: 'native addon', env: {} },
  { name: 'native, no whole directories', env: { BLIT_NO_WHOLE_DIRS: '1' } },
  { name: 'pure JS', env: { BLIT_NO_NATIVE: '1' } },
];

/** rel → "uid:gid" of every entry below `root` (links themselves). */
function owners(root: string, rels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of rels) {
    const st = lstatSync(join(root, rel));
    out[rel] = `${st.uid}:${st.gid}`;
  }
  return out;
}

// d/ and what it holds go whole to the copy threads (native/whole_dir.cc); the rest is the walk's.
const RELS = ['f', 'setuid', 'big', 'd', 'd/e', 'd/g', 'd/m', 'l'];

/** Files (one setuid, one big enough for ranges), directories and a link, each with an owner of its own. */
function makeTree(src: string): Record<string, string> {
  writeFile(join(src, 'f'), 'a', { mtime: 1_600_000_000 });
  writeFile(join(src, 'setuid'), 'x', { mode: 0o4755, mtime: 1_600_000_000 });
  writeFile(join(src, 'big'), Buffer.alloc(3 << 20, 7), { mtime: 1_600_000_000 });
  writeFile(join(src, 'd', 'g'), 'g', { mtime: 1_600_000_000 });
  mkdirSync(join(src, 'd', 'e'));
  symlinkSync('f', join(src, 'l'));
  symlinkSync('g', join(src, 'd', 'm'));
  chownSync(join(src, 'f'), 1234, 5678);
  chownSync(join(src, 'setuid'), 1235, 5679);
  chownSync(join(src, 'big'), 1236, 5680);
  chownSync(join(src, 'd'), 2001, 3001);
  chownSync(join(src, 'd', 'e'), 2002, 3002);
  chownSync(join(src, 'd', 'g'), 2003, 3003);
  lchownSync(join(src, 'l'), 2004, 3004);
  lchownSync(join(src, 'd', 'm'), 2005, 3005);
  // chown cleared the setuid bit.
  chmodSync(join(src, 'setuid'), 0o4755);
  return owners(src, RELS);
}

interface Report {
  copied: number;
  updated: number;
  bytes: number;
  fidelity?: { owner?: { applied: number; failed: number; reason?: string } };
}

function json(stdout: string): Report {
  return JSON.parse(stdout) as Report;
}

describe('owners, locally', { skip: IS_ROOT ? false : 'chown needs root (CI runs as root)' }, () => {
  for (const mode of MODES) {
    test(`copy and mirror keep owners of files, directories and links (${mode.name})`, async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      const want = makeTree(src);
      const first = await runBlit(['copy', `${src}/`, dst, '--json'], { env: mode.env });
      assert.equal(first.status, 0, first.stderr);
      assert.deepEqual(owners(dst, RELS), want);
      assert.equal(lstatSync(join(dst, 'setuid')).mode & 0o7777, 0o4755, 'the setuid bit survives the chown');
      assert.deepEqual(json(first.stdout).fidelity?.owner, { applied: RELS.length, failed: 0 });

      // An owner-only change is a metadata update: nothing copied, no bytes.
      chownSync(join(dst, 'f'), 1, 1);
      chownSync(join(dst, 'd', 'g'), 1, 1);
      const again = await runBlit(['mirror', `${src}/`, dst, '--json'], { env: mode.env });
      assert.equal(again.status, 0, again.stderr);
      const report = json(again.stdout);
      assert.equal(report.copied, 0);
      assert.equal(report.bytes, 0);
      assert.equal(report.updated, 2);
      assert.deepEqual(owners(dst, RELS), want);

      // Converged: nothing to do.
      const still = json((await runBlit(['mirror', `${src}/`, dst, '--json'], { env: mode.env })).stdout);
      assert.equal(still.updated + still.copied, 0);
    });

    test(`a new file gets the source's group, not a set-group-ID directory's, nor inherits its ACL (${mode.name})`, async (t) => {
      // The copy threads skip the chown (and the read of a new file's xattrs) only where the new
      // file has the owner (and no xattr) already: here it has neither.
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      for (const side of [src, dst]) mkdirSync(join(side, 'shared'), { recursive: true });
      writeFile(join(src, 'shared', 'new.txt'), 'root:root at the source');
      mkdirSync(join(src, 'shared', 'fresh'));
      writeFile(join(src, 'shared', 'fresh', 'deeper.txt'), 'in a directory the destination lacks');
      chownSync(join(dst, 'shared'), 0, 4321);
      chmodSync(join(dst, 'shared'), 0o2775);
      const acl = spawnSync('setfacl', ['-d', '-m', 'u:1234:rwx', join(dst, 'shared')]).status === 0;
      const result = await runBlit(['copy', `${src}/`, `${dst}/`], { env: mode.env });
      assert.equal(result.status, 0, result.stderr);
      for (const rel of ['shared/new.txt', 'shared/fresh/deeper.txt']) {
        const stats = lstatSync(join(dst, rel));
        assert.equal(`${stats.uid}:${stats.gid}`, '0:0', rel);
        if (acl && mode.env.BLIT_NO_NATIVE !== '1') {
          const listed = spawnSync('getfacl', ['-c', '-p', join(dst, rel)], { encoding: 'utf8' }).stdout;
          assert.doesNotMatch(
            listed,
            /user:1234/,
            `${rel}: no ACL inherited from the destination's default ACL`,
          );
        }
      }
    });

    test(`--no-owner leaves owners as the writer's (${mode.name})`, async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'dst');
      makeTree(src);
      const result = await runBlit(['copy', `${src}/`, dst, '--no-owner', '--json'], { env: mode.env });
      assert.equal(result.status, 0, result.stderr);
      for (const owner of Object.values(owners(dst, RELS))) assert.equal(owner, '0:0');
      assert.equal(json(result.stdout).fidelity?.owner, undefined);
      // Nor is an owner-only difference an update then.
      const again = json(
        (await runBlit(['mirror', `${src}/`, dst, '--no-owner', '--json'], { env: mode.env })).stdout,
      );
      assert.equal(again.updated + again.copied, 0);
    });
  }

  for (const mode of [MODES[0]!, MODES[2]!]) {
    test(`not root: no error, no warning, owners are the writer's, nothing to update after (${mode.name})`, (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'out', 'dst');
      makeTree(src);
      // The writer reads the source and writes below out/ only.
      chmodSync(root, 0o755);
      mkdirSync(join(root, 'out'));
      chownSync(join(root, 'out'), NOBODY, NOBODY);
      const asNobody = (...args: string[]) =>
        spawnSync(
          'setpriv',
          [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BLIT, ...args],
          {
            env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...mode.env },
            encoding: 'utf8',
            input: '',
          },
        );
      const result = asNobody('copy', `${src}/`, dst);
      assert.equal(result.error, undefined, 'setpriv (util-linux) runs');
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stderr, '');
      for (const owner of Object.values(owners(dst, RELS))) assert.equal(owner, `${NOBODY}:${NOBODY}`);
      // Owners that differ from the source's are no difference to a writer that cannot set them.
      const again = asNobody('mirror', `${src}/`, dst, '--json');
      assert.equal(again.status, 0, again.stderr);
      const report = json(again.stdout);
      assert.equal(report.copied + report.updated, 0);
      assert.equal(report.fidelity?.owner, undefined);
    });
  }
});

describe('owners kept by a user holding CAP_CHOWN and CAP_FOWNER', {
  skip: IS_ROOT ? false : 'setpriv hands capabilities on only as root (CI runs as root)',
}, () => {
  for (const mode of [MODES[0]!, MODES[1]!]) {
    test(`as nobody with the capabilities, owners, modes and times are kept (${mode.name})`, (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const dst = join(root, 'out', 'dst');
      const want = makeTree(src);
      chmodSync(root, 0o755);
      mkdirSync(join(root, 'out'));
      chownSync(join(root, 'out'), NOBODY, NOBODY);
      const asChowner = (caps: string, ...args: string[]) =>
        spawnSync(
          'setpriv',
          [
            `--reuid=${NOBODY}`,
            `--regid=${NOBODY}`,
            '--clear-groups',
            `--inh-caps=${caps}`,
            `--ambient-caps=${caps}`,
            process.execPath,
            BLIT,
            ...args,
          ],
          {
            env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...mode.env },
            encoding: 'utf8',
            input: '',
          },
        );
      // CAP_CHOWN alone could give a file away but then not set its mode: owners are left alone.
      const chownOnly = asChowner('+chown', 'copy', `${src}/`, `${dst}-chown-only`, '--json');
      assert.equal(chownOnly.error, undefined, 'setpriv (util-linux) runs');
      assert.equal(chownOnly.status, 0, chownOnly.stderr);
      assert.equal(json(chownOnly.stdout).fidelity?.owner, undefined);

      const result = asChowner('+chown,+fowner', 'copy', `${src}/`, dst, '--json');
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(owners(dst, RELS), want);
      assert.equal(
        lstatSync(join(dst, 'setuid')).mode & 0o7777,
        0o4755,
        'the setuid bit is set after the chown',
      );
      assert.equal(lstatSync(join(dst, 'f')).mtimeMs, 1_600_000_000_000, 'times set on a file given away');
      // And the destination's root, made by nobody, takes the source root's owner (root's).
      assert.equal(owners(dst, ['.'])['.'], '0:0');
      assert.deepEqual(json(result.stdout).fidelity?.owner, { applied: RELS.length + 1, failed: 0 });
    });
  }
});

/** A daemon config with one module at `path`. */
function daemonConfig(root: string, path: string): string {
  const config = join(root, 'blitd.toml');
  writeFileSync(config, `[[module]]\nname = "m"\npath = "${path}"\n`);
  return config;
}

describe('owners through a real blitd', {
  skip: IS_ROOT ? false : 'chown needs root (CI runs as root)',
}, () => {
  for (const mode of [MODES[0]!, MODES[2]!]) {
    test(`push and pull keep owners (${mode.name})`, async (t) => {
      const root = tempDir(t);
      const src = join(root, 'src');
      const module = join(root, 'module');
      mkdirSync(module);
      const want = makeTree(src);
      const daemon = await startDaemon(t, ['--config', daemonConfig(root, module)], mode.env);
      const remote = `127.0.0.1:${daemon.port}:/m`;
      const push = await runBlit(['copy', `${src}/`, `${remote}/pushed`, '--json'], { env: mode.env });
      assert.equal(push.status, 0, push.stderr);
      assert.deepEqual(owners(join(module, 'pushed'), RELS), want);
      assert.deepEqual(json(push.stdout).fidelity?.owner, { applied: RELS.length, failed: 0 });

      const pulled = join(root, 'pulled');
      const pull = await runBlit(['copy', `${remote}/pushed/`, pulled, '--json'], { env: mode.env });
      assert.equal(pull.status, 0, pull.stderr);
      assert.deepEqual(owners(pulled, RELS), want);

      // An owner-only change at the far end is an update there.
      chownSync(join(module, 'pushed', 'f'), 1, 1);
      const again = await runBlit(['mirror', `${src}/`, `${remote}/pushed`, '--json'], { env: mode.env });
      assert.equal(again.status, 0, again.stderr);
      const report = json(again.stdout);
      assert.equal(report.copied, 0);
      assert.equal(report.updated, 1);
      assert.deepEqual(owners(join(module, 'pushed'), RELS), want);
    });
  }

  test("pushed and pulled small files get the source's group and ACLs, not a set-group-ID directory's", async (t) => {
    // The landing threads skip the chown and the read of a new file's xattrs only where the new
    // file has the owner and no xattr already: here, in a set-group-ID directory with a default
    // ACL, it has neither. One file of the source has an ACL of its own, which it keeps.
    const root = tempDir(t);
    const src = join(root, 'src');
    const module = join(root, 'module');
    const pulled = join(root, 'pulled');
    writeFile(join(src, 'shared', 'new.txt'), 'root:root at the source');
    writeFile(join(src, 'shared', 'own-acl.txt'), 'with an ACL of its own');
    mkdirSync(module);
    const acl = spawnSync('setfacl', ['-m', 'u:4242:r', join(src, 'shared', 'own-acl.txt')]).status === 0;
    for (const dir of [join(module, 'pushed', 'shared'), join(pulled, 'shared')]) {
      mkdirSync(dir, { recursive: true });
      chownSync(dir, 0, 4321);
      chmodSync(dir, 0o2775);
      if (acl) assert.equal(spawnSync('setfacl', ['-d', '-m', 'u:1234:rwx', dir]).status, 0);
    }
    const daemon = await startDaemon(t, ['--config', daemonConfig(root, module)]);
    const remote = `127.0.0.1:${daemon.port}:/m`;
    const push = await runBlit(['copy', `${src}/`, `${remote}/pushed/`]);
    assert.equal(push.status, 0, push.stderr);
    const pull = await runBlit(['copy', `${remote}/pushed/`, `${pulled}/`]);
    assert.equal(pull.status, 0, pull.stderr);
    for (const side of [join(module, 'pushed'), pulled]) {
      for (const rel of ['shared/new.txt', 'shared/own-acl.txt']) {
        const path = join(side, rel);
        const stats = lstatSync(path);
        assert.equal(`${stats.uid}:${stats.gid}`, '0:0', path);
        if (!acl) continue;
        const listed = spawnSync('getfacl', ['-c', '-p', path], { encoding: 'utf8' }).stdout;
        assert.doesNotMatch(
          listed,
          /user:1234/,
          `${path}: no ACL inherited from the destination's default ACL`,
        );
        if (rel === 'shared/own-acl.txt') assert.match(listed, /user:4242:r--/, `${path}: its own ACL kept`);
        else assert.doesNotMatch(listed, /user:4242/, path);
      }
    }
  });

  test('owners map by name at the destination, by number without a name or with --numeric-ids', async (t) => {
    const root = tempDir(t);
    const src = join(root, 'src');
    const module = join(root, 'module');
    mkdirSync(module);
    // uid/gid 1 are "daemon" at the source (the real /etc/passwd and /etc/group, the daemon's);
    // 1234 has no name.
    writeFile(join(src, 'named'), 'n', { mtime: 1_600_000_000 });
    writeFile(join(src, 'nameless'), 'u', { mtime: 1_600_000_000 });
    chownSync(join(src, 'named'), 1, 1);
    chownSync(join(src, 'nameless'), 1234, 5678);
    const daemon = await startDaemon(t, ['--config', daemonConfig(root, src)]);
    const remote = `127.0.0.1:${daemon.port}:/m/`;
    // The pulling side sees other tables: "daemon" is 4321 / 8765 there, and 1234 is "someone".
    const passwd = join(root, 'passwd');
    const group = join(root, 'group');
    writeFileSync(
      passwd,
      'root:x:0:0::/root:/bin/sh\ndaemon:x:4321:8765::/:/bin/false\nsomeone:x:1234:1234::/:/bin/false\n',
    );
    writeFileSync(group, 'root:x:0:\ndaemon:x:8765:\n');
    const pullWithTables = (dst: string, ...flags: string[]) =>
      spawnSync(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"',
          'sh',
          passwd,
          group,
          process.execPath,
          BLIT,
          'copy',
          remote,
          dst,
          ...flags,
        ],
        { env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() }, encoding: 'utf8', input: '' },
      );
    const probe = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind ${passwd} /etc/passwd`]);
    if (probe.status !== 0) {
      t.skip('no mount namespaces here (unshare -m and a bind mount need CAP_SYS_ADMIN)');
      return;
    }
    const byName = join(root, 'by-name');
    const mapped = pullWithTables(byName);
    assert.equal(mapped.status, 0, mapped.stderr);
    assert.deepEqual(owners(byName, ['named', 'nameless']), { named: '4321:8765', nameless: '1234:5678' });

    const byNumber = join(root, 'by-number');
    const numeric = pullWithTables(byNumber, '--numeric-ids');
    assert.equal(numeric.status, 0, numeric.stderr);
    assert.deepEqual(owners(byNumber, ['named', 'nameless']), { named: '1:1', nameless: '1234:5678' });
  });
});
