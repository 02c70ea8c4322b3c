/**
 * Extended attributes (ACLs included) on the wire: an entry's list, and the bounds on what a peer
 * may send (checked where they are read). ACL values travel as the kernel stores them, with numeric
 * user and group ids, and the names those have at the source (Entry.acl_names): the destination
 * maps them by name (fsops/posix-acl.ts mapAclNames), as it maps owners.
 */
import type { Entry, Xattr } from '../fsops/entry.js';
import { NO_XATTRS } from '../fsops/xattrs.js';
import type { Xattr as WireXattr } from '../generated/blit.js';

/** At most this many per entry, names this long, values this large, and this much per entry. */
export const MAX_XATTRS = 1024;
export const MAX_XATTR_NAME_BYTES = 255;
export const MAX_XATTR_VALUE_BYTES = 64 * 1024;
export const MAX_XATTR_ENTRY_BYTES = 1024 * 1024;
/** Users and groups named in an entry's two ACLs: at most as many entries as two values hold. */
export const MAX_ACL_NAMES = (2 * MAX_XATTR_VALUE_BYTES) / 8;

export function toWireXattrs(entry: Entry): { xattrs: WireXattr[]; xattrsRead: boolean } {
  const xattrs = (entry.xattrs ?? []).map(({ name, value }) => ({
    name,
    value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  }));
  return { xattrs, xattrsRead: entry.xattrs !== undefined };
}

/**
 * A peer's list, checked and sorted by name; undefined when it says it did not read any. Throws
 * `refuse(reason)` (the caller's protocol error) on what breaks the bounds.
 */
export function fromWireXattrs(
  wire: { xattrs: WireXattr[]; xattrsRead: boolean },
  entryName: string,
  refuse: (reason: string) => Error,
): readonly Xattr[] | undefined {
  if (!wire.xattrsRead) {
    if (wire.xattrs.length > 0) throw refuse(`${entryName}: xattrs sent but not said to be read`);
    return undefined;
  }
  // Most entries: nothing to check, sort or copy (~20% of a manifest's decoding, --cpu-prof).
  if (wire.xattrs.length === 0) return NO_XATTRS;
  if (wire.xattrs.length > MAX_XATTRS) throw refuse(`${entryName}: more than ${MAX_XATTRS} xattrs`);
  let total = 0;
  const seen = new Set<string>();
  for (const { name, value } of wire.xattrs) {
    const nameBytes = Buffer.byteLength(name);
    if (nameBytes === 0 || nameBytes > MAX_XATTR_NAME_BYTES || name.includes('\0'))
      throw refuse(
        `${entryName}: xattr name empty, longer than ${MAX_XATTR_NAME_BYTES} bytes or holding a NUL byte`,
      );
    if (value.length > MAX_XATTR_VALUE_BYTES)
      throw refuse(`${entryName}: xattr ${name} larger than ${MAX_XATTR_VALUE_BYTES} bytes`);
    if (seen.has(name)) throw refuse(`${entryName}: xattr ${name} sent twice`);
    seen.add(name);
    total += nameBytes + value.length;
    if (total > MAX_XATTR_ENTRY_BYTES)
      throw refuse(`${entryName}: xattrs larger than ${MAX_XATTR_ENTRY_BYTES} bytes in all`);
  }
  return [...wire.xattrs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
