/**
 * The manifest on the wire: a source listing cut into `ManifestBatch` frames, and batches read
 * back into entries. Everything read from a peer is checked where it is read
 * (docs/ARCHITECTURE.md, lessons 11, 14, 15): a name is one path component, a path is a
 * well-formed relative path, counts and sizes are bounded. A frame that breaks a rule is a
 * protocol error: the session ends.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { FilterVerdict } from '../engine/filter.js';
import type { EncodedEntries, SourceEntry, SourceListing } from '../engine/roles.js';
import type { Entry } from '../engine/types.js';
import { type IdNames, isPeerIdName, localIdNames, mappedId, ownerNames } from '../fsops/id-map.js';
import { aclNamesOf, mapAclNames } from '../fsops/posix-acl.js';
import { isName, isSafeRel } from '../fsops/rel-path.js';
import {
  EntryKind,
  FilterStatus,
  ManifestBatch,
  type ManifestEntry,
  type Role,
  type Entry as WireEntry,
} from '../generated/blit.js';
import { FRAME_ROLE_TAG } from './frame-body.js';
import { type LinkGroupIds, peerLinkKey } from './link-groups.js';
import { kindName, specialName, toWireEntry } from './wire-entry.js';
import { fromWireXattrs, MAX_ACL_NAMES } from './wire-xattrs.js';

/** Entries per batch: a directory of a million names goes as many frames, each well under 4 MiB. */
export const BATCH_ENTRIES = 1024;
/**
 * Bytes of manifest frames (each counted whole, as on the wire) a source may have sent that the
 * destination's session has not taken (protocol version 4): the destination grants them again with
 * ManifestCredit, MANIFEST_CREDIT_BYTES or more at a time. With at most BATCH_ENTRIES entries a
 * batch (checked as each arrives), this is what one session's manifest can make the destination
 * hold however fast the source lists; it used to be the whole rest of the manifest. In bytes, not
 * frames: ~100,000 short entries ahead, so a long link is not held to a few small directories per
 * round trip. At least a whole frame (4 MiB) beyond the credit step, so a source always has room
 * once the destination has taken what came.
 */
export const MANIFEST_WINDOW_BYTES = 16 << 20;
export const MANIFEST_CREDIT_BYTES = MANIFEST_WINDOW_BYTES / 4;
export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;
/** The largest file size a peer may declare (2^53 - 1: exact in a JS number). */
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;
/** File ids up to this are exact as numbers (a table, a set of ids asked for); above, bigints. */
export const MAX_EXACT_ID = BigInt(Number.MAX_SAFE_INTEGER);

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export function toWireVerdict(verdict: FilterVerdict): { filterStatus: FilterStatus; filterMet: number } {
  return {
    filterStatus:
      verdict.status === 'traverse'
        ? FilterStatus.FILTER_STATUS_TRAVERSE
        : FilterStatus.FILTER_STATUS_INCLUDE,
    filterMet: verdict.met,
  };
}

function toManifestEntry(entry: SourceEntry, links?: LinkGroupIds): ManifestEntry {
  const linked = links && entry.kind === 'file' && (entry.nlink ?? 1) > 1;
  const wire = withOwner(toWireEntry(entry, linked ? links.idOf(entry.inode) : 0n), entry);
  // A size for regular files only: the receiver reads no other (fromManifestEntry), and a
  // directory's differs between two copies of it (ext4 never shrinks one), which would keep a
  // destination from finding the listing equal to its own (received-manifest.ts).
  if (entry.kind !== 'file') wire.size = 0n;
  return { entry: wire, ...toWireVerdict(entry.verdict) };
}

/**
 * The owner's ids, with the names they have on this machine, and those of the users and groups its
 * ACLs name, for the destination to map (fsops/id-map.ts, fsops/posix-acl.ts).
 */
function withOwner(wire: WireEntry, entry: Entry): WireEntry {
  // `wire` was made for this entry just now: filled in place (copying it cost ~110 ms of a
  // 20,000-file pull's daemon CPU, node --cpu-prof).
  if (entry.xattrs && entry.xattrs.length > 0) wire.aclNames = aclNamesOf(entry.xattrs, localIdNames());
  if (entry.uid === undefined || entry.gid === undefined) return wire;
  const names = ownerNames(entry.uid, entry.gid, localIdNames());
  wire.uid = entry.uid;
  wire.gid = entry.gid;
  wire.user = names.user;
  wire.group = names.group;
  return wire;
}

/** How the destination gives sent owners its own ids (fsops/id-map.ts mappedId). */
export interface OwnerMapping {
  /** This machine's names, read when first needed. */
  here: () => IdNames;
  numericIds: boolean;
}

/**
 * One listing as batches of at most BATCH_ENTRIES entries; the last one says so. With `links`,
 * files with other names carry their hard-link group.
 */
export function toManifestBatches(listing: SourceListing, links?: LinkGroupIds): ManifestBatch[] {
  const batches: ManifestBatch[] = [];
  for (let start = 0; start === 0 || start < listing.entries.length; start += BATCH_ENTRIES) {
    const entries = listing.entries
      .slice(start, start + BATCH_ENTRIES)
      .map((entry) => toManifestEntry(entry, links));
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

/**
 * A listing whose entries came encoded (SourceListing.encoded) as whole TransferFrames, one per
 * chunk: the batch's other fields encoded here, its entries appended as they are (a message's
 * fields may come in any order, a repeated field's elements in several runs).
 */
export function toEncodedManifestFrames(
  listing: SourceListing,
  encoded: EncodedEntries,
  role: Role,
): Uint8Array[] {
  return encoded.chunks.map((chunk, i) => {
    const batch = ManifestBatch.encode({
      directory: listing.rel,
      directoryEntry: i === 0 && listing.dir ? toManifestEntry(listing.dir) : undefined,
      entries: [],
      partial: listing.partial,
      last: i === encoded.chunks.length - 1,
      unreadable: [],
    }).finish();
    const frame = new BinaryWriter().uint32(FRAME_ROLE_TAG).int32(role);
    return frame
      .uint32(FRAME_MANIFEST_TAG)
      .uint32(batch.length + chunk.length)
      .raw(batch)
      .raw(chunk)
      .finish();
  });
}

/** TransferFrame's `manifest` tag (field 5, length-delimited). */
const FRAME_MANIFEST_TAG = (5 << 3) | 2;

/** Checks a relative path a peer sent ('' allowed: the transfer root). */
export function checkPeerRel(rel: string, what: string): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most paths need no counting.
  if (rel.length * 3 > MAX_PATH_BYTES && Buffer.byteLength(rel) > MAX_PATH_BYTES)
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
export function fromManifestEntry(
  wire: ManifestEntry,
  ofDirectory = false,
  owners: OwnerMapping = { here: localIdNames, numericIds: false },
): SourceEntry {
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
  // Bytes on disk (0: not sent); only their being below the size is used (sparse-blocks.ts hasHoles).
  if (kind === 'file' && entry.allocated > 0n)
    result.allocated = Math.min(Number(entry.allocated), Number(entry.size));
  if (entry.uid !== undefined && entry.gid !== undefined) {
    if (!isPeerIdName(entry.user) || !isPeerIdName(entry.group))
      throw new ProtocolError(`${entry.name}: user or group name too long or not printable`);
    const named = !owners.numericIds && (entry.user !== '' || entry.group !== '');
    const here = named ? owners.here() : undefined;
    result.uid = here ? mappedId(here.users, entry.user, entry.uid) : entry.uid;
    result.gid = here ? mappedId(here.groups, entry.group, entry.gid) : entry.gid;
  }
  // A hard-link group: a key matching other entries of this session only (protocol/link-groups.ts).
  const linkKey = kind === 'file' ? peerLinkKey(entry.linkGroup) : undefined;
  if (linkKey !== undefined) {
    result.inode = linkKey;
    result.nlink = 2;
  }
  const xattrs = fromWireXattrs(entry, entry.name, (reason) => new ProtocolError(reason));
  if (entry.aclNames.length > MAX_ACL_NAMES || !entry.aclNames.every(({ name }) => isPeerIdName(name)))
    throw new ProtocolError(
      `${entry.name}: more than ${MAX_ACL_NAMES} ACL names, or one too long or not printable`,
    );
  if (xattrs) {
    const mapped = !owners.numericIds && entry.aclNames.length > 0;
    result.xattrs = mapped ? mapAclNames(xattrs, entry.aclNames, owners.here()) : xattrs;
  }
  if (kind === 'other') {
    // Which special file (sockets and unknown types are skipped); a device's number, any u64.
    result.special = specialName(entry.special);
    if (result.special === 'char' || result.special === 'block') result.rdev = entry.rdev;
  }
  const source = result as SourceEntry;
  source.verdict = fromWireVerdict(wire);
  return source;
}
