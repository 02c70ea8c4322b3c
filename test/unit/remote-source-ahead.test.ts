/**
 * The destination's comparisons started as listings arrive (transport/stream/remote-source.ts
 * compareAhead): at most MAX_AHEAD (8) unanswered at once, whatever a peer sends, each asked with the
 * root's verdict for a whole one-batch listing; beyond them a listing is compared when the session
 * reads it. A fake channel and a fake comparison that answers only when the test says.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFilter } from '../../src/engine/filter.js';
import type { FoundAsListed } from '../../src/fsops/native.js';
import { EntryKind, ManifestEntry, Role, TransferFrame } from '../../src/generated/blit.js';
import { decodeTransferFrame, type ReceivedBatch } from '../../src/protocol/received-manifest.js';
import type { FrameChannel } from '../../src/transport/frame-channel.js';
import { OwnWork } from '../../src/transport/own-work.js';
import { RemoteSource } from '../../src/transport/stream/remote-source.js';

/** A one-batch listing of `directory` with one file, as the destination receives it. */
function listing(directory: string, last = true): ReceivedBatch {
  const frame = TransferFrame.encode({
    role: Role.ROLE_SOURCE,
    body: {
      $case: 'manifest',
      value: {
        directory,
        directoryEntry: undefined,
        entries: [
          ManifestEntry.fromPartial({
            entry: { name: 'f', kind: EntryKind.ENTRY_KIND_FILE },
            filterStatus: 1,
          }),
        ],
        partial: false,
        last,
        unreadable: [],
      },
    },
  }).finish();
  const body = decodeTransferFrame(frame).body;
  assert.equal(body?.$case, 'manifest');
  return body.value as ReceivedBatch;
}

test('at most eight comparisons run ahead at once; each answer starts the next waiting', async () => {
  const channel = { closed: new Promise(() => {}), fail() {}, send() {} } as unknown as FrameChannel;
  const filter = buildFilter({ include: [], exclude: [] });
  const asked: { rel: string; verdict: unknown; answer: (same: FoundAsListed | undefined) => void }[] = [];
  const source = new RemoteSource(channel, filter, {
    numericIds: false,
    work: new OwnWork(),
    unchangedLater: (rel, verdict) =>
      new Promise((resolve) => {
        asked.push({ rel, verdict, answer: resolve });
      }),
  });
  for (let i = 0; i < 20; i++) source.take({ $case: 'manifest', value: listing(`d${i}`) });
  assert.equal(asked.length, 8, 'eight asked, twelve left for the session');
  assert.deepEqual(
    asked.map(({ rel }) => rel),
    ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7'],
  );
  assert.ok(
    asked.every(({ verdict }) => verdict === filter.root),
    "with the root's verdict",
  );

  // Two answered: the next two waiting start, in the order their listings came.
  asked[0]!.answer(undefined);
  asked[1]!.answer(undefined);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    asked.slice(8).map(({ rel }) => rel),
    ['d8', 'd9'],
  );
  // Each answer starts the next: all twenty, never more than eight at once.
  for (let i = 2; i < asked.length; i++) {
    assert.ok(asked.length - i <= 8);
    asked[i]!.answer(undefined);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(asked.length, 20);

  // Only a whole listing in one batch is asked ahead: not the batches of a larger one.
  source.take({ $case: 'manifest', value: listing('big', false) });
  source.take({ $case: 'manifest', value: listing('big', true) });
  assert.equal(asked.length, 20);
});

/** The frames of a source with `d/` at its root and one file in d, as the destination takes them. */
function sourceFrames(): Parameters<RemoteSource['take']>[0][] {
  const dir = ManifestEntry.fromPartial({
    entry: { name: 'd', kind: EntryKind.ENTRY_KIND_DIRECTORY },
    filterStatus: 1,
  });
  const root = listing('');
  root.raw = TransferFrame.encode({
    role: Role.ROLE_SOURCE,
    body: { $case: 'manifest', value: { ...root, entries: [dir], raw: undefined } as never },
  }).finish();
  const decoded = decodeTransferFrame(root.raw).body;
  assert.equal(decoded?.$case, 'manifest');
  return [
    { $case: 'manifest', value: decoded.value },
    { $case: 'manifest', value: listing('d') },
    { $case: 'manifestComplete', value: { scanComplete: true, entries: 2n, bytes: 0n } },
    { $case: 'sourceDone', value: { scanComplete: true, failures: [] } },
  ];
}

for (const still of [false, true]) {
  test(`an answer found equal at arrival is taken only if the directory is still the one listed (${still ? 'it is' : 'it is not'})`, async () => {
    const channel = { closed: new Promise(() => {}), fail() {}, send() {} } as unknown as FrameChannel;
    const calls: string[] = [];
    const found = { entries: 1, fileSizes: new Float64Array([0]), dirs: [], dev: 1n, ino: 2n };
    const source = new RemoteSource(channel, buildFilter({ include: [], exclude: [] }), {
      numericIds: false,
      work: new OwnWork(),
      unchanged: (rel) => {
        calls.push(`now ${rel}`);
        return undefined;
      },
      // As the destination's: never for the root.
      unchangedLater: (rel) => {
        calls.push(`later ${rel}`);
        return rel === '' ? undefined : Promise.resolve(found);
      },
      stillUnchanged: (rel, answer) => {
        calls.push(`still ${rel}`);
        assert.equal(answer, found);
        return still;
      },
    });
    // Every frame arrives before the session reads the first: d's is compared at once.
    for (const frame of sourceFrames()) source.take(frame);
    const listings = [];
    for await (const one of source.scan()) listings.push(one);
    const d = listings.find(({ rel }) => rel === 'd')!;
    if (still) {
      assert.deepEqual(d.unchanged?.count, 1, 'taken as found');
      assert.deepEqual(calls, ['later ', 'later d', 'now ', 'still d']);
    } else {
      assert.equal(d.unchanged, undefined, 'not taken: asked again, then decoded');
      assert.deepEqual(
        d.entries.map(({ name }) => name),
        ['f'],
      );
      assert.deepEqual(calls, ['later ', 'later d', 'now ', 'still d', 'now d']);
    }
  });
}
