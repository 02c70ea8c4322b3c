/**
 * blit writes its summary and errors with plain fd writes (src/cli/stdio.ts): the terminal still
 * gets its progress line, /dev/null and files do not, and a reader that goes away ends the output
 * without an error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BLIT, read, tempDir, testConfigHome, writeFile } from '../helpers.js';

const hasScript = spawnSync('script', ['--version']).status === 0;
const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;

/**
 * A source of 20 files (too many for the inline path, which would block the display's timer), each
 * copy made 60 ms slower, so a run lasts over half a second.
 */
function slowSource(root: string): { src: string; env: NodeJS.ProcessEnv } {
  const src = join(root, 'src');
  for (let i = 0; i < 20; i++) writeFile(join(src, `f${i}`), `${i}\n`);
  return { src, env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), BLIT_TEST_HANG: 'copy-each:60' } };
}

test('on a terminal, a run shows its progress line, then the summary', (t) => {
  if (!hasScript) return t.skip('script (util-linux) not installed');
  const root = tempDir(t);
  const { src, env } = slowSource(root);
  const command = [process.execPath, BLIT, 'copy', `${src}/`, join(root, 'dst')].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /\r\x1b\[K. copy +\d+\/20 entries +[^\r]* of 50 B/, 'a progress line was drawn');
  assert.match(r.stdout, /blit copy: 20 copied, 0 unchanged, 0 failed/);
  assert.equal(read(join(root, 'dst', 'f19')), '19\n');
});

test('with stderr on /dev/null or a file there is no progress line: stdout holds the summary alone', (t) => {
  const root = tempDir(t);
  const { src, env } = slowSource(root);
  const outFile = join(root, 'out.txt');
  const errFile = join(root, 'err.txt');
  for (const errTo of ['/dev/null', errFile]) {
    const dst = join(root, `dst-${errTo === errFile ? 'file' : 'null'}`);
    const command = `${[process.execPath, BLIT, 'copy', `${src}/`, dst].map(quote).join(' ')} >${quote(outFile)} 2>${quote(errTo)}`;
    const r = spawnSync('sh', ['-c', command], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0);
    assert.match(readFileSync(outFile, 'utf8'), /^blit copy: 20 copied, 0 unchanged, 0 failed; [^\n]*\n$/);
    assert.equal(read(join(dst, 'f7')), '7\n');
  }
  assert.equal(readFileSync(errFile, 'utf8'), '');
});

test('when the reader of stdout has gone, the run still completes, exits 0 and prints no error', (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  writeFile(join(src, 'f'), 'payload\n');
  const dst = join(root, 'dst');
  const errFile = join(root, 'err.txt');
  const rcFile = join(root, 'rc.txt');
  // `true` has exited (closing the pipe's only reader) before blit starts.
  const command = `{ sleep 0.5; ${[process.execPath, BLIT, 'copy', '-v', `${src}/`, dst].map(quote).join(' ')} 2>${quote(errFile)}; echo $? >${quote(rcFile)}; } | true`;
  const r = spawnSync('sh', ['-c', command], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() },
    timeout: 60_000,
  });
  assert.equal(r.status, 0);
  assert.equal(readFileSync(rcFile, 'utf8'), '0\n');
  assert.equal(readFileSync(errFile, 'utf8'), '');
  assert.equal(read(join(dst, 'f')), 'payload\n');
});

test('a reader that is slow to take the -v listing holds the run up but is not a stall', (t) => {
  const root = tempDir(t);
  const src = join(root, 'src');
  // 2,000 lines of ~110 bytes: several times what a pipe holds, so blit waits on the reader for
  // 4 s, longer than the 1 s time-out plus the watchdog's 2 s grace before it ends the process.
  for (let i = 0; i < 2000; i++) writeFile(join(src, `d${i % 4}`, `${'long name '.repeat(10)}${i}`), 'x');
  const dst = join(root, 'dst');
  const rcFile = join(root, 'rc.txt');
  const command = `{ ${[process.execPath, BLIT, 'copy', '-v', `${src}/`, dst].map(quote).join(' ')}; echo $? >${quote(rcFile)}; } | { sleep 4; wc -l; }`;
  const r = spawnSync('sh', ['-c', command], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), BLIT_STALL_TIMEOUT_MS: '1000' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.stderr, '');
  assert.equal(readFileSync(rcFile, 'utf8'), '0\n');
  assert.equal(r.stdout.trim(), '2005', 'one line per file and directory, and the summary');
  assert.equal(read(join(dst, 'd3', `${'long name '.repeat(10)}1999`)), 'x');
});

test('after a run with a progress stream or a deletion question, pipes shared with the next command still block', (t) => {
  const root = tempDir(t);
  const { src, env } = slowSource(root);
  // --json --progress writes through Node's stderr stream, which makes the pipe non-blocking; `cat`
  // after blit shares that pipe and fails with EAGAIN unless blit's exit set it back.
  const copy = [process.execPath, BLIT, 'copy', '--json', '--progress', `${src}/`, join(root, 'dst')]
    .map(quote)
    .join(' ');
  const shared = spawnSync(
    'sh',
    ['-c', `{ ${copy} >/dev/null; head -c 2000000 /dev/zero | cat; } 2>&1 </dev/null | { sleep 1; wc -c; }`],
    { env, encoding: 'utf8', timeout: 60_000 },
  );
  assert.ok(
    Number(shared.stdout.trim()) >= 2_000_000,
    `cat wrote all its bytes after blit: ${shared.stdout}`,
  );
  // A mirror without --yes asks whether stdin is a terminal; the loop reads its next line after.
  for (const n of [1, 2]) writeFile(join(root, `m${n}`, 'extra'), 'x');
  const mirror = (n: string) =>
    `${[process.execPath, BLIT, 'mirror', `${src}/`].map(quote).join(' ')} ${quote(root)}/m${n} >/dev/null 2>&1`;
  const loop = spawnSync(
    'bash',
    [
      '-c',
      `{ sleep 0.3; echo 1; sleep 1; echo 2; } | while read n; do ${mirror('$n')}; echo "did $n $?"; done`,
    ],
    { env: { ...env, BLIT_TEST_HANG: '' }, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(loop.stdout, 'did 1 2\ndid 2 2\n', loop.stderr);
});
