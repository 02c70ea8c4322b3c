/** Applying mode and mtime. Always on a path whose write handle is closed (an open handle loses the mtime). */
import { chmodSync, lutimesSync, utimesSync } from 'node:fs';
import type { EntryKind } from '../engine/types.js';

const NS_PER_S = 1_000_000_000n;

/** Seconds as a double, as Node's utimes takes them (about 0.24 µs resolution today). */
export function nsToSeconds(ns: bigint): number {
  return Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9;
}

export function applyMetadata(
  path: string,
  kind: EntryKind,
  mode: number,
  mtimeNs: bigint,
  chmod = true,
): void {
  const mtime = nsToSeconds(mtimeNs);
  if (kind === 'symlink') {
    lutimesSync(path, mtime, mtime);
    return;
  }
  if (chmod) chmodSync(path, mode & 0o7777);
  utimesSync(path, mtime, mtime);
}
