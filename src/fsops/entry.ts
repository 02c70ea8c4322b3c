/**
 * An entry of a directory as blit describes it, on disk and on the wire: the vocabulary the file
 * operations, the engine's roles and the protocol share (engine/types.ts re-exports it).
 */

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

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
}
