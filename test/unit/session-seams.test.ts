/**
 * The session loop (engine/session.ts) through its three seams alone: a source role that is a list
 * of listings, a data path that writes the bytes it is asked for from memory, and the local
 * destination role on a temp directory. The rules the session itself owns — when a mirror may
 * delete, who removes a move's sources, what ends a session — hold whatever the transport.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DataPath, FileEvents } from '../../src/engine/data-path.js';
import { buildFilter } from '../../src/engine/filter.js';
import { type DeletionCandidate, LocalDestination, type Need } from '../../src/engine/local-destination.js';
import type { DeferredEntry, SourceEntry, SourceListing, SourceRole } from '../../src/engine/roles.js';
import { runTransfer } from '../../src/engine/session.js';
import type { Failure, Operation } from '../../src/engine/types.js';
import { tempDir, transferOptions } from '../helpers.js';

const T = 1_600_000_000_000_000_000n;
const filter = buildFilter({ include: [], exclude: [] });

function file(name: string, data: string): SourceEntry {
  return { name, kind: 'file', size: data.length, mtimeNs: T, mode: 0o644, verdict: filter.root };
}

function dir(name: string): SourceEntry {
  return { name, kind: 'dir', size: 0, mtimeNs: T, mode: 0o755, verdict: filter.root };
}

/** A source that is its listings; it records what the session asks of it. */
class ListedSource implements SourceRole {
  readonly failures: Failure[] = [];
  readonly removed: string[] = [];
  readonly skipped: string[] = [];
  constructor(
    private readonly listings: SourceListing[],
    public scanComplete = true,
  ) {}
  async *scan(): AsyncGenerator<SourceListing> {
    for (const listing of this.listings) {
      if (this.skipped.some((rel) => listing.rel === rel || listing.rel.startsWith(`${rel}/`))) continue;
      yield listing;
    }
  }
  async *scanAgain(_entries: readonly DeferredEntry[]): AsyncGenerator<SourceListing> {}
  skipSubtree(rel: string): void {
    this.skipped.push(rel);
  }
  remove(rel: string): Failure | undefined {
    this.removed.push(rel);
    return undefined;
  }
  removeEmptyDirectories(): Failure[] {
    return [];
  }
}

/** A data path that writes each file's bytes from memory, or fails it as told. */
class MemoryData implements DataPath {
  private events!: FileEvents;
  fatal: string | undefined;
  readonly asked: string[] = [];
  closedAs: string | undefined;
  constructor(
    private readonly destination: LocalDestination,
    private readonly contents: Map<string, string>,
    readonly removesMovedSources = false,
    private readonly failing: Map<string, { sourceSide: boolean; fatal?: boolean }> = new Map(),
  ) {}
  begin(events: FileEvents): void {
    this.events = events;
  }
  takesWhole(): boolean {
    return false;
  }
  planned(): void {}
  fetch(need: Need): undefined {
    this.asked.push(need.rel);
    const failure = this.failing.get(need.rel);
    if (failure) {
      if (failure.fatal) this.fatal ??= `${need.rel}: no space left on device`;
      this.events.failed({ path: need.rel, reason: 'cannot read' }, { sourceSide: failure.sourceSide });
      return undefined;
    }
    const data = this.contents.get(need.rel)!;
    writeFileSync(this.destination.pathOf(need.rel), data);
    this.events.copied(need.rel, data.length);
    return undefined;
  }
  flush(): undefined {
    return undefined;
  }
  walkEnded(scanned: () => void): void {
    scanned();
  }
  async drain(): Promise<void> {}
  abort(): void {}
  async close(how: string): Promise<void> {
    this.closedAs = how;
  }
}

/** A source of `a` (3 bytes) and `d/b` (2 bytes); the destination may hold `old` already. */
function setUp(t: { after(fn: () => void): void }, operation: Operation, withOld = true) {
  const root = tempDir(t);
  if (withOld) writeFileSync(join(root, 'old'), 'stale');
  const destination = new LocalDestination(root, filter, transferOptions(operation), () => {});
  const contents = new Map([
    ['a', 'aaa'],
    ['d/b', 'bb'],
  ]);
  const listings: SourceListing[] = [
    { rel: '', entries: [file('a', 'aaa'), dir('d')], partial: false },
    { rel: 'd', dir: dir('d'), entries: [file('b', 'bb')], partial: false },
  ];
  return { root, destination, contents, listings };
}

test('a copy lists, asks for what the destination needs, and counts what the data path reports', async (t) => {
  const { root, destination, contents, listings } = setUp(t, 'copy');
  const data = new MemoryData(destination, contents);
  const report = await runTransfer(new ListedSource(listings), destination, data, transferOptions('copy'));
  assert.deepEqual(data.asked, ['a', 'd/b']);
  assert.equal(readFileSync(join(root, 'd', 'b'), 'utf8'), 'bb');
  // Two files from the data path, one directory made by the destination itself.
  assert.equal(report.copied, 3);
  assert.equal(report.bytes, 5);
  assert.equal(report.failed, 0);
  assert.equal(data.closedAs, 'finished');
  assert.ok(existsSync(join(root, 'old')), 'a copy deletes nothing');
});

test('a mirror deletes only after a complete scan, once confirmed', async (t) => {
  const { root, destination, contents, listings } = setUp(t, 'mirror');
  const asked: DeletionCandidate[][] = [];
  const report = await runTransfer(
    new ListedSource(listings),
    destination,
    new MemoryData(destination, contents),
    transferOptions('mirror'),
    {
      confirmDeletions: async (candidates) => {
        asked.push(candidates);
        return true;
      },
    },
  );
  assert.deepEqual(
    asked.map((candidates) => candidates.map((c) => c.rel)),
    [['old']],
  );
  assert.equal(report.deleted, 1);
  assert.ok(!existsSync(join(root, 'old')));
});

test('a mirror whose source scan was incomplete deletes nothing and does not ask', async (t) => {
  const { root, destination, contents, listings } = setUp(t, 'mirror');
  let asked = 0;
  const report = await runTransfer(
    new ListedSource(listings, false),
    destination,
    new MemoryData(destination, contents),
    transferOptions('mirror'),
    {
      confirmDeletions: async () => {
        asked++;
        return true;
      },
    },
  );
  assert.equal(asked, 0);
  assert.equal(report.deletionsWithheld, 1);
  assert.ok(existsSync(join(root, 'old')));
});

test('a mirror whose data path could not read a source file deletes nothing', async (t) => {
  const { root, destination, contents, listings } = setUp(t, 'mirror');
  const failing = new Map([['d/b', { sourceSide: true }]]);
  const report = await runTransfer(
    new ListedSource(listings),
    destination,
    new MemoryData(destination, contents, false, failing),
    transferOptions('mirror'),
    { confirmDeletions: async () => true },
  );
  assert.equal(report.deletionsWithheld, 1);
  assert.deepEqual(
    report.failures.map((f) => f.path),
    ['d/b', '.'],
  );
  assert.ok(existsSync(join(root, 'old')));
});

test('a move removes each source file once its copy landed, unless the data path removes it itself', async (t) => {
  for (const removesMovedSources of [false, true]) {
    const { destination, contents, listings } = setUp(t, 'move', false);
    // `a` is at the destination already, equal: it has landed without being asked for.
    writeFileSync(destination.pathOf('a'), 'aaa');
    const source = new ListedSource(listings);
    const data = new MemoryData(destination, contents, removesMovedSources);
    utimesSync(destination.pathOf('a'), 1_600_000_000, 1_600_000_000);
    await runTransfer(source, destination, data, transferOptions('move'));
    assert.deepEqual(data.asked, ['d/b']);
    assert.deepEqual(source.removed.sort(), removesMovedSources ? ['a'] : ['a', 'd/b']);
  }
});

test('a data path that cannot write any more ends the session with its reason, deleting nothing', async (t) => {
  const { root, destination, contents } = setUp(t, 'mirror');
  contents.set('c', 'c');
  const listings: SourceListing[] = [
    { rel: '', entries: [file('a', 'aaa'), file('c', 'c')], partial: false },
  ];
  const failing = new Map([['a', { sourceSide: false, fatal: true }]]);
  const data = new MemoryData(destination, contents, false, failing);
  await assert.rejects(
    runTransfer(new ListedSource(listings), destination, data, transferOptions('mirror'), {
      confirmDeletions: async () => true,
    }),
    /a: no space left on device/,
  );
  // Nothing more was asked for after it.
  assert.deepEqual(data.asked, ['a']);
  assert.equal(data.closedAs, 'failed');
  assert.ok(existsSync(join(root, 'old')));
  assert.ok(!existsSync(join(root, 'c')));
});
