/**
 * An entry of a directory as blit describes it, on disk and on the wire: the vocabulary the file
 * operations, the engine's roles and the protocol share (engine/types.ts re-exports it).
 */

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

/** What an entry of kind 'other' is. */
export type SpecialType = 'fifo' | 'char' | 'block' | 'socket' | 'unknown';

/** One entry of a directory as a role describes it: what the manifest carries. */
export interface Entry {
  name: string;
  kind: EntryKind;
  size: number;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** Permission bits (including setuid/setgid/sticky). */
  mode: number;
  linkTarget?: string;
  /**
   * The rest of the lstat, for metadata fidelity. Set by the listings (fsops/listing.ts); absent on
   * entries from peers that do not send them (then nothing of that kind is applied or compared).
   */
  uid?: number;
  gid?: number;
  /** The link count; above 1 a file may have other names in the transfer (see `inode`). */
  nlink?: number;
  /** `dev:ino`, set only on files whose link count is above 1: the key hard-link groups use. */
  inode?: string;
  /** For kind 'other': which special file it is, and for a device its number (st_rdev). */
  special?: SpecialType;
  rdev?: bigint;
  /** Bytes on disk (st_blocks × 512): below `size`, the file has holes. */
  allocated?: number;
  /**
   * Extended attributes and ACLs (fsops/xattrs.ts says which names), sorted by name; absent when
   * they were not read (no addon, a peer that does not send them): then none are compared or applied.
   */
  xattrs?: readonly Xattr[];
}

/** One extended attribute: its name and value (bytes). */
export interface Xattr {
  name: string;
  value: Uint8Array;
}
