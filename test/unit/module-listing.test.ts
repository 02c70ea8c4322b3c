/**
 * A pull's source directories listed beneath the module (daemon/module-listing.ts): the addon's
 * encoded listing through the descriptor says what listBeneath says, and neither lists through a
 * link that leaves the module.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeInModule, listInModule } from '../../src/daemon/module-listing.js';
import type { FilterVerdict } from '../../src/engine/filter.js';
import { buildFilter } from '../../src/engine/filter.js';
import { LocalSource } from '../../src/engine/local-source.js';
import type { SourceEntry, SourceListing } from '../../src/engine/roles.js';
import { BeneathRoot } from '../../src/fsops/beneath.js';
import { entryFromStats } from '../../src/fsops/listing.js';
import { Role, TransferFrame } from '../../src/generated/blit.js';
import { toEncodedManifestFrames, toManifestBatches } from '../../src/protocol/manifest-wire.js';
import { type ManifestLister, manifestLister } from '../../src/protocol/native-manifest.js';
import { tempDir } from '../helpers.js';

const INCLUDE: FilterVerdict = { status: 'include', met: 3 };

function moduleRoot(t: { after(fn: () => void): void }, path: string): BeneathRoot {
  const root = BeneathRoot.open(path);
  assert.ok(root, 'the addon opens module roots');
  t.after(() => root.close());
  return root;
}

/** TOP/module/tree, opened as a module root at TOP/module, and TOP/outside holding one file. */
function moduleBesideOutside(
  t: { after(fn: () => void): void },
  outsideFile: string,
): { outside: string; tree: string; root: BeneathRoot } {
  const top = tempDir(t);
  const outside = join(top, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, outsideFile), 'outside the module, and longer than any file inside');
  const tree = join(top, 'module', 'tree');
  mkdirSync(tree, { recursive: true });
  return { outside, tree, root: moduleRoot(t, join(top, 'module')) };
}

function lister(): ManifestLister {
  const list = manifestLister('mirror');
  assert.ok(list, 'the addon lists manifests');
  return list;
}

function decoded(frames: Uint8Array[]): unknown[] {
  return frames.map((frame) => TransferFrame.decode(frame).body);
}

test("the encoded listing through the module's descriptor says what listBeneath says", (t) => {
  const top = tempDir(t);
  const dir = join(top, 'module', 'tree');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'a'), 'alpha');
  writeFileSync(join(dir, 'b b'), '');
  writeFileSync(join(dir, 'noted'), 'x');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', join(dir, 'noted')]);
  symlinkSync('a', join(dir, 'link'));
  const root = moduleRoot(t, join(top, 'module'));

  const listed = encodeInModule(root, 'tree', lister(), INCLUDE);
  assert.ok(listed.encoded, 'encoded');
  const contents = listInModule(root, 'tree');
  const listing: SourceListing = {
    rel: 'tree',
    dir: { ...entryFromStats('tree', lstatSync(dir, { bigint: true })), verdict: INCLUDE },
    entries: contents.entries.map((entry) => ({ ...entry, verdict: INCLUDE }) as SourceEntry),
    partial: false,
  };
  const viaJs = toManifestBatches(listing).map((batch) =>
    TransferFrame.encode({ role: Role.ROLE_SOURCE, body: { $case: 'manifest', value: batch } }).finish(),
  );
  const viaAddon = toEncodedManifestFrames(
    { ...listing, entries: listed.contents.entries as SourceEntry[] },
    listed.encoded,
    Role.ROLE_SOURCE,
  );
  assert.deepEqual(decoded(viaAddon), decoded(viaJs));
  assert.deepEqual(
    listed.contents.entries.map((e) => e.name),
    ['sub'],
  );
});

test('neither lists a directory through a link that leaves the module, last or on the way', (t) => {
  const top = tempDir(t);
  const outside = join(top, 'outside');
  mkdirSync(join(outside, 'inner'), { recursive: true });
  writeFileSync(join(outside, 'secret'), 'not for the peer');
  mkdirSync(join(top, 'module'));
  symlinkSync(outside, join(top, 'module', 'last'));
  symlinkSync('../outside', join(top, 'module', 'way'));
  const root = moduleRoot(t, join(top, 'module'));
  const seen: string[] = [];
  const list = lister();
  const spy: ManifestLister = (path, verdict) => {
    seen.push(path);
    return list(path, verdict);
  };
  for (const rel of ['last', 'way/inner']) {
    assert.throws(() => listInModule(root, rel), /outside the module|not a directory|symbolic link/, rel);
    assert.throws(
      () => encodeInModule(root, rel, spy, INCLUDE),
      /outside the module|not a directory|symbolic link/,
      rel,
    );
  }
  assert.deepEqual(seen, [], 'the addon was never asked to list');
});

test('the directory listed is the one opened, whatever a local writer swaps in at its path', (t) => {
  const { outside, tree, root } = moduleBesideOutside(t, 'secret');
  writeFileSync(join(tree, 'mine'), 'in the module');
  const list = lister();
  // Between the open beneath the module and the listing: the directory goes, a link to the outside takes its place.
  const swapping: ManifestLister = (path, verdict) => {
    renameSync(tree, `${tree}.moved`);
    symlinkSync(outside, tree);
    return list(path, verdict);
  };
  const listed = encodeInModule(root, 'tree', swapping, INCLUDE);
  assert.ok(listed.encoded);
  const batch = decoded(
    toEncodedManifestFrames({ rel: 'tree', entries: [], partial: false }, listed.encoded, Role.ROLE_SOURCE),
  )[0] as {
    value: { entries: { entry: { name: string } }[] };
  };
  assert.deepEqual(
    batch.value.entries.map((e) => e.entry.name),
    ['mine'],
  );
});

test('a directory the addon leaves to JavaScript is listed as listBeneath lists it', (t) => {
  const top = tempDir(t);
  const dir = join(top, 'module', 'linked');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'a'), 'one inode');
  linkSync(join(dir, 'a'), join(dir, 'b'));
  const root = moduleRoot(t, join(top, 'module'));
  const listed = encodeInModule(root, 'linked', lister(), INCLUDE);
  assert.equal(listed.encoded, undefined);
  assert.deepEqual(listed.contents, listInModule(root, 'linked'));
});

test("a rescan's entries are read beneath the module too, never through a directory swapped for a link", (t) => {
  const { outside, tree, root } = moduleBesideOutside(t, 'x');
  mkdirSync(join(tree, 'd'));
  writeFileSync(join(tree, 'd', 'x'), 'inside');
  const source = new LocalSource(
    { kind: 'tree', source: tree, target: '/nonexistent', contentsOnly: true, sourceInsideTarget: false },
    buildFilter({ include: [], exclude: [] }),
    (rel) => listInModule(root, rel === '' ? 'tree' : `tree/${rel}`),
  );
  assert.deepEqual(
    source.entriesOf('d', ['x']).map((e) => [e.name, e.size]),
    [['x', 6]],
  );
  // A local writer swaps the directory for a link to the outside; a peer asks for the entry again.
  renameSync(join(tree, 'd'), join(tree, 'd.moved'));
  symlinkSync(outside, join(tree, 'd'));
  assert.deepEqual(source.entriesOf('d', ['x']), []);
  assert.match(source.failures.at(-1)?.reason ?? '', /cannot read directory/);
});
