/**
 * The destination's paths inside a daemon's module, pinned: the directory an entry lives in is
 * opened beneath the module root (fsops/beneath.ts: links followed only while they stay inside)
 * and the entry is named through that descriptor as /proc/self/fd/N/NAME. Only the last component
 * is then resolved by path, and every operation the destination makes on it does not follow a
 * last link (lstat, rename, unlink, symlink, mkdir, O_EXCL creation, metadata: fsops/metadata.ts).
 * A local writer who swaps a directory of the module for a link to the outside makes the writes
 * below it fail; none lands outside. Linux only (/proc); elsewhere the daemon writes by path.
 */
import { existsSync } from 'node:fs';
import { errnoError } from '../util/errors.js';
import { type BeneathDir, BeneathError, type BeneathRoot } from './beneath.js';
import type { DestinationFs, ParentDir } from './destination-fs.js';
import { baseRel, joinRel, parentRel } from './rel-path.js';
import type { RemovalFailure, RemovalStep } from './remove-tree.js';

/** Directories kept open at once; the least recently used is closed first. */
const PINNED = 64;
/**
 * Names below these never exist: a path whose parent is missing (or not a directory) fails with
 * ENOENT (ENOTDIR), whatever is made there meanwhile.
 */
const MISSING = '/proc/self/fd/-1/';
const NOT_A_DIRECTORY = '/dev/null/';

/** Errors of a resolution beneath the module, as the destination reports them. */
function resolutionError(error: unknown): unknown {
  if (!(error instanceof BeneathError)) return error;
  if (error.code === 'EXDEV') return new Error('symbolic link leads outside the module');
  return errnoError(error.code);
}

export class BeneathDestinationFs implements DestinationFs {
  private readonly pinned = new Map<string, BeneathDir>();

  private constructor(
    private readonly root: BeneathRoot,
    /** The destination root's path inside the module ('' for the module root). */
    private readonly base: string,
  ) {}

  /** Undefined where /proc/self/fd does not exist (not Linux): the caller writes by path. */
  static open(root: BeneathRoot, base: string): BeneathDestinationFs | undefined {
    return existsSync('/proc/self/fd') ? new BeneathDestinationFs(root, base) : undefined;
  }

  pathOf(rel: string): string {
    const full = this.inModule(rel);
    if (full === '') return this.root.path;
    const parent = this.pin(parentRel(full));
    if (parent === 'ENOTDIR') return NOT_A_DIRECTORY + baseRel(full);
    return parent ? `/proc/self/fd/${parent.fd}/${baseRel(full)}` : MISSING + baseRel(full);
  }

  parentOf(rel: string): ParentDir | undefined {
    const full = this.inModule(rel);
    let dir: BeneathDir;
    try {
      dir = this.root.openDir(parentRel(full), true);
    } catch (error) {
      if (error instanceof BeneathError && error.code === 'ENOENT') return undefined;
      throw resolutionError(error);
    }
    return { path: (name) => `/proc/self/fd/${dir.fd}/${name}`, close: () => dir.close() };
  }

  makeBeside(rel: string, name: string): ParentDir {
    return this.beside(rel, name, true);
  }

  openBeside(rel: string, name: string): ParentDir {
    return this.beside(rel, name, false);
  }

  private beside(rel: string, name: string, make: boolean): ParentDir {
    const full = this.inModule(rel);
    let parent: BeneathDir | undefined;
    try {
      parent = this.root.openDir(parentRel(full), true);
      if (make) parent.mkdir(name, 0o777);
      // Never through a link: ELOOP or ENOTDIR if the name is not a directory (swapped since).
      const dir = parent.openSubdir(name);
      return { path: (entry) => `/proc/self/fd/${dir.fd}/${entry}`, close: () => dir.close() };
    } catch (error) {
      throw resolutionError(error);
    } finally {
      parent?.close();
    }
  }

  makeDirs(rel: string): void {
    const full = this.inModule(rel);
    if (full === '') return;
    // Most often its parent is there (a session makes a tree top down): made in it at once, no
    // walk from the module root (a failed mkdir and two descriptors for every level above).
    const parent = full.includes('/') ? this.pin(parentRel(full)) : this.root;
    if (parent && parent !== 'ENOTDIR') {
      try {
        parent.mkdir(baseRel(full), 0o777);
        return;
      } catch {
        // Something there already, or the parent gone since it was pinned: the walk judges, makes
        // and reports, as it did for every directory.
      }
    }
    let dir: BeneathDir = this.root;
    try {
      for (const name of full.split('/')) {
        try {
          dir.mkdir(name, 0o777);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        // Never through a link: ELOOP or ENOTDIR when the name is not a directory.
        const next = dir.openSubdir(name);
        if (dir !== this.root) dir.close();
        dir = next;
      }
    } catch (error) {
      throw resolutionError(error);
    } finally {
      if (dir !== this.root) dir.close();
    }
  }

  async removeTree(rel: string, failures: RemovalFailure[], step: RemovalStep): Promise<number> {
    const full = this.inModule(rel);
    if (full === '') throw new Error('the destination root itself is never removed');
    const parent = this.pin(parentRel(full));
    if (!parent || parent === 'ENOTDIR') return 0;
    return parent.removeTree(baseRel(full), rel, failures, () => step() ?? Promise.resolve());
  }

  /** `rel` (relative to the destination root) as a path inside the module. */
  private inModule(rel: string): string {
    return rel === '' ? this.base : this.base === '' ? rel : joinRel(this.base, rel);
  }

  refresh(): void {
    for (const dir of this.pinned.values()) dir.close();
    this.pinned.clear();
  }

  replaced(rel: string): void {
    const full = this.inModule(rel);
    for (const [pinned, dir] of this.pinned) {
      if (pinned !== full && !pinned.startsWith(`${full}/`)) continue;
      dir.close();
      this.pinned.delete(pinned);
    }
  }

  close(): void {
    this.refresh();
  }

  /** The directory `rel` of the module, open (undefined when it does not exist). */
  private pin(rel: string): BeneathDir | 'ENOTDIR' | undefined {
    const hit = this.pinned.get(rel);
    if (hit) {
      this.pinned.delete(rel);
      this.pinned.set(rel, hit);
      return hit;
    }
    let dir: BeneathDir;
    try {
      dir = this.root.openDir(rel, true);
    } catch (error) {
      if (error instanceof BeneathError && error.code === 'ENOENT') return undefined;
      if (error instanceof BeneathError && error.code === 'ENOTDIR') return 'ENOTDIR';
      throw resolutionError(error);
    }
    if (this.pinned.size >= PINNED) {
      const [oldest, oldDir] = this.pinned.entries().next().value as [string, BeneathDir];
      oldDir.close();
      this.pinned.delete(oldest);
    }
    this.pinned.set(rel, dir);
    return dir;
  }
}
