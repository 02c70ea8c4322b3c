/**
 * What the destination role allows a table of small files (transport/stream/fresh-files.ts): a
 * directory it made, or a root not there yet; not for a move, a dry run or size limits. A listing
 * with a table plans no deletions in a directory not known empty: the table's names are not among
 * its entries (a root something else made after it was found missing).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildFilter } from '../../src/engine/filter.js';
import { LocalDestination } from '../../src/engine/local-destination.js';
import type { SourceEntry, SourceListing } from '../../src/engine/roles.js';
import type { Operation, TransferOptions } from '../../src/engine/types.js';
import type { FreshTableHandle } from '../../src/fsops/native.js';
import { tempDir, transferOptions } from '../helpers.js';

const filter = buildFilter({ include: [], exclude: [] });
const table = { table: {} as FreshTableHandle, count: 1, bytes: 1, sizes: Float64Array.of(1), whole: false };

test('tables for a directory made here or a root not there yet; not for a move, a dry run or size limits', (t) => {
  const missing = join(tempDir(t), 'new');
  const take = (operation: Operation, more: Partial<TransferOptions> = {}) =>
    new LocalDestination(missing, filter, transferOptions(operation, more), () => {}).takesFreshFiles('');
  assert.equal(take('copy'), true);
  assert.equal(take('mirror'), true);
  assert.equal(take('move'), false);
  assert.equal(take('copy', { dryRun: true }), false);
  assert.equal(take('copy', { filter: { include: [], exclude: [], maxSize: 100 } }), false);
  assert.equal(take('copy', { filter: { include: [], exclude: [], minSize: 1 } }), false);
  const there = tempDir(t);
  const destination = new LocalDestination(there, filter, transferOptions('copy'), () => {});
  assert.equal(destination.takesFreshFiles(''), false, 'the root is there');
  const sub: SourceEntry = {
    name: 'sub',
    kind: 'dir',
    size: 0,
    mtimeNs: 0n,
    mode: 0o755,
    verdict: filter.root,
  };
  assert.equal(destination.takesFreshFiles('sub'), false, 'not made yet');
  destination.reconcile({ rel: '', entries: [sub], partial: false, verdict: filter.root });
  assert.equal(destination.takesFreshFiles('sub'), true, 'made by this run');
});

test('a listing with a table plans no deletions in a directory not known empty', (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'x'), 'made by someone else meanwhile');
  writeFileSync(join(root, 'z'), 'z');
  const listing: SourceListing = { rel: '', entries: [], partial: false, verdict: filter.root, fresh: table };
  const withTable = new LocalDestination(root, filter, transferOptions('mirror'), () => {});
  withTable.reconcile(listing);
  assert.deepEqual(withTable.candidates, []);
  // Without a table the same listing deletes both: the rule the table lifts here.
  const plain = new LocalDestination(root, filter, transferOptions('mirror'), () => {});
  plain.reconcile({ ...listing, fresh: undefined });
  assert.deepEqual(plain.candidates.map((c) => c.rel).sort(), ['x', 'z']);
});
