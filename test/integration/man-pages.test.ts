/**
 * The committed man pages format without a single groff warning (-ww: every warning), as `man`
 * would show them. CI installs groff (groff-base) when it is missing; elsewhere the test says it
 * skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const PAGES = ['man/blit.1', 'man/blitd.8', 'man/blitd.toml.5'];
const root = fileURLToPath(new URL('../../', import.meta.url));

test('groff formats every man page with no warning', (t) => {
  if (spawnSync('sh', ['-c', 'command -v groff']).status !== 0) {
    t.skip('groff is not installed');
    return;
  }
  for (const page of PAGES) {
    const result = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', page], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, `${page}: ${result.stderr}`);
    assert.equal(result.stderr, '', page);
  }
});
