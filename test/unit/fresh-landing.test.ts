/**
 * The destination's side of a table of small files (transport/stream/fresh-files.ts FreshFiles),
 * with the addon and the destination faked: each file's bytes gathered once and landed with the
 * others of its directory; a directory gone meanwhile made again and each of its files landed once
 * more, a second time failing; owners and xattrs counted for the files landed only; a file the
 * source fails while it lands reported as the source's failure; a file sent another way handed to
 * the usual pending files; the session's held bytes all given back however each file ends. A table
 * that is its directory's whole listing lands in a staging directory renamed into place.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { FidelityTally } from '../../src/engine/fidelity.js';
import type { LocalDestination } from '../../src/engine/local-destination.js';
import { type FreshTableHandle, type NativeAddon, nativeAddon } from '../../src/fsops/native.js';
import { parentRel } from '../../src/fsops/rel-path.js';
import { ProtocolError } from '../../src/protocol/manifest-wire.js';
import { FreshFiles, MAX_HELD_STAGES } from '../../src/transport/stream/fresh-files.js';
import { ByteBudget, SharedBudget } from '../../src/transport/tcp/byte-budget.js';
import { LandingJobs } from '../../src/transport/tcp/landing-jobs.js';
import { BackingHold } from '../../src/transport/tcp/landing-queue.js';
import { tempDir } from '../helpers.js';

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
    { table: {} as FreshTableHandle, count: 3, bytes: 6, sizes: Float64Array.of(1, 2, 3), whole: false },
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

/** The staged tests place with the addon's own placeStaged (native/stage.cc), on real directories. */
const STAGED = { skip: nativeAddon() ? false : 'needs the addon (placeStaged)' };
const placeStaged: NativeAddon['placeStaged'] = (...args) => nativeAddon()!.placeStaged(...args);

/**
 * A destination's directories beside others under `root`, made and held open as
 * BeneathDestinationFs holds them (named through /proc/self/fd): those made, and those open now.
 */
function heldDirs(root: string) {
  const made: string[] = [];
  let open = 0;
  const openBeside = (path: string, name: string) => {
    const fd = openSync(
      join(root, parentRel(path), name),
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    );
    open++;
    return {
      path: (entry: string) => `/proc/self/fd/${fd}/${entry}`,
      close: () => {
        open--;
        closeSync(fd);
      },
    };
  };
  const makeBeside = (path: string, name: string) => {
    made.push(name);
    mkdirSync(join(root, parentRel(path), name));
    return openBeside(path, name);
  };
  return { made, open: () => open, makeBeside, openBeside };
}

/**
 * A table that is its directory's whole listing (`whole`), on a real directory: the addon faked to
 * land each file straight under its name where it is told (as native freshLand does when staged).
 */
function setUpStaged(t: { after(fn: () => void): void }, rel = 'd') {
  const root = tempDir(t, 'blit-staged-');
  /** `made`: the staging directories made (not taken again from those moved aside). */
  const { made, makeBeside, openBeside } = heldDirs(root);
  if (rel !== '') mkdirSync(join(root, rel));
  const landings: {
    dir: string;
    indices: number[];
    staged: boolean;
    answer: (leftBehind?: number[]) => void;
  }[] = [];
  const addon = {
    freshNeeds: () => [],
    freshEntry: (_table: unknown, i: number) => [NAMES[i], i + 1, 1, 0, 0o644, 5, 6, true, false],
    freshLand: (
      _table: unknown,
      dir: string,
      indices: Uint32Array,
      views: Uint8Array[],
      onDone: Answer,
      staged?: boolean,
    ) => {
      const landing = {
        dir,
        indices: [...indices],
        staged: staged === true,
        /** `leftBehind`: files whose landing fails (EIO) with a part left under their name. */
        answer: (leftBehind: number[] = []) => {
          const errnos = landing.indices.map((i, k) => {
            if (leftBehind.includes(i)) {
              writeFileSync(join(dir, NAMES[i]!), 'part');
              return EIO;
            }
            try {
              writeFileSync(join(dir, NAMES[i]!), views[k]!, { flag: 'wx' });
              return 0;
            } catch {
              return ENOENT;
            }
          });
          onDone(
            Int32Array.from(errnos),
            new Int32Array(indices.length).fill(-1),
            new Int32Array(4 * indices.length),
          );
        },
      };
      landings.push(landing);
    },
    errnoName: (errno: number) => ({ [ENOENT]: 'ENOENT', [EIO]: 'EIO' })[errno] ?? 'EUNKNOWN',
    placeStaged,
  } as unknown as NativeAddon;
  const destination = {
    fs: {
      parentOf: (path: string) => ({ path: (name: string) => join(root, parentRel(path), name), close() {} }),
      makeDirs: (path: string) => mkdirSync(join(root, path), { recursive: true }),
      makeBeside,
      openBeside,
      replaced: () => {},
    },
    fidelity: new FidelityTally(),
  } as unknown as LocalDestination;
  const shared = new SharedBudget();
  const events = { copied: [] as number[][], failed: [] as string[][], settled: 0 };
  const files = new FreshFiles(
    addon,
    destination,
    new BackingHold(new ByteBudget(() => {}, 1 << 30, shared)),
    new LandingJobs(),
    {
      copied: (count, bytes) => events.copied.push([count, bytes]),
      failed: (path, reason) => events.failed.push([path, reason]),
      settled: (count) => {
        events.settled += count;
      },
      fatal: () => {},
    },
  );
  files.add(
    rel,
    undefined,
    { table: {} as FreshTableHandle, count: 3, bytes: 6, sizes: Float64Array.of(1, 2, 3), whole: true },
    10n,
    1,
  );
  const send = (id: bigint, size: number) => {
    assert.equal(files.begin(id, size, true), 'taken');
    files.data(id, Buffer.alloc(size, String(id)));
    files.done(id);
  };
  /** The staging directories beside the directory (temp names). */
  const stages = () => readdirSync(join(root, parentRel(rel))).filter((name) => name.startsWith('.blit-'));
  return { root, files, landings, events, shared, send, stages, made };
}

test(
  'a table that is its whole directory fills a staging directory beside it, renamed into place once all are in',
  STAGED,
  async (t) => {
    const { root, files, landings, events, shared, send, stages } = setUpStaged(t);
    const made = statSync(join(root, 'd')).ino;
    send(10n, 1);
    send(11n, 2);
    await turn();
    assert.equal(landings.length, 1);
    const [stage] = stages();
    assert.ok(stage, 'a staging directory beside d');
    assert.equal(landings[0]!.staged, true, 'landed straight');
    assert.equal(statSync(landings[0]!.dir).ino, statSync(join(root, stage)).ino, 'in the staging directory');
    const staging = statSync(join(root, stage)).ino;
    landings[0]!.answer();
    await turn();
    assert.deepEqual(readdirSync(join(root, 'd')), [], 'nothing under d until every file is in');
    assert.deepEqual(events.copied, [[2, 3]], 'counted as they land (the progress goes on)');
    assert.equal(events.settled, 2);
    send(12n, 3);
    await turn();
    landings[1]!.answer();
    await turn();
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b', 'c']);
    assert.equal(readFileSync(join(root, 'd', 'b'), 'utf8'), '11');
    assert.equal(
      statSync(join(root, 'd')).ino,
      staging,
      'the staging directory itself, renamed into place at once',
    );
    // The empty d this session made traded names with the staging directory (not freed), for the
    // next staging directory here.
    const [aside] = stages();
    assert.equal(aside, stage);
    assert.equal(statSync(join(root, aside!)).ino, made, 'the empty directory d was');
    assert.deepEqual(readdirSync(join(root, aside!)), []);
    assert.deepEqual(events.copied, [
      [2, 3],
      [1, 3],
    ]);
    assert.deepEqual(events.failed, []);
    assert.equal(shared.bytes, 0);
    files.close();
    assert.deepEqual(stages(), [], 'what went aside is removed when the session ends');
  },
);

test(
  'a staged range one of whose files went the usual way: the directory is kept, the staged files join it',
  STAGED,
  async (t) => {
    const { root, files, landings, events, send, stages } = setUpStaged(t);
    const made = statSync(join(root, 'd')).ino;
    send(10n, 1);
    send(11n, 2);
    await turn();
    // c comes another way: the session's pending files write it into d through a descriptor of d
    // (BeneathDestinationFs pins it), unnamed until it is whole (O_TMPFILE), so d looks empty
    // while it is written; a d replaced meanwhile would leave that descriptor on the one set aside.
    assert.equal(files.materialize(12n)?.rel, 'd/c');
    const pinned = openSync(join(root, 'd'), constants.O_RDONLY | constants.O_DIRECTORY);
    t.after(() => closeSync(pinned));
    landings[0]!.answer();
    await turn();
    writeFileSync(`/proc/self/fd/${pinned}/c`, 'usual');
    assert.equal(statSync(join(root, 'd')).ino, made, 'd itself, never replaced');
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b', 'c']);
    assert.equal(readFileSync(join(root, 'd', 'b'), 'utf8'), '11');
    assert.equal(readFileSync(join(root, 'd', 'c'), 'utf8'), 'usual');
    assert.deepEqual(stages(), [], 'the emptied staging directory is gone');
    assert.deepEqual(events.failed, []);
  },
);

test(
  'a staged directory something else wrote into meanwhile: its files join it, never over what is there',
  STAGED,
  async (t) => {
    const { root, landings, events, send, stages } = setUpStaged(t);
    send(10n, 1);
    send(11n, 2);
    send(12n, 3);
    await turn();
    writeFileSync(join(root, 'd', 'x'), 'someone else');
    writeFileSync(join(root, 'd', 'b'), 'theirs');
    landings[0]!.answer();
    await turn();
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b', 'c', 'x']);
    assert.equal(readFileSync(join(root, 'd', 'b'), 'utf8'), 'theirs', 'never replaced');
    assert.equal(readFileSync(join(root, 'd', 'x'), 'utf8'), 'someone else');
    assert.deepEqual(events.copied, [[3, 6]], 'counted as they landed; b is reported besides');
    const [stage] = stages();
    assert.deepEqual(readdirSync(join(root, stage!)), ['b'], 'b left where it landed');
    assert.deepEqual(events.failed.length, 1);
    assert.equal(events.failed[0]![0], 'd/b');
    assert.match(events.failed[0]![1]!, new RegExp(`^cannot move into place: .*; left in ${stage}/b$`));
  },
);

test(
  'a session that ends with a staged directory half filled puts what landed into place',
  STAGED,
  async (t) => {
    const { root, files, landings, events, send, stages } = setUpStaged(t);
    send(10n, 1);
    await turn();
    landings[0]!.answer();
    await turn();
    send(11n, 2);
    await turn();
    // The session ends while b's landing is under way: it goes into place once that answers.
    files.close();
    assert.equal(stages().length, 1);
    landings[1]!.answer();
    await turn();
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b']);
    assert.deepEqual(stages(), []);
    assert.deepEqual(events.copied, [[1, 1]], 'a, counted as it landed; b answered after the session');
  },
);

for (const closed of [false, true])
  test(
    closed
      ? 'a session that ends while a staged landing fails with a part left: the part never goes under its name, what landed does'
      : 'a staged file whose landing failed and left a part under its name: the directory is kept, only the files that landed join it',
    STAGED,
    async (t) => {
      const { root, files, landings, events, send, stages } = setUpStaged(t);
      const made = statSync(join(root, 'd')).ino;
      send(10n, 1);
      send(11n, 2);
      send(12n, 3);
      await turn();
      if (closed) files.close();
      landings[0]!.answer([2]);
      await turn();
      assert.equal(statSync(join(root, 'd')).ino, made, 'd itself, never replaced');
      assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b'], 'c never under its name');
      assert.equal(readFileSync(join(root, 'd', 'b'), 'utf8'), '11');
      // Reported while the session runs (after it, nothing is).
      assert.deepEqual(events.failed, closed ? [] : [['d/c', 'cannot write: input/output error']]);
      // The part stays in the staging directory, under its temp name, for a later run to remove.
      const [stage] = stages();
      assert.ok(stage);
      assert.deepEqual(readdirSync(join(root, stage)), ['c']);
      files.close();
    },
  );

test('the root is never staged (its staging directory would be outside the transfer)', STAGED, async (t) => {
  const { root, landings, send, stages } = setUpStaged(t, '');
  send(10n, 1);
  await turn();
  assert.deepEqual([landings[0]!.dir, landings[0]!.staged], [join(root, '.'), false]);
  assert.deepEqual(stages(), []);
});

test(
  'a file the source fails while it lands in a staging directory settles only once that landing answers',
  STAGED,
  async (t) => {
    const { root, files, landings, events, send } = setUpStaged(t);
    send(10n, 1);
    send(11n, 2);
    send(12n, 3);
    await turn();
    assert.equal(files.fail(11n, 'changed while it was copied'), true);
    assert.deepEqual(events.failed, [['d/b', 'changed while it was copied']]);
    assert.equal(
      events.settled,
      0,
      'not settled while it lands: the session could finish before the directory is placed',
    );
    assert.throws(() => files.fail(11n, 'again'), ProtocolError);
    landings[0]!.answer();
    await turn();
    assert.equal(events.settled, 3);
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b', 'c'], 'placed, b as it landed');
    assert.deepEqual(events.copied, [[2, 4]], 'b not counted');
  },
);

test('a session that ends with nothing landing places what landed and counts it', STAGED, async (t) => {
  const { root, files, landings, events, send, stages } = setUpStaged(t);
  send(10n, 1);
  await turn();
  landings[0]!.answer();
  await turn();
  files.close();
  assert.deepEqual(readdirSync(join(root, 'd')), ['a']);
  assert.deepEqual(stages(), []);
  assert.deepEqual(events.copied, [[1, 1]]);
});

test(
  "a staging directory's name swapped for a link: nothing is renamed through it, its files join the directory from the one held open",
  STAGED,
  async (t) => {
    const { root, landings, events, send, stages } = setUpStaged(t);
    mkdirSync(join(root, 'elsewhere'));
    writeFileSync(join(root, 'elsewhere', 'a'), 'not ours');
    send(10n, 1);
    send(11n, 2);
    send(12n, 3);
    await turn();
    landings[0]!.answer();
    const [stage] = stages();
    // Moved aside, and a link to another directory put under its name.
    renameSync(join(root, stage!), join(root, 'moved'));
    symlinkSync('elsewhere', join(root, stage!));
    await turn();
    // a, b, c are only in the directory the landing was held open on, whatever its name now.
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b', 'c']);
    assert.equal(readFileSync(join(root, 'd', 'a'), 'utf8'), '1');
    assert.equal(readFileSync(join(root, 'elsewhere', 'a'), 'utf8'), 'not ours', 'untouched');
    assert.ok(lstatSync(join(root, stage!)).isSymbolicLink(), 'the link is not renamed over d, nor removed');
    assert.deepEqual(readdirSync(join(root, 'moved')), [], 'emptied');
    assert.deepEqual(events.copied, [[3, 6]]);
  },
);

test(
  "a staging directory's name swapped for another empty directory: that one is neither placed nor removed",
  STAGED,
  async (t) => {
    const { root, landings, send, stages } = setUpStaged(t);
    send(10n, 1);
    send(11n, 2);
    send(12n, 3);
    await turn();
    landings[0]!.answer();
    const [stage] = stages();
    renameSync(join(root, stage!), join(root, 'moved'));
    mkdirSync(join(root, stage!));
    const theirs = statSync(join(root, stage!)).ino;
    await turn();
    assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['a', 'b', 'c']);
    assert.equal(statSync(join(root, stage!)).ino, theirs, 'the other directory is still there');
    assert.deepEqual(readdirSync(join(root, 'moved')), [], 'emptied');
  },
);

test(
  'at most MAX_HELD_STAGES staging directories are held at once; past them a table lands in its directory',
  STAGED,
  async (t) => {
    const root = tempDir(t, 'blit-staged-');
    const landings: { staged: boolean; answer: () => void }[] = [];
    const addon = {
      freshNeeds: () => [],
      freshEntry: (_table: unknown, i: number) => [NAMES[i], 1, 1, 0, 0o644, 5, 6, true, false],
      freshLand: (
        _table: unknown,
        dir: string,
        indices: Uint32Array,
        views: Uint8Array[],
        onDone: Answer,
        staged?: boolean,
      ) =>
        landings.push({
          staged: staged === true,
          answer: () => {
            indices.forEach((i, k) => {
              writeFileSync(join(dir, NAMES[i]!), views[k]!, { flag: 'wx' });
            });
            onDone(
              new Int32Array(indices.length),
              new Int32Array(indices.length).fill(-1),
              new Int32Array(4 * indices.length),
            );
          },
        }),
      placeStaged,
    } as unknown as NativeAddon;
    const held = heldDirs(root);
    const destination = {
      fs: {
        parentOf: (path: string) => ({
          path: (name: string) => join(root, parentRel(path), name),
          close() {},
        }),
        makeBeside: held.makeBeside,
        openBeside: held.openBeside,
        replaced: () => {},
      },
      fidelity: new FidelityTally(),
    } as unknown as LocalDestination;
    const files = new FreshFiles(
      addon,
      destination,
      new BackingHold(new ByteBudget(() => {}, 1 << 30, new SharedBudget())),
      new LandingJobs(),
      { copied: () => {}, failed: () => {}, settled: () => {}, fatal: () => {} },
    );
    // Tables of two one-byte files each; the source sends the first file of every table first.
    const tables = MAX_HELD_STAGES + 1;
    for (let d = 0; d < tables; d++) {
      mkdirSync(join(root, `d${d}`));
      const table = {
        table: {} as FreshTableHandle,
        count: 2,
        bytes: 2,
        sizes: Float64Array.of(1, 1),
        whole: true,
      };
      files.add(`d${d}`, undefined, table, BigInt(100 + 2 * d), 1);
    }
    const send = (id: number) => {
      assert.equal(files.begin(BigInt(id), 1, true), 'taken');
      files.data(BigInt(id), Buffer.from('x'));
      files.done(BigInt(id));
    };
    for (let d = 0; d < tables; d++) send(100 + 2 * d);
    await turn();
    for (const landing of landings.splice(0)) landing.answer();
    await turn();
    assert.equal(held.open(), MAX_HELD_STAGES, 'the cap held open, no more');
    assert.deepEqual(
      readdirSync(join(root, `d${MAX_HELD_STAGES}`)),
      ['a'],
      'past the cap: straight into its directory',
    );
    for (let d = 0; d < tables; d++) send(101 + 2 * d);
    await turn();
    for (const landing of landings.splice(0)) landing.answer();
    await turn();
    assert.equal(held.open(), 0, 'every staging directory placed and let go');
    for (let d = 0; d < tables; d++) assert.deepEqual(readdirSync(join(root, `d${d}`)).sort(), ['a', 'b']);
    files.close();
    assert.deepEqual(
      readdirSync(root).filter((name) => name.startsWith('.blit-')),
      [],
    );
  },
);

/**
 * Two tables of a parent, d's and e's (both their directories' whole listings): d's files all
 * sent and placed, so what d's place held is set aside; `sendE` sends e's files.
 */
async function siblingPlaced(t: { after(fn: () => void): void }) {
  const staged = setUpStaged(t);
  const { root, files, landings, send, stages } = staged;
  mkdirSync(join(root, 'e'));
  const e = {
    table: {} as FreshTableHandle,
    count: 3,
    bytes: 6,
    sizes: Float64Array.of(1, 2, 3),
    whole: true,
  };
  files.add('e', undefined, e, 20n, 1);
  for (const [id, size] of [
    [10n, 1],
    [11n, 2],
    [12n, 3],
  ] as const)
    send(id, size);
  await turn();
  landings[0]!.answer();
  await turn();
  const [aside] = stages();
  const sendE = async () => {
    for (const [id, size] of [
      [20n, 1],
      [21n, 2],
      [22n, 3],
    ] as const)
      send(id, size);
    await turn();
  };
  return { ...staged, aside: aside!, sendE };
}

test(
  'the next staging directory beside a placed one is the directory it moved aside: nothing freed, nothing made',
  STAGED,
  async (t) => {
    const { root, files, landings, stages, made, aside, sendE } = await siblingPlaced(t);
    const asideIno = statSync(join(root, aside)).ino;
    await sendE();
    assert.equal(made.length, 1, 'no second staging directory made');
    assert.equal(statSync(landings[1]!.dir).ino, asideIno, "e's files land in what was d's empty directory");
    landings[1]!.answer();
    await turn();
    assert.deepEqual(readdirSync(join(root, 'e')).sort(), ['a', 'b', 'c']);
    assert.equal(statSync(join(root, 'e')).ino, asideIno);
    files.close();
    assert.deepEqual(stages(), []);
    assert.deepEqual(readdirSync(root).sort(), ['d', 'e']);
  },
);

test(
  'a directory set aside that something was written into meanwhile is not taken again, nor removed',
  STAGED,
  async (t) => {
    const { root, files, landings, stages, made, aside, sendE } = await siblingPlaced(t);
    writeFileSync(join(root, aside, 'theirs'), 'written meanwhile');
    await sendE();
    assert.equal(made.length, 2, 'a second staging directory made');
    assert.notEqual(statSync(landings[1]!.dir).ino, statSync(join(root, aside)).ino);
    landings[1]!.answer();
    await turn();
    assert.deepEqual(readdirSync(join(root, 'e')).sort(), ['a', 'b', 'c']);
    files.close();
    assert.deepEqual(stages(), [aside], 'left where it is, with what was written into it');
    assert.deepEqual(readdirSync(join(root, aside)), ['theirs']);
  },
);
