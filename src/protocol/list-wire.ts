/**
 * A `List` page read from a daemon, checked where it is read (docs/ARCHITECTURE.md, lessons 11,
 * 14, 15), as the transfer path checks its manifest: every name is one path component, a page holds
 * no more than the daemon's own page size, and each page starts after the one before (a daemon that
 * repeats a page would be listed forever). A page that breaks a rule is a ProtocolError.
 */
import type { ListResponse } from '../generated/blit.js';
import { checkPeerName, ProtocolError } from './manifest-wire.js';

/** Entries and problems per page when the client does not ask for fewer. Keeps a response far below 4 MiB. */
export const LIST_PAGE_SIZE = 1000;

/** Checks the page that answered a List call made with `startAfter`; `path` names it in errors. */
export function checkListPage(page: ListResponse, startAfter: string, path: string): ListResponse {
  const items = page.entries.length + page.problems.length;
  if (items > LIST_PAGE_SIZE)
    throw new ProtocolError(`${path}: a listing page of ${items} items (at most ${LIST_PAGE_SIZE})`);
  for (const entry of page.entries) checkPeerName(entry.name, path);
  if (page.nextStartAfter !== '' && page.nextStartAfter <= startAfter)
    throw new ProtocolError(`${path}: the daemon repeated a listing page`);
  return page;
}
