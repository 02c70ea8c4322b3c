/**
 * `List`: one page of a directory's entries, sorted by name, or the single entry a path names.
 * A page reads the directory's names (cheap) and describes only the entries it returns.
 *
 * With the addon everything goes through descriptors opened beneath the module (see
 * module-path.ts): the names and the descriptions of one page come from the same open directory,
 * whatever is renamed meanwhile. Without it, the path-string resolution (`listByPath`).
 */
import {
  type BigIntStats,
  fstatSync,
  lstatSync,
  opendirSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { type BeneathDir, BeneathError, type BeneathRoot, type EntryStats } from '../fsops/beneath.js';
import { entryFromStats, kindOfMode } from '../fsops/listing.js';
import { baseRel, joinRel, localPath } from '../fsops/rel-path.js';
import {
  EntryKind,
  type ListRequest,
  type ListResponse,
  type Entry as WireEntry,
} from '../generated/blit.js';
import { LIST_PAGE_SIZE } from '../protocol/list-wire.js';
import { toWireEntry } from '../protocol/wire-entry.js';
import { codeOf, reasonOf } from '../util/errors.js';
import type { ModuleConfig } from './config.js';
import { pageOfNames } from './list-page.js';
import {
  beneathRpcError,
  checkWirePath,
  entryInModule,
  openModuleRoot,
  resolveInModule,
} from './module-path.js';
import { NamesCache } from './names-cache.js';
import { fileSystemRpcError } from './rpc-error.js';

interface PageRequest {
  /** The module's name: cached names are kept per module. */
  scope: string;
  rel: string;
  startAfter: string;
  pageSize: number;
}

/** Directories being paged through: read and sorted once, not once per page. */
const namesCache = new NamesCache();

/**
 * What List would say `path` is, without reading a directory's names: DIRECTORY where it would page
 * through one, else the kind of the one entry it would describe. Throws as List does (NOT_FOUND
 * when there is nothing by that path).
 */
export function kindInModule(module: ModuleConfig, path: string, follow: boolean): EntryKind {
  const rel = checkWirePath(path);
  const root = openModuleRoot(module);
  if (!root) {
    const placed = placeByPath(module, rel, follow);
    if ('entry' in placed) return placed.entry.kind;
    // As List would read its names: a directory it could not read is its refusal.
    try {
      opendirSync(placed.dir).closeSync();
    } catch (error) {
      throw fileSystemRpcError(error, rel);
    }
    return EntryKind.ENTRY_KIND_DIRECTORY;
  }
  try {
    if (rel === '') return EntryKind.ENTRY_KIND_DIRECTORY;
    const placed = placeBeneath(root, rel, follow);
    if ('entry' in placed) return placed.entry.kind;
    placed.dir.close();
    return EntryKind.ENTRY_KIND_DIRECTORY;
  } finally {
    root.close();
  }
}

export function listPath(module: ModuleConfig, request: ListRequest): ListResponse {
  const { startAfter, limit } = request;
  const rel = checkWirePath(request.path);
  const page = {
    scope: module.name,
    rel,
    startAfter,
    pageSize: limit > 0 ? Math.min(limit, LIST_PAGE_SIZE) : LIST_PAGE_SIZE,
  };
  const follow = !request.noFollow;
  const root = openModuleRoot(module);
  if (!root) return listByPath(module, page, follow);
  try {
    return listBeneath(root, page, follow);
  } finally {
    root.close();
  }
}

function single(entry: WireEntry): ListResponse {
  return { isDirectory: false, entries: [entry], nextStartAfter: '', problems: [] };
}

// ---- through descriptors ---------------------------------------------------------------------

function describeStats(name: string, stats: EntryStats): WireEntry {
  return toWireEntry({
    name,
    kind: kindOfMode(stats.mode),
    size: stats.size,
    mtimeNs: stats.mtimeNs,
    mode: stats.mode & 0o7777,
    ...(stats.linkTarget ? { linkTarget: stats.linkTarget.toString('utf8') } : {}),
  });
}

/** What a path names as List sees it: a directory to page through, or one entry. */
type Placed<Dir> = { dir: Dir } | { entry: WireEntry };

function listBeneath(root: BeneathRoot, page: PageRequest, follow: boolean): ListResponse {
  if (page.rel === '') return pageBeneath(root, page);
  const placed = placeBeneath(root, page.rel, follow);
  if ('entry' in placed) return single(placed.entry);
  try {
    return pageBeneath(placed.dir, page);
  } finally {
    placed.dir.close();
  }
}

/** `rel` (not the root) beneath the module: the directory it names (open), or its entry. */
function placeBeneath(root: BeneathRoot, rel: string, follow: boolean): Placed<BeneathDir> {
  const entry = entryInModule(root, rel);
  try {
    const kind = kindOfMode(entry.stats.mode);
    if (kind !== 'dir' && !(kind === 'symlink' && follow))
      return { entry: describeStats(entry.name, entry.stats) };
    // Resolved again from the root, the link followed while it stays inside: the entry may have
    // changed since it was described, but whatever is opened lies beneath the module.
    try {
      return { dir: root.openDir(rel, follow) };
    } catch (error) {
      const last = rel.split('/').length - 1;
      // A link to no directory (a file, or nothing) is an entry of its own.
      const notDirectory = codeOf(error) === 'ENOTDIR' || codeOf(error) === 'ENOENT';
      if (error instanceof BeneathError && error.depth === last && notDirectory && kind === 'symlink') {
        return { entry: describeStats(entry.name, entry.stats) };
      }
      throw beneathRpcError(error, rel);
    }
  } finally {
    entry.parent.close();
  }
}

function pageBeneath(dir: BeneathDir, { scope, rel, startAfter, pageSize }: PageRequest): ListResponse {
  let sorted: ReturnType<NamesCache['sorted']>;
  try {
    sorted = namesCache.sorted(scope, fstatSync(dir.fd, { bigint: true }), () => dir.readNames());
  } catch (error) {
    throw fileSystemRpcError(error, rel);
  }
  const { names, problems, nextStartAfter } = pageOfNames(sorted, rel, startAfter, pageSize);
  const entries: WireEntry[] = [];
  dir.lstat(names).forEach((result, i) => {
    const name = names[i]!;
    if ('stats' in result) entries.push(describeStats(name, result.stats));
    else if (codeOf(result.error) !== 'ENOENT')
      problems.push({ path: joinRel(rel, name), reason: reasonOf(result.error) });
  });
  return { isDirectory: true, entries, nextStartAfter, problems };
}

// ---- through path strings (no addon) ----------------------------------------------------------

function describe(path: string, name: string, stats: BigIntStats): WireEntry {
  const linkTarget = stats.isSymbolicLink() ? readlinkSync(path, 'utf8') : undefined;
  return toWireEntry(entryFromStats(name, stats, linkTarget));
}

function listByPath(
  module: ModuleConfig,
  { scope, rel, startAfter, pageSize }: PageRequest,
  follow: boolean,
): ListResponse {
  const placed = placeByPath(module, rel, follow);
  if ('entry' in placed) return single(placed.entry);
  const real = placed.dir;
  let sorted: ReturnType<NamesCache['sorted']>;
  try {
    sorted = namesCache.sorted(scope, statSync(real, { bigint: true }), () =>
      readdirSync(real, { encoding: 'buffer' }),
    );
  } catch (error) {
    throw fileSystemRpcError(error, rel);
  }
  const { names, problems, nextStartAfter } = pageOfNames(sorted, rel, startAfter, pageSize);
  const entries: WireEntry[] = [];
  for (const name of names) {
    const path = localPath(real, name);
    try {
      const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      if (stats) entries.push(describe(path, name, stats));
    } catch (error) {
      problems.push({ path: joinRel(rel, name), reason: reasonOf(error) });
    }
  }
  return { isDirectory: true, entries, nextStartAfter, problems };
}

/** `rel` inside the module by path strings: the real path of the directory it names, or its entry. */
function placeByPath(module: ModuleConfig, rel: string, follow: boolean): Placed<string> {
  const resolved = resolveInModule(module, rel, follow);
  const isDirectory =
    resolved.real === resolved.named ? resolved.stats.isDirectory() : isDirectoryPath(resolved.real);
  if (isDirectory) return { dir: resolved.real };
  const name = rel === '' ? module.name : baseRel(rel);
  return { entry: describe(resolved.named, name, resolved.stats) };
}

function isDirectoryPath(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}
