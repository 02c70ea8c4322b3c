/**
 * A directory listed through a descriptor opened beneath a root (fsops/beneath.ts), in the shape
 * listDirectory gives (fsops/listing.ts): the daemon's walk of a pull's source, which a local
 * writer cannot send out of the module by swapping a directory for a link.
 */
import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { codeOf, reasonOf } from '../util/errors.js';
import type { BeneathDir } from './beneath.js';
import type { Entry } from './entry.js';
import {
  type DirectoryContents,
  describeRawName,
  kindOfMode,
  type ListingProblem,
  NOT_UTF8_NAME,
  NOT_UTF8_TARGET,
  specialOf,
} from './listing.js';
/** Names and lstat of each entry; vanished entries are left out, others that fail are problems. */
export function listBeneath(dir: BeneathDir): DirectoryContents {
  const names = dir.readNames();
  // Their xattrs in the same call, through the descriptor: never a path a local writer could swap.
  const described = dir.lstat(names, true);
  const entries: Entry[] = [];
  const problems: ListingProblem[] = [];
  names.forEach((raw, i) => {
    if (!isUtf8(raw)) {
      problems.push({ name: describeRawName(raw), reason: NOT_UTF8_NAME });
      return;
    }
    const name = raw.toString('utf8');
    const result = described[i]!;
    if ('error' in result) {
      if (codeOf(result.error) !== 'ENOENT') problems.push({ name, reason: reasonOf(result.error) });
      return;
    }
    const { stats } = result;
    const entry: Entry = {
      name,
      kind: kindOfMode(stats.mode),
      size: stats.size,
      mtimeNs: stats.mtimeNs,
      mode: stats.mode & 0o7777,
      nlink: stats.nlink,
    };
    if (stats.uid !== undefined && stats.gid !== undefined) {
      entry.uid = stats.uid;
      entry.gid = stats.gid;
    }
    if (entry.kind === 'file' && stats.nlink > 1) entry.inode = stats.inode;
    if (entry.kind === 'file' && stats.allocated !== undefined) entry.allocated = stats.allocated;
    if (entry.kind === 'symlink') {
      if (!stats.linkTarget || !isUtf8(stats.linkTarget)) {
        problems.push({ name, reason: NOT_UTF8_TARGET });
        return;
      }
      entry.linkTarget = stats.linkTarget.toString('utf8');
    }
    if (entry.kind === 'other') {
      entry.special = specialOf(stats.mode & constants.S_IFMT);
      if (entry.special === 'char' || entry.special === 'block') entry.rdev = stats.rdev ?? 0n;
    }
    if (stats.xattrs) entry.xattrs = stats.xattrs;
    entries.push(entry);
  });
  return { entries, problems };
}
