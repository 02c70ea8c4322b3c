import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildFilter } from '../../src/engine/filter.js';
import { LocalSource } from '../../src/engine/local-source.js';
import { nativeStatus } from '../../src/fsops/native.js';
import { type ManifestLister, manifestLister } from '../../src/protocol/native-manifest.js';
import { tempDir } from '../helpers.js';

// A remote session sends each listing as the walk yields it, but grpc-js writes to its socket only
// on a turn of the event loop: a walk that gave none for many listings kept its peer idle.
/** The walk's bound (engine/local-source.ts YIELD_EVERY), written out: a test bound on the constant itself would move with it. */
const BOUND = 64;

test('the walk gives the event loop a turn at least every 64 entries', async (t) => {
  await assertTurns(tempDir(t));
});

test("so does a push's walk whose entries the addon encodes (only its subdirectories are objects)", async (t) => {
  assert.match(nativeStatus(), /^native addon/);
  const list = manifestLister('mirror');
  assert.ok(list, 'the addon lists manifests');
  await assertTurns(tempDir(t), list);
});

async function assertTurns(root: string, list?: ManifestLister): Promise<void> {
  // Well over 512 entries: a walk that turned the loop only that often fails too.
  const dirs = 40;
  const perDir = 20;
  for (let d = 0; d < dirs; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < perDir; f++) writeFileSync(join(root, `d${d}`, `f${f}`), '');
  }
  const source = new LocalSource(
    { kind: 'tree', source: root, target: '/nonexistent', contentsOnly: true, sourceInsideTarget: false },
    buildFilter({ include: [], exclude: [] }),
  );
  // By path, as a pushing client lists (cli/remote-transfer.ts).
  if (list) source.encoder = (rel, verdict) => list(source.localPathOf(rel), verdict);
  let turns = 0;
  let waiting = false;
  const awaitTurn = () => {
    waiting = true;
    setImmediate(() => {
      turns++;
      waiting = false;
    });
  };
  awaitTurn();
  let sinceTurn = 0;
  let listed = 0;
  let turnsSeen = 0;
  for await (const listing of source.scan()) {
    if (!waiting) {
      // The loop had a turn since the last listing: count afresh.
      turnsSeen = turns;
      sinceTurn = 0;
      awaitTurn();
    }
    const entries = listing.encoded?.count ?? listing.entries.length;
    if (list) assert.ok(listing.encoded, 'every listing encoded');
    sinceTurn += entries + 1;
    listed += entries;
    assert.ok(
      sinceTurn <= BOUND + perDir + 1,
      `${sinceTurn} entries listed since the loop's last turn (bound ${BOUND})`,
    );
  }
  assert.equal(listed, dirs + dirs * perDir);
  assert.ok(turnsSeen >= Math.floor((dirs * (perDir + 1)) / (BOUND + perDir + 1)) - 1, `${turnsSeen} turns`);
}
