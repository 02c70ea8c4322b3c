/**
 * `List`: one page of a directory's entries, sorted by name, or the single entry a path names.
 * A page reads the directory's names (cheap) and describes only the entries it returns.
 */
import { isUtf8 } from 'node:buffer';
import { type BigIntStats, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { describeRawName, entryFromStats, NOT_UTF8_NAME } from '../fsops/listing.js';
import { baseRel, joinRel, localPath } from '../fsops/rel-path.js';
import type { Failure, ListRequest, ListResponse, Entry as WireEntry } from '../generated/blit.js';
import { toWireEntry } from '../protocol/wire-entry.js';
import { reasonOf } from '../util/errors.js';
import type { ModuleConfig } from './config.js';
import { checkWirePath, resolveInModule } from './module-path.js';
import { fileSystemRpcError } from './rpc-error.js';

/** Entries per page when the client does not ask for fewer. Keeps a response far below 4 MiB. */
export const LIST_PAGE_SIZE = 1000;

function describe(path: string, name: string, stats: BigIntStats): WireEntry {
  const linkTarget = stats.isSymbolicLink() ? readlinkSync(path, 'utf8') : undefined;
  return toWireEntry(entryFromStats(name, stats, linkTarget));
}

export function listPath(module: ModuleConfig, request: ListRequest): ListResponse {
  const { startAfter, limit } = request;
  const rel = checkWirePath(request.path);
  const resolved = resolveInModule(module, rel, !request.noFollow);
  const pageSize = limit > 0 ? Math.min(limit, LIST_PAGE_SIZE) : LIST_PAGE_SIZE;
  const isDirectory =
    resolved.real === resolved.named ? resolved.stats.isDirectory() : isDirectoryPath(resolved.real);
  if (!isDirectory) {
    const name = rel === '' ? module.name : baseRel(rel);
    return {
      isDirectory: false,
      entries: [describe(resolved.named, name, resolved.stats)],
      nextStartAfter: '',
      problems: [],
    };
  }

  let rawNames: Buffer[];
  try {
    rawNames = readdirSync(resolved.real, { encoding: 'buffer' });
  } catch (error) {
    throw fileSystemRpcError(error, rel);
  }
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
  const entries: WireEntry[] = [];
  for (const name of page) {
    const path = localPath(resolved.real, name);
    try {
      const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      if (stats) entries.push(describe(path, name, stats));
    } catch (error) {
      problems.push({ path: joinRel(rel, name), reason: reasonOf(error) });
    }
  }
  const more = first + pageSize < names.length;
  return { isDirectory: true, entries, nextStartAfter: more ? page[page.length - 1]! : '', problems };
}

function isDirectoryPath(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}
