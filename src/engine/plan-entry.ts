/**
 * The destination role's plan for one source entry, given what the destination holds under its
 * name, and a mirror's deletions in a directory: pure decisions, without a disk
 * (local-destination.ts carries them out). It adds to the compare
 * rules (compare.ts) what a destination does about them: entries that take no part (sockets,
 * size limits), directories only walked through (--include), kinds in conflict (a mirror
 * defers them to its deletion phase; copy and move replace a file or link, never a directory).
 */

import { keepsOwners } from '../fsops/owner.js';
import { joinRel } from '../fsops/rel-path.js';
import { keepMask } from '../fsops/xattrs.js';
import { decide, sameMetadata } from './compare.js';
import { PRESERVE_ALL } from './fidelity.js';
import { type FilterVerdict, outsideSizeLimits, type PathFilter } from './filter.js';
import type { SourceEntry, SourceListing } from './roles.js';
import { isMadeSpecial } from './special-files.js';
import type { Entry, EntryKind, TransferOptions } from './types.js';

export type EntryStep =
  /** Nothing to write. `landed`: a move may remove the source; `block`: nothing goes below it. */
  | { kind: 'skip'; landed: boolean; block: boolean }
  /** A directory walked through for what it holds; `fresh`: the destination lacks it (made when needed). */
  | { kind: 'walk-through'; fresh: boolean }
  /** The file's data is needed; with `hashFirst`, only if its contents differ (--checksum). */
  | { kind: 'need'; hashFirst: boolean; metadataMatches?: boolean }
  /** Same contents: set mode and mtime. */
  | { kind: 'update' }
  | { kind: 'mkdir' }
  /** `landed`: what was there (nothing, a file or a link) is replaced; a move may remove the source. */
  | { kind: 'link'; landed: boolean }
  /** A FIFO or device node made (engine/special-files.ts); `landed` as for a link. */
  | { kind: 'special'; landed: boolean }
  /** A mirror: the entry in the way is a deletion candidate; this one waits for the deletions. */
  | { kind: 'defer'; candidate: EntryKind; block: boolean }
  /** Copy and move never replace a directory. */
  | { kind: 'refuse'; reason: string }
  /** Copy and move: the file or link in the way goes first, then `next`. */
  | { kind: 'replace'; next: EntryStep };

export function planEntry(entry: SourceEntry, dest: Entry | undefined, options: TransferOptions): EntryStep {
  if ((entry.kind === 'other' && !isMadeSpecial(entry)) || outsideSizeLimits(entry, options.filter)) {
    return { kind: 'skip', landed: false, block: false };
  }
  if (entry.kind === 'dir' && entry.verdict.status === 'traverse') {
    if (dest && dest.kind !== 'dir') return conflict(entry, dest, options);
    return { kind: 'walk-through', fresh: !dest };
  }
  const owners = keepsOwners(options.preserve?.owner);
  const keep = keepMask(options.preserve ?? PRESERVE_ALL);
  let decision = decide(entry, dest, options.compare, owners, keep);
  if (decision === 'conflict' && entry.kind !== 'dir' && dest?.kind !== 'dir') decision = 'transfer';
  switch (decision) {
    case 'transfer':
      return transfer(entry, dest);
    case 'hash':
      return {
        kind: 'need',
        hashFirst: true,
        metadataMatches: dest !== undefined && sameMetadata(entry, dest, owners, keep),
      };
    case 'update':
      return { kind: 'update' };
    case 'skip':
      return {
        kind: 'skip',
        // --ignore-existing keeps whatever is there, and a move keeps its source then.
        landed: options.compare !== 'ignore-existing' && entry.kind !== 'dir',
        // --ignore-existing keeps a non-directory where the source has a directory: nothing goes below it.
        block: entry.kind === 'dir' && dest !== undefined && dest.kind !== 'dir',
      };
    case 'conflict':
      return conflict(entry, dest!, options);
  }
}

function transfer(entry: SourceEntry, dest: Entry | undefined): EntryStep {
  if (entry.kind === 'file') return { kind: 'need', hashFirst: false };
  if (entry.kind === 'dir') return { kind: 'mkdir' };
  const landed =
    dest === undefined || dest.kind === 'symlink' || dest.kind === 'file' || dest.kind === 'other';
  if (entry.kind === 'other') return { kind: 'special', landed };
  return { kind: 'link', landed };
}

function conflict(entry: SourceEntry, dest: Entry, options: TransferOptions): EntryStep {
  // Replacing one kind by another deletes: a mirror waits for its deletion phase, and a
  // directory's contents are walked only once the entry in its way is gone.
  if (options.operation === 'mirror')
    return { kind: 'defer', candidate: dest.kind, block: entry.kind === 'dir' };
  if (dest.kind === 'dir') {
    return {
      kind: 'refuse',
      reason: `destination is a directory and the source is not; ${options.operation} does not replace it (mirror does)`,
    };
  }
  // A file or link in the way of a directory is replaced, as an update would replace it.
  return { kind: 'replace', next: transfer(entry, undefined) };
}

/** A destination entry the source lacks, which a mirror deletes (once the scan is complete). */
export interface Extra {
  rel: string;
  kind: EntryKind;
  /** The filters' verdict: a directory's excluded contents are spared. */
  verdict: FilterVerdict;
}

/**
 * A mirror's deletions in one directory: what the destination holds (`existing`, by name) that
 * the source's complete listing lacks, but for what the filters exclude (unless
 * --delete-excluded). A partial listing (--files-from, a rescan) names only some entries: nothing.
 */
export function planExtras(
  listing: SourceListing,
  existing: ReadonlyMap<string, Entry>,
  filter: PathFilter,
  options: TransferOptions,
): Extra[] {
  if (listing.partial || options.operation !== 'mirror' || existing.size === 0) return [];
  const names = new Set(listing.entries.map((e) => e.name));
  const parentVerdict = listing.verdict ?? listing.dir?.verdict ?? filter.root;
  const extras: Extra[] = [];
  for (const [name, entry] of existing) {
    if (names.has(name)) continue;
    const rel = joinRel(listing.rel, name);
    // A directory only walked through ('traverse': --include or --files-from select what is
    // inside) is a candidate too, for what the filters select in it, as rsync deletes it.
    const verdict = filter.test(rel, entry.kind === 'dir', parentVerdict);
    if (verdict.status === 'exclude' && !options.deleteExcluded) continue;
    extras.push({ rel, kind: entry.kind, verdict });
  }
  return extras;
}

/** One entry of a listing with what the destination holds under its name and the step planned. */
export interface PlannedEntry {
  rel: string;
  entry: SourceEntry;
  dest: Entry | undefined;
  step: EntryStep;
}

/**
 * The plan for one source listing against the destination's listing of the same directory
 * (`existing`, by name): a step for each source entry (what is needed, updated, made, deferred or
 * refused) and a mirror's deletions. Pure: the destination role lists, then carries it out.
 */
export function planListing(
  listing: SourceListing,
  existing: ReadonlyMap<string, Entry>,
  filter: PathFilter,
  options: TransferOptions,
): { entries: PlannedEntry[]; extras: Extra[] } {
  const entries = listing.entries.map((entry) => {
    const dest = existing.get(entry.name);
    return { rel: joinRel(listing.rel, entry.name), entry, dest, step: planEntry(entry, dest, options) };
  });
  return { entries, extras: planExtras(listing, existing, filter, options) };
}
