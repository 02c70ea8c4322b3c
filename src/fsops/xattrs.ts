/**
 * Extended attributes and POSIX ACLs (Linux keeps ACLs as the xattrs system.posix_acl_access and
 * system.posix_acl_default): which names blit keeps, whether two entries' sets are equal within
 * the kinds a transfer keeps, and applying a set to a path through the addon (native/xattr.cc).
 * Node has no xattr API: without the addon none are read, so none are compared or written, and the
 * report says so once per kind (see DECISIONS: "xattrs and ACLs").
 */

import { reasonOf } from '../util/errors.js';
import type { Entry, Xattr } from './entry.js';
import { type NativeAddon, nativeAddon, nativeErrnoError } from './native.js';
import { isAclXattr } from './posix-acl.js';

export type XattrClass = 'xattrs' | 'acls' | 'skip';

/**
 * user.* always; trusted.* and security.* only as root (no one else may read or write them);
 * the two ACL names are ACLs; any other system.* name is the file system's own (left alone).
 */
export function classifyXattr(name: string, root: boolean): XattrClass {
  if (isAclXattr(name)) return 'acls';
  if (name.startsWith('user.')) return 'xattrs';
  if (name.startsWith('trusted.') || name.startsWith('security.')) return root ? 'xattrs' : 'skip';
  return 'skip';
}

/** Which kinds a transfer keeps, as the addon takes them (bits: 1 xattrs, 2 ACLs). */
export function keepMask(keep: { xattrs: boolean; acls: boolean }): number {
  return (keep.xattrs ? 1 : 0) | (keep.acls ? 2 : 0);
}

function kept(name: string, mask: number, root: boolean): boolean {
  const kind = classifyXattr(name, root);
  return (kind === 'xattrs' && (mask & 1) !== 0) || (kind === 'acls' && (mask & 2) !== 0);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether two entries' attributes are equal within the kinds kept (`mask`). Unknown on either side
 * (not read: no addon, an older peer) counts as equal: nothing can be compared or applied then.
 */
export function sameXattrs(a: Entry, b: Entry, mask: number, root = isRoot()): boolean {
  if (mask === 0 || !a.xattrs || !b.xattrs) return true;
  if (a.xattrs.length === 0 && b.xattrs.length === 0) return true;
  const left = a.xattrs.filter((x) => kept(x.name, mask, root));
  const right = b.xattrs.filter((x) => kept(x.name, mask, root));
  if (left.length !== right.length) return false;
  const byName = new Map(right.map((x) => [x.name, x.value]));
  return left.every((x) => {
    const other = byName.get(x.name);
    return other !== undefined && sameBytes(x.value, other);
  });
}

/** What makes `have` equal `want` within the kinds kept: names to set and names to remove. */
export function xattrChanges(
  want: readonly Xattr[],
  have: readonly Xattr[],
  mask: number,
  root = isRoot(),
): { set: Xattr[]; remove: string[] } {
  const wanted = want.filter((x) => kept(x.name, mask, root));
  const haveByName = new Map(have.map((x) => [x.name, x.value]));
  const wantNames = new Set(wanted.map((x) => x.name));
  return {
    set: wanted.filter((x) => {
      const current = haveByName.get(x.name);
      return current === undefined || !sameBytes(current, x.value);
    }),
    remove: have.filter((x) => kept(x.name, mask, root) && !wantNames.has(x.name)).map((x) => x.name),
  };
}

/** The kinds an entry carries any of (to count what could not be kept). */
export function xattrKinds(
  xattrs: readonly Xattr[] | undefined,
  mask: number,
  root = isRoot(),
): Set<'xattrs' | 'acls'> {
  const kinds = new Set<'xattrs' | 'acls'>();
  for (const x of xattrs ?? []) {
    const kind = classifyXattr(x.name, root);
    if (kind !== 'skip' && kept(x.name, mask, root)) kinds.add(kind);
  }
  return kinds;
}

let root: boolean | undefined;
export function isRoot(): boolean {
  root ??= process.geteuid?.() === 0;
  return root;
}

/** The shared "read, none there" value: listings hand it to most entries. */
export const NO_XATTRS: readonly Xattr[] = Object.freeze([]);

/** Where writes count what was kept (engine/fidelity.ts FidelityTally fits it). */
export interface XattrCounter {
  applied(kind: 'xattrs' | 'acls'): void;
  failed(kind: 'xattrs' | 'acls', reason: string): void;
}

export const NEEDS_ADDON = 'needs the native addon';

/**
 * Makes the xattrs of `path` itself (a temp file before its chmod, an updated entry, a directory
 * after its contents) those of `entry` within `mask`, counting per kind. Returns whether an ACL was
 * or is there: the caller's chmod must follow then (an ACL moves the mode's group bits).
 * Nothing happens for an entry whose xattrs were not read.
 */
export function writeXattrs(path: string, entry: Entry, mask: number, counter: XattrCounter): boolean {
  if (!entry.xattrs || mask === 0) return false;
  const addon = nativeAddon();
  if (!addon) {
    for (const kind of xattrKinds(entry.xattrs, mask)) counter.failed(kind, NEEDS_ADDON);
    return false;
  }
  const outcome = addon.setXattrs(
    path,
    entry.xattrs.map((x) => [x.name, x.value]),
    mask,
    entry.kind === 'symlink',
  );
  countXattrOutcome(addon, outcome, counter);
  return outcome.acls;
}

/** What setting one entry's xattrs did, per kind: attempted, and the errno (0: done). */
export interface XattrOutcome {
  xattrs: boolean;
  acls: boolean;
  xattrErr: number;
  aclErr: number;
}

/** Counts what setting an entry's xattrs did (setXattrs, or a landing thread's). */
export function countXattrOutcome(addon: NativeAddon, outcome: XattrOutcome, counter: XattrCounter): void {
  countOutcome(addon, outcome.xattrs, outcome.xattrErr, 'xattrs', counter);
  countOutcome(addon, outcome.acls, outcome.aclErr, 'acls', counter);
}

function countOutcome(
  addon: NativeAddon,
  attempted: boolean,
  err: number,
  kind: 'xattrs' | 'acls',
  counter: XattrCounter,
): void {
  if (!attempted) return;
  if (err === 0) counter.applied(kind);
  else counter.failed(kind, xattrReason(addon, err));
}

/** The xattrs of `path` itself, for an entry that has none read yet (a directory after its contents). */
export function readXattrs(path: string): readonly Xattr[] | undefined {
  const addon = nativeAddon();
  if (!addon) return undefined;
  const pairs = addon.readXattrs(path);
  return pairs.length === 0 ? NO_XATTRS : pairs.map(([name, value]) => ({ name, value }));
}

/** Adds a whole-directory job's counts (NativeDirResult.xattrs) to `counter`. */
export function countDirXattrs(
  addon: NativeAddon,
  counts: {
    xattrsApplied: number;
    xattrsFailed: number;
    aclsApplied: number;
    aclsFailed: number;
    errno: number;
  },
  counter: XattrCounter,
): void {
  const reason = counts.errno ? xattrReason(addon, counts.errno) : 'failed';
  for (let i = 0; i < counts.xattrsApplied; i++) counter.applied('xattrs');
  for (let i = 0; i < counts.aclsApplied; i++) counter.applied('acls');
  for (let i = 0; i < counts.xattrsFailed; i++) counter.failed('xattrs', reason);
  for (let i = 0; i < counts.aclsFailed; i++) counter.failed('acls', reason);
}

/** Adds one native file copy's outcome (NativeCopyResult xattrs bits and errno) to `counter`. */
export function countCopyXattrs(
  addon: NativeAddon,
  bits: number,
  errno: number,
  counter: XattrCounter,
): void {
  if (bits === 0) return;
  const flag = addon.codes.xattrOutcome;
  const reason = (): string => (errno ? xattrReason(addon, errno) : 'failed');
  if (bits & flag.xattrsApplied) counter.applied('xattrs');
  if (bits & flag.aclsApplied) counter.applied('acls');
  if (bits & flag.xattrsFailed) counter.failed('xattrs', reason());
  if (bits & flag.aclsFailed) counter.failed('acls', reason());
}

/** Why xattrs could not be kept, in words (the warning's reason). */
export function xattrReason(addon: NativeAddon, errno: number): string {
  const code = addon.errnoName(errno);
  if (code === 'ENOTSUP' || code === 'EOPNOTSUPP')
    return 'the destination file system does not support them (ENOTSUP)';
  if (code === 'EPERM') return 'not permitted (EPERM)';
  return reasonOf(nativeErrnoError(addon, errno));
}
