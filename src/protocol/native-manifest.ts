/**
 * A remote session's source listings straight into manifest entries: the addon lists a directory and encodes its
 * entries as the ManifestEntry messages toManifestBatches would make (native/manifest.cc), so the
 * client builds no object per entry, only per subdirectory. A directory with an entry that needs
 * more (a name that is not UTF-8, an unreadable entry, a file with other names, an ACL) comes back
 * as an ordinary listing, and goes the usual way.
 *
 * Profile behind it (docs/DECISIONS.md): of a nothing-changed push of 20,000 files, the client
 * spent ~60 ms turning entries into wire objects and ~60 ms encoding them, besides the listing.
 */
import type { FilterVerdict } from '../engine/filter.js';
import type { EncodedEntries } from '../engine/roles.js';
import type { Operation } from '../engine/types.js';
import { isPeerIdName, localIdNames } from '../fsops/id-map.js';
import { queueLandingJob } from '../fsops/land-files.js';
import { contentsOf, type DirectoryContents, slowListing } from '../fsops/listing.js';
import { type FoundAsListed, type NativeAddon, nativeAddon, type SameAsManifest } from '../fsops/native.js';
import { BATCH_ENTRIES, toWireVerdict } from './manifest-wire.js';

/** A directory's entries encoded, with the subdirectories as contents; or its contents alone. */
export interface ManifestListing {
  contents: DirectoryContents;
  encoded?: EncodedEntries;
}

/** Lists the directory at `path` into encoded entries (a path the addon opens, following links). */
export type ManifestLister = (path: string, verdict: FilterVerdict, onSlow?: () => void) => ManifestListing;

/**
 * The lister for a session's source; undefined without the addon, and for a move, whose source
 * needs every name it sent to remove what landed (then the walk lists as usual).
 */
export function manifestLister(operation: Operation): ManifestLister | undefined {
  const addon = nativeAddon();
  if (!addon || operation === 'move') return undefined;
  return (path, verdict, onSlow) => listManifest(addon, path, verdict, onSlow);
}

let namesGiven = false;

/** Gives the addon the owners' names, as withOwner gives them (fsops/id-map.ts ownerNames), once. */
function giveNames(addon: NativeAddon): void {
  if (namesGiven) return;
  const { users, groups } = localIdNames();
  addon.setIdNames(
    Uint32Array.from(users.nameOf.keys()),
    [...users.nameOf.values()],
    Uint32Array.from(groups.nameOf.keys()),
    [...groups.nameOf.values()],
  );
  namesGiven = true;
}

let idsGiven = false;

/**
 * Gives the addon the local ids by owner name (fsops/id-map.ts idOf), once: the owners of a table
 * of small files (native/fresh.cc) are mapped by name as the decoder maps a listing's.
 */
export function giveIds(addon: NativeAddon): void {
  if (idsGiven) return;
  const { users, groups } = localIdNames();
  addon.setFreshIds(
    [...users.idOf.keys()],
    Uint32Array.from(users.idOf.values()),
    [...groups.idOf.keys()],
    Uint32Array.from(groups.idOf.values()),
  );
  idsGiven = true;
}

function listManifest(
  addon: NativeAddon,
  path: string,
  verdict: FilterVerdict,
  onSlow?: () => void,
): ManifestListing {
  giveNames(addon);
  const { filterStatus, filterMet } = toWireVerdict(verdict);
  const listed = slowListing(onSlow, (waitMs) =>
    addon.listManifest(path, BATCH_ENTRIES, filterStatus, filterMet, waitMs),
  );
  if (listed.chunks === undefined) return { contents: contentsOf(addon, listed.listing) };
  return {
    contents: contentsOf(addon, listed.dirs),
    encoded: { chunks: listed.chunks, count: listed.entries, fileSizes: listed.fileSizes },
  };
}

let namesOneToOne: boolean | undefined;

/**
 * Whether every id here with a name is the id that name maps back to (no name shared by two ids),
 * and every name one a peer may send (isPeerIdName): then a peer's owner equal to one here maps to it.
 */
function eachNameOneId(): boolean {
  if (namesOneToOne === undefined) {
    const { users, groups } = localIdNames();
    namesOneToOne = [users, groups].every((table) =>
      [...table.nameOf].every(([id, name]) => table.idOf.get(name) === id && isPeerIdName(name)),
    );
  }
  return namesOneToOne;
}

/**
 * Whether the destination directory at `path` holds exactly the entries a peer listed for it,
 * `entries` being their ManifestEntry records as received (ManifestBatch field 3): its own entry
 * count, file sizes and subdirectories' names, or undefined when anything differs. Then each entry
 * is as the source has it, and planning it would change nothing. Undefined too without the addon,
 * and where an owner's name here maps back to another id (`numericIds` never maps): the walk
 * decides those.
 */
export function sameAsListed(
  path: string,
  verdict: FilterVerdict,
  entries: Uint8Array,
  options: { refusedFileModes: number; numericIds: boolean },
): SameAsManifest | undefined {
  const asked = comparison(verdict, options);
  return asked?.addon.sameAsManifest(
    path,
    entries,
    asked.filterStatus,
    asked.filterMet,
    options.refusedFileModes,
  );
}

/** The addon, names given and the verdict on the wire, where a comparison may be asked at all. */
function comparison(verdict: FilterVerdict, options: { numericIds: boolean }) {
  const addon = nativeAddon();
  if (!addon || !(options.numericIds || eachNameOneId())) return undefined;
  giveNames(addon);
  return { addon, ...toWireVerdict(verdict) };
}

/**
 * Comparisons queued by sameAsListedLater and not answered, in the whole process, at most: each holds
 * a directory open and a copy of a listing's bytes, and waits in the landing threads' one queue.
 */
const MAX_LATER = 16;
let laterQueued = 0;

/**
 * sameAsListed on the landing threads, as soon as a listing arrives (its answer awaited when the
 * session comes to it), with the directory it listed (`dev`, `ino`): the caller checks that its path
 * still names that one before it takes the answer. Undefined where it would answer undefined at
 * once, the directory cannot be opened now, or MAX_LATER are queued.
 */
export function sameAsListedLater(
  path: string,
  verdict: FilterVerdict,
  entries: Uint8Array,
  options: { refusedFileModes: number; numericIds: boolean },
): Promise<FoundAsListed | undefined> | undefined {
  const asked = laterQueued < MAX_LATER ? comparison(verdict, options) : undefined;
  if (!asked) return undefined;
  const answered = queueLandingJob();
  let queued = false;
  // The executor runs at once: `queued` says whether the addon took the job.
  const answer = new Promise<FoundAsListed | undefined>((resolve) => {
    queued = asked.addon.sameAsManifestLater(
      path,
      entries,
      asked.filterStatus,
      asked.filterMet,
      options.refusedFileModes,
      (same) => {
        answered();
        laterQueued--;
        resolve(same);
      },
    );
  });
  if (!queued) {
    answered();
    return undefined;
  }
  laterQueued++;
  return answer;
}
