/**
 * The destination's side of a table of small files (transport/stream/fresh-files.ts FreshFiles),
 * with the addon and the destination faked: each file's bytes gathered once and landed with the
 * others of its directory; a directory gone meanwhile made again and each of its files landed once
 * more, a second time failing; owners and xattrs counted for the files landed only; a file the
 * source fails while it lands reported as the source's failure; a file sent another way handed to
 * the usual pending files; the session's held bytes all given back however each file ends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { FidelityTally } from '../../src/engine/fidelity.js';
import type { LocalDestination } from '../../src/engine/local-destination.js';
import type { FreshTableHandle, NativeAddon } from '../../src/fsops/native.js';
import { parentRel } from '../../src/fsops/rel-path.js';
import { ProtocolError } from '../../src/protocol/manifest-wire.js';
import { FreshFiles } from '../../src/transport/stream/fresh-files.js';
import { ByteBudget, SharedBudget } from '../../src/transport/tcp/byte-budget.js';
import { LandingJobs } from '../../src/transport/tcp/landing-jobs.js';
import { BackingHold } from '../../src/transport/tcp/landing-queue.js';

const ENOENT = 2;
const EIO = 5;
const EPERM = 1;
const NAMES = ['a', 'b', 'c'];

type Answer = (errnos: Int32Array, owners: Int32Array, xattrs: Int32Array) => void;

function setUp() {
  const landings: { dir: string; indices: number[]; views: string[]; answer: Answer }[] = [];
  const addon = {
    freshNeeds: () => [],
    freshEntry: (_table: unknown, i: number) => [NAMES[i], i + 1, 1, 0, 0o644, 5, 6, true, false],
    freshLand: (_table: unknown, dir: string, indices: Uint32Array, views: Uint8Array[], onDone: Answer) =>
      landings.push({
        dir,
        indices: [...indices],
        views: views.map((view) => Buffer.from(view).toString()),
        answer: onDone,
      }),
    errnoName: (errno: number) =>
      ({ [ENOENT]: 'ENOENT', [EIO]: 'EIO', [EPERM]: 'EPERM' })[errno] ?? 'EUNKNOWN',
  } as unknown as NativeAddon;
  const made: string[] = [];
  let opened = 0;
  const fidelity = new FidelityTally();
  const destination = {
    fs: {
      // The directory a file's path names.
      parentOf: (rel: string) => {
        opened++;
        return { path: (name: string) => `/made/${parentRel(rel)}/${name}`, close: () => opened-- };
      },
      makeDirs: (rel: string) => made.push(rel),
    },
    fidelity,
  } as unknown as LocalDestination;
  const shared = new SharedBudget();
  const events = { copied: [] as number[][], failed: [] as string[][], settled: 0, fatal: [] as string[] };
  const files = new FreshFiles(
    addon,
    destination,
    new BackingHold(new ByteBudget(() => {}, 1 << 30, shared)),
    new LandingJobs(),
    {
      copied: (count, bytes) => events.copied.push([count, bytes]),
      failed: (rel, reason, sourceSide) => events.failed.push([rel, reason, String(sourceSide)]),
      settled: (count) => {
        events.settled += count;
      },
      fatal: (rel) => events.fatal.push(rel),
    },
  );
  files.add(
    'd',
    undefined,
    { table: {} as FreshTableHandle, count: 3, bytes: 6, sizes: Float64Array.of(1, 2, 3) },
    10n,
    1,
  );
  /** File `id` sent whole in a batch, in `pieces` reads. */
  const send = (id: bigint, size: number, pieces = 1) => {
    assert.equal(files.begin(id, size, true), 'taken');
    const data = Buffer.alloc(size, 1);
    const cut = Math.floor(size / pieces);
    for (let at = 0, p = 0; p < pieces; p++, at += cut)
      files.data(id, data.subarray(at, p === pieces - 1 ? size : at + cut));
    files.done(id);
  };
  return { files, landings, made, fidelity, events, shared, opened: () => opened, send };
}

const ints = (...values: number[]) => Int32Array.from(values);

test('a directory gone meanwhile is made again and each file landed once more; owners and xattrs count for landed files', async () => {
  const { files, landings, made, fidelity, events, shared, opened, send } = setUp();
  send(10n, 1);
  send(11n, 2, 2);
  send(12n, 3);
  await turn();
  assert.deepEqual(
    landings.map((l) => [l.dir, l.indices]),
    [['/made/d/.', [0, 1, 2]]],
  );
  assert.equal(opened(), 1, 'the directory held open while the files land');
  // a lands (its owner given, no xattrs to set, its ACLs refused), b finds its directory gone, c
  // cannot be written (neither its owner nor its xattrs counted).
  landings[0]!.answer(
    ints(0, ENOENT, EIO),
    ints(0, EPERM, EPERM),
    ints(0, 0, 1, EPERM, 0, 0, 0, 0, 1, EPERM, 1, EPERM),
  );
  await turn();
  assert.equal(opened(), 1, 'closed, and opened again for b');
  assert.deepEqual(made, ['d']);
  assert.deepEqual(events.copied, [[1, 1]]);
  assert.deepEqual(events.failed, [['d/c', 'cannot write: input/output error', 'false']]);
  assert.deepEqual(
    landings.map((l) => l.indices),
    [[0, 1, 2], [1]],
    'b once more',
  );
  landings[1]!.answer(ints(ENOENT), ints(-1), new Int32Array(4));
  await turn();
  assert.equal(events.failed.length, 2, 'a second ENOENT fails b');
  assert.equal(events.failed[1]![0], 'd/b');
  assert.equal(events.settled, 3);
  assert.deepEqual(fidelity.report(), {
    owner: { applied: 1, failed: 0 },
    acls: { applied: 0, failed: 1, reason: 'not permitted (EPERM)' },
  });
  assert.equal(shared.bytes, 0, 'every held byte given back');
  assert.equal(opened(), 0);
  assert.equal(files.rows, 0, 'the table is let go once its files have all settled');
});

test('a file the source fails while it lands is its failure; one sent another way goes the usual way', async () => {
  const { files, landings, events, shared } = setUp();
  assert.equal(files.begin(10n, 1, true), 'taken');
  files.data(10n, Buffer.from('x'));
  files.done(10n);
  assert.equal(files.fail(10n, 'changed while it was copied'), true);
  assert.deepEqual(events.failed, [['d/a', 'changed while it was copied', 'true']]);
  await turn();
  landings[0]!.answer(ints(0), ints(0), new Int32Array(4));
  await turn();
  assert.deepEqual(events.copied, [], 'not counted as copied');
  // b arrives as blocks: handed to the pending files with its entry from the table.
  assert.equal(files.begin(11n, 2, false), 'usual');
  const handed = files.materialize(11n);
  assert.equal(handed?.rel, 'd/b');
  assert.deepEqual(
    [handed?.entry.size, handed?.entry.mtimeNs, handed?.entry.uid, handed?.entry.gid],
    [2, 1_000_000_000n, 5, 6],
  );
  assert.equal(files.begin(11n, 2, true), 'usual', 'the pending files answer for it now');
  // c sent twice: a protocol error; then the session ends with c in flight.
  assert.equal(files.begin(12n, 3, true), 'taken');
  assert.throws(() => files.begin(12n, 3, true), ProtocolError);
  files.data(12n, Buffer.from('ccc'));
  files.done(12n);
  files.close();
  await turn();
  assert.equal(landings.length, 1, 'nothing lands after the session');
  assert.equal(events.settled, 1);
  assert.equal(shared.bytes, 0, 'every held byte given back');
  assert.throws(() => files.begin(10n, 1, true), ProtocolError, 'a file settled is not sent again');
});

test('each file is landed once more on its own first ENOENT, whichever came before it', async () => {
  const { landings, made, events, shared, send } = setUp();
  send(10n, 1);
  await turn();
  landings[0]!.answer(ints(ENOENT), ints(-1), new Int32Array(4));
  await turn();
  landings[1]!.answer(ints(0), ints(-1), new Int32Array(4));
  await turn();
  // Later, b's directory is gone too: b is landed once more as a was.
  send(11n, 2);
  await turn();
  landings[2]!.answer(ints(ENOENT), ints(-1), new Int32Array(4));
  await turn();
  assert.deepEqual(
    landings.map((l) => l.indices),
    [[0], [0], [1], [1]],
  );
  landings[3]!.answer(ints(0), ints(-1), new Int32Array(4));
  await turn();
  assert.deepEqual(made, ['d', 'd']);
  assert.deepEqual(events.copied, [
    [1, 1],
    [1, 2],
  ]);
  assert.deepEqual(events.failed, []);
  assert.equal(shared.bytes, 0);
});

test('a file the source fails while its bytes are still coming is dropped, its bytes given back', async () => {
  const { files, landings, events, shared } = setUp();
  assert.equal(files.begin(12n, 3, true), 'taken');
  files.data(12n, Buffer.from('cc'));
  assert.equal(files.fail(12n, 'gone'), true);
  assert.deepEqual(events.failed, [['d/c', 'gone', 'true']]);
  assert.equal(events.settled, 1);
  // The rest of its bytes, still on their way: not taken, nothing lands.
  assert.equal(files.data(12n, Buffer.from('c')), false);
  assert.equal(files.done(12n), false);
  await turn();
  assert.equal(landings.length, 0);
  assert.equal(shared.bytes, 0);
  assert.throws(() => files.begin(12n, 3, true), ProtocolError, 'settled: not sent again');
});

test('a batch read whole: the files still asked for, at their sizes, are taken at once; the rest are left for begin', async () => {
  const { files, landings, events, shared } = setUp();
  // 99 (no table), 11 at a wrong length, 10 and 12 fit; then 12 again.
  const data = Buffer.from('xyyyabbbccc');
  const taken = files.takeBatch([99n, 11n, 10n, 12n, 12n], [1, 3, 1, 3, 3], data);
  assert.deepEqual([...taken!], [0, 0, 1, 1, 0]);
  assert.ok(shared.bytes > 0, 'the read buffer is held while they land');
  // Left as they were: 11 still asked for (begin decides), 12 taken (a second copy is sent twice).
  assert.equal(files.begin(11n, 3, true), 'usual');
  assert.throws(() => files.begin(12n, 3, true), ProtocolError);
  await turn();
  assert.deepEqual(
    landings.map((l) => [l.indices, l.views]),
    [
      [
        [0, 2],
        ['a', 'bbb'],
      ],
    ],
    'each taken file landed from its own bytes of the batch',
  );
  landings[0]!.answer(ints(0, 0), ints(-1, -1), new Int32Array(8));
  await turn();
  assert.deepEqual(events.copied, [[2, 4]]);
  assert.equal(events.settled, 2);
  assert.equal(shared.bytes, 0, 'given back once landed');
  // Settled: a batch naming them again takes nothing (begin then refuses them).
  assert.equal(files.takeBatch([10n, 12n], [1, 3], Buffer.from('xccc')), undefined);
  assert.throws(() => files.begin(10n, 1, true), ProtocolError);
});
