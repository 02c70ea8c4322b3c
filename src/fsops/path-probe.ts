/** The real file system behind the endpoint rules' PathProbe. */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BlitError, codeOf, reasonOf, showPath } from '../util/errors.js';

export type PathKind = 'file' | 'dir' | 'symlink' | 'other' | 'missing';

export interface PathProbe {
  /** The kind of `path` itself (lstat), or of what it points to when `follow` is set. */
  kind(path: string, follow: boolean): PathKind;
  /** The canonical path (symlinks resolved) of `path`, or of its nearest existing ancestor plus the rest. */
  canonical(path: string): string;
}

export const localProbe: PathProbe = {
  kind(path, follow) {
    let stats: ReturnType<typeof lstatSync>;
    try {
      stats = follow ? statSync(path, { throwIfNoEntry: false }) : lstatSync(path, { throwIfNoEntry: false });
    } catch (error) {
      if (codeOf(error) === 'ENOTDIR') return 'missing';
      throw new BlitError(`${showPath(path)}: ${reasonOf(error)}`);
    }
    if (!stats) {
      // A dangling symlink still exists as a link.
      if (follow && lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) return 'symlink';
      return 'missing';
    }
    if (stats.isFile()) return 'file';
    if (stats.isDirectory()) return 'dir';
    if (stats.isSymbolicLink()) return 'symlink';
    return 'other';
  },
  canonical(path) {
    let rest = '';
    let current = path;
    for (;;) {
      try {
        const real = realpathSync(current);
        return rest === '' ? real : join(real, rest);
      } catch (error) {
        if (codeOf(error) === 'ELOOP') throw new BlitError(`${showPath(current)}: ${reasonOf(error)}`);
        const parent = dirname(current);
        if (parent === current) return path;
        rest = rest === '' ? basename(current) : join(basename(current), rest);
        current = parent;
      }
    }
  },
};
