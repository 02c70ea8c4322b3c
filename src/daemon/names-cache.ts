/**
 * The sorted names of directories being listed page by page: a client paging through a directory
 * of 50,000 entries made the daemon read and sort all of them again for every page (75 ms each).
 * A directory's names are kept, sorted, under its identity and change times (device, inode,
 * mtime, ctime: any entry added, removed or renamed changes them), for a short while and within
 * bounds of directories and names held; an entry the cache misses is read as before.
 */
import type { SortedNames } from './list-page.js';
import { sortNames } from './list-page.js';

/** Directories kept at most (the least recently used go first). */
export const MAX_CACHED_DIRS = 32;
/** Names kept at most, all directories together. */
export const MAX_CACHED_NAMES = 2_000_000;
/** How long a directory's names are reused. */
export const CACHE_TTL_MS = 30_000;

export interface DirectoryIdentity {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Cached {
  sorted: SortedNames;
  at: number;
}

export class NamesCache {
  private readonly entries = new Map<string, Cached>();
  private names = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The directory's names, sorted: from the cache, or `read` and kept. */
  sorted(scope: string, identity: DirectoryIdentity, read: () => Buffer[]): SortedNames {
    const key = `${scope}\0${identity.dev}:${identity.ino}:${identity.mtimeNs}:${identity.ctimeNs}`;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at <= CACHE_TTL_MS) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.sorted;
    }
    if (hit) this.drop(key, hit);
    const sorted = sortNames(read());
    if (sorted.keys.length <= MAX_CACHED_NAMES) {
      this.entries.set(key, { sorted, at: now });
      this.names += sorted.keys.length;
      for (const [oldKey, old] of this.entries) {
        if (this.entries.size <= MAX_CACHED_DIRS && this.names <= MAX_CACHED_NAMES) break;
        this.drop(oldKey, old);
      }
    }
    return sorted;
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(key: string, cached: Cached): void {
    this.entries.delete(key);
    this.names -= cached.sorted.keys.length;
  }
}
