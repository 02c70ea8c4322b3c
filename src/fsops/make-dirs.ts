/**
 * `mkdir -p` with the real reason on failure. Node's `mkdirSync(path, { recursive: true })` reports
 * a read-only file system as ENOENT and, where a parent exists but refuses the name with ENOENT
 * (/proc), retries forever at full CPU; this walks up once and down once, so it ends after at most
 * two mkdir calls per path component.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { codeOf, errnoError } from '../util/errors.js';

/** Makes `path` and its missing parents; an existing directory is fine. Throws the first real error. */
export function makeDirs(path: string): void {
  if (tryMkdir(path) !== 'ENOENT') return;
  const parent = dirname(path);
  if (parent === path) throw errnoError('ENOENT');
  makeDirs(parent);
  if (tryMkdir(path) === 'ENOENT') throw errnoError('ENOENT');
}

/** 'made', or 'ENOENT' when a parent is missing; any other failure is thrown. */
function tryMkdir(path: string): 'made' | 'ENOENT' {
  try {
    mkdirSync(path);
    return 'made';
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT') return 'ENOENT';
    // EEXIST: fine when it is a directory (or a link to one), else the EEXIST stands.
    if (code === 'EEXIST' && statSync(path, { throwIfNoEntry: false })?.isDirectory()) return 'made';
    throw error;
  }
}
