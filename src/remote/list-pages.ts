/**
 * A remote listing's pages, one after another, each checked as it arrives (protocol/list-wire.ts):
 * what `blit ls`, `blit du` and `blit find` read. A page that breaks the protocol ends the command
 * with one line naming the daemon, as a broken transfer does.
 */
import type { ListResponse } from '../generated/blit.js';
import { checkListPage } from '../protocol/list-wire.js';
import { ProtocolError } from '../protocol/manifest-wire.js';
import { BlitError, showPath } from '../util/errors.js';
import type { RemoteClient } from './client.js';

type Subject = Parameters<RemoteClient['list']>[0];

/**
 * The pages of `path`'s listing; `shown` is how errors name it. Calls refused by the daemon throw
 * as the client throws them (CallFailed); a broken page throws one BlitError line.
 */
export async function* listPages(
  client: RemoteClient,
  subject: Subject,
  path: string,
  shown: string,
  noFollow = false,
): AsyncGenerator<ListResponse> {
  let startAfter = '';
  for (;;) {
    const page = await client.list(subject, path, startAfter, noFollow);
    try {
      checkListPage(page, startAfter, showPath(shown));
    } catch (error) {
      if (error instanceof ProtocolError)
        throw new BlitError(`blitd at ${client.target}: protocol error: ${error.message}`);
      throw error;
    }
    yield page;
    if (page.nextStartAfter === '') return;
    startAfter = page.nextStartAfter;
  }
}
