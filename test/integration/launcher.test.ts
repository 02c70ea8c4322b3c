/**
 * bin/blit.js is run as users run it (`blit` on the PATH is npm's symlink to it): its #!/bin/sh
 * first lines start Node on the file without NODE_EXTRA_CA_CERTS, and pass every argument through
 * untouched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { read, tempDir, testConfigHome } from '../helpers.js';
import { closedPort } from './daemon-harness.js';

const BLIT = fileURLToPath(new URL('../../bin/blit.js', import.meta.url));

function runLink(link: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(link, args, {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('through a symlink in a directory with a space, blit runs without loading NODE_EXTRA_CA_CERTS', (t) => {
  const root = tempDir(t);
  const bin = join(root, 'node modules', '.bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(BLIT, join(bin, 'blit'));
  // Node itself warns on stderr when it loads this missing bundle at start; the launcher unsets it.
  const missing = join(root, 'no such bundle.pem');
  const control = spawnSync(process.execPath, [BLIT, '--version'], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: missing },
    encoding: 'utf8',
  });
  assert.match(control.stderr, /Ignoring extra certs/);

  const r = runLink(join(bin, 'blit'), ['--version'], { NODE_EXTRA_CA_CERTS: missing });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^blit \d+\.\d+\.\d+ /);
});

test('the launcher passes arguments with spaces, quotes, $ and a newline through unchanged', (t) => {
  const root = tempDir(t);
  const name = 'a b "c" $HOME\nd';
  const src = join(root, 'src dir');
  mkdirSync(src);
  writeFileSync(join(src, name), 'payload\n');
  const dst = join(root, `dst '$1'`);
  const r = runLink(BLIT, ['copy', join(src, name), join(dst, name)], {});
  assert.equal(r.status, 0, r.stderr);
  assert.equal(read(join(dst, name)), 'payload\n');
});

test('under `node --cpu-prof` a transfer still ends through Node, which writes the profile', (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'payload\n');
  const profiles = join(root, 'profiles');
  const r = spawnSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${profiles}`, BLIT, 'copy', `${src}/`, join(root, 'dst')],
    { env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() }, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(read(join(root, 'dst', 'f')), 'payload\n');
  assert.equal(readdirSync(profiles).filter((name) => name.endsWith('.cpuprofile')).length, 1);
});

test('both launchers ask glibc for transparent huge pages and the CLI for one malloc arena and a 16 MiB heap pad, keeping a GLIBC_TUNABLES of the user', (t) => {
  const root = tempDir(t);
  // Loaded by Node before the launcher's script: prints what the shell line exported, and stops.
  const probe = join(root, 'print tunables.cjs');
  writeFileSync(probe, 'process.stdout.write(String(process.env.GLIBC_TUNABLES)); process.exit(0);\n');
  const BLITD = fileURLToPath(new URL('../../bin/blitd.js', import.meta.url));
  const tunables = (launcher: string, own: string | undefined) => {
    const env: NodeJS.ProcessEnv = { NODE_OPTIONS: `--require=${JSON.stringify(probe)}` };
    if (own !== undefined) env.GLIBC_TUNABLES = own;
    else env.GLIBC_TUNABLES = undefined;
    const r = runLink(launcher, ['--version'], env);
    assert.equal(r.status, 0, r.stderr);
    // The shell line runs clean (a formatter's `':';` would have sh run `//`).
    assert.equal(r.stderr, '');
    return r.stdout;
  };
  // The CLI also asks for one malloc arena and a heap grown 16 MiB at a time; blitd does not.
  const CLI = 'glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:glibc.malloc.top_pad=16777216';
  const cases: [launcher: string, own: string | undefined, exported: string][] = [
    [BLIT, undefined, CLI],
    [
      BLIT,
      'glibc.malloc.arena_max=2',
      'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1:glibc.malloc.top_pad=16777216',
    ],
    [
      BLIT,
      'glibc.malloc.hugetlb=0',
      'glibc.malloc.hugetlb=0:glibc.malloc.arena_max=1:glibc.malloc.top_pad=16777216',
    ],
    [
      BLIT,
      'glibc.malloc.top_pad=0',
      'glibc.malloc.top_pad=0:glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1',
    ],
    [BLIT, 'glibc.mem.tagging=0', `glibc.mem.tagging=0:${CLI}`],
    [BLITD, undefined, 'glibc.malloc.hugetlb=1'],
    [BLITD, 'glibc.malloc.arena_max=2', 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'],
    [BLITD, 'glibc.malloc.hugetlb=0', 'glibc.malloc.hugetlb=0'],
  ];
  for (const [launcher, own, exported] of cases) {
    assert.equal(tunables(launcher, own), exported, `${launcher} with GLIBC_TUNABLES=${own}`);
  }
});

test('a remote command loads the addon before the bundles (its prefault routed); a local one and BLIT_NO_NATIVE=1 do not', async (t) => {
  const root = tempDir(t);
  const early = /^blit: addon loaded before the bundles, prefault \{"sites":(\d+),"bytes":\d+\}$/m;
  // Nothing listens there: the run fails after its start, which is all this looks at.
  const target = `127.0.0.1:${await closedPort()}:/default/f`;
  const remote = runLink(BLIT, ['copy', join(root, 'f'), target], {
    BLIT_DEBUG_PREFAULT: '1',
  });
  assert.notEqual(remote.status, 0);
  const sites = early.exec(remote.stderr)?.[1];
  assert.ok(sites !== undefined && Number(sites) >= 1, remote.stderr);

  writeFileSync(join(root, 'f'), 'payload\n');
  const local = runLink(BLIT, ['copy', join(root, 'f'), join(root, 'g')], { BLIT_DEBUG_PREFAULT: '1' });
  assert.equal(local.status, 0, local.stderr);
  assert.doesNotMatch(local.stderr, early);

  const pure = runLink(BLIT, ['copy', join(root, 'f'), target], {
    BLIT_DEBUG_PREFAULT: '1',
    BLIT_NO_NATIVE: '1',
  });
  assert.notEqual(pure.status, 0);
  assert.doesNotMatch(pure.stderr, early);
});
