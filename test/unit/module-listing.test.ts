/**
 * A pull's source directories listed beneath the module (daemon/module-listing.ts): the addon's
 * encoded listing through the descriptor says what listBeneath says, and neither lists through a
 * link that leaves the module.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeInModule, listInModule } from '../../src/daemon/module-listing.js';
import type { FilterVerdict } from '../../src/engine/filter.js';
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

function lister(): ManifestLister {
  const list = manifestLister();
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
