/**
 * The launcher's early read-ahead (bin/blit.js readSourceAheadEarly): a push of a directory has its
 * source tree listed from the launcher's start, for the plainest command lines only; every other
 * command line leaves it to the CLI, and each transfer lands the same either way.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { blitProgram } from '../../src/cli/program.js';
import { tempDir } from '../helpers.js';
import { type Daemon, fileHooks, runBlit, startDaemon } from './daemon-harness.js';

const REPO = join(import.meta.dirname, '..', '..');
const LAUNCHER = readFileSync(join(REPO, 'bin', 'blit.js'), 'utf8');

/** A `const NAME = …;` line of the launcher, evaluated as JSON (single quotes made double). */
function launcherConst(name: string): unknown {
  const line = new RegExp(`^const ${name} = (.+);$`, 'm').exec(LAUNCHER)?.[1];
  assert.ok(line, `bin/blit.js has no one-line const ${name}`);
  return JSON.parse(line.replaceAll("'", '"'));
}

const DEBUG = { BLIT_DEBUG_READ_AHEAD: '1' };
const readAhead = (stderr: string) => /^blit: read ahead (.*)$/m.exec(stderr)?.[1];

let root: string;
let moduleDir: string;
let daemon: Daemon;
const remote = (path: string) => `127.0.0.1:${daemon.port}:/default/${path}`;

const hooks = fileHooks();

before(async () => {
  root = tempDir(hooks);
  moduleDir = join(root, 'module');
  mkdirSync(moduleDir);
  mkdirSync(join(root, 'src', 'sub'), { recursive: true });
  writeFileSync(join(root, 'src', 'sub', 'file'), 'data');
  symlinkSync('src', join(root, 'link'));
  daemon = await startDaemon(hooks, ['--root', moduleDir]);
});

test('a push of a directory is read ahead from the launcher, with or without its trailing slash', async () => {
  const cases: [string[], string][] = [
    [['copy', `${join(root, 'src')}/`, remote('a')], join(moduleDir, 'a', 'sub', 'file')],
    [['mirror', '-y', '--json', join(root, 'src'), remote('b/')], join(moduleDir, 'b', 'src', 'sub', 'file')],
    [['copy', '-v', `${join(root, 'link')}/`, remote('c')], join(moduleDir, 'c', 'sub', 'file')],
  ];
  for (const [args, landed] of cases) {
    const result = await runBlit(args, { env: DEBUG });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      readAhead(result.stderr),
      args.at(-2)!.startsWith(join(root, 'link')) ? join(root, 'link') : join(root, 'src'),
    );
    assert.equal(readFileSync(landed, 'utf8'), 'data', args.join(' '));
  }
});

test('any other command line is left to the CLI, and lands as before', async () => {
  const src = join(root, 'src');
  const cases: [string[], Record<string, string>, string][] = [
    [['copy', '--exclude', 'nothing', `${src}/`, remote('d')], {}, join(moduleDir, 'd', 'sub', 'file')],
    [['copy', '--exclude=nothing', `${src}/`, remote('d2')], {}, join(moduleDir, 'd2', 'sub', 'file')],
    [['copy', '--min-size', '1', `${src}/`, remote('e')], {}, join(moduleDir, 'e', 'sub', 'file')],
    [['copy', `${src}/`, remote('f')], { BLIT_NO_NATIVE: '1' }, join(moduleDir, 'f', 'sub', 'file')],
    [['copy', join(src, 'sub', 'file'), remote('g')], {}, join(moduleDir, 'g')],
    [['copy', remote('a/'), join(root, 'pulled')], {}, join(root, 'pulled', 'sub', 'file')],
  ];
  for (const [args, env, landed] of cases) {
    const result = await runBlit(args, { env: { ...DEBUG, ...env } });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readAhead(result.stderr), undefined, args.join(' '));
    assert.equal(readFileSync(landed, 'utf8'), 'data', args.join(' '));
  }
  // A link to a directory without its trailing slash is sent as the link: nothing is listed.
  const link = await runBlit(['copy', join(root, 'link'), remote('h')], { env: DEBUG });
  assert.equal(link.status, 0, link.stderr);
  assert.equal(readAhead(link.stderr), undefined);
  assert.equal(lstatSync(join(moduleDir, 'h')).isSymbolicLink(), true);
  assert.equal(existsSync(join(moduleDir, 'h', 'sub')), false);
});

test("the launcher's verbs and flags are the CLI's, its flags take no value, and it expects the CLI's addon", () => {
  const verbs = launcherConst('EARLY_VERBS') as string[];
  const flags = launcherConst('EARLY_FLAGS') as string[];
  const commands = blitProgram().commands;
  for (const verb of verbs) {
    const command = commands.find((c) => c.name() === verb);
    assert.ok(command, `the CLI has no ${verb}`);
    const valueless = command.options
      .filter((o) => !o.required && !o.optional)
      .flatMap((o) => [o.short, o.long]);
    // -y and --delete-excluded are mirror's: another verb refuses them, and the CLI says so.
    for (const flag of flags.filter(
      (f) => verb === 'mirror' || !['-y', '--yes', '--delete-excluded'].includes(f),
    )) {
      assert.ok(valueless.includes(flag), `${verb} ${flag} is not an option without a value`);
    }
  }
  const abi = /^const ABI_VERSION = (\d+);$/m.exec(
    readFileSync(join(REPO, 'src', 'fsops', 'native.ts'), 'utf8'),
  )?.[1];
  assert.equal(launcherConst('ADDON_ABI'), Number(abi));
});
