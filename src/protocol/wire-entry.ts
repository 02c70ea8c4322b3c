/** Converts entries between the engine's vocabulary and the wire's (src/generated/blit.ts). */
import type { Entry as LocalEntry, EntryKind as LocalKind } from '../engine/types.js';
import type { SpecialType as SpecialType_ } from '../fsops/entry.js';
import { EntryKind, SpecialType, type Entry as WireEntry } from '../generated/blit.js';
import { toWireXattrs } from './wire-xattrs.js';

const TO_WIRE: Record<LocalKind, EntryKind> = {
  file: EntryKind.ENTRY_KIND_FILE,
  dir: EntryKind.ENTRY_KIND_DIRECTORY,
  symlink: EntryKind.ENTRY_KIND_SYMLINK,
  other: EntryKind.ENTRY_KIND_OTHER,
};

const SPECIAL_TO_WIRE: Record<SpecialType_, SpecialType> = {
  fifo: SpecialType.SPECIAL_TYPE_FIFO,
  char: SpecialType.SPECIAL_TYPE_CHAR,
  block: SpecialType.SPECIAL_TYPE_BLOCK,
  socket: SpecialType.SPECIAL_TYPE_SOCKET,
  unknown: SpecialType.SPECIAL_TYPE_UNSPECIFIED,
};

/** A special file's type from the wire; unknown values (from a newer peer) read as 'unknown'. */
export function specialName(special: SpecialType): SpecialType_ {
  switch (special) {
    case SpecialType.SPECIAL_TYPE_FIFO:
      return 'fifo';
    case SpecialType.SPECIAL_TYPE_CHAR:
      return 'char';
    case SpecialType.SPECIAL_TYPE_BLOCK:
      return 'block';
    case SpecialType.SPECIAL_TYPE_SOCKET:
      return 'socket';
    default:
      return 'unknown';
  }
}

/** `linkGroup`: the entry's hard-link group id for this session (protocol/link-groups.ts), 0 for none. */
export function toWireEntry(entry: LocalEntry, linkGroup = 0n): WireEntry {
  return {
    name: entry.name,
    kind: TO_WIRE[entry.kind],
    size: BigInt(entry.size),
    mtimeNs: entry.mtimeNs,
    mode: entry.mode,
    linkTarget: entry.linkTarget ?? '',
    user: '',
    group: '',
    linkGroup,
    ...toWireXattrs(entry),
    aclNames: [], // a manifest names them (protocol/manifest-wire.ts)
    special: entry.special ? SPECIAL_TO_WIRE[entry.special] : SpecialType.SPECIAL_TYPE_UNSPECIFIED,
    rdev: entry.rdev ?? 0n,
    allocated: wireAllocated(entry),
  };
}

/**
 * A file's bytes on disk for the wire, where 0 means "not known" (an older peer, a listing without
 * them): a file all hole (nothing allocated) goes as 1, still below its size.
 */
function wireAllocated(entry: LocalEntry): bigint {
  if (entry.kind !== 'file' || entry.allocated === undefined) return 0n;
  return BigInt(Math.max(1, Math.min(entry.allocated, entry.size)));
}

/** The kind as users read it; unknown values (from a newer peer) read as 'other'. */
export function kindName(kind: EntryKind): LocalKind {
  switch (kind) {
    case EntryKind.ENTRY_KIND_FILE:
      return 'file';
    case EntryKind.ENTRY_KIND_DIRECTORY:
      return 'dir';
    case EntryKind.ENTRY_KIND_SYMLINK:
      return 'symlink';
    default:
      return 'other';
  }
}

/** A listed entry (List's answer) in the engine's vocabulary, for reading, not for writing to disk. */
export function fromWireEntry(entry: WireEntry): LocalEntry {
  const kind = kindName(entry.kind);
  return {
    name: entry.name,
    kind,
    size: Number(entry.size),
    mtimeNs: entry.mtimeNs,
    mode: entry.mode,
    ...(kind === 'symlink' ? { linkTarget: entry.linkTarget } : {}),
  };
}
