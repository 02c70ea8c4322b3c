/**
 * Directory read-ahead for the walk: while the main thread turns one listing into objects and
 * compares it, the addon's background threads already list the next directories (source and
 * destination), so on 2 cores the getdents and lstat calls leave the main thread. Without the addon
 * this does nothing.
 *
 * It keeps a copy of the walk's own stack (depth first: the subdirectories just listed are visited
 * next, first one first) and keeps the top few directories requested, so the window always covers
 * exactly what the walk visits next.
 */
import { type NativeAddon, nativeAddon } from './native.js';

/**
 * A push's source tree, listed on the reader threads from the moment the command knows it pushes:
 * the session's walk, which starts once gRPC has loaded and the daemon has accepted the transfer,
 * finds the first directories listed (the readers use a core the starting process leaves idle).
 * `root` is the path the walk lists the source root by (engine/endpoints.ts sourcePath). Bounded in
 * the addon (directories and entries); what the walk never takes is dropped with the process.
 */
export function readTreeAhead(root: string, addon: NativeAddon | undefined = nativeAddon()): void {
  addon?.readAheadTree(root);
}

/** A directory the walk will visit, and the paths to read ahead for it (none: nothing to read). */
export interface UpcomingDir {
  rel: string;
  paths: string[];
}

/** Directories at the top of the walk's stack kept requested. */
const WINDOW_DIRS = 8;

interface StackEntry extends UpcomingDir {
  requested: boolean;
}

export class ReadAhead {
  /** The walk's upcoming directories; the next one visited is last. */
  private readonly stack: StackEntry[] = [];
  private closed = false;

  constructor(private readonly addon: NativeAddon | undefined = nativeAddon()) {}

  /**
   * The walk took the listing of `rel`: it leaves the stack, with anything above it (directories
   * the walk passed without a listing, such as unreadable ones).
   */
  reached(rel: string): void {
    if (!this.addon || this.closed) return;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      if (this.stack[i]!.rel !== rel) continue;
      this.stack.length = i;
      return;
    }
  }

  /**
   * The subdirectories of the directory just reached, in the order the walk visits them (every one
   * it will visit, so the copy stays in step; those with no paths are simply not read ahead).
   */
  found(dirs: UpcomingDir[]): void {
    if (!this.addon || this.closed) return;
    for (let i = dirs.length - 1; i >= 0; i--) this.stack.push({ ...dirs[i]!, requested: false });
    const batch: string[] = [];
    for (let i = this.stack.length - 1; i >= 0 && i >= this.stack.length - WINDOW_DIRS; i--) {
      const entry = this.stack[i]!;
      if (entry.requested) continue;
      entry.requested = true;
      batch.push(...entry.paths);
    }
    if (batch.length > 0) this.addon.readAhead(batch);
  }

  /** Forgets every listing read ahead and not taken (so none is used long after it was read). */
  close(): void {
    if (!this.addon || this.closed) return;
    this.closed = true;
    this.stack.length = 0;
    this.addon.dropReadAhead();
  }
}
