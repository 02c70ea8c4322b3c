/** Applying mode and mtime. Always on a path whose write handle is closed (an open handle loses the mtime). */
import { chmodSync, closeSync, constants, fchmodSync, lstatSync, lutimesSync, openSync } from 'node:fs';
import { codeOf } from '../util/errors.js';
import type { EntryKind } from './entry.js';
import { nativeAddon } from './native.js';

const NS_PER_S = 1_000_000_000n;

/** Whole seconds (floored) and nanoseconds 0..999,999,999, as utimensat takes them (times before 1970 too). */
export function splitNs(ns: bigint): [number, number] {
  let sec = ns / NS_PER_S;
  let nsec = ns % NS_PER_S;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS_PER_S;
  }
  return [Number(sec), Number(nsec)];
}

/** Seconds as a double, as Node's utimes takes them (about 0.24 µs resolution today). */
export function nsToSeconds(ns: bigint): number {
  return Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9;
}

/**
 * What to hand Node's utimes for `ns`. libuv truncates the double to whole microseconds, so half a
 * microsecond is added first: the result is the nearest microsecond, not one below it. Node reads a
 * negative number as "now", so times before 1970 go as a Date (millisecond precision).
 */
export function utimesArgument(ns: bigint): number | Date {
  if (ns < 0n) return new Date(Number(ns / 1_000_000n));
  return nsToSeconds(ns + 500n);
}

/**
 * Whether a file created with `mode & 0o777` under `umask` still needs a chmod to get `mode`: it has
 * special bits (setuid, setgid, sticky), or permission bits the umask strips. The addon's copy
 * threads decide the same (native NeedsChmod; test/unit/native-rules.test.ts pins both).
 */
export function needsChmod(mode: number, umask: number): boolean {
  const createMode = mode & 0o777;
  return mode !== createMode || (createMode & umask) !== 0;
}

/**
 * Sets mode and mtime on `path` itself, never on what a last link names: a link gets its own times,
 * and the mode goes through a descriptor opened with O_NOFOLLOW, so an entry swapped for a link
 * in between fails instead of changing the link's target.
 */
export function applyMetadata(
  path: string,
  kind: EntryKind,
  mode: number,
  mtimeNs: bigint,
  chmod = true,
): void {
  if (chmod && kind !== 'symlink') chmodNoFollow(path, mode & 0o7777);
  const addon = nativeAddon();
  if (addon) {
    const [sec, nsec] = splitNs(mtimeNs);
    addon.setTimes(path, sec, nsec, true);
    return;
  }
  const mtime = utimesArgument(mtimeNs);
  lutimesSync(path, mtime, mtime);
}

const NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function chmodNoFollow(path: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, NO_FOLLOW);
  } catch (error) {
    // A file its owner may not read (mode 0, write-only) cannot be opened to be changed: checked,
    // then changed by path. Any other failure (ELOOP: a link) stands.
    if (codeOf(error) !== 'EACCES' || lstatSync(path).isSymbolicLink()) throw error;
    chmodSync(path, mode);
    return;
  }
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
