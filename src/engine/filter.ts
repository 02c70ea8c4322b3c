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
 * The --exclude patterns as the copy threads can apply them to names (native/whole_dir.cc
 * DropExcluded), when they are the only filters and each is one; otherwise undefined: the walk
 * applies the filter. See namePattern.
 */
export function nativeExcludes(spec: FilterSpec): string[] | undefined {
  if (spec.include.length > 0 || spec.filesFrom !== undefined) return undefined;
  const patterns: string[] = [];
  for (const glob of spec.exclude) {
    const pattern = namePattern(glob);
    if (pattern === undefined) return undefined;
    patterns.push(pattern);
  }
  return patterns;
}

/** What picomatch puts around a pattern that matches a name alone (compileGlob's options). */
const OPENINGS = ['^(?:^(?:', '^(?:'];
const CLOSINGS = [')$)$', ')$'];
/** Lookaheads that only rule out the names '.' and '..', which no listing holds. */
const DOT_GUARDS = ['(?!(?:^|\\/)\\.{1,2}(?:\\/|$))', '(?!\\.{1,2}(?:\\/|$))'];
const STAR = '[^/]*?';

/**
 * `glob` as a name pattern of literal characters and '*' (a trailing '/': directories only),
 * read back from the regular expression picomatch compiles it to, so that whatever picomatch makes
 * of quotes, escapes and its other syntax is what the copy threads match. Undefined unless that
 * expression is only literal characters and `[^/]*?` (any run of characters but '/'), with one
 * lookahead allowed: `(?=.)` before a leading star, which the addon applies as "the name does not
 * start with a line terminator". Anything else (alternatives, classes, `**`, a '/', an anchor
 * inside, a lookahead elsewhere as in `.*` or `*.*`) is left to the walk.
 */
export function namePattern(glob: string): string | undefined {
  let pattern = glob;
  const dirOnly = pattern.endsWith('/');
  if (dirOnly) pattern = pattern.replace(/\/+$/, '');
  if (pattern === '' || pattern.includes('/')) return undefined;
  let regex: RegExp;
  try {
    regex = picomatch.makeRe(pattern, { dot: true, basename: true });
  } catch {
    return undefined;
  }
  if (regex.flags !== '') return undefined;
  let body = regex.source;
  const opening = OPENINGS.find((o) => body.startsWith(o));
  const closing = CLOSINGS.find((c) => body.endsWith(c));
  if (!opening || !closing || opening.length + closing.length > body.length) return undefined;
  body = body.slice(opening.length, body.length - closing.length);
  if (body.endsWith('\\/?')) body = body.slice(0, -3);
  const guard = DOT_GUARDS.find((g) => body.startsWith(g));
  if (guard) body = body.slice(guard.length);
  const lookahead = body.startsWith('(?=.)');
  if (lookahead) body = body.slice('(?=.)'.length);
  let out = '';
  for (let i = 0; i < body.length; ) {
    if (body.startsWith(STAR, i)) {
      out += '*';
      i += STAR.length;
    } else if (body[i] === '\\') {
      // An escaped character is itself; an escaped letter or digit is a class or a code.
      const next = body[i + 1];
      if (next === undefined || /[A-Za-z0-9*]/.test(next)) return undefined;
      out += next;
      i += 2;
    } else if ('^$.|?*+()[]{}/'.includes(body[i]!)) {
      return undefined;
    } else {
      out += body[i];
      i++;
    }
  }
  // The addon checks for a line terminator first exactly when a pattern starts with '*'.
  if (out === '' || lookahead !== out.startsWith('*')) return undefined;
  return dirOnly ? `${out}/` : out;
}

export function outsideSizeLimits(entry: Entry, spec: FilterSpec): boolean {
  if (entry.kind !== 'file') return false;
  if (spec.minSize !== undefined && entry.size < spec.minSize) return true;
  if (spec.maxSize !== undefined && entry.size > spec.maxSize) return true;
  return false;
}
