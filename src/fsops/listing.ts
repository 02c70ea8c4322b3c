/** Lists one directory with the metadata of every entry, in one synchronous pass. */
import { isUtf8 } from 'node:buffer';
import { type BigIntStats, constants, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { reasonOf } from '../util/errors.js';
import type { Entry, EntryKind, SpecialType, Xattr } from './entry.js';
import {
  type NativeAddon,
  type NativeListing,
  nativeAddon,
  nativeErrnoError,
  nativeKinds,
} from './native.js';
import { localPath } from './rel-path.js';
import { NO_XATTRS } from './xattrs.js';

export const NOT_UTF8_NAME = 'file name is not valid UTF-8; not supported';
export const NOT_UTF8_TARGET = 'symbolic link target is not valid UTF-8; not supported';

export interface ListingProblem {
  /** The entry's name, with bytes that are not UTF-8 shown as \xNN. */
  name: string;
  reason: string;
}

export interface DirectoryContents {
  entries: Entry[];
  problems: ListingProblem[];
}

export function kindOf(stats: BigIntStats): EntryKind {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** The kind of an entry from its st_mode (file type bits included). */
export function kindOfMode(mode: number): EntryKind {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return 'file';
    case constants.S_IFDIR:
      return 'dir';
    case constants.S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

/** What a special file is, from its st_mode & S_IFMT. */
export function specialOf(type: number): SpecialType {
  switch (type) {
    case constants.S_IFIFO:
      return 'fifo';
    case constants.S_IFCHR:
      return 'char';
    case constants.S_IFBLK:
      return 'block';
    case constants.S_IFSOCK:
      return 'socket';
    default:
      return 'unknown';
  }
}

/**
 * Adds what an lstat says beyond name, kind, size, mtime and mode (see Entry): owners, link count
 * and identity of files with more than one name, the special file's type and device, the bytes on disk.
 */
export function addStatFields(
  entry: Entry,
  uid: number,
  gid: number,
  nlink: number,
  type: number,
  dev: bigint,
  ino: bigint,
  rdev: bigint,
  allocated: number,
): void {
  entry.uid = uid;
  entry.gid = gid;
  entry.nlink = nlink;
  if (entry.kind === 'file') {
    entry.allocated = allocated;
    if (nlink > 1) entry.inode = `${dev}:${ino}`;
  } else if (entry.kind === 'other') {
    entry.special = specialOf(type);
    if (entry.special === 'char' || entry.special === 'block') entry.rdev = rdev;
  }
}

export function entryFromStats(name: string, stats: BigIntStats, linkTarget?: string): Entry {
  const entry: Entry = {
    name,
    kind: kindOf(stats),
    size: Number(stats.size),
    mtimeNs: stats.mtimeNs,
    mode: Number(stats.mode & 0o7777n),
  };
  if (linkTarget !== undefined) entry.linkTarget = linkTarget;
  addStatFields(
    entry,
    Number(stats.uid),
    Number(stats.gid),
    Number(stats.nlink),
    Number(stats.mode) & constants.S_IFMT,
    stats.dev,
    stats.ino,
    stats.rdev,
    Number(stats.blocks) * 512,
  );
  return entry;
}

/** Shows a file name that is not valid UTF-8: valid characters as they are, other bytes as \xNN. */
export function describeRawName(raw: Buffer): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    let end = i + 1;
    while (end <= raw.length && end - i <= 4 && !isUtf8(raw.subarray(i, end))) end++;
    if (end <= raw.length && end - i <= 4) {
      out += raw.subarray(i, end).toString('utf8');
      i = end;
    } else {
      out += `\\x${raw[i]!.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

function xattrsOf(pairs: [string, Buffer][] | undefined): readonly Xattr[] {
  if (!pairs) return NO_XATTRS;
  return pairs.map(([name, value]) => ({ name, value }));
}

/** A listing that takes longer than this calls `onSlow` first (see listDirectory). */
const SLOW_LISTING_MS = 200;

function listNative(addon: NativeAddon, dir: string, onSlow?: () => void): DirectoryContents {
  return contentsOf(
    addon,
    slowListing(onSlow, (waitMs) => (waitMs === undefined ? addon.listDir(dir) : addon.listDir(dir, waitMs))),
  );
}

/**
 * The addon's listing by `list`: with `onSlow`, on a reader thread, `onSlow` running once it has
 * taken SLOW_LISTING_MS before the wait goes on (listDirectory).
 */
export function slowListing<T>(
  onSlow: (() => void) | undefined,
  list: (waitMs?: number) => T | undefined,
): T {
  const listed = onSlow ? list(SLOW_LISTING_MS) : undefined;
  if (listed) return listed;
  onSlow?.();
  return list()!;
}

/** The entries of an addon listing (listDir's arrays), and the problems of those it could not list. */
export function contentsOf(addon: NativeAddon, listing: NativeListing): DirectoryContents {
  const entries: Entry[] = [];
  const problems: ListingProblem[] = [];
  const kinds = nativeKinds(addon);
  const ERROR = addon.codes.kind.error;
  for (let i = 0; i < listing.names.length; i++) {
    const name = listing.names[i]!;
    if (typeof name !== 'string') {
      problems.push({ name: describeRawName(name), reason: NOT_UTF8_NAME });
      continue;
    }
    const kind = listing.kinds[i]!;
    if (kind === ERROR) {
      problems.push({ name, reason: reasonOf(nativeErrnoError(addon, listing.errnos[i]!)) });
      continue;
    }
    const entry: Entry = {
      name,
      kind: kinds[kind] ?? 'other',
      size: listing.sizes[i]!,
      mtimeNs: listing.mtimeNs[i]!,
      mode: listing.modes[i]!,
    };
    addStatFields(
      entry,
      listing.uids[i]!,
      listing.gids[i]!,
      listing.nlinks[i]!,
      listing.types[i]!,
      listing.devs[i]!,
      listing.inos[i]!,
      listing.rdevs[i]!,
      listing.allocated[i]!,
    );
    if (listing.xattrsRead[i]) entry.xattrs = xattrsOf(listing.xattrs[i]);
    if (entry.kind === 'symlink') {
      const target = listing.links[i];
      if (typeof target !== 'string') {
        problems.push({ name, reason: NOT_UTF8_TARGET });
        continue;
      }
      entry.linkTarget = target;
    }
    entries.push(entry);
  }
  return { entries, problems };
}

/**
 * Reads `dir` and lstats each entry (in one native call when the addon is loaded). Throws when the directory itself cannot be read; entries that
 * vanish meanwhile are left out; names that are not UTF-8 and unreadable links become problems.
 * With `onSlow` and the addon, a reader thread lists it, and `onSlow` runs once it has taken
 * SLOW_LISTING_MS (a hung mount, say) before the wait goes on; without the addon the listing is
 * one synchronous call on this thread, and `onSlow` never runs.
 */
export function listDirectory(dir: string, onSlow?: () => void): DirectoryContents {
  const addon = nativeAddon();
  if (addon) return listNative(addon, dir, onSlow);
  const rawNames = readdirSync(dir, { encoding: 'buffer' });
  const entries: Entry[] = [];
  const problems: ListingProblem[] = [];
  for (const raw of rawNames) {
    if (!isUtf8(raw)) {
      problems.push({ name: describeRawName(raw), reason: NOT_UTF8_NAME });
      continue;
    }
    const name = raw.toString('utf8');
    const path = localPath(dir, name);
    let stats: BigIntStats | undefined;
    try {
      stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      problems.push({ name, reason: reasonOf(error) });
      continue;
    }
    if (!stats) continue;
    let linkTarget: string | undefined;
    if (stats.isSymbolicLink()) {
      try {
        const target = readlinkSync(path, { encoding: 'buffer' });
        if (!isUtf8(target)) {
          problems.push({ name, reason: NOT_UTF8_TARGET });
          continue;
        }
        linkTarget = target.toString('utf8');
      } catch (error) {
        problems.push({ name, reason: reasonOf(error) });
        continue;
      }
    }
    entries.push(entryFromStats(name, stats, linkTarget));
  }
  return { entries, problems };
}
