/**
 * The data plane's record codec: any valid record sequence survives encoding and any cutting into
 * chunks; a stream truncated anywhere but a record boundary, a header with a field out of bounds,
 * or random bytes end in a ProtocolError — never another error, never more than one header
 * buffered. Header fields are patched at the offsets the wire format documents, so these tests pin
 * the format as well as the code.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../src/protocol/manifest-wire.js';
import {
  batchHeader,
  blockHeader,
  checkedRecord,
  encodePreamble,
  endRecord,
  failRecord,
  fileHeader,
  MAX_BATCH_BYTES,
  MAX_BATCH_FILES,
  MAX_BLOCK_BYTES,
  MAX_HEADER_BYTES,
  MAX_REASON_BYTES,
  PREAMBLE_BYTES,
  PREAMBLE_MAGIC,
  parsePreamble,
  RecordDecoder,
  TOKEN_BYTES,
} from '../../src/transport/tcp/records.js';

type Rec =
  | { type: 'file'; fileId: bigint; bytes: Buffer }
  | { type: 'batch'; members: { fileId: bigint; bytes: Buffer }[] }
  | { type: 'block'; fileId: bigint; offset: number; bytes: Buffer; final: boolean }
  | { type: 'hole'; fileId: bigint; offset: number; length: number; final: boolean }
  | { type: 'fail'; fileId: bigint; reason: string }
  | { type: 'checked'; fileId: bigint };

/** A decoded range with its data reassembled, or a FAIL, or END. */
type Decoded =
  | {
      kind: 'range';
      fileId: bigint;
      offset: number;
      whole: boolean;
      final: boolean;
      bytes: Buffer;
      /** A hole of a sparse file: `length` bytes, none sent. */
      hole?: { length: number };
    }
  | { kind: 'fail'; fileId: bigint; reason: string }
  | { kind: 'checked'; fileId: bigint }
  | { kind: 'end' };

function encode(rec: Rec): Buffer {
  switch (rec.type) {
    case 'file':
      return Buffer.concat([fileHeader(rec.fileId, rec.bytes.length), rec.bytes]);
    case 'batch': {
      const table = rec.members.map((m) => ({ fileId: m.fileId, length: m.bytes.length }));
      return Buffer.concat([batchHeader(table), ...rec.members.map((m) => m.bytes)]);
    }
    case 'block':
      return Buffer.concat([blockHeader(rec.fileId, rec.offset, rec.bytes.length, rec.final), rec.bytes]);
    case 'hole':
      return blockHeader(rec.fileId, rec.offset, rec.length, rec.final, true);
    case 'fail':
      return failRecord(rec.fileId, rec.reason);
    case 'checked':
      return checkedRecord(rec.fileId);
  }
}

function expected(rec: Rec): Decoded[] {
  switch (rec.type) {
    case 'file':
      return [{ kind: 'range', fileId: rec.fileId, offset: 0, whole: true, final: true, bytes: rec.bytes }];
    case 'batch':
      return rec.members.map((m) => ({
        kind: 'range',
        fileId: m.fileId,
        offset: 0,
        whole: true,
        final: true,
        bytes: m.bytes,
      }));
    case 'block':
      return [
        {
          kind: 'range',
          fileId: rec.fileId,
          offset: rec.offset,
          whole: false,
          final: rec.final,
          bytes: rec.bytes,
        },
      ];
    case 'hole':
      return [
        {
          kind: 'range',
          fileId: rec.fileId,
          offset: rec.offset,
          whole: false,
          final: rec.final,
          bytes: Buffer.alloc(0),
          hole: { length: rec.length },
        },
      ];
    case 'fail':
      return [{ kind: 'fail', fileId: rec.fileId, reason: rec.reason }];
    case 'checked':
      return [{ kind: 'checked', fileId: rec.fileId }];
  }
}

/** `stream` cut into chunks of the given sizes, cycled; each chunk its own allocation. */
function cut(stream: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const chunk = Buffer.alloc(Math.min(sizes[i % sizes.length]!, stream.length - at));
    at += stream.copy(chunk, 0, at);
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * Pushes the chunks and reassembles what the decoder reports, checking its promises on the way:
 * ranges do not overlap, data is contiguous, non-empty, within its range and a view of the chunk it
 * came in, and no more than one header is ever buffered.
 */
function decodeAll(chunks: readonly Buffer[], batches = false): Decoded[] {
  const decoder = new RecordDecoder({ batches });
  const decoded: Decoded[] = [];
  let open: {
    fileId: bigint;
    offset: number;
    length: number;
    end: number;
    next: number;
    whole: boolean;
    final: boolean;
    hole?: boolean;
  };
  let parts: Buffer[] | undefined;
  for (const chunk of chunks) {
    for (const event of decoder.push(chunk)) {
      switch (event.kind) {
        case 'start':
          assert.equal(parts, undefined, 'a range starts inside another');
          // A hole's range has no bytes: done follows at once.
          open = { ...event, end: event.offset + (event.hole ? 0 : event.length), next: event.offset };
          parts = [];
          break;
        case 'data':
          assert.ok(parts, 'data outside a range');
          assert.equal(event.fileId, open!.fileId);
          assert.equal(event.offset, open!.next);
          assert.ok(event.data.length > 0 && open!.next + event.data.length <= open!.end);
          assert.equal(event.data.buffer, chunk.buffer, 'data is a view of its chunk, not a copy');
          open!.next += event.data.length;
          parts.push(event.data);
          break;
        case 'done': {
          assert.ok(parts, 'done outside a range');
          const { fileId, offset, length, end, next, whole, final, hole } = open!;
          assert.equal(event.fileId, fileId);
          assert.equal(next, end, 'done before the range is complete');
          decoded.push({
            kind: 'range',
            fileId,
            offset,
            whole,
            final,
            bytes: Buffer.concat(parts),
            ...(hole ? { hole: { length } } : {}),
          });
          parts = undefined;
          break;
        }
        case 'batch': {
          assert.ok(batches, 'a batch read whole by a decoder not made to');
          assert.equal(parts, undefined, 'a batch inside a range');
          assert.equal(event.data.buffer, chunk.buffer, 'a batch is a view of its chunk, not a copy');
          assert.equal(event.fileIds.length, event.lengths.length);
          let at = 0;
          event.fileIds.forEach((fileId, i) => {
            const length = event.lengths[i]!;
            decoded.push({
              kind: 'range',
              fileId,
              offset: 0,
              whole: true,
              final: true,
              bytes: event.data.subarray(at, at + length),
            });
            at += length;
          });
          assert.equal(at, event.data.length, 'a batch holds exactly its members');
          break;
        }
        default:
          assert.equal(parts, undefined, `${event.kind} inside a range`);
          decoded.push(event);
      }
    }
    assert.ok(decoder.bufferedBytes <= MAX_HEADER_BYTES);
  }
  decoder.finish();
  assert.equal(parts, undefined, 'the stream ended inside a range without an error');
  return decoded;
}

/** Runs `work`, which must either return or throw a ProtocolError; returns the error if any. */
function protocolErrorOrNothing(work: () => unknown): ProtocolError | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
}

/** A copy of `record` with a field overwritten. */
function patched(record: Buffer, patch: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(record);
  patch(copy);
  return copy;
}

const U64_MAX = 2n ** 64n - 1n;
const fileIdArb = fc.bigInt({ min: 0n, max: U64_MAX });
const bytesArb = fc
  .oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 48 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 3000 }) },
  )
  .map((bytes) => Buffer.from(bytes));
const smallBytesArb = fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes));

function recordArb(bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<Rec> {
  return fc.oneof(
    fc.record({ type: fc.constant('file' as const), fileId: fileIdArb, bytes }),
    fc.record({
      type: fc.constant('batch' as const),
      members: fc.array(fc.record({ fileId: fileIdArb, bytes }), { minLength: 1, maxLength: 6 }),
    }),
    fc
      .record({
        type: fc.constant('block' as const),
        fileId: fileIdArb,
        offset: fc.oneof(fc.nat(1 << 20), fc.maxSafeNat()),
        bytes: bytes.filter((b) => b.length > 0),
        final: fc.boolean(),
      })
      .map((r) => ({ ...r, offset: Math.min(r.offset, Number.MAX_SAFE_INTEGER - r.bytes.length) })),
    fc
      .record({
        type: fc.constant('hole' as const),
        fileId: fileIdArb,
        offset: fc.oneof(fc.nat(1 << 20), fc.maxSafeNat()),
        length: fc.oneof(
          fc.constant(1),
          fc.constant(MAX_BLOCK_BYTES),
          fc.integer({ min: 1, max: MAX_BLOCK_BYTES }),
        ),
        final: fc.boolean(),
      })
      .map((r) => ({ ...r, offset: Math.min(r.offset, Number.MAX_SAFE_INTEGER - r.length) })),
    fc.record({
      type: fc.constant('fail' as const),
      fileId: fileIdArb,
      reason: fc.string({ unit: 'binary', maxLength: 200 }),
    }),
    fc.record({ type: fc.constant('checked' as const), fileId: fileIdArb }),
  );
}

const chunkSizesArb = fc.oneof(
  fc.constant([1]),
  fc.constant([1 << 30]),
  fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 16 }),
);

describe('records round trip', () => {
  test('any record sequence and END, cut into any chunks, decodes to the same records', () => {
    fc.assert(
      fc.property(fc.array(recordArb(bytesArb), { maxLength: 8 }), chunkSizesArb, (records, sizes) => {
        const stream = Buffer.concat([...records.map(encode), endRecord()]);
        const want: Decoded[] = [...records.flatMap(expected), { kind: 'end' }];
        assert.deepEqual(decodeAll(cut(stream, sizes)), want);
        // Read whole where a batch came in one chunk: the same files.
        assert.deepEqual(decodeAll(cut(stream, sizes), true), want);
      }),
      { numRuns: 300, seed: 20260301 },
    );
  });

  test('with batches, a batch that came in one chunk is one event; one cut in two comes as ranges', () => {
    const members = [
      { fileId: 7n, bytes: Buffer.from('abc') },
      { fileId: 8n, bytes: Buffer.alloc(0) },
      { fileId: 2n ** 60n, bytes: Buffer.from('de') },
    ];
    const stream = Buffer.concat([encode({ type: 'batch', members }), endRecord()]);
    const whole = new RecordDecoder({ batches: true }).push(stream);
    assert.deepEqual(
      whole.map((event) => event.kind),
      ['batch', 'end'],
    );
    const [batch] = whole;
    assert.ok(batch?.kind === 'batch');
    assert.deepEqual(batch.fileIds, [7n, 8n, 2n ** 60n]);
    assert.deepEqual(batch.lengths, [3, 0, 2]);
    assert.equal(batch.data.toString(), 'abcde');
    // The payload's last byte in the next chunk: the members as ranges, as without batches.
    const decoder = new RecordDecoder({ batches: true });
    const split = [
      ...decoder.push(stream.subarray(0, stream.length - 2)),
      ...decoder.push(stream.subarray(-2)),
    ];
    assert.deepEqual(
      split.map((event) => event.kind),
      ['start', 'data', 'done', 'start', 'done', 'start', 'data', 'data', 'done', 'end'],
    );
    // The table in one chunk, the payload (and more) in the next: one event still, as a reader
    // that reads what `wanted` says gets it.
    const table = stream.length - 'abcde'.length - 1;
    const paced = new RecordDecoder({ batches: true });
    assert.deepEqual(paced.push(stream.subarray(0, table)), []);
    assert.equal(paced.batchPending, true);
    assert.equal(paced.wanted, 5);
    assert.deepEqual(
      paced.push(stream.subarray(table)).map((event) => event.kind),
      ['batch', 'end'],
    );
    // Without batches, never one event.
    assert.ok(!new RecordDecoder().push(stream).some((event) => event.kind === 'batch'));
  });

  test('bounds are accepted at exactly their limits', () => {
    const full = Array.from({ length: MAX_BATCH_FILES }, (_, i) => ({
      fileId: BigInt(i),
      bytes: Buffer.alloc(MAX_BATCH_BYTES / MAX_BATCH_FILES, i),
    }));
    const block = Buffer.alloc(MAX_BLOCK_BYTES, 7);
    const lastByte = Number.MAX_SAFE_INTEGER - 1;
    const reason = 'r'.repeat(MAX_REASON_BYTES);
    const records: Rec[] = [
      { type: 'batch', members: full },
      { type: 'block', fileId: U64_MAX, offset: 0, bytes: block, final: true },
      { type: 'block', fileId: 1n, offset: lastByte, bytes: Buffer.from([9]), final: false },
      { type: 'fail', fileId: 2n, reason },
    ];
    const stream = Buffer.concat([...records.map(encode), endRecord()]);
    const decoded = decodeAll(cut(stream, [1 << 16]));
    assert.deepEqual(decoded, [...records.flatMap(expected), { kind: 'end' }]);

    const decoder = new RecordDecoder();
    const [start] = decoder.push(fileHeader(3n, Number.MAX_SAFE_INTEGER));
    assert.deepEqual(start, {
      kind: 'start',
      fileId: 3n,
      offset: 0,
      length: Number.MAX_SAFE_INTEGER,
      whole: true,
      final: true,
    });
  });

  test('empty files start and finish with no data, in a batch or alone', () => {
    const stream = Buffer.concat([
      batchHeader([
        { fileId: 1n, length: 0 },
        { fileId: 2n, length: 2 },
        { fileId: 3n, length: 0 },
      ]),
      Buffer.from('hi'),
      fileHeader(4n, 0),
    ]);
    const events = new RecordDecoder().push(stream).map((e) => `${e.kind} ${'fileId' in e ? e.fileId : ''}`);
    assert.deepEqual(
      events.join(', '),
      'start 1, done 1, start 2, data 2, done 2, start 3, done 3, start 4, done 4',
    );
  });

  test('an empty chunk is no event; a stream may end on any record boundary, with or without END', () => {
    const decoder = new RecordDecoder();
    assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
    decoder.finish();
    assert.equal(decodeAll([Buffer.concat([fileHeader(1n, 1), Buffer.from('x')])]).length, 1);
  });
});

describe('holes', () => {
  test('a hole is its header alone: its range has no data, and the next record follows at once', () => {
    const stream = Buffer.concat([
      blockHeader(5n, 4096, MAX_BLOCK_BYTES, false, true),
      fileHeader(6n, 2),
      Buffer.from('ok'),
      endRecord(),
    ]);
    assert.equal(stream.length, 22 + 17 + 2 + 1);
    assert.equal(stream[21], 0x02, 'flag bit 1 is HOLE');
    const events = new RecordDecoder().push(stream);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['start', 'done', 'start', 'data', 'done', 'end'],
    );
    assert.deepEqual(events[0], {
      kind: 'start',
      fileId: 5n,
      offset: 4096,
      length: MAX_BLOCK_BYTES,
      whole: false,
      final: false,
      hole: true,
    });
  });

  test('a final hole ends its file like a final block', () => {
    const [start] = new RecordDecoder().push(blockHeader(1n, 0, 10, true, true));
    assert.equal(start?.kind === 'start' && start.final && start.hole, true);
  });
});

describe('malformed streams', () => {
  test('a valid stream truncated anywhere but a record boundary is a truncation error', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb(smallBytesArb), { minLength: 1, maxLength: 4 }),
        chunkSizesArb,
        (records, sizes) => {
          const pieces = [
            ...records.map((rec) => ({ bytes: encode(rec), decoded: expected(rec) })),
            { bytes: endRecord(), decoded: [{ kind: 'end' } as const] },
          ];
          // Where each record ends, and what decodes from a stream that ends there.
          const boundaries = new Map<number, Decoded[]>([[0, []]]);
          let length = 0;
          const decodedSoFar: Decoded[] = [];
          for (const { bytes, decoded } of pieces) {
            length += bytes.length;
            decodedSoFar.push(...decoded);
            boundaries.set(length, [...decodedSoFar]);
          }
          const stream = Buffer.concat(pieces.map((p) => p.bytes));
          for (let end = 0; end <= stream.length; end++) {
            const prefix = cut(stream.subarray(0, end), sizes);
            const atBoundary = boundaries.get(end);
            for (const batches of [false, true]) {
              if (atBoundary) {
                assert.deepEqual(decodeAll(prefix, batches), atBoundary);
              } else {
                const error = protocolErrorOrNothing(() => decodeAll(prefix, batches));
                assert.match(error?.message ?? 'no error', /^data record: truncated/);
              }
            }
          }
        },
      ),
      { numRuns: 60, seed: 20260302 },
    );
  });

  const u32Above = (limit: number) =>
    fc.oneof(fc.integer({ min: limit + 1, max: 0x7fffffff }), fc.constant(0xffffffff));
  const beyondSafe = fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: U64_MAX });
  // Valid records to patch, at the offsets the wire format documents.
  const batch = encode({
    type: 'batch',
    members: [
      { fileId: 1n, bytes: Buffer.from('abc') },
      { fileId: 2n, bytes: Buffer.from('de') },
    ],
  });
  const block = encode({ type: 'block', fileId: 3n, offset: 10, bytes: Buffer.from('xyz'), final: false });
  const file = encode({ type: 'file', fileId: 4n, bytes: Buffer.from('file') });
  const fail = failRecord(5n, 'no such file');
  type Bad = { bytes: Buffer; message: RegExp };
  const badRecordArb: fc.Arbitrary<Bad> = fc.oneof(
    fc.oneof(fc.constant(0), u32Above(MAX_BATCH_FILES)).map((count) => ({
      bytes: patched(batch, (b) => b.writeUInt32LE(count, 1)),
      message: new RegExp(`^data record: batch of ${count} files \\(1 to 4096\\)$`),
    })),
    u32Above(MAX_BATCH_BYTES).map((payload) => ({
      bytes: patched(batch, (b) => b.writeUInt32LE(payload, 5)),
      message: /^data record: batch payload of \d+ bytes \(at most 4194304\)$/,
    })),
    fc
      .integer({ min: 0, max: MAX_BATCH_BYTES })
      .filter((payload) => payload !== 5)
      .map((payload) => ({
        bytes: patched(batch, (b) => b.writeUInt32LE(payload, 5)),
        message: /^data record: batch lengths sum to 5 bytes, its payload is \d+$/,
      })),
    fc.oneof(fc.constant(0), u32Above(MAX_BLOCK_BYTES)).map((length) => ({
      bytes: patched(block, (b) => b.writeUInt32LE(length, 17)),
      message: /^data record: block of \d+ bytes \(1 to 16777216\)$/,
    })),
    fc.integer({ min: 4, max: 255 }).map((flags) => ({
      bytes: patched(block, (b) => b.writeUInt8(flags, 21)),
      message: /^data record: block flags 0x[0-9a-f]+ \(only 0x01 and 0x02 are defined\)$/,
    })),
    fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER - 2), max: U64_MAX }).map((offset) => ({
      bytes: patched(block, (b) => b.writeBigUInt64LE(offset, 9)),
      message: /^data record: block of file 3 ends at \d+ \(beyond 2\^53 - 1\)$/,
    })),
    beyondSafe.map((size) => ({
      bytes: patched(file, (b) => b.writeBigUInt64LE(size, 9)),
      message: /^data record: file 4 of \d+ bytes \(beyond 2\^53 - 1\)$/,
    })),
    fc.integer({ min: MAX_REASON_BYTES + 1, max: 0xffff }).map((reasonBytes) => ({
      bytes: patched(fail, (b) => b.writeUInt16LE(reasonBytes, 9)),
      message: /^data record: FAIL reason of \d+ bytes \(at most 1024\)$/,
    })),
    fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80]).map((invalid) => ({
      bytes: Buffer.concat([
        patched(fail.subarray(0, 11), (b) => b.writeUInt16LE(invalid.length, 9)),
        Buffer.from(invalid),
      ]),
      message: /^data record: FAIL reason for file 5 is not UTF-8$/,
    })),
    fc.oneof(fc.constant(0), fc.integer({ min: 7, max: 255 })).map((type) => ({
      bytes: patched(file, (b) => b.writeUInt8(type, 0)),
      message: new RegExp(`^data record: unknown record type ${type}$`),
    })),
    fc.uint8Array({ minLength: 1, maxLength: 32 }).map((after) => ({
      bytes: Buffer.concat([endRecord(), after]),
      message: /^data record: bytes after END$/,
    })),
  );

  test('a header with a field out of bounds is refused, whatever precedes or follows it', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb(smallBytesArb), { maxLength: 3 }),
        badRecordArb,
        fc.uint8Array({ maxLength: 64 }),
        chunkSizesArb,
        (records, bad, trailing, sizes) => {
          const stream = Buffer.concat([...records.map(encode), bad.bytes, trailing]);
          for (const batches of [false, true]) {
            const error = protocolErrorOrNothing(() => decodeAll(cut(stream, sizes), batches));
            assert.match(error?.message ?? 'no error', bad.message);
          }
        },
      ),
      { numRuns: 1000, seed: 20260303 },
    );
  });

  test('random bytes, and valid streams with bytes overwritten, decode or end in a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), chunkSizesArb, (bytes, sizes) => {
        protocolErrorOrNothing(() => decodeAll(cut(Buffer.from(bytes), sizes)));
        protocolErrorOrNothing(() => decodeAll(cut(Buffer.from(bytes), sizes), true));
      }),
      { numRuns: 500, seed: 20260304 },
    );
    fc.assert(
      fc.property(
        fc.array(recordArb(bytesArb), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        chunkSizesArb,
        (records, overwrites, sizes) => {
          const stream = Buffer.concat([...records.map(encode), endRecord()]);
          for (const [at, value] of overwrites) stream[at % stream.length] = value;
          protocolErrorOrNothing(() => decodeAll(cut(stream, sizes)));
          protocolErrorOrNothing(() => decodeAll(cut(stream, sizes), true));
        },
      ),
      { numRuns: 500, seed: 20260305 },
    );
  });

  test('a batch count out of bounds is refused before its table is buffered', () => {
    const prefix = patched(batch.subarray(0, 9), (b) => b.writeUInt32LE(0xffffffff, 1));
    assert.throws(() => new RecordDecoder().push(prefix), /batch of 4294967295 files/);
  });

  test('after an error the decoder is dead', () => {
    const decoder = new RecordDecoder();
    assert.throws(() => decoder.push(Buffer.from([0])), ProtocolError);
    assert.throws(() => decoder.push(endRecord()), /^ProtocolError: data record: decoder already failed$/);
    assert.throws(() => decoder.finish(), ProtocolError);
  });
});

describe('preamble', () => {
  const token = Buffer.from(Array.from({ length: TOKEN_BYTES }, (_, i) => i * 7));

  test('round trip: magic then token, 40 bytes; the parsed token is a copy', () => {
    const preamble = encodePreamble(token);
    assert.equal(preamble.length, PREAMBLE_BYTES);
    assert.equal(preamble.subarray(0, 8).toString('ascii'), 'BLITDAT1');
    assert.ok(PREAMBLE_MAGIC.equals(Buffer.from('BLITDAT1')));
    const parsed = parsePreamble(preamble);
    assert.deepEqual(parsed, token);
    preamble.fill(0);
    assert.deepEqual(parsed, token);
  });

  test('a wrong magic byte or a wrong length is not a preamble', () => {
    const preamble = encodePreamble(token);
    for (let i = 0; i < PREAMBLE_MAGIC.length; i++) {
      assert.equal(parsePreamble(patched(preamble, (b) => b.writeUInt8(b[i]! ^ 0x20, i))), undefined);
    }
    assert.equal(parsePreamble(preamble.subarray(0, PREAMBLE_BYTES - 1)), undefined);
    assert.equal(parsePreamble(Buffer.concat([preamble, Buffer.from([0])])), undefined);
    assert.equal(parsePreamble(Buffer.alloc(0)), undefined);
  });

  test('a token of any other length cannot be encoded', () => {
    assert.throws(() => encodePreamble(Buffer.alloc(TOKEN_BYTES - 1)), RangeError);
    assert.throws(() => encodePreamble(Buffer.alloc(TOKEN_BYTES + 1)), RangeError);
  });
});

describe('encoder', () => {
  function reasonSent(reason: string): string {
    const [fail] = new RecordDecoder().push(failRecord(9n, reason));
    assert.equal(fail?.kind, 'fail');
    return fail.kind === 'fail' ? fail.reason : '';
  }

  test('failRecord clips a long reason to 1024 bytes without splitting a character', () => {
    assert.equal(reasonSent('a'.repeat(1024)), 'a'.repeat(1024));
    assert.equal(reasonSent('a'.repeat(1025)), 'a'.repeat(1024));
    assert.equal(reasonSent(`a${'😀'.repeat(300)}`), `a${'😀'.repeat(255)}`); // 1 + 255 × 4 = 1021 bytes
    assert.equal(reasonSent('€'.repeat(400)), '€'.repeat(341)); // 341 × 3 = 1023 bytes
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (reason) => {
        const sent = reasonSent(reason);
        assert.ok(reason.startsWith(sent));
        const bytes = Buffer.byteLength(sent);
        assert.ok(bytes <= MAX_REASON_BYTES);
        if (sent !== reason) assert.ok(bytes > MAX_REASON_BYTES - 4, 'clipped more than one character');
      }),
      { numRuns: 300, seed: 20260306 },
    );
  });

  test('headers out of bounds are not encoded', () => {
    const member = (length: number) => ({ fileId: 1n, length });
    assert.throws(() => batchHeader([]), RangeError);
    assert.throws(
      () => batchHeader(Array.from({ length: MAX_BATCH_FILES + 1 }, () => member(0))),
      RangeError,
    );
    assert.throws(() => batchHeader([member(MAX_BATCH_BYTES), member(1)]), RangeError);
    assert.throws(() => blockHeader(1n, 0, 0, false), RangeError);
    assert.throws(() => blockHeader(1n, 0, MAX_BLOCK_BYTES + 1, false), RangeError);
    assert.throws(() => blockHeader(1n, Number.MAX_SAFE_INTEGER, 1, false), RangeError);
    assert.throws(() => blockHeader(1n, 0, 0, false, true), RangeError);
    assert.throws(() => blockHeader(1n, 0, MAX_BLOCK_BYTES + 1, true, true), RangeError);
    assert.throws(() => blockHeader(1n, Number.MAX_SAFE_INTEGER, 1, false, true), RangeError);
    assert.throws(() => fileHeader(1n, -1), RangeError);
    assert.throws(() => fileHeader(1n, 2 ** 53), RangeError);
    assert.throws(() => fileHeader(-1n, 0), RangeError);
  });
});

test('wantedThroughBatch: the rest of a batch record (table and payload) once its prefix is read, nothing elsewhere', () => {
  const decoder = new RecordDecoder({ batches: true });
  assert.equal(decoder.wantedThroughBatch, undefined);
  const header = batchHeader([
    { fileId: 1n, length: 5 },
    { fileId: 2n, length: 7 },
  ]);
  // The prefix only: the whole table (2 × 12 bytes) and the 12 bytes of payload are left.
  decoder.push(header.subarray(0, 9));
  assert.equal(decoder.wantedThroughBatch, 24 + 12);
  decoder.push(header.subarray(9, 20));
  assert.equal(decoder.wantedThroughBatch, 13 + 12);
  // The table whole: the payload is awaited (`wanted` says how much), no longer a table.
  decoder.push(header.subarray(20));
  assert.equal(decoder.wantedThroughBatch, undefined);
  assert.equal(decoder.wanted, 12);
  const events = decoder.push(Buffer.concat([Buffer.alloc(12, 'x'), fileHeader(3n, 4)]));
  assert.equal(events[0]?.kind, 'batch');
  // Inside a FILE's bytes: none.
  assert.equal(decoder.wantedThroughBatch, undefined);
});
