/**
 * A TransferFrame read by hand: a role and one body field, each at most once (the shape the
 * decoders of received-manifest.ts and received-needs.ts take; any other goes to the generated
 * decoder).
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';

/** TransferFrame's `role` tag (field 1, varint). */
export const FRAME_ROLE_TAG = (1 << 3) | 0;

/**
 * The role and the body of a frame holding at most a role and exactly one field `bodyTag`,
 * each once, the body read by `read` from the reader's place to its end; undefined for any other
 * shape, or when `read` gives up.
 */
export function frameBody<T>(
  bytes: Uint8Array,
  bodyTag: number,
  read: (reader: BinaryReader, end: number) => T | undefined,
): { role: number; body: T } | undefined {
  const reader = new BinaryReader(bytes);
  let role: number | undefined;
  let body: T | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === FRAME_ROLE_TAG && role === undefined) role = reader.int32();
    else if (tag === bodyTag && body === undefined) {
      const length = reader.uint32();
      body = read(reader, reader.pos + length);
      if (body === undefined) return undefined;
    } else return undefined;
  }
  return body === undefined ? undefined : { role: role ?? 0, body };
}
