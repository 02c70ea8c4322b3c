/** Compare rules: what the destination needs for one source entry, given what it already has. */
import { sameOwner } from '../fsops/owner.js';
import { sameXattrs } from '../fsops/xattrs.js';
import { isMadeSpecial, sameSpecialNode } from './special-files.js';
import type { CompareMode, Entry } from './types.js';

export type Decision =
  /** Write the entry (new or changed). */
  | 'transfer'
  /** Same content: nothing to do. */
  | 'skip'
  /** Same content, but mode, mtime or (kept) owner differ: set them. */
  | 'update'
  /** Sizes match under --checksum: hash both sides to decide. */
  | 'hash'
  /** The destination holds another kind of entry under this name. */
  | 'conflict';

/**
 * Times set without the native addon go through a double (about 0.24 µs resolution near the
 * present; Node rounds to microseconds), so mtimes closer than this are equal; any real edit moves them further.
 */
const MTIME_TOLERANCE_NS = 2000n;

export function sameMtime(a: bigint, b: bigint): boolean {
  const diff = a - b;
  return diff < MTIME_TOLERANCE_NS && diff > -MTIME_TOLERANCE_NS;
}

/**
 * Mode, mtime, the owner when kept (`owners`: fsops/owner.ts keepsOwners), and the xattrs and ACLs
 * kept (`keep`: fsops/xattrs.ts keepMask; both by default): a difference in any of them alone is an
 * update, not a copy.
 */
export function sameMetadata(source: Entry, dest: Entry, owners = false, keep = KEEP_ALL): boolean {
  return (
    (source.mode & 0o7777) === (dest.mode & 0o7777) &&
    sameMtime(source.mtimeNs, dest.mtimeNs) &&
    sameOwner(source, dest, owners) &&
    sameXattrs(source, dest, keep)
  );
}

/** keepMask of xattrs and ACLs both. */
export const KEEP_ALL = 3;

export function decide(
  source: Entry,
  dest: Entry | undefined,
  mode: CompareMode,
  owners = false,
  keep = KEEP_ALL,
): Decision {
  if (!dest) return 'transfer';
  // --ignore-existing leaves whatever exists alone, whatever its kind (as rsync does).
  if (mode === 'ignore-existing') return 'skip';
  if (source.kind !== dest.kind) return 'conflict';
  switch (source.kind) {
    case 'dir':
      return 'skip';
    case 'symlink':
      // A link's owner, like its times, comes with a new link.
      if (mode === 'ignore-times' || source.linkTarget !== dest.linkTarget) return 'transfer';
      return sameMtime(source.mtimeNs, dest.mtimeNs) && sameOwner(source, dest, owners) ? 'skip' : 'transfer';
    case 'other':
      // A FIFO or device: another node, or another mode or mtime, is replaced (engine/special-files.ts).
      if (!isMadeSpecial(source)) return 'skip';
      // Mode, mtime and owner; xattrs are not made on nodes (as native Decide's SameSpecial).
      return sameSpecialNode(source, dest) && sameMetadata(source, dest, owners, 0) ? 'skip' : 'transfer';
    case 'file':
      break;
  }
  if (mode === 'ignore-times' || source.size !== dest.size) return 'transfer';
  if (mode === 'checksum') return 'hash';
  if (mode === 'default' && !sameMtime(source.mtimeNs, dest.mtimeNs)) return 'transfer';
  return sameMetadata(source, dest, owners, keep) ? 'skip' : 'update';
}
