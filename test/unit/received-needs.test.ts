/**
 * A NeedBatch frame as a source decodes it (protocol/received-needs.ts): plain needs are read
 * straight into their objects, and whatever the bytes, decodeTransferFrame makes of them what the
 * generated decoder makes (or both refuse them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Need, Role, TransferFrame } from '../../src/generated/blit.js';
import { decodeTransferFrame } from '../../src/protocol/received-manifest.js';
import { needBatchFrame } from '../../src/protocol/received-needs.js';

const plainNeed = fc.record({
  fileId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  path: fc.string({ maxLength: 16, unit: 'grapheme' }),
  hashFirst: fc.constant(false),
  blocks: fc.constant([]),
  destinationHash: fc.constant(Buffer.alloc(0)),
  size: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  mtimeNs: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
}) as fc.Arbitrary<Need>;

/** Needs a destination may also send: to hash first (with its hash), or for ranges only. */
const anyNeed = fc.oneof(
  plainNeed,
  plainNeed.map((need) => ({ ...need, hashFirst: true, destinationHash: Buffer.from('abc') })),
  plainNeed.map((need) => ({ ...need, blocks: [{ offset: 0n, length: 4096n }] })),
);

const frameOf = (needs: Need[], role: Role) =>
  TransferFrame.encode({ role, body: { $case: 'needBatch', value: { needs } } }).finish();

/** What the generated decoder makes of `bytes`, or 'refused'. */
function attempt(decode: () => unknown): unknown {
  try {
    return decode();
  } catch {
    return 'refused';
  }
}

test('a frame of plain needs is read here, into what the generated decoder reads', () => {
  fc.assert(
    fc.property(
      fc.array(plainNeed, { maxLength: 8 }),
      fc.constantFrom(Role.ROLE_DESTINATION, Role.ROLE_SOURCE),
      (needs, role) => {
        const bytes = frameOf(needs, role);
        const taken = needBatchFrame(bytes);
        assert.ok(taken, 'taken');
        assert.deepEqual(taken, TransferFrame.decode(bytes));
      },
    ),
    { numRuns: 300 },
  );
});

test('a need to hash first, or for ranges, leaves the whole frame to the generated decoder', () => {
  fc.assert(
    fc.property(fc.array(plainNeed, { maxLength: 3 }), anyNeed, (needs, other) => {
      fc.pre(other.hashFirst || other.blocks.length > 0);
      const bytes = frameOf([...needs, other], Role.ROLE_DESTINATION);
      assert.equal(needBatchFrame(bytes), undefined);
      assert.deepEqual(decodeTransferFrame(bytes), TransferFrame.decode(bytes));
    }),
    { numRuns: 100 },
  );
});

test('whatever the bytes, decodeTransferFrame makes of a need batch what the generated decoder makes', () => {
  const mutated = fc
    .tuple(
      fc.array(anyNeed, { maxLength: 4 }),
      fc.array(
        fc.record({
          at: fc.nat(),
          op: fc.constantFrom('flip', 'insert', 'delete', 'cut'),
          byte: fc.integer({ min: 0, max: 255 }),
        }),
        { maxLength: 3 },
      ),
    )
    .map(([needs, edits]) => {
      let bytes = Buffer.from(frameOf(needs, Role.ROLE_DESTINATION));
      for (const { at, op, byte } of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        if (op === 'flip' && bytes.length > 0) bytes[i] = byte;
        else if (op === 'insert')
          bytes = Buffer.concat([bytes.subarray(0, i), Buffer.of(byte), bytes.subarray(i)]);
        else if (op === 'delete') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
        else bytes = bytes.subarray(0, i);
      }
      return bytes;
    });
  let taken = 0;
  fc.assert(
    fc.property(mutated, (bytes) => {
      if (typeof attempt(() => needBatchFrame(bytes)) === 'object') taken++;
      const generated = attempt(() => TransferFrame.decode(bytes));
      const received = attempt(() => decodeTransferFrame(bytes));
      if (typeof generated === 'object' && (generated as TransferFrame).body?.$case !== 'needBatch') {
        // Mutated into another kind of frame (a manifest batch then knows its length on the wire:
        // received-manifest.test.ts): the same kind.
        assert.equal((received as TransferFrame).body?.$case, (generated as TransferFrame).body?.$case);
      } else assert.deepEqual(received, generated);
    }),
    { numRuns: 3000 },
  );
  // Frames left plain (unchanged, or a byte of a path or a number changed) are read here: the
  // path is exercised, not only the fallback.
  assert.ok(taken > 150, `${taken} frames read here`);
});

test('a field twice keeps the last, as the generated decoder does; a role twice is left to it', () => {
  // A need whose path comes twice: file_id 7, path 'a', path 'b', size 1, mtime_ns 2.
  const record = Buffer.of(0x08, 7, 0x12, 1, 0x61, 0x12, 1, 0x62, 0x30, 1, 0x38, 2);
  const batch = Buffer.concat([Buffer.of(0x0a, record.length), record]);
  const frame = Buffer.concat([Buffer.of(0x08, Role.ROLE_DESTINATION, 0x3a, batch.length), batch]);
  const taken = needBatchFrame(frame);
  assert.ok(taken);
  assert.deepEqual(taken, TransferFrame.decode(frame));
  assert.equal(taken.body?.$case === 'needBatch' && taken.body.value.needs[0]?.path, 'b');
  const roleTwice = Buffer.concat([Buffer.of(0x08, Role.ROLE_SOURCE), frame]);
  assert.equal(needBatchFrame(roleTwice), undefined);
  assert.deepEqual(decodeTransferFrame(roleTwice), TransferFrame.decode(roleTwice));
});
