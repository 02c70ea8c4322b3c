/**
 * How the destination role reaches the paths it writes (engine/local-destination.ts). Locally a
 * path is the root joined with the relative path. A daemon writing a push into its module pins
 * every directory on the way instead (fsops/beneath-destination-fs.ts), so a local writer who
 * swaps one for a link cannot redirect the writes out of the module.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from './make-dirs.js';
import { localPath, parentRel } from './rel-path.js';
import { type RemovalFailure, type RemovalStep, removeTree } from './remove-tree.js';

export interface DestinationFs {
  /**
   * A path naming `rel` ('' for the root). Only its last component is resolved when it is used:
   * an implementation may pin the directories before it. Creating an entry there fails with
   * ENOENT while its parent is missing (makeDirs the parent first).
   */
  pathOf(rel: string): string;
  /**
   * The directory `rel` lives in, held open by the caller until it closes it (a file written over
   * many frames names its temp file and itself through it); undefined when it does not exist.
   */
  parentOf(rel: string): ParentDir | undefined;
  /** Makes the directory `rel` and its missing ancestors below the root (an existing one is fine). */
  makeDirs(rel: string): void;
  /**
   * Makes the directory `name` (a name nothing has: it fails otherwise) in the directory `rel`
   * lives in, and holds it open, reached never through a link: its entries are named through it
   * whatever is done to its name meanwhile.
   */
  makeBeside(rel: string, name: string): ParentDir;
  /** The directory `name` in the directory `rel` lives in, held open as makeBeside holds it. */
  openBeside(rel: string, name: string): ParentDir;
  /** Removes `rel` and, for a directory, all below it (fsops/remove-tree.ts), never through a link. */
  removeTree(rel: string, failures: RemovalFailure[], step: RemovalStep): Promise<number>;
  /** The tree changed under pinned directories (deletions): they are looked up afresh. */
  refresh(): void;
  /**
   * Another directory took the name `rel` (a staging directory put in its place): a descriptor
   * held for the one that was there, or below it, is not used again.
   */
  replaced(rel: string): void;
  close(): void;
}

export interface ParentDir {
  /** A path naming `name` in this directory. */
  path(name: string): string;
  close(): void;
}

export class PathDestinationFs implements DestinationFs {
  constructor(private readonly root: string) {}

  pathOf(rel: string): string {
    return localPath(this.root, rel);
  }

  parentOf(rel: string): ParentDir {
    const parent = this.pathOf(parentRel(rel));
    return { path: (name) => join(parent, name), close() {} };
  }

  makeDirs(rel: string): void {
    makeDirs(this.pathOf(rel));
  }

  makeBeside(rel: string, name: string): ParentDir {
    mkdirSync(join(this.pathOf(parentRel(rel)), name), 0o777);
    return this.openBeside(rel, name);
  }

  openBeside(rel: string, name: string): ParentDir {
    const dir = join(this.pathOf(parentRel(rel)), name);
    return { path: (entry) => join(dir, entry), close() {} };
  }

  removeTree(rel: string, failures: RemovalFailure[], step: RemovalStep): Promise<number> {
    return removeTree(this.pathOf(rel), rel, failures, step);
  }

  refresh(): void {}

  replaced(): void {}

  close(): void {}
}
