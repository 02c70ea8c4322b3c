/**
 * `blit du`, `blit find` and `blit df` with the real CLI on a generated tree of known sizes, locally
 * and through a real blitd on 127.0.0.1 exporting the same directory: exact figures, the same
 * lines on both sides, one-line failures for a missing path, df refused on a module the client may
 * not use as ls is, and names that are not UTF-8 or hold a newline printed as ls prints them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isOneLineError, setMtime, tempDir, writeFile } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const DAY = 86_400;
const NOW = Math.floor(Date.now() / 1000);
const OLD = NOW - 30 * DAY;

/** The tree: sizes chosen so every sum is distinct; `old` files 30 days old, the rest just written. */
function makeTree(root: string): void {
  writeFile(join(root, 'a', 'x.txt'), Buffer.alloc(100, 1), { mtime: OLD });
  writeFile(join(root, 'a', 'b', 'y.bin'), Buffer.alloc(5000, 2), { mtime: OLD });
  writeFile(join(root, 'a', 'b', '.hidden'), Buffer.alloc(7, 3));
  writeFile(join(root, 'c', 'z.log'), Buffer.alloc(2048, 4));
  writeFile(join(root, 'c', 'big.log'), Buffer.alloc(3 << 20, 5), { mtime: OLD });
  mkdirSync(join(root, 'c', 'empty'));
  writeFile(join(root, 'top.txt'), 'T', { mtime: OLD });
  writeFile(join(root, 'new\nline.txt'), 'abc');
  symlinkSync('a/x.txt', join(root, 'link'));
  for (const dir of ['a/b', 'a', 'c/empty', 'c', '']) setMtime(join(root, dir), OLD);
}

const EXPECTED_DU = [
  { path: 'a/b', bytes: 5007, files: 2 },
  { path: 'a', bytes: 5107, files: 3 },
  { path: 'c/empty', bytes: 0, files: 0 },
  { path: 'c', bytes: 2048 + (3 << 20), files: 2 },
  { path: '.', bytes: 5107 + 2048 + (3 << 20) + 1 + 3, files: 7 },
];

const ALL_PATHS = [
  'a',
  'a/b',
  'a/b/.hidden',
  'a/b/y.bin',
  'a/x.txt',
  'c',
  'c/big.log',
  'c/empty',
  'c/z.log',
  'link',
  '"new\\nline.txt"',
  'top.txt',
];

async function ok(args: string[], env?: Record<string, string>) {
  const result = await runBlit(args, { env });
  assert.equal(result.status, 0, `blit ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stderr, '');
  return result.stdout;
}

/** The figures both sides must agree on, for a PATH argument local or remote. */
async function figures(path: string) {
  const du = JSON.parse(await ok(['du', path, '--json'])) as {
    directories: unknown[];
    bytes: number;
    files: number;
  };
  return {
    duText: await ok(['du', path]),
    duDepth: await ok(['du', path, '--max-depth', '1']),
    du: { directories: du.directories, bytes: du.bytes, files: du.files },
    find: await ok(['find', path]),
    logs: await ok(['find', path, '--name', '*.log']),
    bigOld: await ok(['find', path, '--size', '+1M', '--type', 'f']),
    small: await ok(['find', path, '--size', '-10', '--type', 'f']),
    recent: await ok(['find', path, '--newer', '1d', '--type', 'f']),
    recentByDate: await ok(['find', path, '--newer', new Date((NOW - DAY) * 1000).toISOString()]),
    dirs: await ok(['find', path, '--type', 'd']),
    links: await ok(['find', path, '--type', 'l']),
    findJson: (JSON.parse(await ok(['find', path, '--json'])) as { entries: unknown[] }).entries,
  };
}

describe('operator verbs', () => {
  test('du and find: exact figures on a known tree, the same locally and through blitd', async (t) => {
    const root = tempDir(t, 'blit-verbs-');
    const tree = join(root, 'tree');
    makeTree(tree);

    const local = await figures(tree);
    assert.deepEqual(local.du.directories, EXPECTED_DU);
    assert.equal(local.du.bytes, EXPECTED_DU.at(-1)!.bytes);
    assert.equal(local.du.files, 7);
    assert.deepEqual(local.duText.trimEnd().split('\n'), [
      '   4.9 KiB          2  a/b',
      '   5.0 KiB          3  a',
      '       0 B          0  c/empty',
      '   3.0 MiB          2  c',
      '   3.0 MiB          7  .',
    ]);
    assert.deepEqual(
      local.duDepth
        .trimEnd()
        .split('\n')
        .map((line) => line.trim().split(/\s+/).at(-1)),
      ['a', 'c', '.'],
    );
    assert.deepEqual(local.find.trimEnd().split('\n'), ALL_PATHS);
    assert.equal(local.logs, 'c/big.log\nc/z.log\n');
    assert.equal(local.bigOld, 'c/big.log\n');
    assert.equal(local.small, 'a/b/.hidden\n"new\\nline.txt"\ntop.txt\n');
    assert.equal(local.recent, 'a/b/.hidden\nc/z.log\n"new\\nline.txt"\n');
    // Without --type: the link (just made) too; the directories were all set back 30 days.
    assert.equal(local.recentByDate, 'a/b/.hidden\nc/z.log\nlink\n"new\\nline.txt"\n');
    assert.equal(local.dirs, 'a\na/b\nc\nc/empty\n');
    assert.equal(local.links, 'link\n');
    const link = (local.findJson as { path: string }[]).find((entry) => entry.path === 'link');
    assert.deepEqual(
      { ...link, mtime: undefined, mtimeNs: undefined, mode: undefined },
      {
        path: 'link',
        kind: 'symlink',
        size: 7,
        linkTarget: 'a/x.txt',
        mtime: undefined,
        mtimeNs: undefined,
        mode: undefined,
      },
    );
    const named = (local.findJson as { path: string }[]).find((entry) => entry.path.startsWith('new'));
    assert.equal(named?.path, 'new\nline.txt');

    const daemon = await startDaemon(t, ['--root', tree]);
    const remote = await figures(`127.0.0.1:${daemon.port}:/default`);
    assert.deepEqual(remote, local);
    // A path below the module root, and a trailing '/', give what the same local path gives.
    assert.equal(await ok(['du', `127.0.0.1:${daemon.port}:/default/a/`]), await ok(['du', join(tree, 'a')]));
    assert.equal(
      await ok(['find', `127.0.0.1:${daemon.port}:/default/c`]),
      await ok(['find', join(tree, 'c')]),
    );
  });

  test('du and find on a single file, and on a directory reached through a link', async (t) => {
    const root = tempDir(t, 'blit-verbs-');
    const tree = join(root, 'tree');
    makeTree(tree);
    symlinkSync('c', join(tree, 'to-c'));
    const daemon = await startDaemon(t, ['--root', tree]);
    const remote = `127.0.0.1:${daemon.port}:/default`;
    for (const base of [tree, remote]) {
      assert.equal(await ok(['du', `${base}/a/x.txt`]), '     100 B          1  x.txt\n', base);
      assert.equal(await ok(['find', `${base}/a/x.txt`, '--size', '+99']), 'x.txt\n', base);
      assert.equal(await ok(['find', `${base}/a/x.txt`, '--size', '-99']), '', base);
      assert.equal(await ok(['find', `${base}/link`]), 'link\n', base);
      assert.equal(await ok(['du', `${base}/to-c`, '--max-depth', '0']), '   3.0 MiB          2  .\n', base);
    }
  });

  test('a missing path, or a bad option, is one error line and exit 1, locally and remotely', async (t) => {
    const root = tempDir(t, 'blit-verbs-');
    mkdirSync(join(root, 'tree'));
    const daemon = await startDaemon(t, ['--root', join(root, 'tree')]);
    const remote = `127.0.0.1:${daemon.port}:/default`;
    const cases: [string[], RegExp][] = [
      [['du', join(root, 'missing')], /missing: no such file or directory/],
      [['find', join(root, 'missing')], /missing: no such file or directory/],
      [['df', join(root, 'missing')], /missing: no such file or directory/],
      [['du', `${remote}/missing`], /default\/missing: no such file or directory/],
      [['find', `${remote}/missing`], /default\/missing: no such file or directory/],
      [['df', `127.0.0.1:${daemon.port}:/nomodule`], /unknown module 'nomodule'/],
      [['df', `${remote}/sub`], /name the module alone/],
      [['find', join(root, 'tree'), '--size', '10X'], /--size "10X"/],
      [['find', join(root, 'tree'), '--newer', 'tomorrow'], /--newer "tomorrow"/],
      [['du', join(root, 'tree'), '--max-depth', '-1'], /--max-depth "-1"/],
    ];
    for (const [args, message] of cases) {
      const result = await runBlit(args);
      assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(isOneLineError(result.stderr), result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '', args.join(' '));
    }
  });

  test('a name that is not UTF-8 is reported as ls reports it, the rest counted, exit 2', async (t) => {
    const root = tempDir(t, 'blit-verbs-');
    const tree = join(root, 'tree');
    writeFile(join(tree, 'd', 'good'), Buffer.alloc(10));
    writeFileSync(Buffer.concat([Buffer.from(join(tree, 'd', 'bad')), Buffer.from([0xff])]), 'xx');
    const daemon = await startDaemon(t, ['--root', tree]);
    const remote = `127.0.0.1:${daemon.port}:/default`;
    const ls = await runBlit(['ls', `${remote}/d`]);
    assert.equal(ls.status, 2);
    for (const [base, where] of [
      [tree, join(tree, 'd', 'bad\\xff')],
      [remote, `${remote}/d/bad\\xff`],
    ] as const) {
      for (const args of [
        ['du', base, '--json'],
        ['find', base],
      ]) {
        const result = await runBlit(args);
        assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stderr, `blit: ${where}: file name is not valid UTF-8; not supported\n`);
        if (args[0] === 'du') assert.equal((JSON.parse(result.stdout) as { bytes: number }).bytes, 10);
        else assert.equal(result.stdout, 'd\nd/good\n');
      }
    }
    assert.equal(ls.stderr, `blit: ${remote}/d/bad\\xff: file name is not valid UTF-8; not supported\n`);
  });

  test('a directory that cannot be listed is one problem line; the walk goes on, exit 2', async (t) => {
    const root = tempDir(t, 'blit-verbs-');
    const tree = join(root, 'tree');
    // Directories nested past 4096 bytes of path: made one level at a time from inside (mkdir -p
    // would need the whole path at once). Locally the listing fails (file name too long), and the
    // daemon refuses the wire path (longer than 4096 bytes); the sibling after it is still walked.
    const name = 'n'.repeat(250);
    writeFile(join(tree, 'z', 'after'), Buffer.alloc(9));
    const made = spawnSync(
      'bash',
      ['-c', `cd "$1" && for i in $(seq 20); do mkdir ${name} && cd ${name} || exit 1; done`, 'mk', tree],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(made.status, 0, made.stderr);
    // rm(1) removes what is too deep for a path; the temp dir's own clean-up cannot.
    try {
      const daemon = await startDaemon(t, ['--root', tree]);
      const remote = `127.0.0.1:${daemon.port}:/default`;
      for (const [base, reason] of [
        [tree, /: file name too long$/],
        [remote, /: path is longer than 4096 bytes$/],
      ] as const) {
        const find = await runBlit(['find', base, '--type', 'f']);
        assert.equal(find.status, 2, find.stderr);
        assert.equal(find.stdout, 'z/after\n');
        const lines = find.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, find.stderr);
        assert.match(lines[0]!, reason);
        assert.ok(lines[0]!.startsWith(`blit: ${base}/${name}/`), lines[0]);
        const du = await runBlit(['du', base, '--json']);
        assert.equal(du.status, 2, du.stderr);
        assert.equal((JSON.parse(du.stdout) as { bytes: number }).bytes, 9);
      }
    } finally {
      spawnSync('rm', ['-rf', tree]);
    }
  });

  test('df: the file system of a path and of a module, as df(1) counts it', async (t) => {
    const root = tempDir(t, 'blit-verbs-');
    const tree = join(root, 'tree');
    makeTree(tree);
    const daemon = await startDaemon(t, ['--root', tree]);
    type Df = {
      path: string;
      fsType: string;
      totalBytes: number;
      usedBytes: number;
      freeBytes: number;
      totalInodes: number;
      usedInodes: number;
      freeInodes: number;
    };
    const local = JSON.parse(await ok(['df', tree, '--json'])) as Df;
    const remote = JSON.parse(await ok(['df', `127.0.0.1:${daemon.port}:/default`, '--json'])) as Df;
    assert.equal(remote.path, `127.0.0.1:${daemon.port}:/default`);
    // Used and free change as other processes write; the size of the file system does not.
    for (const key of ['fsType', 'totalBytes', 'totalInodes'] as const)
      assert.equal(remote[key], local[key], key);
    const coreutils = spawnSync('df', ['-B1', '--output=size,itotal,fstype', tree], { encoding: 'utf8' });
    if (coreutils.status === 0) {
      const [size, inodes, type] = coreutils.stdout.trim().split('\n')[1]!.trim().split(/\s+/);
      assert.equal(local.totalBytes, Number(size));
      assert.equal(local.totalInodes, Number(inodes));
      assert.equal(local.fsType, type);
    } else t.diagnostic('df(1) not available: totals not cross-checked');
    for (const df of [local, remote]) {
      assert.ok(df.usedBytes + df.freeBytes <= df.totalBytes, JSON.stringify(df));
      assert.ok(df.usedInodes + df.freeInodes <= df.totalInodes || df.totalInodes === 0, JSON.stringify(df));
    }
    const text = await ok(['df', tree]);
    assert.match(
      text,
      new RegExp(`^${tree.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${local.fsType}\\)\n`),
    );
    assert.match(text, /^bytes\s+\S+ \S+\s+\S+ \S+\s+\S+ \S+\s+\d+%$/m);
    assert.match(text, /^inodes\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+(\d+%|-)$/m);
  });

  test('df on a module the client may not use is refused as ls is; one it may use is answered', async (t) => {
    const root = tempDir(t, 'blit-verbs-tls-');
    const alice = { XDG_CONFIG_HOME: tempDir(t, 'blit-verbs-alice-') };
    const bob = { XDG_CONFIG_HOME: tempDir(t, 'blit-verbs-bob-') };
    const aliceId = (await ok(['id'], alice)).trim();
    const bobId = (await ok(['id'], bob)).trim();
    mkdirSync(join(root, 'mod'));
    const config = join(root, 'blitd.toml');
    writeFile(
      config,
      `[daemon]\ntls = true\nstate_dir = "state"\n\n[[module]]\nname = "m"\npath = "mod"\nallow = [${JSON.stringify(aliceId)}]\n`,
    );
    const daemon = await startDaemon(t, ['--config', config]);
    const host = `127.0.0.1:${daemon.port}`;
    await ok(['trust', host, '--yes'], alice);
    await ok(['trust', host, '--yes'], bob);

    const refusal = `module 'm' does not admit identity ${bobId}`;
    for (const args of [
      ['ls', `${host}:/m`],
      ['df', `${host}:/m`],
      ['du', `${host}:/m`],
      ['find', `${host}:/m`],
    ]) {
      const result = await runBlit(args, { env: bob });
      assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(isOneLineError(result.stderr), result.stderr);
      assert.ok(result.stderr.includes(refusal), result.stderr);
    }
    const answered = JSON.parse(await ok(['df', `${host}:/m`, '--json'], alice)) as { totalBytes: number };
    assert.ok(answered.totalBytes > 0);
    assert.match(daemon.log(), /"rpc":"space".*"code":"PERMISSION_DENIED"/);
  });
});
