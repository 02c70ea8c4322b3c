/**
 * The decoders of what a peer sends, fuzzed (fast-check): a manifest entry (protocol/manifest-wire.ts),
 * a relative path, and an Open's options (protocol/open-wire.ts). Whatever comes in, each either
 * refuses with a ProtocolError (never another error: that would be an INTERNAL for the peer and a
 * stack trace for a user) or returns a value within every bound the rest of blit relies on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { IdNames, isPeerIdName, MAX_ID_NAME_BYTES } from '../../src/fsops/id-map.js';
import {
  type CompareMode,
  type EntryKind,
  type FilterStatus,
  type Operation,
  Entry as WireEntry,
} from '../../src/generated/blit.js';
import {
  checkPeerRel,
  fromManifestEntry,
  MAX_FILE_SIZE,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  ProtocolError,
} from '../../src/protocol/manifest-wire.js';
import { fromWireOpen } from '../../src/protocol/open-wire.js';

const RUNS = 2000;
/** Names and paths built from the pieces that matter: separators, dots, NUL, long runs, non-ASCII. */
const piece = fc.constantFrom('a', 'é', '.', '..', '/', '\0', '\n', ' ', 'x'.repeat(200), '\u{1F600}');
const text = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(''));

function refusesOnlyWithProtocolError(run: () => void): boolean {
  try {
    run();
    return true;
  } catch (error) {
    if (error instanceof ProtocolError) return false;
    throw error;
  }
}

describe('wire decoders under random input', () => {
  test('a manifest entry: refused, or a single bounded name, a size in range, mode bits only', () => {
    fc.assert(
      fc.property(
        text,
        fc.integer({ min: 0, max: 7 }),
        fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
        fc.integer({ min: 0, max: 0xffffffff }),
        text,
        fc.integer({ min: -1, max: 3 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (name, kind, size, mode, linkTarget, status, met) => {
          const wire = {
            entry: WireEntry.fromPartial({
              name,
              kind: kind as EntryKind,
              size,
              mtimeNs: 0n,
              mode,
              linkTarget,
            }),
            filterStatus: status as FilterStatus,
            filterMet: met,
          };
          let decoded: ReturnType<typeof fromManifestEntry> | undefined;
          if (!refusesOnlyWithProtocolError(() => (decoded = fromManifestEntry(wire)))) return;
          const entry = decoded!;
          assert.ok(entry.name !== '' && entry.name !== '.' && entry.name !== '..');
          assert.ok(!entry.name.includes('/') && !entry.name.includes('\0'));
          assert.ok(Buffer.byteLength(entry.name) <= MAX_NAME_BYTES);
          assert.ok(entry.size >= 0 && entry.size <= MAX_FILE_SIZE && Number.isInteger(entry.size));
          assert.equal(entry.mode & ~0o7777, 0);
          if (entry.kind === 'symlink') {
            assert.ok(entry.linkTarget && !entry.linkTarget.includes('\0'));
            assert.ok(Buffer.byteLength(entry.linkTarget) <= MAX_PATH_BYTES);
          } else if (entry.kind !== 'file') assert.equal(entry.size, 0);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('owner names: refused unless bounded and printable; ids as sent, or mapped by a known name', () => {
    const here = IdNames.fromText('alice:x:2000:2000::/:/bin/sh\n', 'staff:x:60:\n');
    fc.assert(
      fc.property(
        fc.oneof(text, fc.constantFrom('', 'alice', 'staff')),
        fc.oneof(text, fc.constantFrom('', 'alice', 'staff')),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.boolean(),
        (user, group, id, numericIds) => {
          const wire = {
            entry: WireEntry.fromPartial({ name: 'f', kind: 1 as EntryKind, uid: id, gid: id, user, group }),
            filterStatus: 1 as FilterStatus,
            filterMet: 0,
          };
          let decoded: ReturnType<typeof fromManifestEntry> | undefined;
          const mapping = { here: () => here, numericIds };
          if (!refusesOnlyWithProtocolError(() => (decoded = fromManifestEntry(wire, false, mapping)))) {
            assert.ok(!isPeerIdName(user) || !isPeerIdName(group));
            return;
          }
          assert.ok(
            Buffer.byteLength(user) <= MAX_ID_NAME_BYTES && Buffer.byteLength(group) <= MAX_ID_NAME_BYTES,
          );
          assert.equal(decoded!.uid, !numericIds && user === 'alice' ? 2000 : id);
          assert.equal(decoded!.gid, !numericIds && group === 'staff' ? 60 : id);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('a relative path: refused, or relative, without . or .. components, NUL or a leading /', () => {
    fc.assert(
      fc.property(text, (rel) => {
        let checked: string | undefined;
        if (!refusesOnlyWithProtocolError(() => (checked = checkPeerRel(rel, 'test')))) return;
        assert.equal(checked, rel);
        assert.ok(!rel.startsWith('/') && !rel.includes('\0'));
        assert.ok(Buffer.byteLength(rel) <= MAX_PATH_BYTES);
        if (rel !== '')
          for (const part of rel.split('/')) assert.ok(part !== '' && part !== '.' && part !== '..', rel);
      }),
      { numRuns: RUNS },
    );
  });

  test("an Open's options: refused, or a known operation and compare mode and a filter that compiled", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: 6 }),
        fc.integer({ min: -1, max: 6 }),
        fc.option(
          fc.record({
            include: fc.array(text, { maxLength: 4 }),
            exclude: fc.array(fc.oneof(text, fc.constantFrom('[', '**', '*.{a,', '\\')), { maxLength: 4 }),
            filesFrom: fc.array(text, { maxLength: 4 }),
            hasFilesFrom: fc.boolean(),
            minSize: fc.option(fc.bigInt({ min: 0n, max: 1n << 64n }), { nil: undefined }),
            maxSize: fc.option(fc.bigInt({ min: 0n, max: 1n << 64n }), { nil: undefined }),
            deleteExcluded: fc.boolean(),
          }),
          { nil: undefined },
        ),
        fc.boolean(),
        (operation, compare, filter, dryRun) => {
          let decoded: ReturnType<typeof fromWireOpen> | undefined;
          const open = { operation: operation as Operation, compare: compare as CompareMode, filter, dryRun };
          if (!refusesOnlyWithProtocolError(() => (decoded = fromWireOpen(open)))) return;
          const { options, filter: built } = decoded!;
          assert.ok(['copy', 'mirror', 'move'].includes(options.operation));
          assert.equal(typeof built.test, 'function');
          for (const rel of options.filter.filesFrom ?? []) assert.equal(checkPeerRel(rel, 'again'), rel);
          for (const limit of [options.filter.minSize, options.filter.maxSize])
            if (limit !== undefined) assert.ok(limit >= 0 && limit <= MAX_FILE_SIZE);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
