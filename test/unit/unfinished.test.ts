/**
 * A command whose work stops unfinished (its promise pending, nothing left to run) exits 1 with one
 * line, not 0 as Node would (cli/unfinished.ts); one that finishes exits as it says.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';

const MODULE = fileURLToPath(new URL('../../src/cli/unfinished.ts', import.meta.url));

/** Runs a command that `settles` or not under the guard, in a process of its own. */
function run(t: { after(fn: () => void): void }, settles: boolean) {
  const script = join(tempDir(t), 'command.ts');
  writeFileSync(
    script,
    [
      `import { failIfUnfinished } from ${JSON.stringify(MODULE)};`,
      // A wait nothing can end (an unref'd timer does not hold the process), or a short one.
      settles
        ? 'const command = new Promise((resolve) => setTimeout(resolve, 10));'
        : 'const command = new Promise((resolve) => setTimeout(resolve, 60_000).unref());',
      'failIfUnfinished(command, (line) => process.stderr.write(line));',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return spawnSync(process.execPath, [...process.execArgv, script], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

test('a command left waiting on nothing that can end it exits 1 with one line', (t) => {
  const result = run(t, false);
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stderr, 'blit: internal error: the command stopped with its work unfinished\n');
});

test('a command that finishes exits 0, with nothing said', (t) => {
  const result = run(t, true);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
});
