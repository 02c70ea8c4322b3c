/**
 * Transfer frames as the destination decodes them (protocol/received-manifest.ts): whatever the
 * bytes, the frame and its entries (once asked for) equal what the generated decoder makes of the
 * same bytes, or this side refuses them: both, or a record that does not hold exactly one entry
 * (the generated decoder reads on past it as the batch's own fields), which is refused here as a
 * protocol error. A manifest batch's entries are kept as the bytes they came in until asked for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import {
  EntryKind,
  type ManifestBatch,
  ManifestEntry,
  Role,
  TransferFrame,
} from '../../src/generated/blit.js';
import { ProtocolError } from '../../src/protocol/manifest-wire.js';
import { decodeTransferFrame, entriesOf, type ReceivedBatch } from '../../src/protocol/received-manifest.js';

const entry = fc
  .record({
    name: fc.string({ minLength: 1, maxLength: 12 }),
    kind: fc.constantFrom(
      EntryKind.ENTRY_KIND_FILE,
      EntryKind.ENTRY_KIND_DIRECTORY,
      EntryKind.ENTRY_KIND_SYMLINK,
    ),
    size: fc.bigInt({ min: 0n, max: 1n << 40n }),
    mtimeNs: fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
    user: fc.string({ maxLength: 8 }),
    filterMet: fc.integer({ min: 0, max: 7 }),
  })
  .map(({ filterMet, ...fields }) =>
    ManifestEntry.fromPartial({ entry: { ...fields, gid: fields.uid }, filterStatus: 1, filterMet }),
  );

const batch = fc.record({
  directory: fc.string({ maxLength: 20 }),
  directoryEntry: fc.option(entry, { nil: undefined }),
  entries: fc.array(entry, { maxLength: 8 }),
  partial: fc.boolean(),
  last: fc.boolean(),
  unreadable: fc.array(
    fc.record({ path: fc.string({ maxLength: 8 }), reason: fc.string({ maxLength: 8 }) }),
    {
      maxLength: 2,
    },
  ),
}) as fc.Arbitrary<ManifestBatch>;

/** What each decoder makes of `bytes`: the frame with its entries decoded, or 'refused'. */
function outcomes(bytes: Uint8Array): { generated: unknown; received: unknown } {
  const generated = attempt(() => TransferFrame.decode(bytes));
  const received = attempt(() => {
    const frame = decodeTransferFrame(bytes);
    if (frame.body?.$case === 'manifest') {
      const value = frame.body.value as ReceivedBatch;
      const entries = [...entriesOf(value)];
      assert.equal(value.raw, undefined, 'the raw entries go once decoded');
      // What the manifest's window counts: the whole frame, as it came.
      assert.equal(value.wireBytes, bytes.length);
      delete value.raw;
      delete value.rawEntries;
      delete value.wireBytes;
      value.entries = entries;
    }
    return frame;
  });
  return { generated, received };
}

/** As the generated decoder, or refused here with a ProtocolError (refusedHere). */
function agree(bytes: Uint8Array): void {
  const { generated, received } = outcomes(bytes);
  if (received === refusedHere) return;
  assert.deepEqual(received, generated, Buffer.from(bytes).toString('hex'));
}

const refusedHere = 'refused here';

function attempt(decode: () => unknown): unknown {
  try {
    return decode();
  } catch (error) {
    return error instanceof ProtocolError ? refusedHere : 'refused';
  }
}

test('a manifest frame decodes as the generated decoder decodes it, its entries once asked for', () => {
  fc.assert(
    fc.property(batch, fc.constantFrom(Role.ROLE_SOURCE, Role.ROLE_DESTINATION, 0), (value, role) => {
      const bytes = TransferFrame.encode({ role, body: { $case: 'manifest', value } }).finish();
      const frame = decodeTransferFrame(bytes);
      assert.equal(frame.body?.$case, 'manifest');
      const received = frame.body.value as ReceivedBatch;
      assert.deepEqual(received.entries, [], 'not decoded before asked for');
      assert.ok(received.raw, 'kept raw');
      assert.equal(received.rawEntries, value.entries.length);
      assert.deepEqual([...entriesOf(received)], value.entries);
      const { generated, received: whole } = outcomes(bytes);
      assert.deepEqual(whole, generated);
    }),
    { numRuns: 300 },
  );
});

test('entries in several runs between other fields are decoded in the order they came', () => {
  fc.assert(
    fc.property(
      fc.array(entry, { minLength: 2, maxLength: 6 }),
      fc.string({ maxLength: 10 }),
      (entries, directory) => {
        // entry, directory, entry, last, the rest: fields in any order, a repeated one in several runs.
        const body = new BinaryWriter();
        ManifestEntry.encode(entries[0]!, body.uint32(26).fork()).join();
        body.uint32(10).string(directory);
        ManifestEntry.encode(entries[1]!, body.uint32(26).fork()).join();
        body.uint32(40).bool(true);
        for (const rest of entries.slice(2)) ManifestEntry.encode(rest, body.uint32(26).fork()).join();
        const bytes = new BinaryWriter()
          .uint32(8)
          .int32(Role.ROLE_SOURCE)
          .uint32(42)
          .bytes(body.finish())
          .finish();
        const frame = decodeTransferFrame(bytes);
        assert.equal(frame.body?.$case, 'manifest');
        const received = frame.body.value as ReceivedBatch;
        assert.equal(received.directory, directory);
        assert.equal(received.last, true);
        assert.deepEqual([...entriesOf(received)], entries);
        assert.deepEqual(outcomes(bytes).received, outcomes(bytes).generated);
      },
    ),
    { numRuns: 200 },
  );
});

test('other frames, frames of other shapes and any bytes: decoded or refused as the generated decoder does', () => {
  const value: ManifestBatch = {
    directory: 'd',
    directoryEntry: undefined,
    entries: [
      ManifestEntry.fromPartial({ entry: { name: 'a', kind: EntryKind.ENTRY_KIND_FILE }, filterStatus: 1 }),
    ],
    partial: false,
    last: true,
    unreadable: [],
  };
  const manifest = TransferFrame.encode({
    role: Role.ROLE_SOURCE,
    body: { $case: 'manifest', value },
  }).finish();
  const shapes: Uint8Array[] = [
    TransferFrame.encode(
      TransferFrame.fromPartial({
        role: Role.ROLE_SOURCE,
        body: { $case: 'manifestComplete', value: { entries: 3n } },
      }),
    ).finish(),
    TransferFrame.encode({ role: Role.ROLE_SOURCE, body: undefined }).finish(),
    // Role twice, manifest twice, an unknown field in the frame and in the batch, a group end.
    Buffer.concat([Buffer.from([8, 1]), manifest]),
    Buffer.concat([manifest, manifest]),
    Buffer.concat([manifest, Buffer.from([0xf8, 0x01, 0x05])]),
    new BinaryWriter()
      .uint32(42)
      .bytes(Buffer.from([0x38, 0x01, 0x0a, 0x01, 0x78]))
      .finish(),
    new BinaryWriter()
      .uint32(42)
      .bytes(Buffer.from([0x0c]))
      .finish(),
    // An entry whose length runs past the batch, and past the frame.
    new BinaryWriter()
      .uint32(42)
      .bytes(Buffer.from([0x1a, 0x05, 0x0a, 0x01]))
      .finish(),
    Buffer.from([0x2a, 0x04, 0x1a, 0x09, 0x0a]),
  ];
  for (const bytes of shapes) {
    const { generated, received } = outcomes(bytes);
    assert.deepEqual(received, generated, Buffer.from(bytes).toString('hex'));
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (random) => {
      // Random bytes, inside a manifest field (the batch decoder's path) and inside an entry record.
      for (const bytes of [
        random,
        new BinaryWriter().uint32(42).bytes(random).finish(),
        new BinaryWriter().uint32(42).bytes(new BinaryWriter().uint32(26).bytes(random).finish()).finish(),
      ])
        agree(bytes);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(batch, fc.nat(), (value, cut) => {
      const bytes = TransferFrame.encode({
        role: Role.ROLE_SOURCE,
        body: { $case: 'manifest', value },
      }).finish();
      agree(bytes.subarray(0, cut % (bytes.length + 1)));
    }),
    { numRuns: 500 },
  );
});

test('a record that is not exactly one entry is refused as a protocol error, not read on past', () => {
  for (const hex of [
    // An end-group tag inside the record: the generated decoder stops there and reads the record's
    // rest as the batch's fields (here `last`), or as a second entry.
    '2a051a030c2801',
    '2a051a030c2800',
    // A nested length running past the record's end.
    '2a061a020a022801',
  ]) {
    const bytes = Buffer.from(hex, 'hex');
    const frame = decodeTransferFrame(bytes);
    assert.equal(frame.body?.$case, 'manifest', hex);
    assert.throws(() => [...entriesOf(frame.body!.value as ReceivedBatch)], ProtocolError, hex);
    assert.doesNotThrow(() => TransferFrame.decode(bytes), 'the generated decoder takes it');
  }
  // A length past the frame's end: left to the generated decoder, which says what it makes of it.
  const past = Buffer.from('2a051a7f0c2801', 'hex');
  assert.deepEqual(outcomes(past).received, outcomes(past).generated);
});
