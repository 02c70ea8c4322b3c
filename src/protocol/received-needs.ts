/**
 * A NeedBatch frame as a source decodes it: the needs a destination sends are plain (a file id, a
 * path, a size and an mtime; hash_first false or absent), and are read here straight into their
 * objects, all sharing one empty `destinationHash` and without the generated decoder's per-message
 * bookkeeping. A source handles one per file it sends: the generated decoder took 43 ms of a
 * pushing client's 20,000 needs, a Buffer.alloc(0) per need 17 ms of it (perf, docs/DECISIONS.md).
 *
 * Only a frame whose every field is read here as the generated decoder reads it is taken: a role
 * and a need batch (each once), each need a record of known fields that ends where its length
 * says. Anything else (blocks, a destination hash, another field, a record cut short or run over)
 * returns undefined, and the generated decoder decodes the frame as before; so a frame taken here
 * decodes to what the generated decoder makes of the same bytes (test/unit/received-needs.test.ts).
 */
import type { BinaryReader } from '@bufbuild/protobuf/wire';
import type { Need, TransferFrame } from '../generated/blit.js';
import { frameBody } from './frame-body.js';

// TransferFrame's need_batch (7, length-delimited) tag; NeedBatch's needs (1, length-delimited);
// Need's file_id (1), path (2), hash_first (3), size (6), mtime_ns (7).
const FRAME_NEED_BATCH = (7 << 3) | 2;
const BATCH_NEED = (1 << 3) | 2;
const NEED_FILE_ID = (1 << 3) | 0;
const NEED_PATH = (2 << 3) | 2;
const NEED_HASH_FIRST = (3 << 3) | 0;
const NEED_SIZE = (6 << 3) | 0;
const NEED_MTIME = (7 << 3) | 0;

/** Every need's destinationHash: none of them is asked to hash first. Never written into. */
const NO_HASH = Buffer.alloc(0);

/** A frame of a role and a need batch of plain needs, each at most once; otherwise undefined. */
export function needBatchFrame(bytes: Uint8Array): TransferFrame | undefined {
  const frame = frameBody(bytes, FRAME_NEED_BATCH, readNeeds);
  return frame && { role: frame.role, body: { $case: 'needBatch', value: { needs: frame.body } } };
}

/** A NeedBatch's needs from the reader's place to `end`; undefined at anything not plain. */
function readNeeds(reader: BinaryReader, end: number): Need[] | undefined {
  if (end > reader.len) return undefined;
  const needs: Need[] = [];
  while (reader.pos < end) {
    if (reader.uint32() !== BATCH_NEED) return undefined;
    const length = reader.uint32();
    const need = readNeed(reader, reader.pos + length);
    if (!need) return undefined;
    needs.push(need);
  }
  return reader.pos === end ? needs : undefined;
}

function readNeed(reader: BinaryReader, end: number): Need | undefined {
  if (end > reader.len) return undefined;
  const need: Need = {
    fileId: 0n,
    path: '',
    hashFirst: false,
    blocks: [],
    destinationHash: NO_HASH,
    size: 0n,
    mtimeNs: 0n,
  };
  while (reader.pos < end) {
    switch (reader.uint32()) {
      case NEED_FILE_ID:
        need.fileId = reader.uint64() as bigint;
        break;
      case NEED_PATH:
        need.path = reader.string();
        break;
      case NEED_HASH_FIRST:
        // A need to hash first comes with the destination's hash: not plain.
        if (reader.bool()) return undefined;
        break;
      case NEED_SIZE:
        need.size = reader.uint64() as bigint;
        break;
      case NEED_MTIME:
        need.mtimeNs = reader.int64() as bigint;
        break;
      default:
        return undefined;
    }
  }
  return reader.pos === end ? need : undefined;
}
