/**
 * Transfer frames as the destination's side decodes them: a manifest batch keeps its entries as the
 * bytes they came in (ManifestBatch field 3, one record per entry), decoded only when the session
 * asks for them. A directory whose destination already holds exactly those entries (the addon
 * compares the bytes with its own listing's: protocol/native-manifest.ts sameAsListed) is then never
 * decoded entry by entry, nor planned.
 *
 * Profile behind it (docs/DECISIONS.md): of a daemon's work on a nothing-changed push of 20,000
 * files, decoding the manifest's entries and planning them were about a third.
 *
 * Any frame of another shape, any batch with a field this does not read, and any that fails here
 * goes to the generated decoder as before. Each entry is then decoded as the generated decoder
 * decodes it, except that a record must hold exactly one ManifestEntry: a peer's record the
 * generated decoder would read past, or stop inside (an end-group or zero tag), is refused
 * (ProtocolError) instead of being read as whatever the bytes after it say.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { Failure, ManifestBatch, ManifestEntry, TransferFrame } from '../generated/blit.js';
import { frameBody } from './frame-body.js';
import { ProtocolError } from './manifest-wire.js';
import { needBatchFrame } from './received-needs.js';

/** A batch whose `entries` are still in `raw` (field-3 records), until entriesOf decodes them. */
export interface ReceivedBatch extends ManifestBatch {
  raw?: Uint8Array;
  /** How many entries `raw` holds. */
  rawEntries?: number;
  /** The length of the whole frame it came in, as on the wire (the manifest's window counts it). */
  wireBytes?: number;
}

// TransferFrame's manifest (5, length-delimited) tag; ManifestBatch's.
const FRAME_MANIFEST = (5 << 3) | 2;
const BATCH_DIRECTORY = (1 << 3) | 2;
const BATCH_DIRECTORY_ENTRY = (2 << 3) | 2;
const BATCH_ENTRY = (3 << 3) | 2;
const BATCH_PARTIAL = (4 << 3) | 0;
const BATCH_LAST = (5 << 3) | 0;
const BATCH_UNREADABLE = (6 << 3) | 2;

/**
 * A TransferFrame; a manifest batch's entries left as received (ReceivedBatch), a batch of plain
 * needs read straight into its objects (received-needs.ts).
 */
export function decodeTransferFrame(bytes: Uint8Array): TransferFrame {
  let frame: TransferFrame | undefined;
  try {
    frame = manifestFrame(bytes) ?? needBatchFrame(bytes);
  } catch {
    // Malformed here (a length past the end): the generated decoder says what it makes of it.
  }
  frame ??= TransferFrame.decode(bytes);
  if (frame.body?.$case === 'manifest') (frame.body.value as ReceivedBatch).wireBytes = bytes.length;
  return frame;
}

/** A frame of a role and a manifest batch only, each at most once; otherwise undefined. */
function manifestFrame(bytes: Uint8Array): TransferFrame | undefined {
  const frame = frameBody(bytes, FRAME_MANIFEST, (reader, end) => readBatch(bytes, reader, end));
  return frame && { role: frame.role, body: { $case: 'manifest', value: frame.body } };
}

/** The batch from the reader's place to `end`, entries kept raw; undefined at a field it leaves. */
function readBatch(bytes: Uint8Array, reader: BinaryReader, end: number): ReceivedBatch | undefined {
  if (end > reader.len) return undefined;
  const batch: ReceivedBatch = ManifestBatch.fromPartial({});
  // The entries' records, as [start, end) runs of `bytes` (a repeated field may come in several).
  const runs: number[] = [];
  let entries = 0;
  while (reader.pos < end) {
    const at = reader.pos;
    const tag = reader.uint32();
    switch (tag) {
      case BATCH_DIRECTORY:
        batch.directory = reader.string();
        break;
      case BATCH_DIRECTORY_ENTRY:
        batch.directoryEntry = ManifestEntry.decode(reader, reader.uint32());
        break;
      case BATCH_ENTRY: {
        // Stepped over, not sliced: a view per entry was most of this function's cost (perf).
        const length = reader.uint32();
        if (length > end - reader.pos) return undefined;
        reader.pos += length;
        entries++;
        if (runs.length > 0 && runs[runs.length - 1] === at) runs[runs.length - 1] = reader.pos;
        else runs.push(at, reader.pos);
        break;
      }
      case BATCH_PARTIAL:
        batch.partial = reader.bool();
        break;
      case BATCH_LAST:
        batch.last = reader.bool();
        break;
      case BATCH_UNREADABLE:
        batch.unreadable.push(Failure.decode(reader, reader.uint32()));
        break;
      default:
        return undefined;
    }
  }
  if (reader.pos !== end) return undefined;
  batch.rawEntries = entries;
  batch.raw =
    runs.length === 2
      ? bytes.subarray(runs[0], runs[1])
      : Buffer.concat(pairs(runs).map(([from, to]) => bytes.subarray(from, to)));
  return batch;
}

function pairs(runs: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < runs.length; i += 2) out.push([runs[i]!, runs[i + 1]!]);
  return out;
}

/** The batch's entries: decoded one at a time from `raw` (each checked before the next is decoded). */
export function entriesOf(batch: ReceivedBatch): Iterable<ManifestEntry> {
  const raw = batch.raw;
  if (raw === undefined) return batch.entries;
  batch.raw = undefined;
  return decodeEntries(raw);
}

/**
 * ManifestBatch field-3 records, each decoded as the generated decoder decodes it, one at a time:
 * a record that does not hold exactly one ManifestEntry is a ProtocolError.
 */
export function* decodeEntries(raw: Uint8Array): Generator<ManifestEntry> {
  const reader = new BinaryReader(raw);
  while (reader.pos < reader.len) {
    let entry: ManifestEntry;
    try {
      if (reader.uint32() !== BATCH_ENTRY) throw new Error('not an entry');
      const length = reader.uint32();
      const end = reader.pos + length;
      entry = ManifestEntry.decode(reader, length);
      if (reader.pos !== end) throw new Error('not one entry');
    } catch (error) {
      throw new ProtocolError(`malformed manifest entry: ${(error as Error).message}`);
    }
    yield entry;
  }
}
