/** Applying mode and mtime. Always on a path whose write handle is closed (an open handle loses the mtime). */
import { chmodSync, lutimesSync, utimesSync } from 'node:fs';
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

export function applyMetadata(
  path: string,
  kind: EntryKind,
  mode: number,
  mtimeNs: bigint,
  chmod = true,
): void {
  const addon = nativeAddon();
  if (addon) {
    if (chmod && kind !== 'symlink') chmodSync(path, mode & 0o7777);
    const [sec, nsec] = splitNs(mtimeNs);
    addon.setTimes(path, sec, nsec, kind === 'symlink');
    return;
  }
  const mtime = utimesArgument(mtimeNs);
  if (kind === 'symlink') {
    lutimesSync(path, mtime, mtime);
    return;
  }
  if (chmod) chmodSync(path, mode & 0o7777);
  utimesSync(path, mtime, mtime);
}
