/**
 * rsync's path rules, resolved once before a transfer:
 * - `SRC/` copies the contents of SRC into DST;
 * - `SRC` into an existing directory, or into a DST ending in '/', creates DST/basename(SRC);
 * - otherwise DST is the exact target. A single file (or symlink) works as SRC.
 */
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { PathProbe } from '../fsops/path-probe.js';
import { BlitError, showPath } from '../util/errors.js';

export type { PathKind, PathProbe } from '../fsops/path-probe.js';

export interface Endpoints {
  /** 'tree' copies a directory's contents onto a directory; 'single' one non-directory entry. */
  kind: 'tree' | 'single';
  /** Source directory (tree) or the entry itself (single). */
  source: string;
  /** Destination directory (tree) or the entry's final path (single). */
  target: string;
  /** SRC was given with a trailing '/': its contents are transferred, not SRC itself. */
  contentsOnly: boolean;
  /** The source lies below the target: a mirror would delete its own source. */
  sourceInsideTarget: boolean;
}

function hasTrailingSlash(path: string): boolean {
  return path.endsWith('/') || (sep !== '/' && path.endsWith(sep));
}

function stripTrailingSlashes(path: string): string {
  const stripped = path.replace(/\/+$/, '');
  return stripped === '' ? '/' : stripped;
}

/** The path a SRC argument names its source by (Endpoints.source). */
export function sourcePath(src: string): string {
  return resolve(stripTrailingSlashes(src));
}

export function resolveEndpoints(src: string, dst: string, probe: PathProbe): Endpoints {
  if (src === '') throw new BlitError('source path is empty');
  if (dst === '') throw new BlitError('destination path is empty');
  const srcContents = hasTrailingSlash(src);
  const source = sourcePath(src);
  const sourceKind = probe.kind(source, srcContents);
  if (sourceKind === 'missing') throw new BlitError(`${showPath(src)}: no such file or directory`);
  if (srcContents && sourceKind !== 'dir') throw new BlitError(`${showPath(src)}: not a directory`);
  if (sourceKind === 'other')
    throw new BlitError(`${showPath(src)}: not a regular file, directory or symbolic link`);

  const dstPath = resolve(stripTrailingSlashes(dst));
  const dstKind = probe.kind(dstPath, true);
  const intoDirectory = dstKind === 'dir' || hasTrailingSlash(dst);
  const isTree = sourceKind === 'dir';

  let target: string;
  if (isTree && srcContents) target = dstPath;
  else if (intoDirectory) {
    const name = basename(source);
    if (name === '' || name === '/')
      throw new BlitError(`${showPath(src)}: copy its contents with a trailing '/'`);
    target = join(dstPath, name);
  } else target = dstPath;

  const targetKind = target === dstPath ? dstKind : probe.kind(target, isTree);
  if (isTree && targetKind !== 'missing' && targetKind !== 'dir') {
    throw new BlitError(`${showPath(target)}: destination exists and is not a directory`);
  }
  if (!isTree && target === dstPath && hasTrailingSlash(dst) && dstKind !== 'dir' && dstKind !== 'missing') {
    throw new BlitError(`${showPath(dst)}: destination exists and is not a directory`);
  }
  const parentKind = probe.kind(dirname(target), true);
  if (parentKind !== 'dir' && parentKind !== 'missing') {
    throw new BlitError(`${showPath(dirname(target))}: not a directory`);
  }

  const canonicalSource = probe.canonical(source);
  const canonicalTarget = probe.canonical(target);
  if (canonicalSource === canonicalTarget) {
    throw new BlitError(`${showPath(dst)}: source and destination are the same`);
  }
  if (isTree && (canonicalTarget.startsWith(canonicalSource + sep) || canonicalSource === sep)) {
    throw new BlitError(`${showPath(dst)}: destination lies inside the source ${showPath(src)}`);
  }
  const sourceInsideTarget = canonicalSource.startsWith(
    canonicalTarget.endsWith(sep) ? canonicalTarget : canonicalTarget + sep,
  );
  return {
    kind: isTree ? 'tree' : 'single',
    source,
    target,
    contentsOnly: isTree && srcContents,
    sourceInsideTarget,
  };
}
