/** blit list-modules / ls / rm against a real blitd on 127.0.0.1. */
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../helpers.js';
import { closedPort, type Daemon, runBlit, startDaemon } from './daemon-harness.js';

const UTC = { TZ: 'UTC' };
const MTIME = new Date('2024-05-01T12:00:03Z');

/** A module tree: files, a directory, a link inside and a link leading outside the module. */
function makeModules(root: string) {
  const data = join(root, 'data');
  const photos = join(root, 'photos');
  const outside = join(root, 'outside');
  mkdirSync(join(data, 'docs', 'deep'), { recursive: true });
  mkdirSync(photos);
  mkdirSync(outside);
  writeFileSync(join(data, 'hello.txt'), 'hello world\n');
  writeFileSync(join(data, 'docs', 'a.md'), '# a\n');
  writeFileSync(join(data, 'docs', 'deep', 'b.md'), '# b\n');
  writeFileSync(join(photos, 'cat.jpg'), 'meow');
  writeFileSync(join(outside, 'secret'), 'top secret');
  symlinkSync('docs', join(data, 'inside-link'));
  symlinkSync(outside, join(data, 'escape'));
  for (const path of [join(data, 'hello.txt'), join(data, 'docs')]) utimesSync(path, MTIME, MTIME);
  const config = join(root, 'blitd.toml');
  writeFileSync(
    config,
    [
      '[daemon]',
      'motd = "Welcome to the test daemon"',
      '',
      '[[module]]',
      'name = "data"',
      `path = "${data}"`,
      'comment = "Working data"',
      '',
      '[[module]]',
      'name = "photos"',
      'path = "photos"',
      'read_only = true',
      'comment = "Family photos"',
      '',
    ].join('\n'),
  );
  return { data, photos, outside, config };
}

// The daemon resolves paths through descriptors with its addon, through path strings without it
// (README: "Containment without the addon"): what a user sees is the same.
const DAEMON_MODES: { name: string; env: Record<string, string> }[] = [
  { name: 'native addon', env: {} },
  { name: 'pure JS', env: { BLIT_NO_NATIVE: '1' } },
];

for (const mode of DAEMON_MODES) {
  describe(`remote verbs against a real blitd (daemon: ${mode.name})`, () => {
    // One daemon for the whole group; tests that remove things use their own paths.
    const cleanups: (() => unknown)[] = [];
    const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
    let tree: ReturnType<typeof makeModules>;
    let daemon: Daemon;
    let host: string;
    before(async () => {
      tree = makeModules(tempDir(suite));
      daemon = await startDaemon(suite, ['--config', tree.config], mode.env);
      host = `127.0.0.1:${daemon.port}`;
    });
    after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });

    test('list-modules shows the motd, each module with rw/ro and its comment', async () => {
      const result = await runBlit(['list-modules', host]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(
        result.stdout,
        'Welcome to the test daemon\n\ndata    rw  Working data\nphotos  ro  Family photos\n',
      );
      const json = await runBlit(['list-modules', '--json', host]);
      assert.equal(json.status, 0, json.stderr);
      const parsed = JSON.parse(json.stdout);
      assert.equal(parsed.motd, 'Welcome to the test daemon');
      assert.deepEqual(parsed.modules, [
        { name: 'data', readOnly: false, comment: 'Working data' },
        { name: 'photos', readOnly: true, comment: 'Family photos' },
      ]);
      assert.match(parsed.daemon, /^blitd \d/);
    });

    test('ls lists kinds, sizes, mtimes and names, sorted; links show their targets', async () => {
      const result = await runBlit(['ls', `${host}:/data`], { env: UTC });
      assert.equal(result.status, 0, result.stderr);
      const lines = result.stdout.trimEnd().split('\n');
      assert.deepEqual(
        lines.map((line) => line.replace(/\s+/g, ' ').split(' ')[0]),
        ['dir', 'link', 'file', 'link'],
      );
      assert.match(lines[0]!, /^dir +- +2024-05-01 12:00:03 +docs\/$/);
      assert.match(lines[1]!, new RegExp(`^link +- +\\S+ \\S+ +escape -> ${tree.outside}$`));
      assert.match(lines[2]!, /^file +12 B +2024-05-01 12:00:03 +hello\.txt$/);
      assert.match(lines[3]!, /^link +- +\S+ \S+ +inside-link -> docs$/);
    });

    test('ls --json gives exact sizes, modes and nanosecond mtimes', async () => {
      const result = await runBlit(['ls', '--json', `${host}:/data/`]);
      assert.equal(result.status, 0, result.stderr);
      const parsed = JSON.parse(result.stdout);
      assert.equal(parsed.isDirectory, true);
      assert.equal(parsed.problems, 0);
      const hello = parsed.entries.find((e: { name: string }) => e.name === 'hello.txt');
      const stats = lstatSync(join(tree.data, 'hello.txt'), { bigint: true });
      assert.deepEqual(hello, {
        name: 'hello.txt',
        kind: 'file',
        size: 12,
        mtime: MTIME.toISOString(),
        mtimeNs: stats.mtimeNs.toString(),
        mode: Number(stats.mode & 0o7777n),
      });
    });

    test('ls of a file shows that entry; ls follows a link that stays inside the module', async () => {
      const file = await runBlit(['ls', `${host}:/data/docs/a.md`]);
      assert.equal(file.status, 0, file.stderr);
      assert.match(file.stdout, /^file +4 B +\S+ \S+ +a\.md\n$/);
      const viaLink = await runBlit(['ls', `${host}:/data/inside-link/deep`]);
      assert.equal(viaLink.status, 0, viaLink.stderr);
      assert.match(viaLink.stdout, /b\.md\n$/);
    });

    test('ls pages through a large directory and lists every entry once, in order', async () => {
      const big = join(tree.data, 'big');
      mkdirSync(big);
      const names = Array.from({ length: 2345 }, (_, i) => `f${String(i).padStart(5, '0')}`);
      for (const name of names) writeFileSync(join(big, name), '');
      const result = await runBlit(['ls', `${host}:/data/big`]);
      assert.equal(result.status, 0, result.stderr);
      const listed = result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => line.split(/\s+/).at(-1));
      assert.deepEqual(listed, names);
    });

    test('paths that leave the module are refused: .., and links leading outside', async () => {
      const dotdot = await runBlit(['ls', `${host}:/data/../outside`]);
      assert.equal(dotdot.status, 1);
      assert.equal(dotdot.stderr, `blit: ${host}:/data/../outside: '..' is not allowed in a module path\n`);
      const dotdotInside = await runBlit(['ls', `${host}:/data/docs/../../photos`]);
      assert.equal(dotdotInside.status, 1);
      assert.match(dotdotInside.stderr, /'\.\.' is not allowed/);

      const viaLink = await runBlit(['ls', `${host}:/data/escape`]);
      assert.equal(viaLink.status, 1);
      assert.equal(viaLink.stderr, `blit: ${host}:/data/escape: symbolic link leads outside the module\n`);
      const below = await runBlit(['ls', `${host}:/data/escape/secret`]);
      assert.equal(below.status, 1);
      assert.equal(below.stderr, `blit: ${host}:/data/escape: symbolic link leads outside the module\n`);

      const rmBelow = await runBlit(['rm', '--yes', `${host}:/data/escape/secret`]);
      assert.equal(rmBelow.status, 1);
      assert.match(rmBelow.stderr, /symbolic link leads outside the module/);
      assert.equal(readFileSync(join(tree.outside, 'secret'), 'utf8'), 'top secret');
    });

    test('rm of a link removes the link itself, never what it points to', async () => {
      symlinkSync(tree.outside, join(tree.data, 'escape2'));
      const result = await runBlit(['rm', '--yes', `${host}:/data/escape2`]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'blit rm: 1 removed, 0 failed\n');
      assert.equal(existsSync(join(tree.data, 'escape2')), false);
      assert.equal(readFileSync(join(tree.outside, 'secret'), 'utf8'), 'top secret');
    });

    test('rm --yes removes a directory with its contents', async () => {
      mkdirSync(join(tree.data, 'old', 'sub'), { recursive: true });
      writeFileSync(join(tree.data, 'old', 'x'), 'x');
      writeFileSync(join(tree.data, 'old', 'sub', 'y'), 'y');
      const result = await runBlit(['rm', '--yes', `${host}:/data/old`]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'blit rm: 4 removed, 0 failed\n');
      assert.equal(existsSync(join(tree.data, 'old')), false);
      assert.equal(existsSync(join(tree.data, 'hello.txt')), true);
    });

    test('rm without --yes and without a terminal removes nothing', async () => {
      const result = await runBlit(['rm', `${host}:/data/hello.txt`]);
      assert.equal(result.status, 1);
      assert.equal(
        result.stderr,
        `blit: not removing ${host}:/data/hello.txt without confirmation; run on a terminal or pass --yes\n`,
      );
      assert.equal(readFileSync(join(tree.data, 'hello.txt'), 'utf8'), 'hello world\n');
    });

    test('rm is refused on a read-only module and on a module root', async () => {
      const readOnly = await runBlit(['rm', '--yes', `${host}:/photos/cat.jpg`]);
      assert.equal(readOnly.status, 1);
      assert.equal(readOnly.stderr, `blit: ${host}:/photos/cat.jpg: module 'photos' is read-only\n`);
      assert.equal(readFileSync(join(tree.photos, 'cat.jpg'), 'utf8'), 'meow');
      const moduleRoot = await runBlit(['rm', '--yes', `${host}:/data/`]);
      assert.equal(moduleRoot.status, 1);
      assert.match(moduleRoot.stderr, /refusing to remove a whole module/);
      assert.equal(existsSync(join(tree.data, 'hello.txt')), true);
    });

    test('a missing path, an unknown module: one line, exit 1', async () => {
      const missing = await runBlit(['ls', `${host}:/data/nope/deeper`]);
      assert.equal(missing.status, 1);
      assert.equal(missing.stderr, `blit: ${host}:/data/nope: no such file or directory\n`);
      const unknown = await runBlit(['ls', `${host}:/nope`]);
      assert.equal(unknown.status, 1);
      assert.equal(
        unknown.stderr,
        `blit: ${host}:/nope: unknown module 'nope' (blit list-modules shows the modules)\n`,
      );
      const rmMissing = await runBlit(['rm', '--yes', `${host}:/data/nope`]);
      assert.equal(rmMissing.status, 1);
      assert.equal(rmMissing.stderr, `blit: ${host}:/data/nope: no such file or directory\n`);
    });

    test('names that are not UTF-8 are reported by ls (exit 2) and removed by rm', async () => {
      const dir = join(tree.data, 'raw');
      mkdirSync(dir);
      writeFileSync(join(dir, 'ok.txt'), 'ok');
      writeFileSync(
        Buffer.concat([Buffer.from(`${dir}/bad`), Buffer.from([0xff]), Buffer.from('.txt')]),
        'x',
      );
      const listing = await runBlit(['ls', `${host}:/data/raw`]);
      assert.equal(listing.status, 2);
      assert.match(listing.stdout, /ok\.txt\n$/);
      assert.equal(
        listing.stderr,
        `blit: ${host}:/data/raw/bad\\xff.txt: file name is not valid UTF-8; not supported\n`,
      );
      const removal = await runBlit(['rm', '--yes', `${host}:/data/raw`]);
      assert.equal(removal.status, 0, removal.stderr);
      assert.equal(removal.stdout, 'blit rm: 3 removed, 0 failed\n');
      assert.equal(existsSync(dir), false);
    });

    test('the daemon logged each call as a JSON line', () => {
      const calls = daemon
        .log()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; code?: string; fileOperations?: string });
      const listening = calls.find((c) => c.msg === 'listening');
      assert.ok(listening?.fileOperations?.startsWith(mode.name), listening?.fileOperations);
      assert.ok(calls.some((c) => c.msg === 'list' && c.code === 'PERMISSION_DENIED'));
      assert.ok(calls.some((c) => c.msg === 'purge' && c.code === 'OK'));
    });
  });
}

test('an unreachable daemon and bad syntax are one line with exit 1', async () => {
  const port = await closedPort();
  const refused = await runBlit(['ls', `127.0.0.1:${port}:/data`]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, `blit: cannot reach blitd at 127.0.0.1:${port}: connection refused\n`);
  const modules = await runBlit(['list-modules', `[::1]:${port}`]);
  assert.equal(modules.status, 1);
  assert.match(modules.stderr, /^blit: cannot reach blitd at \[::1\]:\d+: .+\n$/);

  // The full syntax is unit-tested (test/unit/endpoint-remote.test.ts); here, that it reaches the user.
  for (const [args, message] of [
    [['ls', 'host:12x:/data'], /port "12x" is not a number/],
    [['list-modules', 'a b'], /"a b" is not a host name/],
  ] as const) {
    const result = await runBlit([...args]);
    assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  }
});

test('a local directory written like a remote path is copied, with a warning', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'foo:', 'bar'), { recursive: true });
  writeFileSync(join(root, 'foo:', 'bar', 'file'), 'local data');
  const result = await runBlit(['copy', 'foo:/bar', 'out'], { cwd: root });
  assert.equal(result.status, 0, result.stderr);
  assert.match(
    result.stderr,
    /^blit: warning: foo:\/bar looks like a remote path .*foo: is a local directory/m,
  );
  assert.equal(readFileSync(join(root, 'out', 'file'), 'utf8'), 'local data');

  const explicit = await runBlit(['copy', './foo:/bar', 'out2'], { cwd: root });
  assert.equal(explicit.status, 0, explicit.stderr);
  assert.doesNotMatch(explicit.stderr, /warning/);

  // Without such a directory the path is remote: here, a daemon that is not there.
  const port = await closedPort();
  const remote = await runBlit(['copy', `127.0.0.1:${port}:/module/x`, 'out3'], { cwd: root });
  assert.equal(remote.status, 1);
  assert.equal(remote.stderr, `blit: cannot reach blitd at 127.0.0.1:${port}: connection refused\n`);
  assert.equal(existsSync(join(root, 'out3')), false);
});
