/**
 * The manifest on the wire: a source listing cut into `ManifestBatch` frames, and batches read
 * back into entries. Everything read from a peer is checked where it is read
 * (docs/ARCHITECTURE.md, lessons 11, 14, 15): a name is one path component, a path is a
 * well-formed relative path, counts and sizes are bounded. A frame that breaks a rule is a
 * protocol error: the session ends.
 */
import type { FilterVerdict } from '../engine/filter.js';
import type { SourceEntry, SourceListing } from '../engine/roles.js';
import type { Entry } from '../engine/types.js';
import { isName, isSafeRel } from '../fsops/rel-path.js';
import { EntryKind, FilterStatus, type ManifestBatch, type ManifestEntry } from '../generated/blit.js';
import { kindName, specialName, toWireEntry } from './wire-entry.js';

/** Entries per batch: a directory of a million names goes as many frames, each well under 4 MiB. */
export const BATCH_ENTRIES = 1024;
export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;
/** The largest file size a peer may declare (2^53 - 1: exact in a JS number). */
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

function toWireVerdict(verdict: FilterVerdict): { filterStatus: FilterStatus; filterMet: number } {
  return {
    filterStatus:
      verdict.status === 'traverse'
        ? FilterStatus.FILTER_STATUS_TRAVERSE
        : FilterStatus.FILTER_STATUS_INCLUDE,
    filterMet: verdict.met,
  };
}

function toManifestEntry(entry: SourceEntry): ManifestEntry {
  return { entry: toWireEntry(entry), ...toWireVerdict(entry.verdict) };
}

/** One listing as batches of at most BATCH_ENTRIES entries; the last one says so. */
export function toManifestBatches(listing: SourceListing): ManifestBatch[] {
  const batches: ManifestBatch[] = [];
  for (let start = 0; start === 0 || start < listing.entries.length; start += BATCH_ENTRIES) {
    const entries = listing.entries.slice(start, start + BATCH_ENTRIES).map(toManifestEntry);
    batches.push({
      directory: listing.rel,
      directoryEntry: start === 0 && listing.dir ? toManifestEntry(listing.dir) : undefined,
      entries,
      partial: listing.partial,
      last: start + BATCH_ENTRIES >= listing.entries.length,
      unreadable: [],
    });
  }
  return batches;
}

/** Checks a relative path a peer sent ('' allowed: the transfer root). */
export function checkPeerRel(rel: string, what: string): string {
  if (Buffer.byteLength(rel) > MAX_PATH_BYTES)
    throw new ProtocolError(`${what}: path longer than ${MAX_PATH_BYTES} bytes`);
  if (!isSafeRel(rel) || rel.startsWith('/'))
    throw new ProtocolError(`${what}: ${JSON.stringify(rel.slice(0, 200))} is not a relative path`);
  return rel;
}

/** Checks an entry name a peer sent; `where` (the listed directory) prefixes the error when given. */
export function checkPeerName(name: string, where?: string): void {
  const at = where === undefined ? '' : `${where}: `;
  if (!isName(name)) {
    throw new ProtocolError(
      `${at}entry name ${JSON.stringify(name.slice(0, 200))} is not a single path component`,
    );
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES)
    throw new ProtocolError(`${at}entry name longer than ${MAX_NAME_BYTES} bytes`);
}

function fromWireVerdict(entry: ManifestEntry): FilterVerdict {
  switch (entry.filterStatus) {
    case FilterStatus.FILTER_STATUS_INCLUDE:
      return { status: 'include', met: entry.filterMet };
    case FilterStatus.FILTER_STATUS_TRAVERSE:
      return { status: 'traverse', met: entry.filterMet };
    default:
      throw new ProtocolError(`entry with an unknown filter status ${entry.filterStatus}`);
  }
}

/**
 * A manifest entry read from a peer, checked. A batch's own directory entry (`ofDirectory`) has no
 * name to check: only its metadata is used.
 */
export function fromManifestEntry(wire: ManifestEntry, ofDirectory = false): SourceEntry {
  const entry = wire.entry;
  if (!entry) throw new ProtocolError('manifest entry without an entry');
  if (!ofDirectory) checkPeerName(entry.name);
  if (entry.kind === EntryKind.ENTRY_KIND_UNSPECIFIED)
    throw new ProtocolError(`${entry.name}: entry without a kind`);
  const kind = kindName(entry.kind);
  if (entry.size < 0n || entry.size > BigInt(MAX_FILE_SIZE))
    throw new ProtocolError(`${entry.name}: size out of range`);
  const result: Entry = {
    name: entry.name,
    kind,
    size: kind === 'file' ? Number(entry.size) : 0,
    mtimeNs: entry.mtimeNs,
    mode: entry.mode & 0o7777,
  };
  if (kind === 'symlink') {
    if (
      entry.linkTarget === '' ||
      entry.linkTarget.includes('\0') ||
      Buffer.byteLength(entry.linkTarget) > MAX_PATH_BYTES
    ) {
      throw new ProtocolError(`${entry.name}: symbolic link target is empty, too long or holds a NUL byte`);
    }
    result.linkTarget = entry.linkTarget;
  }
  if (kind === 'other') {
    // Which special file (sockets and unknown types are skipped); a device's number, any u64.
    result.special = specialName(entry.special);
    if (result.special === 'char' || result.special === 'block') result.rdev = entry.rdev;
  }
  return Object.assign(result, { verdict: fromWireVerdict(wire) });
}
