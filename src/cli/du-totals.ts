/**
 * `blit du`'s arithmetic: the apparent size and the number of the regular files below each
 * directory, its subdirectories included, fed by the walk (tree-walk.ts: each entry after its
 * directory, each directory left after its contents). A directory's line is ready when it is left,
 * so lines come out as du(1) prints them, a directory after its subdirectories. Symbolic links,
 * directories themselves and other entries add neither size nor count: the figures are what a copy
 * of the tree would write as file data.
 */
import type { Entry } from '../fsops/entry.js';
import { relDepth } from '../fsops/rel-path.js';

export interface DuLine {
  /** Relative to the walked root: '' for the root itself. */
  rel: string;
  bytes: number;
  files: number;
}

export class DuTotals {
  /** The directories entered and not yet left, innermost last, with their sums so far. */
  private readonly open: DuLine[] = [{ rel: '', bytes: 0, files: 0 }];

  /** `maxDepth`: print directories down to this depth (the root is 0); all when undefined. */
  constructor(
    private readonly emit: (line: DuLine) => void,
    private readonly maxDepth?: number,
  ) {}

  entry(rel: string, entry: Entry): void {
    if (entry.kind === 'dir') this.open.push({ rel, bytes: 0, files: 0 });
    else if (entry.kind === 'file') {
      const parent = this.open[this.open.length - 1]!;
      parent.bytes += entry.size;
      parent.files++;
    }
  }

  leave(rel: string): void {
    const done = this.open.pop();
    if (!done || done.rel !== rel) throw new Error(`du: left ${rel} while in ${done?.rel}`);
    const parent = this.open[this.open.length - 1];
    if (parent) {
      parent.bytes += done.bytes;
      parent.files += done.files;
    }
    if (this.maxDepth === undefined || relDepth(rel) <= this.maxDepth) this.emit(done);
  }
}
