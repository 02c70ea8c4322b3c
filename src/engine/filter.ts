/**
 * Filters: which entries take part in a transfer.
 *
 * - `--exclude GLOB` drops matching entries; a matching directory drops its whole subtree.
 * - `--include GLOB`, when given, keeps only matching entries (and the subtrees of matching
 *   directories); other directories are only walked through, and created when they hold something.
 * - `--files-from` keeps the listed paths (a listed directory with its subtree); their ancestors are
 *   walked through.
 * A glob without '/' matches the name at any depth; with '/' (or a leading '/', which anchors it)
 * it matches the whole relative path; a trailing '/' matches directories only. Globs match dot
 * files. Size limits are not filters: they only stop a transfer (see {@link outsideSizeLimits}).
 */
import picomatch from 'picomatch';
import { BlitError } from '../util/errors.js';
import type { Entry, FilterSpec } from './types.js';

export type FilterStatus = 'include' | 'exclude' | 'traverse';

export interface FilterVerdict {
  status: FilterStatus;
  /** Conditions already met by an ancestor: FILES_FROM_MET, INCLUDE_MET. */
  met: number;
}

const FILES_FROM_MET = 1;
const INCLUDE_MET = 2;

type Matcher = (rel: string, isDir: boolean) => boolean;

function compileGlob(glob: string): Matcher {
  let pattern = glob;
  const dirOnly = pattern.endsWith('/');
  if (dirOnly) pattern = pattern.replace(/\/+$/, '');
  const anchored = pattern.startsWith('/');
  if (anchored) pattern = pattern.replace(/^\/+/, '');
  if (pattern === '') throw new BlitError(`${JSON.stringify(glob)}: empty pattern`);
  const test = picomatch(pattern, { dot: true, basename: !anchored && !pattern.includes('/') });
  return (rel, isDir) => (!dirOnly || isDir) && test(rel);
}

function anyOf(globs: string[]): Matcher | undefined {
  if (globs.length === 0) return undefined;
  const matchers = globs.map(compileGlob);
  return (rel, isDir) => matchers.some((m) => m(rel, isDir));
}

export interface PathFilter {
  /** The verdict of the transfer root, where every walk starts. */
  readonly root: FilterVerdict;
  /** The verdict for `rel`, given the verdict of its parent directory. */
  test(rel: string, isDir: boolean, parent: FilterVerdict): FilterVerdict;
  /** True when no pattern or list restricts anything. */
  readonly passAll: boolean;
}

export function buildFilter(spec: FilterSpec): PathFilter {
  const excluded = anyOf(spec.exclude);
  const included = anyOf(spec.include);
  const listed = spec.filesFrom ? new Set(spec.filesFrom) : undefined;
  const listedAncestors = new Set<string>();
  for (const rel of spec.filesFrom ?? []) {
    for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) listedAncestors.add(rel.slice(0, i));
  }
  const root: FilterVerdict = {
    status: 'include',
    met: (listed ? 0 : FILES_FROM_MET) | (included ? 0 : INCLUDE_MET),
  };
  return {
    root,
    passAll: !excluded && !included && !listed,
    test(rel, isDir, parent) {
      if (parent.status === 'exclude' || excluded?.(rel, isDir)) return { status: 'exclude', met: 0 };
      let met = parent.met;
      if (!(met & FILES_FROM_MET) && listed?.has(rel)) met |= FILES_FROM_MET;
      if (!(met & INCLUDE_MET) && included?.(rel, isDir)) met |= INCLUDE_MET;
      if (met === (FILES_FROM_MET | INCLUDE_MET)) return { status: 'include', met };
      if (!isDir) return { status: 'exclude', met };
      if (!(met & FILES_FROM_MET) && !listedAncestors.has(rel)) return { status: 'exclude', met };
      return { status: 'traverse', met };
    },
  };
}

/**
 * The --exclude patterns when they are the only filter and each is literal characters and '*' (at
 * most one '*' in a row), with no '/' but an optional trailing one: such a pattern matches an
 * entry's name alone, as the copy threads can test it on the bytes of a name (native/blit_native.cc
 * StarMatch) exactly as picomatch does. Otherwise undefined: the walk applies the filter.
 */
export function nativeExcludes(spec: FilterSpec): string[] | undefined {
  if (spec.include.length > 0 || spec.filesFrom !== undefined) return undefined;
  const simple = /^[^*?[\]{}()!+@\\/]*(\*[^*?[\]{}()!+@\\/]+)*\*?\/?$/;
  return spec.exclude.every((glob) => simple.test(glob) && glob !== '/' && !glob.startsWith('/')) ? spec.exclude : undefined;
}

export function outsideSizeLimits(entry: Entry, spec: FilterSpec): boolean {
  if (entry.kind !== 'file') return false;
  if (spec.minSize !== undefined && entry.size < spec.minSize) return true;
  if (spec.maxSize !== undefined && entry.size > spec.maxSize) return true;
  return false;
}
