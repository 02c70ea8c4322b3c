/**
 * The directories of a pull's source, listed through descriptors opened beneath the module root
 * (fsops/beneath.ts: links on the way followed only while they stay inside, a last link never): a
 * local writer who swaps a directory for a link to the outside cannot make the daemon list what
 * lies outside.
 */
import type { FilterVerdict } from '../engine/filter.js';
import type { BeneathDir, BeneathRoot } from '../fsops/beneath.js';
import { listBeneath } from '../fsops/beneath-listing.js';
import type { DirectoryContents } from '../fsops/listing.js';
import type { ManifestLister, ManifestListing } from '../protocol/native-manifest.js';
import { beneathRpcError } from './module-path.js';

/** A directory of a pull's source, listed through a descriptor opened beneath the module, never through a last link. */
export function listInModule(root: BeneathRoot, rel: string): DirectoryContents {
  return inModuleDir(root, rel, listBeneath);
}

/**
 * The same, its entries encoded for the wire by the addon (protocol/native-manifest.ts): it lists
 * the directory through the descriptor opened beneath the module (/proc/self/fd/N names that very
 * directory, whatever is swapped in at its path meanwhile; its entries are read relative to it,
 * never following a last link). A directory the addon leaves to JavaScript is listed by
 * listBeneath, through the same descriptor, as before. Never on a reader thread: the read-ahead's
 * listings are keyed by path, and descriptor numbers are reused by other sessions.
 */
export function encodeInModule(
  root: BeneathRoot,
  rel: string,
  lister: ManifestLister,
  verdict: FilterVerdict,
): ManifestListing {
  return inModuleDir(root, rel, (dir) => {
    const listed = lister(`/proc/self/fd/${dir.fd}`, verdict);
    return listed.encoded ? listed : { contents: listBeneath(dir) };
  });
}

/** Runs `use` on directory `rel` of the module, opened beneath its root, and closes it. */
function inModuleDir<T>(root: BeneathRoot, rel: string, use: (dir: BeneathDir) => T): T {
  let dir: BeneathDir;
  try {
    dir = root.openDir(rel, false);
  } catch (error) {
    throw new Error(beneathRpcError(error, rel).message);
  }
  try {
    return use(dir);
  } finally {
    dir.close();
  }
}
