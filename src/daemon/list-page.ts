/**
 * Which names one `List` page holds: a directory's names sorted, and the page after `startAfter`.
 * Names that are not UTF-8 cannot be listed; each is reported as a problem on the page where its
 * escaped form sorts, so a page never holds more than `pageSize` entries and problems together
 * (a directory of thousands of such names pages like any other).
 */
import { isUtf8 } from 'node:buffer';
import { describeRawName, NOT_UTF8_NAME } from '../fsops/listing.js';
import { joinRel } from '../fsops/rel-path.js';
import type { Failure } from '../generated/blit.js';

export interface NamePage {
  names: string[];
  problems: Failure[];
  /** The key of this page's last item when more follow, '' otherwise. */
  nextStartAfter: string;
}

/**
 * A directory's names in page order, by key: a UTF-8 name is its own key; another name's key is
 * its escaped form followed by NUL, which no real name holds (so it never equals one, and sorts
 * right after a UTF-8 name of the same text).
 */
export interface SortedNames {
  keys: string[];
  /** Per key: false for a name that is not UTF-8 (a problem, not an entry). */
  listable: boolean[];
}

export function sortNames(rawNames: readonly Buffer[]): SortedNames {
  const items = rawNames.map((raw) =>
    isUtf8(raw)
      ? { key: raw.toString('utf8'), listable: true }
      : { key: `${describeRawName(raw)}\0`, listable: false },
  );
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { keys: items.map((item) => item.key), listable: items.map((item) => item.listable) };
}

/** The index of the first key after `startAfter` (binary search). */
function firstAfter(keys: readonly string[], startAfter: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (keys[mid]! <= startAfter) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** `rel` is the listed directory's path, for the problems' paths. */
export function pageOfNames(
  sorted: SortedNames,
  rel: string,
  startAfter: string,
  pageSize: number,
): NamePage {
  const first = startAfter === '' ? 0 : firstAfter(sorted.keys, startAfter);
  const last = Math.min(sorted.keys.length, first + pageSize);
  const names: string[] = [];
  const problems: Failure[] = [];
  for (let i = first; i < last; i++) {
    const key = sorted.keys[i]!;
    if (sorted.listable[i]) names.push(key);
    else problems.push({ path: joinRel(rel, key.slice(0, -1)), reason: NOT_UTF8_NAME });
  }
  const more = last < sorted.keys.length;
  return { names, problems, nextStartAfter: more ? sorted.keys[last - 1]! : '' };
}
