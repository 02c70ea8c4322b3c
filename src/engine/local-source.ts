/** The source role on the local file system: a streaming, depth-first walk, one directory per listing. */

import { lstatSync, readlinkSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type DirectoryContents, entryFromStats, listDirectory, NOT_UTF8_NAME } from '../fsops/listing.js';
import { nativeAddon } from '../fsops/native.js';
import { joinRel, localPath, parentRel, relDepth } from '../fsops/rel-path.js';
import { readXattrs } from '../fsops/xattrs.js';
import { yieldToLoop } from '../util/clock.js';
import { codeOf, reasonOf, sourceKeptReason } from '../util/errors.js';
import { faults } from '../util/faults.js';
import type { Endpoints } from './endpoints.js';
import type { FilterVerdict, PathFilter } from './filter.js';
import type { DeferredEntry, EncodedEntries, SourceEntry, SourceListing, SourceRole } from './roles.js';
import type { Failure } from './types.js';

/**
 * Yield to the event loop after this many entries, so finished copies are collected while walking
 * and, in a remote session, the listings sent so far leave for the peer, which plans them while
 * this side walks on (grpc-js writes to its socket only on a turn of the loop). Every 64 rather
 * than 512: a nothing-changed remote mirror of 20,000 files took 629 instead of 700 ms (medians of
 * 12 alternating runs, docs/DECISIONS.md); a turn costs ~3 us.
 */
const YIELD_EVERY = 64;

export class LocalSource implements SourceRole {
  scanComplete = true;
  readonly failures: Failure[] = [];
  private readonly walkedDirs: string[] = [];
  /** The same directories with their filter verdicts, to answer hasWalked and verdictOf. */
  private readonly walkedVerdicts = new Map<string, FilterVerdict>();
  private readonly skipped = new Set<string>();

  constructor(
    private readonly endpoints: Endpoints,
    private readonly filter: PathFilter,
    /**
     * How a directory of the walk is listed, by its path relative to the source: the daemon lists
     * a pull's source through descriptors opened beneath its module. Default: by path, in bulk.
     */
    private readonly lister?: (rel: string) => DirectoryContents,
  ) {
    this.hangsInAddon = this.injectListingHang();
  }

  localPathOf(rel: string): string {
    if (this.endpoints.kind === 'single') return this.endpoints.source;
    return localPath(this.endpoints.source, rel);
  }

  /** A failure to read the source; unless it `blocksDeletion` (a name that cannot be represented), a mirror deletes nothing. */
  fail(rel: string, reason: string, blocksDeletion = true): void {
    // The root by the path the user gave: '.' would say nothing about which side failed.
    this.failures.push({ path: rel === '' ? this.endpoints.source : rel, reason });
    if (blocksDeletion) this.scanComplete = false;
  }

  async *scanAgain(entries: readonly DeferredEntry[]): AsyncGenerator<SourceListing> {
    for (const entry of entries) yield* this.scan(entry);
  }

  async *scan(start?: DeferredEntry): AsyncGenerator<SourceListing> {
    if (this.endpoints.kind === 'single') {
      yield* this.scanSingle();
      return;
    }
    const stack: { rel: string; verdict: FilterVerdict; dir: SourceEntry }[] = [];
    if (start) {
      const rel = joinRel(start.parent, start.entry.name);
      // Walked again now that what stood in its way is gone, unless the destination blocks it anew.
      this.skipped.delete(rel);
      yield { rel: start.parent, entries: [start.entry], partial: true };
      if (start.entry.kind !== 'dir' || this.skipped.has(rel)) return;
      stack.push({
        rel: joinRel(start.parent, start.entry.name),
        verdict: start.entry.verdict,
        dir: start.entry,
      });
    } else {
      let root: ReturnType<typeof entryFromStats>;
      try {
        // The endpoint rules made the root a directory; a root given as a symlink with '/' is followed.
        root = entryFromStats('', statSync(this.endpoints.source, { bigint: true }));
      } catch (error) {
        this.fail('', reasonOf(error));
        return;
      }
      stack.push({ rel: '', verdict: this.filter.root, dir: { ...root, verdict: this.filter.root } });
    }
    let sinceYield = 0;
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const abs = localPath(this.endpoints.source, dir.rel);
      this.onListing?.(dir.rel);
      if (!this.hangsInAddon) faults.hang('scan', dir.rel);
      let contents: ReturnType<typeof listDirectory>;
      let encoded: EncodedEntries | undefined;
      const held = this.heldCopies;
      const onSlow = held?.waiting() ? () => held.send() : undefined;
      try {
        if (this.encoder && this.filter.passAll)
          ({ contents, encoded } = this.encoder(dir.rel, dir.verdict, onSlow));
        else if (this.lister) contents = this.lister(dir.rel);
        else contents = listDirectory(abs, onSlow);
      } catch (error) {
        this.fail(dir.rel, `cannot read directory: ${reasonOf(error)}`);
        continue;
      }
      this.walkedDirs.push(dir.rel);
      this.walkedVerdicts.set(dir.rel, dir.verdict);
      for (const problem of contents.problems) {
        // A name that is not UTF-8 cannot be represented, nor can its twin at the destination be
        // deleted: it does not make the scan incomplete.
        const notUtf8 = problem.reason === NOT_UTF8_NAME;
        this.fail(joinRel(dir.rel, problem.name), problem.reason, !notUtf8);
      }
      const entries: SourceEntry[] = [];
      for (const entry of contents.entries) {
        // Without filters every entry inherits its directory's verdict: no path to build or match.
        const verdict = this.filter.passAll
          ? dir.verdict
          : this.filter.test(joinRel(dir.rel, entry.name), entry.kind === 'dir', dir.verdict);
        if (verdict.status === 'exclude') continue;
        if (verdict.status === 'traverse' && entry.kind !== 'dir') continue;
        // Reuse the listing's object (a spread per entry costs more than the walk itself).
        const sourceEntry = entry as SourceEntry;
        sourceEntry.verdict = verdict;
        entries.push(sourceEntry);
      }
      yield { rel: dir.rel, dir: dir.dir, entries, partial: false, ...(encoded ? { encoded } : {}) };
      // Push in reverse so the walk visits names in listing order.
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i]!;
        const rel = joinRel(dir.rel, entry.name);
        if (entry.kind === 'dir' && !this.skipped.has(rel))
          stack.push({ rel, verdict: entry.verdict, dir: entry });
      }
      // An encoded listing's entries count too, though only its subdirectories are objects here.
      sinceYield += (encoded?.count ?? entries.length) + 1;
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
  }

  private *scanSingle(): Generator<SourceListing> {
    const path = this.endpoints.source;
    try {
      const stats = lstatSync(path, { bigint: true });
      const target = stats.isSymbolicLink() ? readlinkSync(path) : undefined;
      // The single entry is listed under the name it takes at the destination.
      const entry = entryFromStats(basename(this.endpoints.target), stats, target);
      yield { rel: '', entries: [{ ...entry, verdict: this.filter.root }], partial: true };
    } catch (error) {
      this.fail(basename(path), reasonOf(error));
    }
  }

  /**
   * These entries of directory `rel`, read afresh (engine/whole-dirs.ts hands back the few that need
   * the destination role's own rules); one that cannot be read is a failure, as in a listing.
   */
  entriesOf(rel: string, names: string[]): SourceEntry[] {
    if (this.lister) return this.listedEntriesOf(rel, names);
    const entries: SourceEntry[] = [];
    for (const name of names) {
      const path = this.localPathOf(joinRel(rel, name));
      try {
        const stats = lstatSync(path, { bigint: true });
        const target = stats.isSymbolicLink() ? readlinkSync(path) : undefined;
        const entry: SourceEntry = { ...entryFromStats(name, stats, target), verdict: this.filter.root };
        // As the listing reads them (the destination's are read, so they are compared).
        const xattrs = readXattrs(path);
        if (xattrs) entry.xattrs = xattrs;
        entries.push(entry);
      } catch (error) {
        if (codeOf(error) !== 'ENOENT') this.fail(joinRel(rel, name), reasonOf(error));
      }
    }
    return entries;
  }

  /**
   * entriesOf through the walk's own lister (the daemon's lists beneath its module): never by a
   * path whose directories a local writer could swap for links to the outside.
   */
  private listedEntriesOf(rel: string, names: string[]): SourceEntry[] {
    let contents: DirectoryContents;
    try {
      contents = this.lister!(rel);
    } catch (error) {
      this.fail(rel, `cannot read directory: ${reasonOf(error)}`);
      return [];
    }
    const wanted = new Set(names);
    for (const problem of contents.problems) {
      if (wanted.has(problem.name)) this.fail(joinRel(rel, problem.name), problem.reason);
    }
    return contents.entries
      .filter((entry) => wanted.has(entry.name))
      .map((entry) => ({ ...entry, verdict: this.filter.root }));
  }

  /**
   * True when `rel` is a directory this walk listed (as a directory, never through a link): a path
   * a peer names below it stays inside the source.
   */
  hasWalked(rel: string): boolean {
    return this.walkedVerdicts.has(rel);
  }

  /**
   * The verdict the walk gives `rel`, an entry of a directory it listed; undefined when the walk
   * would not list it (its directory was not walked, or the filters leave it out). A peer may ask
   * for nothing else: the directories walked are few, so this is known without remembering every
   * file offered.
   */
  verdictOf(rel: string, isDir: boolean): FilterVerdict | undefined {
    const parent = this.walkedVerdicts.get(parentRel(rel));
    if (!parent) return undefined;
    if (this.filter.passAll) return parent;
    const verdict = this.filter.test(rel, isDir, parent);
    if (verdict.status === 'exclude' || (verdict.status === 'traverse' && !isDir)) return undefined;
    return verdict;
  }

  skipSubtree(rel: string): void {
    this.skipped.add(rel);
  }

  remove(rel: string): Failure | undefined {
    try {
      unlinkSync(this.localPathOf(rel));
      return undefined;
    } catch (error) {
      return { path: rel, reason: sourceKeptReason(error) };
    }
  }

  removeEmptyDirectories(): Failure[] {
    const failures: Failure[] = [];
    const dirs = [...this.walkedDirs].sort((a, b) => relDepth(b) - relDepth(a));
    for (const rel of dirs) {
      const path = localPath(this.endpoints.source, rel);
      // A move of `SRC/` moves the contents and keeps SRC itself; a move of `SRC` removes it too.
      if (rel === '' && this.endpoints.contentsOnly) continue;
      try {
        rmdirSync(path);
      } catch (error) {
        const code = codeOf(error);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') {
          failures.push({
            path: rel === '' ? dirname(path) : rel,
            reason: `cannot remove source directory: ${reasonOf(error)}`,
          });
        }
      }
    }
    return failures;
  }

  /**
   * Lists directory `rel` (relative to the source) with its entries encoded for the wire, the
   * subdirectories as its contents (a remote session's source: protocol/native-manifest.ts); used
   * without filters, which give entries verdicts of their own. In place of `lister` where both are:
   * it must list as safely (the daemon's lists beneath its module, as its lister does).
   */
  encoder?: (
    rel: string,
    verdict: FilterVerdict,
    onSlow?: () => void,
  ) => { contents: DirectoryContents; encoded?: EncodedEntries };
  /** Told before each directory is listed (the stall detector shows it). */
  onListing?: (rel: string) => void;
  /**
   * Copies the session holds back for a fuller batch: sent once a listing is slow to come, so they
   * do not wait on it (a hung mount). With the addon only: without it a listing is one
   * synchronous call on this thread.
   */
  heldCopies?: { waiting(): boolean; send(): void };
  /** Tests: an injected scan hang happens inside the addon's listing, on whichever thread lists. */
  private readonly hangsInAddon: boolean;

  private injectListingHang(): boolean {
    const rel = faults.scanRel();
    const addon = nativeAddon();
    if (rel === undefined || !addon || this.endpoints.kind === 'single') return false;
    addon.setListingHang(localPath(this.endpoints.source, rel));
    return true;
  }
}
