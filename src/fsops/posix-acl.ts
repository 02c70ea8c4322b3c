/**
 * POSIX ACLs as Linux stores them in the xattrs system.posix_acl_access and
 * system.posix_acl_default: a 4-byte version (2, little-endian), then 8-byte entries (tag u16, perm
 * u16, id u32). Named-user and named-group entries carry numeric ids, which mean other people on
 * another machine: across the wire they are mapped by name as owners are (unless --numeric-ids),
 * so the value is decoded, its ids listed and rewritten here. A value that does not parse is
 * refused whole (undefined), never half-mapped.
 */

export const ACL_ACCESS = 'system.posix_acl_access';
export const ACL_DEFAULT = 'system.posix_acl_default';

const VERSION = 2;
const HEADER = 4;
const ENTRY = 8;
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
/** Every tag the kernel knows (user_obj, user, group_obj, group, mask, other). */
const KNOWN_TAGS = new Set([0x01, ACL_USER, 0x04, ACL_GROUP, 0x10, 0x20]);

export function isAclXattr(name: string): boolean {
  return name === ACL_ACCESS || name === ACL_DEFAULT;
}

/** The named users' and groups' ids of an ACL value; undefined when it is not one. */
export function aclIds(value: Uint8Array): { users: number[]; groups: number[] } | undefined {
  const view = viewOf(value);
  if (!view) return undefined;
  const users: number[] = [];
  const groups: number[] = [];
  for (let at = HEADER; at < value.length; at += ENTRY) {
    const tag = view.getUint16(at, true);
    if (tag === ACL_USER) users.push(view.getUint32(at + 4, true));
    else if (tag === ACL_GROUP) groups.push(view.getUint32(at + 4, true));
  }
  return { users, groups };
}

/**
 * The same ACL with each named user's id replaced by `user(id)` and each named group's by
 * `group(id)`; undefined when `value` is not an ACL.
 */
export function mapAclIds(
  value: Uint8Array,
  user: (id: number) => number,
  group: (id: number) => number,
): Buffer | undefined {
  if (!viewOf(value)) return undefined;
  const out = Buffer.from(value);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  for (let at = HEADER; at < out.length; at += ENTRY) {
    const tag = view.getUint16(at, true);
    if (tag === ACL_USER) view.setUint32(at + 4, user(view.getUint32(at + 4, true)) >>> 0, true);
    else if (tag === ACL_GROUP) view.setUint32(at + 4, group(view.getUint32(at + 4, true)) >>> 0, true);
  }
  return out;
}

/** A DataView over `value` when it is a well-formed ACL value: version 2, whole entries, known tags. */
function viewOf(value: Uint8Array): DataView | undefined {
  if (value.length < HEADER || (value.length - HEADER) % ENTRY !== 0) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.length);
  if (view.getUint32(0, true) !== VERSION) return undefined;
  for (let at = HEADER; at < value.length; at += ENTRY) {
    if (!KNOWN_TAGS.has(view.getUint16(at, true))) return undefined;
  }
  return view;
}
