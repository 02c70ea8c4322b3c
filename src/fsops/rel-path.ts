/**
 * The one place that converts between relative transfer paths and local paths.
 *
 * A relative path ("rel") names an entry below a transfer root: components joined by '/', never
 * empty components, never '.' or '..', '' for the root itself. Names are kept byte-for-byte
 * (no normalisation, no string replacement: '\\' is a legal POSIX name byte).
 */
import { sep } from 'node:path';

export function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

export function parentRel(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseRel(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function relDepth(rel: string): number {
  if (rel === '') return 0;
  let depth = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) depth++;
  return depth;
}

/** The local path of `rel` below `root`. On POSIX the separators already agree. */
export function localPath(root: string, rel: string): string {
  if (rel === '') return root;
  const tail = sep === '/' ? rel : rel.split('/').join(sep);
  return root.endsWith(sep) ? root + tail : root + sep + tail;
}

/** A component that is '', '.' or '..' (at the start, between two '/', or at the end). */
const BAD_COMPONENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * True when `rel` is a well-formed relative path (used on anything read from a file or a peer):
 * no NUL, no component '', '.' or '..'. One pattern, not a split: it runs for every need a source
 * is sent (docs/DECISIONS.md).
 */
export function isSafeRel(rel: string): boolean {
  if (rel === '') return true;
  return !rel.includes('\0') && !BAD_COMPONENT.test(rel);
}

/** True when `name` is one entry's name: not '', '.' or '..', without '/' or NUL (native IsName). */
export function isName(name: string): boolean {
  // isSafeRel's rule for one component, without its split: called for every entry a peer sends.
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** True when `rel` is `ancestor` or lies below it. */
export function isWithinRel(rel: string, ancestor: string): boolean {
  return ancestor === '' || rel === ancestor || rel.startsWith(`${ancestor}/`);
}
