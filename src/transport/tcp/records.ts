/**
 * The data plane's wire format: a socket preamble, then records carrying file bytes. Pure — no
 * I/O. The encoder builds headers only, never copying file bytes, so a sender writes a header and
 * then the file's bytes (writev, sendfile). The decoder is streaming and bounded: it buffers at
 * most one record header (MAX_HEADER_BYTES) and hands data on as subarrays of the chunks it is
 * pushed. Every length and count is checked as soon as it is read (docs/ARCHITECTURE.md,
 * lessons 1, 15): a malformed stream is a ProtocolError and the decoder is dead from then on.
 *
 * Wire format (little-endian):
 *
 *   Preamble, sent once by the dialing side right after connect:
 *     8 ASCII bytes `BLITDAT1`, then a 32-byte token.
 *
 *   Then a sequence of records, each starting with a u8 type:
 *     1 FILE   u64 fileId, u64 size, then `size` bytes — one file whole (its final bytes, the
 *              source has checked it unchanged). size ≤ 2^53 - 1.
 *     2 BATCH  u32 count (1..4096), u32 payloadBytes (0..4 MiB), then count × (u64 fileId,
 *              u32 length), then the payload: the files' bytes concatenated in table order. The
 *              lengths sum to payloadBytes exactly. Each member is one small file whole.
 *     3 BLOCK  u64 fileId, u64 offset, u32 length (1..16 MiB), u8 flags (bit 0 = FINAL: the source
 *              has read every block of this file and checked it unchanged; bit 1 = HOLE: the
 *              block is a hole of a sparse file, and no bytes follow; other bits are 0), then
 *              `length` bytes (none for a HOLE) — one block of a large file; blocks of one file
 *              may travel on different sockets, in any order. offset + length ≤ 2^53 - 1.
 *     4 FAIL   u64 fileId, u16 reasonBytes (0..1024), UTF-8 reason — the source could not send
 *              this file (any of its bytes already sent are void).
 *     5 END    no body — the sender has nothing more on this socket; nothing may follow.
 *     6 CHECKED u64 fileId — the source has sent every block of this file, none of them FINAL,
 *              and found the file unchanged once the last had left (a file sent by sendfile,
 *              whose bytes are checked after they are out); it completes the file as a FINAL
 *              block would. It may arrive before blocks still on their way over other sockets.
 */
import { MAX_FILE_SIZE, ProtocolError } from '../../protocol/manifest-wire.js';

export const PREAMBLE_MAGIC = Buffer.from('BLITDAT1', 'ascii');
export const TOKEN_BYTES = 32;
export const PREAMBLE_BYTES = 40;

export const MAX_BATCH_FILES = 4096;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024;
export const MAX_REASON_BYTES = 1024;

const FILE = 1;
const BATCH = 2;
const BLOCK = 3;
const FAIL = 4;
const END = 5;
const CHECKED = 6;

const FILE_HEADER_BYTES = 1 + 8 + 8;
const BATCH_PREFIX_BYTES = 1 + 4 + 4;
const BATCH_MEMBER_BYTES = 8 + 4;
const BLOCK_HEADER_BYTES = 1 + 8 + 8 + 4 + 1;
const FAIL_PREFIX_BYTES = 1 + 8 + 2;
const CHECKED_BYTES = 1 + 8;
const FINAL_FLAG = 0x01;
/** The block is a hole: zeros the destination leaves unwritten (sparse files); no bytes follow. */
const HOLE_FLAG = 0x02;

/** The largest record header: a full batch table (a FAIL with the longest reason is smaller). */
export const MAX_HEADER_BYTES = BATCH_PREFIX_BYTES + MAX_BATCH_FILES * BATCH_MEMBER_BYTES;

export function encodePreamble(token: Buffer): Buffer {
  if (token.length !== TOKEN_BYTES)
    throw new RangeError(`data preamble: token of ${token.length} bytes (must be ${TOKEN_BYTES})`);
  return Buffer.concat([PREAMBLE_MAGIC, token]);
}

/** The token if `buf` is exactly a valid preamble, else undefined. The token is a copy. */
export function parsePreamble(buf: Buffer): Buffer | undefined {
  if (buf.length !== PREAMBLE_BYTES) return undefined;
  if (!buf.subarray(0, PREAMBLE_MAGIC.length).equals(PREAMBLE_MAGIC)) return undefined;
  return Buffer.from(buf.subarray(PREAMBLE_MAGIC.length));
}

// ---- Encoder: our own calls out of bounds are bugs, so they throw RangeError. ----

function checkLength(what: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RangeError(`data record: ${what} ${value} (must be ${min}..${max})`);
}

export function fileHeader(fileId: bigint, size: number): Buffer {
  checkLength('file size', size, 0, MAX_FILE_SIZE);
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  header.writeUInt8(FILE, 0);
  header.writeBigUInt64LE(fileId, 1);
  header.writeBigUInt64LE(BigInt(size), 9);
  return header;
}

/** The BATCH header with its table; the members' bytes follow it in the same order. */
export function batchHeader(members: readonly { fileId: bigint; length: number }[]): Buffer {
  checkLength('batch count', members.length, 1, MAX_BATCH_FILES);
  const header = Buffer.alloc(BATCH_PREFIX_BYTES + members.length * BATCH_MEMBER_BYTES);
  let payloadBytes = 0;
  let at = BATCH_PREFIX_BYTES;
  for (const { fileId, length } of members) {
    checkLength('batch member length', length, 0, MAX_BATCH_BYTES);
    payloadBytes += length;
    header.writeBigUInt64LE(fileId, at);
    header.writeUInt32LE(length, at + 8);
    at += BATCH_MEMBER_BYTES;
  }
  checkLength('batch payload', payloadBytes, 0, MAX_BATCH_BYTES);
  header.writeUInt8(BATCH, 0);
  header.writeUInt32LE(members.length, 1);
  header.writeUInt32LE(payloadBytes, 5);
  return header;
}

/** A BLOCK header; with `hole`, the whole record (no bytes follow it). */
export function blockHeader(
  fileId: bigint,
  offset: number,
  length: number,
  final: boolean,
  hole = false,
): Buffer {
  checkLength('block length', length, 1, MAX_BLOCK_BYTES);
  checkLength('block offset', offset, 0, MAX_FILE_SIZE - length);
  const header = Buffer.alloc(BLOCK_HEADER_BYTES);
  header.writeUInt8(BLOCK, 0);
  header.writeBigUInt64LE(fileId, 1);
  header.writeBigUInt64LE(BigInt(offset), 9);
  header.writeUInt32LE(length, 17);
  header.writeUInt8((final ? FINAL_FLAG : 0) | (hole ? HOLE_FLAG : 0), 21);
  return header;
}

/** A whole FAIL record; the reason is clipped to MAX_REASON_BYTES without splitting a character. */
export function failRecord(fileId: bigint, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  let length = Math.min(text.length, MAX_REASON_BYTES);
  // A continuation byte (10xxxxxx) just past the cut means the cut splits a character.
  while (length < text.length && (text[length]! & 0xc0) === 0x80) length--;
  const record = Buffer.alloc(FAIL_PREFIX_BYTES + length);
  record.writeUInt8(FAIL, 0);
  record.writeBigUInt64LE(fileId, 1);
  record.writeUInt16LE(length, 9);
  text.copy(record, FAIL_PREFIX_BYTES, 0, length);
  return record;
}

/** A whole CHECKED record: file `fileId`'s blocks, all sent, make the file as the source checked it. */
export function checkedRecord(fileId: bigint): Buffer {
  const record = Buffer.alloc(CHECKED_BYTES);
  record.writeUInt8(CHECKED, 0);
  record.writeBigUInt64LE(fileId, 1);
  return record;
}

export function endRecord(): Buffer {
  return Buffer.from([END]);
}

// ---- Decoder ----

export type RecordEvent =
  /** A file's range begins: FILE → offset 0, length size, whole and final; a batch member → the
   * same with its length; BLOCK → its offset and length, not whole, final and hole as flagged (a
   * hole's range has no bytes: 'done' follows at once). */
  | {
      kind: 'start';
      fileId: bigint;
      offset: number;
      length: number;
      whole: boolean;
      final: boolean;
      hole?: boolean;
    }
  /** The next bytes of the range started last, at this absolute file offset; `data` is a subarray
   * of the pushed chunk (no copy). */
  | { kind: 'data'; fileId: bigint; offset: number; data: Buffer }
  /** That range is complete. */
  | { kind: 'done'; fileId: bigint }
  | { kind: 'fail'; fileId: bigint; reason: string }
  /** Every block of the file is sent and the source found it unchanged after the last (CHECKED). */
  | { kind: 'checked'; fileId: bigint }
  | { kind: 'end' }
  /**
   * A whole BATCH whose payload came in one chunk, the one its table ended in or the next (a
   * decoder made with `batches`): its members in table order, each one small file whole and final,
   * their bytes one after another in `data` (a subarray of that chunk). What start, data and done
   * for each member would say, in one event.
   */
  | BatchEvent;

/** A BATCH's table: its members' ids and lengths, in order, and their sum. */
interface BatchTable {
  fileIds: bigint[];
  lengths: number[];
  payloadBytes: number;
}

export interface BatchEvent extends Omit<BatchTable, 'payloadBytes'> {
  kind: 'batch';
  data: Buffer;
}

type RangeStart = Extract<RecordEvent, { kind: 'start' }>;

/** What one complete header announces: ranges whose bytes follow it, or a record with no data. */
type Header =
  | { ranges: RangeStart[] }
  | { batch: BatchTable }
  | { event: Extract<RecordEvent, { kind: 'fail' | 'checked' | 'end' }> };

function fault(what: string): ProtocolError {
  return new ProtocolError(`data record: ${what}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How many bytes the header begun in `header` takes, as far as its bytes so far tell (a batch's
 * table and a FAIL's reason are sized by their prefix); checks each bound as soon as it is known,
 * so an oversized header is refused before it is buffered.
 */
function headerBytesNeeded(header: Buffer): number {
  if (header.length === 0) return 1;
  const type = header[0]!;
  switch (type) {
    case FILE:
      return FILE_HEADER_BYTES;
    case BATCH: {
      if (header.length < BATCH_PREFIX_BYTES) return BATCH_PREFIX_BYTES;
      const count = header.readUInt32LE(1);
      const payloadBytes = header.readUInt32LE(5);
      if (count < 1 || count > MAX_BATCH_FILES)
        throw fault(`batch of ${count} files (1 to ${MAX_BATCH_FILES})`);
      if (payloadBytes > MAX_BATCH_BYTES)
        throw fault(`batch payload of ${payloadBytes} bytes (at most ${MAX_BATCH_BYTES})`);
      return BATCH_PREFIX_BYTES + count * BATCH_MEMBER_BYTES;
    }
    case BLOCK:
      return BLOCK_HEADER_BYTES;
    case FAIL: {
      if (header.length < FAIL_PREFIX_BYTES) return FAIL_PREFIX_BYTES;
      const reasonBytes = header.readUInt16LE(9);
      if (reasonBytes > MAX_REASON_BYTES)
        throw fault(`FAIL reason of ${reasonBytes} bytes (at most ${MAX_REASON_BYTES})`);
      return FAIL_PREFIX_BYTES + reasonBytes;
    }
    case END:
      return 1;
    case CHECKED:
      return CHECKED_BYTES;
    default:
      throw fault(`unknown record type ${type}`);
  }
}

/** Reads a complete header whose prefix `headerBytesNeeded` has already checked. */
function parseHeader(header: Buffer): Header {
  switch (header[0]) {
    case FILE: {
      const fileId = header.readBigUInt64LE(1);
      const size = header.readBigUInt64LE(9);
      if (size > BigInt(MAX_FILE_SIZE)) throw fault(`file ${fileId} of ${size} bytes (beyond 2^53 - 1)`);
      const length = Number(size);
      return { ranges: [{ kind: 'start', fileId, offset: 0, length, whole: true, final: true }] };
    }
    case BATCH: {
      const count = header.readUInt32LE(1);
      const payloadBytes = header.readUInt32LE(5);
      const fileIds: bigint[] = new Array(count);
      const lengths: number[] = new Array(count);
      let sum = 0;
      for (let i = 0, at = BATCH_PREFIX_BYTES; i < count; i++, at += BATCH_MEMBER_BYTES) {
        fileIds[i] = header.readBigUInt64LE(at);
        const length = header.readUInt32LE(at + 8);
        lengths[i] = length;
        sum += length;
      }
      if (sum !== payloadBytes)
        throw fault(`batch lengths sum to ${sum} bytes, its payload is ${payloadBytes}`);
      return { batch: { fileIds, lengths, payloadBytes } };
    }
    case BLOCK: {
      const fileId = header.readBigUInt64LE(1);
      const offset = header.readBigUInt64LE(9);
      const length = header.readUInt32LE(17);
      const flags = header.readUInt8(21);
      if (length < 1 || length > MAX_BLOCK_BYTES)
        throw fault(`block of ${length} bytes (1 to ${MAX_BLOCK_BYTES})`);
      if (offset + BigInt(length) > BigInt(MAX_FILE_SIZE))
        throw fault(`block of file ${fileId} ends at ${offset + BigInt(length)} (beyond 2^53 - 1)`);
      if ((flags & ~(FINAL_FLAG | HOLE_FLAG)) !== 0)
        throw fault(`block flags 0x${flags.toString(16)} (only 0x01 and 0x02 are defined)`);
      const final = (flags & FINAL_FLAG) !== 0;
      const start: RangeStart = {
        kind: 'start',
        fileId,
        offset: Number(offset),
        length,
        whole: false,
        final,
      };
      if ((flags & HOLE_FLAG) !== 0) start.hole = true;
      return { ranges: [start] };
    }
    case FAIL: {
      const fileId = header.readBigUInt64LE(1);
      let reason: string;
      try {
        reason = utf8.decode(header.subarray(FAIL_PREFIX_BYTES));
      } catch {
        throw fault(`FAIL reason for file ${fileId} is not UTF-8`);
      }
      return { event: { kind: 'fail', fileId, reason } };
    }
    case CHECKED:
      return { event: { kind: 'checked', fileId: header.readBigUInt64LE(1) } };
    default:
      return { event: { kind: 'end' } };
  }
}

/** How many bytes follow a range's header: none for a hole. */
function bytesOf(start: RangeStart): number {
  return start.hole ? 0 : start.length;
}

/** The range whose bytes are arriving: absolute offsets `next` up to `end` (exclusive). */
interface OpenRange {
  fileId: bigint;
  next: number;
  end: number;
}

/**
 * Turns a socket's bytes (after the preamble) into events. `push` returns the events a chunk
 * completes, in order; if it throws, the events of that chunk are lost and the decoder is dead —
 * the socket's session ends anyway. `finish` says the stream ended; it throws if that was inside a
 * record.
 */
export class RecordDecoder {
  /**
   * `batches`: a batch whose payload comes in one chunk (the one its table ended in, or the next)
   * is one 'batch' event instead of start, data and done per member (record-receiver.ts: no
   * objects per file).
   */
  constructor(private readonly options: { batches?: boolean } = {}) {}

  private readonly header = Buffer.alloc(MAX_HEADER_BYTES);
  private headerLength = 0;
  /** Ranges announced by the last header, not yet started; `nextRange` indexes them. */
  private ranges: RangeStart[] = [];
  private nextRange = 0;
  private range: OpenRange | undefined;
  /** A batch whose table was read and whose payload has not come yet (with `batches`). */
  private batch: BatchTable | undefined;
  private ended = false;
  private dead = false;

  /** Header bytes held between pushes; never more than MAX_HEADER_BYTES. */
  get bufferedBytes(): number {
    return this.headerLength;
  }

  /**
   * How many bytes finish what the decoder is in now: the rest of a header, or the rest of a
   * record's data (a batch's members together). At least 1 until END.
   */
  get wanted(): number {
    if (this.batch) return this.batch.payloadBytes;
    if (!this.range) return headerBytesNeeded(this.header.subarray(0, this.headerLength)) - this.headerLength;
    let bytes = this.range.end - this.range.next;
    for (let i = this.nextRange; i < this.ranges.length; i++) bytes += bytesOf(this.ranges[i]!);
    return bytes;
  }

  /**
   * Bytes to the end of a BATCH record whose header is begun past its prefix: the rest of its
   * table and its payload, which a reader may take in one read (the decoder hands the batch on
   * whole when its payload comes in the chunk its table ended in). Undefined anywhere else.
   */
  get wantedThroughBatch(): number | undefined {
    if (this.range || this.batch || this.headerLength < BATCH_PREFIX_BYTES || this.header[0] !== BATCH)
      return undefined;
    const header = this.header.subarray(0, this.headerLength);
    return headerBytesNeeded(header) - this.headerLength + header.readUInt32LE(5);
  }

  /**
   * The range whose bytes come next when it is the last of its record (a FILE or a BLOCK, not a
   * batch member): its file, the offset of its next byte and how many bytes are left.
   */
  get soleRange(): { fileId: bigint; offset: number; length: number } | undefined {
    if (!this.range || this.nextRange < this.ranges.length) return undefined;
    const { fileId, next, end } = this.range;
    return { fileId, offset: next, length: end - next };
  }

  /**
   * The next `length` bytes of the open range were taken off the stream by the caller (written
   * into the file directly): the events they complete, as `push` would give them, without data.
   */
  skip(length: number): RecordEvent[] {
    const events: RecordEvent[] = [];
    this.guard(() => {
      const range = this.range;
      if (!range || length < 1 || length > range.end - range.next)
        throw new RangeError(`data record: skipping ${length} bytes outside the open range`);
      range.next += length;
      if (range.next === range.end) {
        events.push({ kind: 'done', fileId: range.fileId });
        this.range = undefined;
        this.startRanges(events);
      }
    });
    return events;
  }

  /** True once the END record has been read. */
  get atEnd(): boolean {
    return this.ended;
  }

  /** A batch's table was read and its payload (`wanted` bytes) is awaited (a decoder made with `batches`). */
  get batchPending(): boolean {
    return this.batch !== undefined;
  }

  /** Inside a record whose bytes have not all come (silence now is a stall): a header begun, or a batch's payload awaited. */
  get inRecord(): boolean {
    return this.headerLength > 0 || this.batch !== undefined || this.range !== undefined;
  }

  push(chunk: Buffer): RecordEvent[] {
    const events: RecordEvent[] = [];
    this.guard(() => {
      for (let at = 0; at < chunk.length; ) {
        if (this.ended) throw fault('bytes after END');
        if (this.batch) at = this.readBatch(chunk, at, events);
        else at = this.range ? this.readData(chunk, at, events) : this.readHeader(chunk, at, events);
      }
    });
    return events;
  }

  finish(): void {
    this.guard(() => {
      if (this.headerLength > 0)
        throw fault(`truncated: the stream ended ${this.headerLength} bytes into a record header`);
      if (this.batch) {
        const { fileIds, payloadBytes } = this.batch;
        throw fault(
          `truncated: the stream ended ${payloadBytes} bytes short of a batch of ${fileIds.length} file(s)`,
        );
      }
      if (this.range) {
        const { fileId, next, end } = this.range;
        throw fault(`truncated: the stream ended ${end - next} bytes short of a range of file ${fileId}`);
      }
    });
  }

  private guard(work: () => void): void {
    if (this.dead) throw fault('decoder already failed');
    try {
      work();
    } catch (error) {
      this.dead = true;
      throw error;
    }
  }

  private readHeader(chunk: Buffer, at: number, events: RecordEvent[]): number {
    for (;;) {
      const needed = headerBytesNeeded(this.header.subarray(0, this.headerLength));
      if (this.headerLength === needed) break;
      const copied = chunk.copy(this.header, this.headerLength, at, at + needed - this.headerLength);
      this.headerLength += copied;
      at += copied;
      if (this.headerLength < needed) return at;
    }
    const header = parseHeader(this.header.subarray(0, this.headerLength));
    this.headerLength = 0;
    if ('event' in header) {
      events.push(header.event);
      if (header.event.kind === 'end') this.ended = true;
      return at;
    }
    if ('batch' in header) {
      if (this.options.batches) {
        // Its payload whole, in this chunk or the next (a reader that reads what `wanted` says
        // reads the payload on its own): one event.
        this.batch = header.batch;
        return this.readBatch(chunk, at, events);
      }
      this.startBatchRanges(header.batch, events);
      return at;
    }
    this.ranges = header.ranges;
    this.nextRange = 0;
    this.startRanges(events);
    return at;
  }

  /**
   * The batch whose table was read: one event if `chunk` holds its whole payload from `at`; still
   * awaited if it holds none of it; else its ranges, member by member.
   */
  private readBatch(chunk: Buffer, at: number, events: RecordEvent[]): number {
    const batch = this.batch!;
    const { fileIds, lengths, payloadBytes } = batch;
    if (chunk.length - at >= payloadBytes) {
      this.batch = undefined;
      events.push({ kind: 'batch', fileIds, lengths, data: chunk.subarray(at, at + payloadBytes) });
      return at + payloadBytes;
    }
    if (at === chunk.length) return at;
    this.batch = undefined;
    this.startBatchRanges(batch, events);
    return at;
  }

  /** A batch's members as ranges, started as a FILE's or a BLOCK's are. */
  private startBatchRanges({ fileIds, lengths }: BatchTable, events: RecordEvent[]): void {
    this.ranges = fileIds.map((fileId, i) => ({
      kind: 'start',
      fileId,
      offset: 0,
      length: lengths[i]!,
      whole: true,
      final: true,
    }));
    this.nextRange = 0;
    this.startRanges(events);
  }

  private readData(chunk: Buffer, at: number, events: RecordEvent[]): number {
    const range = this.range!;
    const length = Math.min(range.end - range.next, chunk.length - at);
    events.push({
      kind: 'data',
      fileId: range.fileId,
      offset: range.next,
      data: chunk.subarray(at, at + length),
    });
    range.next += length;
    if (range.next === range.end) {
      events.push({ kind: 'done', fileId: range.fileId });
      this.range = undefined;
      this.startRanges(events);
    }
    return at + length;
  }

  /** Starts the next announced range; empty ones start and finish at once, having no bytes. */
  private startRanges(events: RecordEvent[]): void {
    while (this.nextRange < this.ranges.length) {
      const start = this.ranges[this.nextRange++]!;
      events.push(start);
      if (bytesOf(start) > 0) {
        this.range = { fileId: start.fileId, next: start.offset, end: start.offset + start.length };
        return;
      }
      events.push({ kind: 'done', fileId: start.fileId });
    }
    this.ranges = [];
  }
}

/** ALPN name of a TLS data socket, beside gRPC's `h2` on the shared port. */
export const ALPN_DATA = 'blit-data';
