/**
 * The destination's plan for one entry (engine/plan-entry.ts), as a table of cases, without a
 * disk: each operation against each kind of entry it may meet at the destination.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildFilter, type FilterVerdict } from '../../src/engine/filter.js';
import { type EntryStep, planEntry, planExtras, planListing } from '../../src/engine/plan-entry.js';
import type { SourceEntry, SourceListing } from '../../src/engine/roles.js';
import type { CompareMode, Entry, FilterSpec, Operation, TransferOptions } from '../../src/engine/types.js';

const T = 1_700_000_000_123_456_789n;
const INCLUDE: FilterVerdict = { status: 'include', met: 3 };
const TRAVERSE: FilterVerdict = { status: 'traverse', met: 0 };

function entry(kind: Entry['kind'], over: Partial<SourceEntry> = {}): SourceEntry {
  const base: SourceEntry = {
    name: 'x',
    kind,
    size: kind === 'file' ? 100 : 0,
    mtimeNs: T,
    mode: 0o644,
    verdict: INCLUDE,
  };
  if (kind === 'symlink') base.linkTarget = 'target';
  return { ...base, ...over };
}

function options(
  operation: Operation,
  compare: CompareMode = 'default',
  limits: { maxSize?: number } = {},
): TransferOptions {
  return {
    operation,
    compare,
    filter: { include: [], exclude: [], ...limits },
    dryRun: false,
    deleteExcluded: false,
  };
}

const SKIP_NOT_LANDED: EntryStep = { kind: 'skip', landed: false, block: false };
const REFUSE_COPY: EntryStep = {
  kind: 'refuse',
  reason: 'destination is a directory and the source is not; copy does not replace it (mirror does)',
};

describe('planEntry', () => {
  const cases: [string, SourceEntry, Entry | undefined, TransferOptions, EntryStep][] = [
    // Entries that take no part.
    ['a socket or FIFO', entry('other'), undefined, options('copy'), SKIP_NOT_LANDED],
    [
      'a file over --max-size',
      entry('file', { size: 2000 }),
      undefined,
      options('copy', 'default', { maxSize: 1000 }),
      SKIP_NOT_LANDED,
    ],
    // New entries.
    ['a new file', entry('file'), undefined, options('copy'), { kind: 'need', hashFirst: false }],
    ['a new directory', entry('dir'), undefined, options('copy'), { kind: 'mkdir' }],
    ['a new link', entry('symlink'), undefined, options('copy'), { kind: 'link', landed: true }],
    // The same entry at the destination.
    [
      'an identical file',
      entry('file'),
      entry('file'),
      options('move'),
      { kind: 'skip', landed: true, block: false },
    ],
    [
      'an identical directory',
      entry('dir'),
      entry('dir'),
      options('copy'),
      { kind: 'skip', landed: false, block: false },
    ],
    [
      'a file with another mode',
      entry('file'),
      entry('file', { mode: 0o600 }),
      options('copy'),
      { kind: 'update' },
    ],
    [
      'a file with another size',
      entry('file'),
      entry('file', { size: 99 }),
      options('copy'),
      { kind: 'need', hashFirst: false },
    ],
    [
      '-c, equal sizes, same metadata',
      entry('file'),
      entry('file'),
      options('copy', 'checksum'),
      { kind: 'need', hashFirst: true, metadataMatches: true },
    ],
    [
      '-c, equal sizes, other mtime',
      entry('file'),
      entry('file', { mtimeNs: T - 10_000n }),
      options('copy', 'checksum'),
      { kind: 'need', hashFirst: true, metadataMatches: false },
    ],
    [
      'a link with another target',
      entry('symlink'),
      entry('symlink', { linkTarget: 'elsewhere' }),
      options('copy'),
      { kind: 'link', landed: true },
    ],
    // --ignore-existing keeps whatever is there, and a move keeps its source.
    [
      '--ignore-existing over a file',
      entry('file', { size: 5 }),
      entry('file'),
      options('move', 'ignore-existing'),
      { kind: 'skip', landed: false, block: false },
    ],
    [
      '--ignore-existing, a directory over a file',
      entry('dir'),
      entry('file'),
      options('copy', 'ignore-existing'),
      { kind: 'skip', landed: false, block: true },
    ],
    // Kinds in conflict: a mirror defers, copy and move replace a file or link, never a directory.
    [
      'mirror: a directory over a file',
      entry('dir'),
      entry('file'),
      options('mirror'),
      { kind: 'defer', candidate: 'file', block: true },
    ],
    [
      'mirror: a file over a directory',
      entry('file'),
      entry('dir'),
      options('mirror'),
      { kind: 'defer', candidate: 'dir', block: false },
    ],
    [
      'mirror: a link over a directory',
      entry('symlink'),
      entry('dir'),
      options('mirror'),
      { kind: 'defer', candidate: 'dir', block: false },
    ],
    ['copy: a file over a directory', entry('file'), entry('dir'), options('copy'), REFUSE_COPY],
    [
      'copy: a directory over a file',
      entry('dir'),
      entry('file'),
      options('copy'),
      { kind: 'replace', next: { kind: 'mkdir' } },
    ],
    [
      'copy: a directory over a link',
      entry('dir'),
      entry('symlink'),
      options('copy'),
      { kind: 'replace', next: { kind: 'mkdir' } },
    ],
    [
      'copy: a file over a link',
      entry('file'),
      entry('symlink'),
      options('copy'),
      { kind: 'need', hashFirst: false },
    ],
    [
      'copy: a link over a file',
      entry('symlink'),
      entry('file'),
      options('copy'),
      { kind: 'link', landed: true },
    ],
    // Directories only walked through (--include, --files-from).
    [
      'walked through, missing',
      entry('dir', { verdict: TRAVERSE }),
      undefined,
      options('copy'),
      { kind: 'walk-through', fresh: true },
    ],
    [
      'walked through, there',
      entry('dir', { verdict: TRAVERSE }),
      entry('dir'),
      options('copy'),
      { kind: 'walk-through', fresh: false },
    ],
    [
      'walked through, a file in the way (mirror)',
      entry('dir', { verdict: TRAVERSE }),
      entry('file'),
      options('mirror'),
      { kind: 'defer', candidate: 'file', block: true },
    ],
    [
      'walked through, a file in the way (copy)',
      entry('dir', { verdict: TRAVERSE }),
      entry('file'),
      options('copy'),
      { kind: 'replace', next: { kind: 'mkdir' } },
    ],
  ];
  for (const [name, source, dest, opts, expected] of cases) {
    test(name, () => assert.deepEqual(planEntry(source, dest, opts), expected));
  }
});

const NO_FILTER: FilterSpec = { include: [], exclude: [] };

describe('planExtras', () => {
  const existing = new Map<string, Entry>([
    ['kept', entry('file', { name: 'kept' })],
    ['gone.txt', entry('file', { name: 'gone.txt' })],
    ['gone.log', entry('file', { name: 'gone.log' })],
    ['old', entry('dir', { name: 'old' })],
  ]);
  // The directory's own verdict is the filters' (with --include, 'sub' is only walked through).
  const listing = (spec: FilterSpec, partial = false) => {
    const filter = buildFilter(spec);
    const verdict = filter.test('sub', true, filter.root);
    return {
      rel: 'sub',
      dir: entry('dir', { name: 'sub', verdict }),
      entries: [entry('file', { name: 'kept' })],
      partial,
    };
  };
  const mirror = (filter: Partial<FilterSpec> = {}, deleteExcluded = false): TransferOptions => ({
    ...options('mirror'),
    filter: { include: [], exclude: [], ...filter },
    deleteExcluded,
  });
  const plan = (opts: TransferOptions, partial = false) =>
    planExtras(listing(opts.filter, partial), existing, buildFilter(opts.filter), opts).map(
      (e) => `${e.kind} ${e.rel} ${e.verdict.status}`,
    );

  test('a mirror deletes what the source lacks', () => {
    assert.deepEqual(plan(mirror()), [
      'file sub/gone.txt include',
      'file sub/gone.log include',
      'dir sub/old include',
    ]);
  });
  test('copy and move delete nothing, nor does a partial listing', () => {
    assert.deepEqual(planExtras(listing(NO_FILTER), existing, buildFilter(NO_FILTER), options('copy')), []);
    assert.deepEqual(plan(mirror(), true), []);
  });
  test('excluded extras stay, unless --delete-excluded', () => {
    assert.deepEqual(plan(mirror({ exclude: ['*.log'] })), [
      'file sub/gone.txt include',
      'dir sub/old include',
    ]);
    assert.deepEqual(plan(mirror({ exclude: ['*.log'] }, true)), [
      'file sub/gone.txt include',
      'file sub/gone.log exclude',
      'dir sub/old include',
    ]);
  });
  test('with --include, a directory the source lacks is a candidate for what is selected inside it', () => {
    assert.deepEqual(plan(mirror({ include: ['*.txt'] })), [
      'file sub/gone.txt include',
      'dir sub/old traverse',
    ]);
  });
});

describe('planListing', () => {
  test("a mirror's listing against the destination's: needs, metadata fixes, deferred kinds and deletions", () => {
    const opts: TransferOptions = { ...options('mirror'), filter: { include: [], exclude: ['*.tmp'] } };
    const filter = buildFilter(opts.filter);
    const named = (name: string, e: SourceEntry) => ({ ...e, name, verdict: filter.root });
    const source: SourceListing = {
      rel: 'd',
      entries: [
        named('new', entry('file')),
        named('same', entry('file')),
        named('chmod', entry('file', { mode: 0o600 })),
        named('newer', entry('file', { mtimeNs: T + 5_000_000_000n })),
        named('was-file', entry('dir')),
      ],
      partial: false,
    };
    const existing = new Map<string, Entry>([
      ['same', { ...entry('file'), name: 'same' }],
      ['chmod', { ...entry('file'), name: 'chmod' }],
      ['newer', { ...entry('file'), name: 'newer' }],
      ['was-file', { ...entry('file'), name: 'was-file' }],
      ['gone', { ...entry('dir'), name: 'gone' }],
      ['keep.tmp', { ...entry('file'), name: 'keep.tmp' }],
    ]);
    const plan = planListing(source, existing, filter, opts);
    assert.deepEqual(
      plan.entries.map((p) => [p.rel, p.step.kind]),
      [
        ['d/new', 'need'],
        ['d/same', 'skip'],
        ['d/chmod', 'update'],
        ['d/newer', 'need'],
        ['d/was-file', 'defer'],
      ],
    );
    assert.deepEqual(plan.entries[4]!.step, { kind: 'defer', candidate: 'file', block: true });
    // The excluded name is spared; the one the source lacks goes.
    assert.deepEqual(
      plan.extras.map((extra) => [extra.rel, extra.kind]),
      [['d/gone', 'dir']],
    );
  });

  test('a copy of the same listing deletes nothing and replaces the file in the way of a directory', () => {
    const filter = buildFilter(NO_FILTER);
    const source: SourceListing = {
      rel: '',
      entries: [{ ...entry('dir'), name: 'was-file', verdict: filter.root }],
      partial: false,
    };
    const existing = new Map<string, Entry>([
      ['was-file', { ...entry('file'), name: 'was-file' }],
      ['gone', { ...entry('file'), name: 'gone' }],
    ]);
    const plan = planListing(source, existing, filter, options('copy'));
    assert.deepEqual(plan.entries[0]!.step, { kind: 'replace', next: { kind: 'mkdir' } });
    assert.deepEqual(plan.extras, []);
  });
});
