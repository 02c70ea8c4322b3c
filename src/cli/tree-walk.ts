/**
 * The walk under `blit du` and `blit find`: every entry of a tree, local or remote, visited in
 * find(1)'s order (a directory, then its contents; names sorted by code unit, as the daemon sorts
 * its pages), so the same tree prints the same lines whichever side it is on. Listings are read
 * ahead: while one directory is visited, the next ones in visiting order are already being listed,
 * at most `readAhead` listed and not yet visited at a time (a remote listing costs a round trip
 * per page; reading ahead keeps that latency off the walk). Memory holds the listings of the
 * directories on the current path and those read ahead, never the whole tree.
 */
import type { Entry } from '../fsops/entry.js';
import { joinRel } from '../fsops/rel-path.js';

/** One directory's entries (any order) and what in it could not be described. */
export interface TreeListing {
  entries: Entry[];
  /** One line each, ready to print after `blit: ` (path and reason, control characters escaped). */
  problems: string[];
}

/** What a walk reads: a tree's directories by relative path ('' = its root). */
export interface TreeSource {
  /**
   * Lists one directory of the tree. A directory that cannot be listed (permission denied,
   * vanished) is a problem in the answer; a failure that ends the walk (the daemon is gone) throws.
   */
  list(rel: string): Promise<TreeListing>;
}

export interface TreeVisitor {
  /** Each entry below the root, a directory before its contents. */
  entry(rel: string, entry: Entry): void;
  /** A directory (the root: '') once everything below it was visited. */
  leave(rel: string): void;
  problem(line: string): void;
}

/** Listings in flight or read ahead at once. */
export const READ_AHEAD = 8;

interface Pending {
  rel: string;
  listing?: Promise<TreeListing>;
}

/** A directory being visited: its entries in order, and its subdirectories still to enter. */
interface Frame {
  rel: string;
  entries: Entry[];
  next: number;
  subdirs: Pending[];
  nextSubdir: number;
}

const byName = (a: Entry, b: Entry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Walks the directory tree below `source`'s root ('' must be a directory), in find(1)'s order. */
export async function walkTree(
  source: TreeSource,
  visitor: TreeVisitor,
  readAhead = READ_AHEAD,
): Promise<void> {
  let unread = 0;
  const start = (pending: Pending) => {
    unread++;
    pending.listing = source.list(pending.rel);
    // A listing read ahead and then abandoned by a failure elsewhere must not surface unhandled.
    pending.listing.catch(() => undefined);
  };
  const frames: Frame[] = [];
  /** Starts the listings of the next directories in visiting order, up to the read-ahead bound. */
  const readNext = () => {
    for (let f = frames.length - 1; f >= 0 && unread < readAhead; f--) {
      const { subdirs, nextSubdir } = frames[f]!;
      for (let i = nextSubdir; i < subdirs.length && unread < readAhead; i++) {
        if (!subdirs[i]!.listing) start(subdirs[i]!);
      }
    }
  };
  const enter = async (pending: Pending) => {
    if (!pending.listing) start(pending);
    const listing = await pending.listing!;
    unread--;
    pending.listing = undefined;
    for (const line of listing.problems) visitor.problem(line);
    const entries = listing.entries.sort(byName);
    const subdirs = entries
      .filter((entry) => entry.kind === 'dir')
      .map((entry) => ({ rel: joinRel(pending.rel, entry.name) }));
    frames.push({ rel: pending.rel, entries, next: 0, subdirs, nextSubdir: 0 });
    readNext();
  };

  await enter({ rel: '' });
  while (frames.length > 0) {
    const frame = frames[frames.length - 1]!;
    const entry = frame.entries[frame.next++];
    if (!entry) {
      frames.pop();
      visitor.leave(frame.rel);
      continue;
    }
    visitor.entry(joinRel(frame.rel, entry.name), entry);
    if (entry.kind === 'dir') await enter(frame.subdirs[frame.nextSubdir++]!);
  }
}
