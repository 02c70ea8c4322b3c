/** blitd start-up and shutdown: quick start, refused configs (with their line), signals, busy ports. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers.js';
import { runBlit, runBlitdSync, startDaemon } from './daemon-harness.js';

test('blitd --root DIR exports DIR as module default; SIGINT stops it cleanly', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'f'), 'x');
  const daemon = await startDaemon(t, ['--root', root]);
  const result = await runBlit(['list-modules', `127.0.0.1:${daemon.port}`]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'default  rw  exported by blitd --root\n');
  const listing = await runBlit(['ls', `127.0.0.1:${daemon.port}:/default`]);
  assert.match(listing.stdout, /^file +1 B +\S+ \S+ +f\n$/);
  assert.equal(await daemon.stop('SIGINT'), 0);
  const log = daemon.log();
  assert.match(log, /"signal":"SIGINT","msg":"stopping"/);
  assert.match(log, /"msg":"stopped"/);
});

test('a bad config is refused in one line naming the file and line', (t) => {
  const root = tempDir(t);
  const config = join(root, 'blitd.toml');
  mkdirSync(join(root, 'a'));
  const cases: [string, string][] = [
    ['[daemon]\nport = 9031\nverbose = true\n', `blitd: ${config}:3: unknown key 'verbose' in [daemon]`],
    [
      '[[module]]\nname = "a"\npath = "missing"\n',
      `blitd: ${config}:3: module 'a': ${join(root, 'missing')}: no such file or directory`,
    ],
    [
      '[[module]]\nname = "a"\npath = "a"\n[[module]]\nname = "a"\npath = "a"\n',
      `blitd: ${config}:5: duplicate module name 'a' (first defined on line 2)`,
    ],
    ['[daemon]\n', `blitd: ${config}: no [[module]] defined; nothing to export`],
  ];
  for (const [text, message] of cases) {
    writeFileSync(config, text);
    const result = runBlitdSync(['--config', config, '--port', '0']);
    assert.equal(result.status, 1, text);
    assert.equal(result.stderr.split('\n').length, 2, result.stderr);
    assert.ok(result.stderr.startsWith(message), `${result.stderr} does not start with ${message}`);
    assert.equal(result.stdout, '');
  }
});

test('a missing config, a missing --root and a bad --port are refused in one line', (t) => {
  const root = tempDir(t);
  const missing = runBlitdSync(['--config', join(root, 'nope.toml')]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, `blitd: ${join(root, 'nope.toml')}: no such file or directory\n`);
  const noRoot = runBlitdSync(['--root', join(root, 'nope')]);
  assert.equal(noRoot.status, 1);
  assert.equal(noRoot.stderr, `blitd: --root ${join(root, 'nope')}: no such file or directory\n`);
  const badPort = runBlitdSync(['--root', root, '--port', 'http']);
  assert.equal(badPort.status, 1);
  assert.match(badPort.stderr, /^blitd: option '--port <port>' argument 'http' is invalid/);
});

test('a port already in use is refused in one line', async (t) => {
  const root = tempDir(t);
  const busy = createServer();
  busy.listen(0, '127.0.0.1');
  await once(busy, 'listening');
  t.after(() => busy.close());
  const address = busy.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const { spawn } = await import('node:child_process');
  const { BLITD } = await import('./daemon-harness.js');
  const child = spawn(process.execPath, [BLITD, '--root', root, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 1);
  assert.equal(stderr, `blitd: cannot listen on 127.0.0.1:${port}: address already in use\n`);
});
