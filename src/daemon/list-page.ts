/**
 * Which names one `List` page holds: a directory's names sorted, the page after `startAfter`, and
 * the names that are not UTF-8 (reported once, on the first page, never listed).
 */
import { isUtf8 } from 'node:buffer';
import { describeRawName, NOT_UTF8_NAME } from '../fsops/listing.js';
import { joinRel } from '../fsops/rel-path.js';
import type { Failure } from '../generated/blit.js';

export interface NamePage {
  names: string[];
  problems: Failure[];
  /** The last name of this page when more follow, '' otherwise. */
  nextStartAfter: string;
}

/** `rel` is the listed directory's path, for the problems' paths. */
export function pageOfNames(
  rawNames: readonly Buffer[],
  rel: string,
  startAfter: string,
  pageSize: number,
): NamePage {
  const problems: Failure[] = [];
  const names: string[] = [];
  for (const raw of rawNames) {
    if (isUtf8(raw)) names.push(raw.toString('utf8'));
    else if (startAfter === '') {
      problems.push({ path: joinRel(rel, describeRawName(raw)), reason: NOT_UTF8_NAME });
    }
  }
  names.sort();
  let first = 0;
  if (startAfter !== '') while (first < names.length && names[first]! <= startAfter) first++;
  const page = names.slice(first, first + pageSize);
  const more = first + pageSize < names.length;
  return { names: page, problems, nextStartAfter: more ? page[page.length - 1]! : '' };
}
