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
import { localIdNames } from '../fsops/id-map.js';
import { contentsOf, type DirectoryContents, slowListing } from '../fsops/listing.js';
import { type NativeAddon, nativeAddon } from '../fsops/native.js';
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

function listManifest(
  addon: NativeAddon,
  path: string,
  verdict: FilterVerdict,
  onSlow?: () => void,
): ManifestListing {
  if (!namesGiven) {
    // The owners' names, as withOwner gives them (fsops/id-map.ts ownerNames).
    const { users, groups } = localIdNames();
    addon.setIdNames(
      Uint32Array.from(users.nameOf.keys()),
      [...users.nameOf.values()],
      Uint32Array.from(groups.nameOf.keys()),
      [...groups.nameOf.values()],
    );
    namesGiven = true;
  }
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
