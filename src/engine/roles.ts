/** The seams of a session: what a source and a destination role offer, whatever the transport. */
import type { FilterVerdict } from './filter.js';
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
}

export interface SourceRole {
  /** Streams the manifest one directory at a time, starting at the root or below one entry. */
  scan(start?: { parent: string; entry: SourceEntry }): AsyncIterable<SourceListing>;
  /** False once any part of the source could not be read. */
  readonly scanComplete: boolean;
  /** Entries that could not be read or are not supported, with the reason. */
  readonly failures: Failure[];
  /** Path of an entry's data on this machine (the in-process data shortcut). */
  localPathOf(rel: string): string;
  /** Leaves a directory's contents out of the rest of this walk (the destination cannot take them now). */
  skipSubtree(rel: string): void;
  /** Removes a source entry whose copy has landed (move). */
  remove(rel: string): Failure | undefined;
  /** Removes the source directories a move has emptied, deepest first. */
  removeEmptyDirectories(): Failure[];
}
