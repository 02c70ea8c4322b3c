/**
 * The daemon the code-cache training starts (scripts/write-code-cache.mjs): found by its listening
 * line whatever else its output holds, and never outliving the build or install that started it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
// @ts-expect-error: a build script in plain JavaScript, without types.
import { listeningPort, trainingDaemonConfig } from '../../scripts/write-code-cache.mjs';
import { tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/write-code-cache.mjs', import.meta.url));

test("the training finds blitd's port among complete JSON lines, past anything else", () => {
  const listening = '{"level":30,"port":4321,"msg":"listening"}';
  assert.equal(listeningPort(`Warning: Ignoring extra certs\n${listening}\n`), 4321);
  // A first line that is JSON without a port is read past, not taken.
  assert.equal(listeningPort(`{"level":40,"msg":"something first"}\n${listening}\n`), 4321);
  // A line still being written is not read.
  assert.equal(listeningPort(listening), undefined);
  assert.equal(listeningPort('{"msg":"listening","port":12'), undefined);
  assert.equal(listeningPort(''), undefined);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the training daemon ends when the process that started it is killed', async (t) => {
  const dir = tempDir(t);
  // A stand-in for the build: starts a long-lived child under the lifeline, says its pid, waits.
  const parent = join(dir, 'parent.mjs');
  writeFileSync(
    parent,
    `import { spawn } from 'node:child_process';
import { LIFELINE } from ${JSON.stringify(SCRIPT)};
spawn('/bin/sh', ['-c', LIFELINE, 'sh', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)'], { stdio: ['pipe', 'inherit', 'inherit'] });
setInterval(() => {}, 1000);
`,
  );
  const build = spawn(process.execPath, [parent], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => build.kill('SIGKILL'));
  const [line] = (await once(build.stdout, 'data')) as [Buffer];
  const child = Number(line.toString().trim());
  assert.ok(Number.isInteger(child) && alive(child), `child ${child} running`);
  t.after(() => {
    if (alive(child)) process.kill(child, 'SIGKILL');
  });
  build.kill('SIGKILL');
  await once(build, 'exit');
  // Bounded: the shell sees its stdin close and stops the child.
  for (const deadline = Date.now() + 10_000; alive(child) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(alive(child), false, 'the child outlived its parent');
});

test('the training daemon serves its tree read-only: a pull works, a push is refused and writes nothing; it writes only into its inbox', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const inbox = join(dir, 'inbox');
  mkdirSync(src);
  mkdirSync(inbox);
  writeFileSync(join(src, 'a'), 'a\n');
  const config = join(dir, 'blitd.toml');
  writeFileSync(config, trainingDaemonConfig(src, join(dir, 'state'), inbox));
  const daemon = await startDaemon(t, ['--config', config]);
  const pulled = await runBlit([
    'mirror',
    '--yes',
    `127.0.0.1:${daemon.port}:/training/`,
    join(dir, 'pulled'),
  ]);
  assert.equal(pulled.status, 0, pulled.stderr);
  assert.equal(readFileSync(join(dir, 'pulled', 'a'), 'utf8'), 'a\n');
  writeFileSync(join(dir, 'intruder'), 'x\n');
  const pushed = await runBlit([
    'copy',
    join(dir, 'intruder'),
    `127.0.0.1:${daemon.port}:/training/intruder`,
  ]);
  assert.notEqual(pushed.status, 0);
  assert.match(pushed.stderr, /read-only/);
  assert.deepEqual(readdirSync(src), ['a']);
  const intoInbox = await runBlit(['mirror', '--yes', `${src}/`, `127.0.0.1:${daemon.port}:/inbox/pushed`]);
  assert.equal(intoInbox.status, 0, intoInbox.stderr);
  assert.equal(readFileSync(join(inbox, 'pushed', 'a'), 'utf8'), 'a\n');
  assert.deepEqual(readdirSync(src), ['a']);
});

test("the training daemon's configuration names absolute paths and survives any byte TOML must escape", () => {
  const odd = 'tmp/with "quote" \\ back\tslash\u007fdel';
  const config = parseToml(trainingDaemonConfig(`${odd}/src`, `${odd}/state`, `${odd}/inbox`)) as {
    daemon: { state_dir: string };
    module: { path: string; read_only: boolean }[];
  };
  // Relative paths are read against the configuration's directory by blitd: made absolute here.
  assert.equal(config.module[0]!.path, resolve(`${odd}/src`));
  assert.equal(config.daemon.state_dir, resolve(`${odd}/state`));
  assert.equal(config.module[0]!.read_only, true);
  assert.equal(config.module[1]!.path, resolve(`${odd}/inbox`));
  assert.equal(config.module[1]!.read_only, false);
});
