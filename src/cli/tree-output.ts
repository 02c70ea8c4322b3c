/**
 * How `blit du` and `blit find` print a path below the walked root: relative to it, '.' for the
 * root itself, and with control characters (a newline in a name) escaped as `blit ls` escapes
 * them (showPath), so one path is always one line.
 */
import type { Entry } from '../fsops/entry.js';
import { toWireEntry } from '../protocol/wire-entry.js';
import { showPath } from '../util/errors.js';
import { entryJson } from './listing-output.js';

export function relativePathText(rel: string): string {
  return rel === '' ? '.' : showPath(rel);
}

/** One entry of `--json` output: as `blit ls --json` describes it, with its path instead of its name. */
export function entryJsonWithPath(rel: string, entry: Entry): Record<string, unknown> {
  const { name: _name, ...described } = entryJson(toWireEntry(entry));
  return { path: rel, ...described };
}
