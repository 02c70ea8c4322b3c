/**
 * The tree a PATH argument of `blit du` and `blit find` names, local or remote (`HOST:/MODULE/PATH`),
 * behind one TreeSource: local directories through the listing helper the transfers use
 * (fsops/listing.ts), remote ones through the daemon's paged List, page after page. Both describe
 * entries without following symbolic links; only the root is followed, as `blit ls` follows it, so
 * `du DIR-LINK` measures the directory. A root that is missing is one fatal line, as in `blit ls`.
 * What a daemon sends is bounded (it may be hostile): names checked as the transfer checks them
 * (protocol/list-wire.ts), at most MAX_DIR_ENTRIES entries per directory, and no directory asked
 * for below 4096 bytes of path (blitd refuses longer paths), which bounds the walk's depth.
 */
import { lstatSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Entry } from '../fsops/entry.js';
import { entryFromStats, listDirectory } from '../fsops/listing.js';
import { joinRel, localPath } from '../fsops/rel-path.js';
import { MAX_PATH_BYTES } from '../protocol/manifest-wire.js';
import { peerPath, peerText } from '../protocol/peer-text.js';
import { fromWireEntry } from '../protocol/wire-entry.js';
import { CallFailed, RemoteClient } from '../remote/client.js';
import { formatRemotePath, looksRemote, parseRemotePath, type RemotePath } from '../remote/endpoint.js';
import { listPages } from '../remote/list-pages.js';
import { BlitError, reasonOf, showPath } from '../util/errors.js';
import type { TreeListing, TreeSource } from './tree-walk.js';
import { askToTrust } from './trust-prompt.js';

export interface OpenTree {
  /** What the argument names: a directory to walk, or a single entry (a file, a link). */
  root: { kind: 'dir' } | { kind: 'entry'; entry: Entry };
  source: TreeSource;
  close(): void;
}

/** Opens the tree `spec` names; throws one BlitError line when it cannot be reached. */
export async function openTree(spec: string): Promise<OpenTree> {
  return looksRemote(spec) ? openRemote(parseRemotePath(spec)) : openLocal(spec);
}

// ---- local ----------------------------------------------------------------------------------

function openLocal(spec: string): OpenTree {
  const fail = (error: unknown): never => {
    throw new BlitError(`${showPath(spec)}: ${reasonOf(error)}`);
  };
  let isDir = false;
  try {
    isDir = statSync(spec).isDirectory();
  } catch (error) {
    // A dangling link is still an entry of its own; anything else missing is fatal.
    try {
      lstatSync(spec);
    } catch {
      fail(error);
    }
  }
  const source: TreeSource = {
    async list(rel) {
      const dir = localPath(spec, rel);
      try {
        const { entries, problems } = listDirectory(dir);
        return {
          entries,
          problems: problems.map(
            ({ name, reason }) => `${showPath(localPath(spec, joinRel(rel, name)))}: ${reason}`,
          ),
        };
      } catch (error) {
        return { entries: [], problems: [`${showPath(dir)}: ${reasonOf(error)}`] };
      }
    },
  };
  if (isDir) return { root: { kind: 'dir' }, source, close() {} };
  let entry: Entry;
  try {
    const stats = lstatSync(spec, { bigint: true });
    entry = entryFromStats(basename(spec), stats);
  } catch (error) {
    return fail(error);
  }
  return { root: { kind: 'entry', entry }, source, close() {} };
}

// ---- remote ---------------------------------------------------------------------------------

/**
 * The most entries one remote directory may list. A walk holds a directory's entries while it is
 * visited (and READ_AHEAD more listings), about 200 bytes each: a million is ~200 MB, the worst a
 * daemon can make a walk hold per listing, and more than real directories hold.
 */
export const MAX_DIR_ENTRIES = 1_000_000;

/** Failures that end a remote walk: the daemon or the connection, not one directory. */
const FATAL = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.UNAUTHENTICATED,
  status.CANCELLED,
  status.INTERNAL,
]);

async function openRemote(target: RemotePath): Promise<OpenTree> {
  const subject = { spec: target.spec, module: target.module };
  const client = await RemoteClient.connect(target, subject, askToTrust);
  const where = (rel: string) => formatRemotePath(target, target.module, rel);
  /**
   * All pages of one listing (the root followed, as `blit ls` follows it; below it, never), at
   * most MAX_DIR_ENTRIES entries: a daemon that never ends its pages fails that directory (one
   * problem line, none of its entries).
   */
  const listAll = async (rel: string): Promise<{ isDirectory: boolean } & TreeListing> => {
    const path = rel === '' ? target.path : joinRel(target.path, rel);
    // Never asked for, as blitd would refuse it: a daemon that lists a directory in every
    // directory for ever cannot take the walk deeper than this.
    if (rel !== '' && Buffer.byteLength(path) > MAX_PATH_BYTES)
      return {
        isDirectory: true,
        entries: [],
        problems: [`${showPath(where(path))}: path is longer than ${MAX_PATH_BYTES} bytes`],
      };
    const listing = { isDirectory: false, entries: [] as Entry[], problems: [] as string[] };
    // A refusal names the directory asked about (the root as the user wrote it).
    const about = rel === '' ? subject : { spec: where(path), module: target.module };
    for await (const page of listPages(client, about, path, where(path), rel !== '')) {
      listing.isDirectory = page.isDirectory;
      if (listing.entries.length + page.entries.length > MAX_DIR_ENTRIES)
        return {
          isDirectory: true,
          entries: [],
          problems: [
            ...listing.problems,
            `${showPath(where(path))}: the daemon listed more than ${MAX_DIR_ENTRIES.toLocaleString('en')} entries; directory skipped`,
          ],
        };
      for (const entry of page.entries) listing.entries.push(fromWireEntry(entry));
      for (const problem of page.problems)
        listing.problems.push(`${showPath(where(peerPath(problem.path)))}: ${peerText(problem.reason)}`);
    }
    return listing;
  };
  try {
    let first: (TreeListing & { isDirectory: boolean }) | undefined = await listAll('');
    const root: OpenTree['root'] = first.isDirectory
      ? { kind: 'dir' }
      : { kind: 'entry', entry: first.entries[0]! };
    const source: TreeSource = {
      async list(rel) {
        // The root's listing was read to learn what it is: the walk's first call gets it.
        if (rel === '' && first) {
          const listing = first;
          first = undefined;
          return listing;
        }
        try {
          const listing = await listAll(rel);
          // A directory replaced by something else since its parent was listed: nothing below it.
          return listing.isDirectory ? listing : { entries: [], problems: [] };
        } catch (error) {
          if (error instanceof CallFailed && !FATAL.has(error.code))
            return { entries: [], problems: [error.message] };
          throw error;
        }
      },
    };
    if (root.kind === 'entry' && !root.entry)
      throw new BlitError(`${showPath(target.spec)}: the daemon described nothing`);
    return { root, source, close: () => client.close() };
  } catch (error) {
    client.close();
    throw error;
  }
}
