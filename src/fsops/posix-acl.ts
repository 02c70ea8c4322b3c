/**
 * POSIX ACLs as Linux stores them in the xattrs system.posix_acl_access and
 * system.posix_acl_default: a 4-byte version (2, little-endian), then 8-byte entries (tag u16, perm
 * u16, id u32). Named-user and named-group entries carry numeric ids, which mean other people on
 * another machine: across the wire they are mapped by name as owners are (unless --numeric-ids),
 * so the value is decoded, its ids listed and rewritten here. A value that does not parse is
 * refused whole (undefined), never half-mapped.
 */

import type { Xattr } from './entry.js';
import type { IdNames } from './id-map.js';

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

/** A user or group an ACL names, with its name on the machine that sent it. */
export interface AclName {
  id: number;
  name: string;
  group: boolean;
}

/** The names `names` has for the users and groups the ACLs among `xattrs` name (those without one left out). */
export function aclNamesOf(xattrs: readonly Xattr[] | undefined, names: IdNames): AclName[] {
  const out = new Map<string, AclName>();
  for (const { name, value } of xattrs ?? []) {
    if (!isAclXattr(name)) continue;
    const ids = aclIds(value);
    for (const id of ids?.users ?? []) {
      const known = names.users.nameOf.get(id);
      if (known !== undefined) out.set(`u${id}`, { id, name: known, group: false });
    }
    for (const id of ids?.groups ?? []) {
      const known = names.groups.nameOf.get(id);
      if (known !== undefined) out.set(`g${id}`, { id, name: known, group: true });
    }
  }
  return [...out.values()];
}

/**
 * `xattrs` with the ids their ACLs name mapped as owners are (fsops/id-map.ts mappedId): by the
 * name the sender gave, where that name exists here; else the number as sent.
 */
export function mapAclNames(xattrs: readonly Xattr[], sent: readonly AclName[], here: IdNames): Xattr[] {
  const users = new Map<number, number>();
  const groups = new Map<number, number>();
  for (const { id, name, group } of sent) {
    const local = (group ? here.groups : here.users).idOf.get(name);
    if (local !== undefined) (group ? groups : users).set(id, local);
  }
  return xattrs.map((xattr) => {
    if (!isAclXattr(xattr.name)) return xattr;
    const mapped = mapAclIds(
      xattr.value,
      (id) => users.get(id) ?? id,
      (id) => groups.get(id) ?? id,
    );
    return mapped ? { name: xattr.name, value: mapped } : xattr;
  });
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
