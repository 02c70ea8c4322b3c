/** The seams of a session: what a source and a destination role offer, whatever the transport. */
import type { FreshTableHandle } from '../fsops/native.js';
import type { RemovalStep } from '../fsops/remove-tree.js';
import type { FidelityTally } from './fidelity.js';
import type { FilterVerdict } from './filter.js';
import type { DeletionCandidate, DestinationTally, DirPlan, Need } from './local-destination.js';
import type { Entry, Failure } from './types.js';

/** A manifest entry with the filter's verdict, so both roles agree on what takes part. */
export interface SourceEntry extends Entry {
  verdict: FilterVerdict;
}

export interface SourceListing {
  /** Relative path of the directory these entries belong to. */
  rel: string;
  /** The directory's own metadata (absent for a single-entry transfer). */
  dir?: SourceEntry;
  /**
   * The directory's filter verdict as the destination derived it from its own filter, when the
   * listing came from a peer (whose word on it is not taken: it decides what a mirror deletes);
   * otherwise `dir.verdict`.
   */
  verdict?: FilterVerdict;
  entries: SourceEntry[];
  /** True when this listing names only some of the directory's entries: no deletions from it. */
  partial: boolean;
  /**
   * The entries already encoded for the wire (a push's walk, protocol/native-manifest.ts): then
   * `entries` holds only the subdirectories, which the walk goes on through.
   */
  encoded?: EncodedEntries;
  /**
   * The destination found every entry already as listed (a peer's listing, compared whole with its
   * own: transport/stream/remote-source.ts): nothing to plan, and `entries` is empty.
   */
  unchanged?: { count: number; fileSizes: Float64Array; dirs: string[] };
  /**
   * Small files of a directory this session made, taken from a peer's listing into a table without
   * an entry each (transport/stream/fresh-files.ts): not in `entries`, not planned, all needed
   * (DataPath.fetchFresh).
   */
  fresh?: FreshListing;
}

/** A listing's small files in a table of the addon's (native/fresh.h). */
export interface FreshListing {
  table: FreshTableHandle;
  count: number;
  bytes: number;
  /** Each file's size, for the session's statistics. */
  sizes: Float64Array;
  /** The table holds the whole listing: the directory holds nothing else (no subdirectory, link or other file). */
  whole: boolean;
}

/** A directory's entries as the manifest's encoded ManifestEntry messages. */
export interface EncodedEntries {
  /** ManifestBatch field 3 (repeated ManifestEntry), one batch's worth each; at least one. */
  chunks: Uint8Array[];
  /** How many entries, and the size of each regular file among them. */
  count: number;
  fileSizes: Float64Array;
}

/** An entry of a listing that the destination could take only after a mirror's deletions. */
export interface DeferredEntry {
  parent: string;
  entry: SourceEntry;
}

export interface SourceRole {
  /** Streams the manifest one directory at a time, from the root. */
  scan(): AsyncIterable<SourceListing>;
  /**
   * Lists these entries again, each with its subtree (a mirror's entries that replace another kind,
   * once the deletions made room for them).
   */
  scanAgain(entries: readonly DeferredEntry[]): AsyncIterable<SourceListing>;
  /** False once any part of the source could not be read. */
  readonly scanComplete: boolean;
  /**
   * True once a part of the source could not be read while it was sent (its scan may still have
   * been complete): a mirror deletes nothing.
   */
  readonly readFailed?: boolean;
  /** Entries that could not be read or are not supported, with the reason. */
  readonly failures: Failure[];
  /** Leaves a directory's contents out of the rest of this walk (the destination cannot take them now). */
  skipSubtree(rel: string): void;
  /** Removes a source entry whose copy has landed (move). */
  remove(rel: string): Failure | undefined;
  /** Removes the source directories a move has emptied, deepest first. */
  removeEmptyDirectories(): Failure[];
}

/**
 * The destination's side of a session: it owns the diff. Each listing is planned against what the
 * destination holds (what it makes itself, what it needs, what a mirror may delete); deletions wait
 * until the session says the scan was complete and they were confirmed. engine/local-destination.ts
 * is the one implementation: on a pull it runs in the client, on a push in the daemon.
 */
export interface DestinationRole {
  /**
   * Plans one listing: makes directories, links and metadata fixes itself, gathers deletion
   * candidates and deferred entries, and answers with the files it needs. `wholeDirs`: new and
   * existing subdirectories may go whole to the copy threads (see DirPlan).
   */
  reconcile(listing: SourceListing, wholeDirs?: boolean): DirPlan;
  /** A mirror's deletions gathered so far. */
  readonly candidates: DeletionCandidate[];
  /** Entries that replace another kind: listed again once the deletions made room. */
  readonly deferred: DeferredEntry[];
  applyDeletions(candidates: DeletionCandidate[], step: RemovalStep): Promise<void>;
  /** A needed file did not land: the later names of its hard-link group are copied instead. */
  copyFailed(rel: string): void;
  /** The later names of hard-link groups, once every copy is back: linked, or needed as copies. */
  linkFollowers(): { copy: Need[]; landed: string[] };
  /** Removes the staging directories of dead runs found while planning. */
  removeStaleDirs(step: RemovalStep): Promise<void>;
  /** Gives the directories made or changed their final metadata, deepest first. */
  finishDirectories(): void;
  /** What the destination did itself (directories, links, metadata, deletions). */
  readonly tally: DestinationTally;
  readonly failures: Failure[];
  readonly fidelity: FidelityTally;
}
