/**
 * SIGHUP reloads blitd's configuration (src/daemon/reload.ts) on a real daemon: modules come and
 * go, read_only and the motd change for the calls after it, a broken file changes nothing (one
 * error line with file:line, the daemon serves on), restart-only settings are named in one warning,
 * and a push caught halfway across the reload completes with whole files. Each reload is awaited
 * on its log line, never on a sleep.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { BlitClient, Role, type TransferFrame } from '../../src/generated/blit.js';
import { localHello } from '../../src/protocol/handshake.js';
import { assertSameTree, tempDir } from '../helpers.js';
import { type Daemon, runBlit, startBlit, startDaemon } from './daemon-harness.js';
import { open } from './frames.js';

const CHUNK = 1 << 20;
const WAIT_MS = 20_000;

/** Polls (bounded) until `condition` holds; fails with `what` otherwise. */
async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function logLines(daemon: Daemon): LogLine[] {
  // Whole lines only: the last one may still be arriving.
  return daemon
    .log()
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * Sends SIGHUP and waits for what it logged: the 'reloaded' line, or the error line of a refused
 * reload; returns the lines logged meanwhile.
 */
async function reload(daemon: Daemon): Promise<LogLine[]> {
  const before = logLines(daemon).length;
  daemon.process.kill('SIGHUP');
  let fresh: LogLine[] = [];
  await until('the reload to be logged', () => {
    assert.equal(daemon.process.exitCode, null, `blitd exited: ${daemon.log()}`);
    fresh = logLines(daemon).slice(before);
    return fresh.some((line) => line.msg === 'reloaded' || line.msg.startsWith('reload refused'));
  });
  return fresh;
}

interface ModuleSpec {
  name: string;
  path: string;
  readOnly?: boolean;
}

function writeConfig(file: string, modules: ModuleSpec[], daemon = 'motd = "before"'): void {
  const tables = modules.map(
    (m) =>
      `[[module]]\nname = "${m.name}"\npath = "${m.path}"\nread_only = ${m.readOnly ?? false}\ncomment = "${m.name} files"\n`,
  );
  writeFileSync(file, `[daemon]\n${daemon}\n\n${tables.join('\n')}`);
}

/** A config file with module `a` (writable) and a source tree to push. */
function setUp(t: { after(fn: () => unknown): void }) {
  const root = tempDir(t, 'blit-reload-');
  const a = join(root, 'a');
  const b = join(root, 'b');
  mkdirSync(a);
  mkdirSync(b);
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a small'), 'small');
  const big = Buffer.alloc(3 * CHUNK);
  for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
  writeFileSync(join(src, 'sub', 'big'), big);
  writeFileSync(join(src, 'sub', 'z last'), 'last');
  const config = join(root, 'blitd.toml');
  writeConfig(config, [{ name: 'a', path: a }]);
  return { root, a, b, src, config };
}

async function moduleNames(port: number): Promise<{ names: string[]; motd: string }> {
  const result = await runBlit(['list-modules', '--json', `127.0.0.1:${port}`]);
  assert.equal(result.status, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as { motd: string; modules: { name: string }[] };
  return { names: parsed.modules.map((m) => m.name), motd: parsed.motd };
}

test('SIGHUP: a module added and one removed show in list-modules, the motd changes, the new module takes a push', async (t) => {
  const { a, b, src, config } = setUp(t);
  const daemon = await startDaemon(t, ['--config', config]);
  assert.deepEqual(await moduleNames(daemon.port), { names: ['a'], motd: 'before' });

  writeConfig(config, [{ name: 'b', path: b }], 'motd = "after"');
  const logged = await reload(daemon);
  const reloaded = logged.find((line) => line.msg === 'reloaded');
  assert.deepEqual(reloaded?.modules, [{ name: 'b', readOnly: false }]);
  assert.ok(!logged.some((line) => line.level >= 40), 'no warning or error for a clean reload');
  assert.deepEqual(await moduleNames(daemon.port), { names: ['b'], motd: 'after' });

  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/b/dst`]);
  assert.equal(push.status, 0, push.stderr);
  assertSameTree(join(b, 'dst'), src);
  const gone = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/a/dst`]);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /unknown module 'a'/);
  assert.deepEqual(readdirSync(a), []);
});

test('SIGHUP: read_only = true refuses the next push', async (t) => {
  const { a, src, config } = setUp(t);
  const daemon = await startDaemon(t, ['--config', config]);
  const first = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/a/one`]);
  assert.equal(first.status, 0, first.stderr);

  writeConfig(config, [{ name: 'a', path: a, readOnly: true }]);
  await reload(daemon);
  const refused = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/a/two`]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /module 'a' is read-only/);
  assert.deepEqual(readdirSync(a), ['one']);
});

test('SIGHUP with a broken file: one error line with file:line, the old configuration serves on', async (t) => {
  const { a, src, config } = setUp(t);
  const daemon = await startDaemon(t, ['--config', config]);

  // Line 4: an unknown key in the module, after the module `b` that the reload would have added.
  writeFileSync(config, '[[module]]\nname = "b"\npath = "."\nreadonly = true\n');
  const logged = await reload(daemon);
  const errors = logged.filter((line) => line.level >= 50);
  assert.equal(errors.length, 1, JSON.stringify(logged));
  assert.match(
    errors[0]!.msg,
    new RegExp(`^reload refused, the configuration is unchanged: ${config}:4: unknown key 'readonly'`),
  );
  assert.ok(!logged.some((line) => line.msg === 'reloaded'));

  assert.deepEqual(await moduleNames(daemon.port), { names: ['a'], motd: 'before' });
  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/a/dst`]);
  assert.equal(push.status, 0, push.stderr);
  assertSameTree(join(a, 'dst'), src);
});

test('SIGHUP changing restart-only settings: one warning names them, the rest applies', async (t) => {
  const { root, a, config } = setUp(t);
  const daemon = await startDaemon(t, ['--config', config]);

  writeConfig(
    config,
    [{ name: 'a', path: a, readOnly: true }],
    `motd = "after"\ndata_tls = false\nstate_dir = "${join(root, 'elsewhere')}"`,
  );
  const logged = await reload(daemon);
  const warnings = logged.filter((line) => line.level === 40);
  assert.equal(warnings.length, 1, JSON.stringify(logged));
  assert.deepEqual(warnings[0]!.notApplied, ['data_tls', 'state_dir']);
  assert.match(warnings[0]!.msg, /^not applied until blitd restarts: data_tls, state_dir/);
  assert.ok(logged.some((line) => line.msg === 'reloaded'));
  assert.deepEqual(await moduleNames(daemon.port), { names: ['a'], motd: 'after' });
});

/** The sizes of the temp files (blit's .blit-PID-HEX.tmp) anywhere below `dir`. */
function tempSizes(dir: string): number[] {
  const sizes: number[] = [];
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    if (!/(^|\/)\.blit-\d+-[0-9a-f]{12}\.tmp$/.test(entry)) continue;
    const stats = lstatSync(join(dir, entry), { throwIfNoEntry: false });
    if (stats) sizes.push(stats.size);
  }
  return sizes;
}

for (const mode of [
  { name: 'TCP data plane', args: [] as string[] },
  { name: 'gRPC stream', args: ['--force-grpc-data'] },
]) {
  test(`a push in flight across SIGHUP completes with whole files (${mode.name}); the next push sees the reload`, async (t) => {
    const { a, src, config } = setUp(t);
    const daemon = await startDaemon(t, ['--config', config]);
    // The source pauses once the first chunk of sub/big is out, until SIGUSR2 (util/test-hang.ts).
    const push = startBlit(['copy', ...mode.args, `${src}/`, `127.0.0.1:${daemon.port}:/a/dst`], {
      BLIT_TEST_HANG: 'send:sub/big',
    });
    await until('the first chunk of sub/big at the daemon', () =>
      tempSizes(a).some((size) => size === CHUNK),
    );

    writeConfig(config, [{ name: 'a', path: a, readOnly: true }]);
    await reload(daemon);
    push.child.kill('SIGUSR2');
    assert.equal((await push.exited).code, 0, push.stderr());
    assertSameTree(join(a, 'dst'), src);
    assert.deepEqual(tempSizes(a), []);

    const refused = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/a/again`]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /module 'a' is read-only/);
  });
}

test('SIGHUP with TLS on: an identity added to the allow list may push after the reload, not before', async (t) => {
  const { root, a, src } = setUp(t);
  const clientEnv = { XDG_CONFIG_HOME: tempDir(t, 'blit-reload-client-') };
  const id = (await runBlit(['id'], { env: clientEnv })).stdout.trim();
  assert.match(id, /^SHA256:/);
  const config = join(root, 'tls.toml');
  const write = (allow: string[]) =>
    writeFileSync(
      config,
      `[daemon]\ntls = true\nstate_dir = "state"\n\n[[module]]\nname = "a"\npath = "${a}"\nallow = ${JSON.stringify(allow)}\n`,
    );
  write([]);
  const daemon = await startDaemon(t, ['--config', config]);
  const fingerprint = (logLines(daemon).find((line) => line.msg === 'listening')?.fingerprint ??
    '') as string;
  const host = `127.0.0.1:${daemon.port}`;
  const trusted = await runBlit(['trust', host, '--fingerprint', fingerprint], { env: clientEnv });
  assert.equal(trusted.status, 0, trusted.stderr);

  const refused = await runBlit(['copy', `${src}/`, `${host}:/a/dst`], { env: clientEnv });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /module 'a' does not admit identity/);
  assert.deepEqual(readdirSync(a), []);

  write([id]);
  await reload(daemon);
  const push = await runBlit(['copy', `${src}/`, `${host}:/a/dst`], { env: clientEnv });
  assert.equal(push.status, 0, push.stderr);
  assertSameTree(join(a, 'dst'), src);
});

test('SIGHUP: log_level applies at once; the reload itself is logged under the more verbose level', async (t) => {
  const { a, config } = setUp(t);
  const daemon = await startDaemon(t, ['--config', config]);
  const host = `127.0.0.1:${daemon.port}`;
  writeConfig(config, [{ name: 'a', path: a }], 'log_level = "warn"');
  await reload(daemon);
  const before = logLines(daemon).length;
  await moduleNames(daemon.port);
  // A refused call logs a warning: once it is in, an info line of the call before would be too.
  assert.equal((await runBlit(['ls', `${host}:/nothing`])).status, 1);
  await until('the warning of the refused ls', () =>
    logLines(daemon)
      .slice(before)
      .some((line) => line.msg === 'list'),
  );
  assert.deepEqual(
    logLines(daemon)
      .slice(before)
      .map((line) => [line.level, line.msg]),
    [[40, 'list']],
  );

  writeConfig(config, [{ name: 'a', path: a }], 'log_level = "info"');
  await reload(daemon);
  await moduleNames(daemon.port);
  await until('an info line for listModules again', () =>
    logLines(daemon).some((line) => line.msg === 'listModules'),
  );
});

test('SIGHUP between a Transfer call and its Open: a module the reload removed is refused', async (t) => {
  // The session begins at Open (up to 10 s after the call opens): it must see the configuration
  // of that moment, not the one the call started under.
  const { b, config } = setUp(t);
  writeConfig(config, [{ name: 'a', path: b }], 'metrics = "127.0.0.1:0"');
  const daemon = await startDaemon(t, ['--config', config]);
  const listening = logLines(daemon).find((line) => line.msg === 'listening');
  const metricsAt = String(listening?.metrics);
  const client = new BlitClient(`127.0.0.1:${daemon.port}`, credentials.createInsecure());
  t.after(() => client.close());
  const stream = client.transfer();
  const frames: TransferFrame[] = [];
  let ended = false;
  stream.on('data', (frame: TransferFrame) => frames.push(frame));
  stream.on('error', () => {
    ended = true;
  });
  stream.on('end', () => {
    ended = true;
  });
  t.after(() => stream.cancel());
  stream.write({ role: Role.ROLE_SOURCE, body: { $case: 'hello', value: localHello('blit') } });
  // The daemon counts the call as a session once its handler runs: the call is open there.
  await untilAsync('the call to reach the daemon', async () => {
    const text = await (await fetch(`http://${metricsAt}/metrics`)).text();
    return /^blitd_sessions_active 1$/m.test(text);
  });
  writeConfig(config, [{ name: 'other', path: b }], 'metrics = "127.0.0.1:0"');
  await reload(daemon);
  stream.write({ role: Role.ROLE_SOURCE, body: open('a', 'late') });
  await until(
    'the daemon to answer the Open',
    () => ended || frames.some((f) => f.body?.$case === 'error' || f.body?.$case === 'accept'),
  );
  const error = frames.find((f) => f.body?.$case === 'error');
  assert.ok(!frames.some((f) => f.body?.$case === 'accept'), 'no Accept for a removed module');
  assert.ok(
    error?.body?.$case === 'error' && /unknown module 'a'/.test(error.body.value.message),
    JSON.stringify(frames, (_key, value) => (typeof value === 'bigint' ? String(value) : value)),
  );
  assert.deepEqual(readdirSync(b), []);
});

/** As `until`, for a condition that has to ask something. */
async function untilAsync(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
