/** The mirror's deletion prompt on a real terminal (a pseudo-terminal from util-linux's `script`). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BLIT, tempDir, testConfigHome, writeFile } from '../helpers.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs blit on a pseudo-terminal, typing `answer` at it. */
function onTerminal(args: string[], answer: string): { status: number; output: string } {
  const command = [process.execPath, BLIT, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const result = spawnSync('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() },
    input: answer,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status ?? -1, output: result.stdout };
}

function trees(root: string): { src: string; dst: string } {
  const src = join(root, 'src');
  const dst = join(root, 'dst');
  writeFile(join(src, 'keep'), 'k');
  writeFile(join(dst, 'extra one'), 'x');
  writeFile(join(dst, 'old', 'extra two'), 'y');
  return { src, dst };
}

test('on a terminal, mirror lists what it will delete and deletes on "y"', (t) => {
  if (!hasScript) return t.skip('script (util-linux) not installed');
  const { src, dst } = trees(tempDir(t));
  const result = onTerminal(['mirror', `${src}/`, `${dst}/`], 'y\n');
  assert.equal(result.status, 0, result.output);
  assert.match(result.output, /mirror will delete 2 entries from .*dst:/);
  assert.match(result.output, /extra one/);
  assert.match(result.output, /old\//);
  assert.equal(existsSync(join(dst, 'extra one')), false);
  assert.equal(existsSync(join(dst, 'old')), false);
  assert.equal(existsSync(join(dst, 'keep')), true);
});

test('on a terminal, any answer but yes deletes nothing and exits 2', (t) => {
  if (!hasScript) return t.skip('script (util-linux) not installed');
  const { src, dst } = trees(tempDir(t));
  const result = onTerminal(['mirror', `${src}/`, `${dst}/`], 'n\n');
  assert.equal(result.status, 2, result.output);
  assert.match(result.output, /2 deletion\(s\) withheld: not confirmed/);
  assert.equal(existsSync(join(dst, 'extra one')), true);
  assert.equal(existsSync(join(dst, 'old', 'extra two')), true);
  assert.equal(existsSync(join(dst, 'keep')), true, 'the copy itself still happened');
});

test('on a terminal, Ctrl+C at the prompt deletes nothing and exits 130', (t) => {
  if (!hasScript) return t.skip('script (util-linux) not installed');
  const { src, dst } = trees(tempDir(t));
  // Typed a second after the start: typed at once, before script has its child running on the
  // pseudo-terminal, the Ctrl+C reached no process here, and blit then waited at its prompt.
  const command = [process.execPath, BLIT, 'mirror', `${src}/`, `${dst}/`]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(' ');
  const result = spawnSync('sh', ['-c', `(sleep 1; printf '\\003') | script -qec "${command}" /dev/null`], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 130, result.stdout);
  assert.match(result.stdout, /blit: interrupted \(SIGINT\)/);
  assert.equal(existsSync(join(dst, 'extra one')), true);
  assert.equal(existsSync(join(dst, 'old', 'extra two')), true);
});
