/**
 * The daemon-wide budget of bytes held for landing (transport/tcp/byte-budget.ts), end to end:
 * four pushes at once (small files, which wait in memory for the landing threads) into a daemon
 * whose shared budget is far smaller than what they send make it stop and restart every session's
 * reading, and all four still land whole (no deadlock), with the budget back at zero once done.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/daemon/logger.js';
import { startServer } from '../../src/daemon/server.js';
import { SharedBudget } from '../../src/transport/tcp/byte-budget.js';
import { assertSameTree, tempDir, writeFile } from '../helpers.js';
import { runBlit } from './daemon-harness.js';

test('pushes at once past the shared budget all land whole; the budget drains to zero', async (t) => {
  const root = tempDir(t, 'blit-held-');
  const module = join(root, 'module');
  const src = join(root, 'src');
  for (let i = 0; i < 4; i++) writeFile(join(src, `large-${i}.bin`), Buffer.alloc(3 << 20, i + 1));
  for (let i = 0; i < 1500; i++) writeFile(join(src, 'small', `f${i}`), Buffer.alloc(4096, i % 251));
  writeFile(join(module, '.keep'), '');
  writeFile(join(module, '.keep'), '');
  const held = new SharedBudget(1 << 20);
  const running = await startServer(
    {
      bind: '127.0.0.1',
      port: 0,
      motd: '',
      logLevel: 'silent',
      modules: [{ name: 'm', path: module, readOnly: false, comment: '' }],
    },
    createLogger('silent'),
    { held },
  );
  t.after(() => running.stop());
  const pushes = await Promise.all(
    [0, 1, 2, 3].map((i) => runBlit(['copy', `${src}/`, `127.0.0.1:${running.port}:/m/push-${i}/`])),
  );
  for (const [i, result] of pushes.entries()) {
    assert.equal(result.status, 0, result.stderr);
    assertSameTree(join(module, `push-${i}`), src, { ignoreRootMtime: true });
  }
  t.diagnostic(`the shared budget stopped the sessions' reading ${held.stops} times`);
  assert.ok(held.stops > 0, 'the sessions went past the shared budget');
  assert.equal(held.bytes, 0, 'every byte held was given back');
});
