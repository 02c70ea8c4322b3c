/**
 * How a remote transfer ends (src/cli/exit-now.ts): at once, without Node's teardown, when its
 * output went through the CLI's plain writes or Node's stdio streams hold nothing still to write
 * (a remote run makes Node's stderr stream as it closes its sockets); Node's stdio descriptors are
 * set back first, as Node's exit sets them. Either way, what was copied is in place.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { tempDir, testConfigHome } from '../helpers.js';
import { BLIT, type Daemon, fileHooks, runBlit, startDaemon } from './daemon-harness.js';

const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

const DEBUG = { BLIT_DEBUG_EXIT: '1' };
const endedAtOnce = (stderr: string) => stderr.includes("blit: ended without the runtime's teardown");

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
  for (let i = 0; i < 20; i++) writeFileSync(join(root, 'src', 'sub', `f${i}`), `data ${i}`);
  daemon = await startDaemon(hooks, ['--root', moduleDir]);
});

test('a remote push and pull end at once, their files in place', async () => {
  const push = await runBlit(['copy', `${join(root, 'src')}/`, remote('pushed')], { env: DEBUG });
  assert.equal(push.status, 0, push.stderr);
  assert.ok(endedAtOnce(push.stderr), push.stderr);
  assert.equal(readFileSync(join(moduleDir, 'pushed', 'sub', 'f7'), 'utf8'), 'data 7');

  const pull = await runBlit(['mirror', '-y', '--json', `${remote('pushed')}/`, join(root, 'pulled')], {
    env: DEBUG,
  });
  assert.equal(pull.status, 0, pull.stderr);
  assert.ok(endedAtOnce(pull.stderr), pull.stderr);
  assert.equal(JSON.parse(pull.stdout).copied, 21);
  assert.equal(readFileSync(join(root, 'pulled', 'sub', 'f19'), 'utf8'), 'data 19');
});

test("a remote run that made Node's stderr stream ends at once too, and leaves a pipe it shared blocking", () => {
  // Node's stream on a pipe makes it non-blocking; `cat` after blit shares the pipe, whose reader
  // waits a second, and fails with EAGAIN unless blit set it back before it ended.
  const copy = [
    process.execPath,
    BLIT,
    'copy',
    '--json',
    '--progress',
    `${join(root, 'src')}/`,
    remote('shared'),
  ]
    .map(quote)
    .join(' ');
  // What the pipe carried is kept too: blit's own stderr says it ended without Node's exit.
  const seen = join(root, 'seen');
  const shared = spawnSync(
    'sh',
    [
      '-c',
      `{ ${copy} >/dev/null; head -c 2000000 /dev/zero | cat; } 2>&1 </dev/null | { sleep 1; tee ${quote(seen)} | wc -c; }`,
    ],
    {
      env: { ...process.env, ...DEBUG, XDG_CONFIG_HOME: testConfigHome() },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.ok(
    Number(shared.stdout.trim()) >= 2_000_000,
    `cat wrote all its bytes after blit: ${shared.stdout}`,
  );
  assert.ok(endedAtOnce(readFileSync(seen, 'latin1')), 'blit ended without the runtime teardown');
  assert.equal(readFileSync(join(moduleDir, 'shared', 'sub', 'f3'), 'utf8'), 'data 3');
});

test('the same run, its stderr read by the test: it made the stream and ended at once', async () => {
  const push = await runBlit(['copy', '--json', '--progress', `${join(root, 'src')}/`, remote('seen')], {
    env: DEBUG,
  });
  assert.equal(push.status, 0, push.stderr);
  assert.ok(endedAtOnce(push.stderr), push.stderr);
});
