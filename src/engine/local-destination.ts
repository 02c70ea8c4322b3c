/**
 * The destination role on the local file system. It owns the diff: for each source listing it
 * compares with what it has, creates directories and links itself, applies metadata-only changes,
 * and answers with the files it needs. It gathers mirror deletions but performs them only when
 * the session says the scan was complete and the deletions were confirmed.
 */
import { linkSync, lstatSync, renameSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type DestinationFs, PathDestinationFs } from '../fsops/destination-fs.js';
import type { Xattr } from '../fsops/entry.js';
import { type DirectoryContents, listDirectory } from '../fsops/listing.js';
import { makeDirs } from '../fsops/make-dirs.js';
import { applyMetadata } from '../fsops/metadata.js';
import { nativeAddon } from '../fsops/native.js';
import { countOwner, giveOwnerPath, keepsOwners, ownerToGive, sameOwner } from '../fsops/owner.js';
import { isSafeRel, joinRel, parentRel, relDepth } from '../fsops/rel-path.js';
import type { RemovalFailure, RemovalStep } from '../fsops/remove-tree.js';
import { isStaleTempName, isTempName, tempPathFor } from '../fsops/temp-path.js';
import { countXattrOutcome, keepMask, readXattrs, writeXattrs, type XattrOutcome } from '../fsops/xattrs.js';
import { BlitError, codeOf, reasonOf, showPath } from '../util/errors.js';
import { sameMetadata } from './compare.js';
import { FidelityTally, PRESERVE_ALL } from './fidelity.js';
import { type FilterVerdict, outsideSizeLimits, type PathFilter } from './filter.js';
import { HardLinkGroups, MAX_LINK_GROUPS } from './hard-links.js';
import { type EntryStep, planListing } from './plan-entry.js';
import type { DeferredEntry, DestinationRole, SourceEntry, SourceListing } from './roles.js';
import { cannotMakeSpecial, isDevice, makeSpecialNode } from './special-files.js';
import type { Action, Entry, EntryKind, Failure, TransferOptions } from './types.js';

export interface Need {
  rel: string;
  entry: SourceEntry;
  /** --checksum with equal sizes: compare contents before copying. */
  hashFirst: boolean;
  /** With hashFirst: mode and mtime already match at the destination. */
  metadataMatches?: boolean;
}

export interface DeletionCandidate {
  rel: string;
  kind: EntryKind;
  /** The filter's verdict, so a directory's excluded contents can be spared. */
  verdict?: FilterVerdict;
}

export interface DirPlan {
  needs: Need[];
  /** Entries already in place at the destination (a move may remove their source). */
  landed: string[];
  /** Source directories whose contents cannot go to the destination now: not to be walked. */
  blocked: string[];
  /** Subdirectories that are directories here too: listed when the walk gets to them. */
  existingDirs: { rel: string; entry: SourceEntry }[];
  /**
   * Subdirectories the destination lacks, made just now, so empty: the walk may go in without
   * listing them. When reconcile is told so, each is made under a temp name beside its own
   * (`stage`) for engine/whole-dirs.ts to fill and rename.
   */
  freshDirs: { rel: string; entry: SourceEntry; stage?: string }[];
}

export interface DestinationTally {
  copied: number;
  skipped: number;
  updated: number;
  deleted: number;
}

export class LocalDestination implements DestinationRole {
  readonly failures: Failure[] = [];
  readonly candidates: DeletionCandidate[] = [];
  /** Entries that replace a directory (or are replaced by one): written after the deletions. */
  readonly deferred: DeferredEntry[] = [];
  /** Staging directories of dead runs, found while listing: see removeStaleDirs. */
  private readonly staleDirs: string[] = [];
  readonly tally: DestinationTally = { copied: 0, skipped: 0, updated: 0, deleted: 0 };
  /** What was kept of owners, xattrs, ACLs, hard links, holes and special files (engine/fidelity.ts). */
  readonly fidelity = new FidelityTally();
  /** False in a daemon's module: a client's device files are refused (engine/special-files.ts). */
  devicesAllowed = true;
  private readonly dirs: { rel: string; entry: Entry }[] = [];
  /** The xattr kinds kept (fsops/xattrs.ts keepMask). */
  private readonly keep: number;
  /** Directories this run created (or, in a dry run, would create): known to be empty. */
  private readonly fresh = new Set<string>();
  /** Of those, the ones it made (not in a dry run, nor walked through and made on demand). */
  private readonly made = new Set<string>();
  /** Entries get the source's owner (fsops/owner.ts): root, and no --no-owner. */
  readonly owners: boolean;
  /** Source files that are one inode: the later names wait here to be linked (engine/hard-links.ts). */
  private readonly links = new HardLinkGroups<SourceEntry>();

  constructor(
    readonly root: string,
    readonly filter: PathFilter,
    private readonly options: TransferOptions,
    private readonly onAction: (action: Action) => void,
    /** How paths below the root are reached: by path locally, pinned in a daemon's module. */
    readonly fs: DestinationFs = new PathDestinationFs(root),
  ) {
    this.owners = keepsOwners(options.preserve?.owner);
    this.keep = keepMask(options.preserve ?? PRESERVE_ALL);
  }

  /** Gives the entry at `path` the owner `entry` asks for, counted; never fails the entry. */
  private giveOwner(path: string, entry: Entry): void {
    countOwner(this.fidelity, giveOwnerPath(path, ownerToGive(entry, this.owners)));
  }

  pathOf(rel: string): string {
    return this.fs.pathOf(rel);
  }

  /**
   * Creates the destination root (and its parents), or finds it there: done when the source root
   * has been listed, so a source that cannot be read leaves nothing behind.
   */
  private makeRoot(): void {
    if (this.options.dryRun) return;
    try {
      this.fs.makeDirs('');
    } catch (error) {
      throw new BlitError(`${showPath(this.root)}: cannot create directory: ${reasonOf(error)}`);
    }
  }

  private fail(rel: string, reason: string): void {
    this.failures.push({ path: rel, reason });
  }

  private existing(rel: string): Map<string, Entry> {
    const map = new Map<string, Entry>();
    if (this.fresh.has(rel)) return map;
    let contents: DirectoryContents;
    try {
      contents = listDirectory(this.pathOf(rel));
    } catch (error) {
      const code = codeOf(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        this.fail(rel === '' ? this.root : rel, `cannot read destination directory: ${reasonOf(error)}`);
      return map;
    }
    for (const entry of contents.entries) {
      if (isTempName(entry.name)) {
        // A temp symbolic link too: a run killed between making a link and renaming it.
        if (entry.kind !== 'other') this.removeStaleTemp(joinRel(rel, entry.name));
        continue;
      }
      map.set(entry.name, entry);
    }
    return map;
  }

  /**
   * Whether a listing of `rel` that the destination already holds entry by entry may go unplanned
   * (SourceListing.unchanged): not under --checksum or --ignore-times, which look past the listing,
   * nor for a move, whose source learns of each entry that landed, nor for a directory this session
   * is yet to make.
   */
  mayFindUnchanged(rel: string): boolean {
    const { compare, operation } = this.options;
    return (
      compare !== 'checksum' && compare !== 'ignore-times' && operation !== 'move' && !this.fresh.has(rel)
    );
  }

  /**
   * Whether a peer's small plain files in `rel` may be taken from its listing all at once, unplanned
   * (SourceListing.fresh): a directory this run made (nothing in it to compare, replace or delete),
   * or the root when it is not there yet; not for a move (its source learns of each entry that
   * landed), in a dry run, or under size limits (which skip some of its files).
   */
  takesFreshFiles(rel: string): boolean {
    const { operation, dryRun, filter } = this.options;
    // Size limits skip files the table would take (plan-entry.ts outsideSizeLimits).
    if (operation === 'move' || dryRun || filter.minSize !== undefined || filter.maxSize !== undefined)
      return false;
    // The root is made when its listing is planned, after this is asked: taken if it is not there yet.
    if (rel === '') {
      try {
        return lstatSync(this.pathOf(''), { throwIfNoEntry: false }) === undefined;
      } catch {
        return false; // not to be known here: the walk says why
      }
    }
    return this.made.has(rel);
  }

  /** The xattr kinds kept (fsops/xattrs.ts keepMask). */
  get keptXattrs(): number {
    return this.keep;
  }

  /**
   * Plans one source directory against the destination. With `wholeDirs`, new subdirectories are
   * made under temp names, each to go whole to engine/whole-dirs.ts, whose job fills it and renames
   * it into place.
   */
  reconcile(listing: SourceListing, wholeDirs = false): DirPlan {
    if (listing.rel === '') this.makeRoot();
    const plan: DirPlan = { needs: [], landed: [], blocked: [], existingDirs: [], freshDirs: [] };
    if (!this.isDirectoryHere(listing.rel)) {
      // Never write through a symbolic link (or into a file): that could reach outside the destination.
      this.fail(
        listing.rel,
        'destination is not a directory (symbolic links are not followed); its contents were skipped',
      );
      for (const entry of listing.entries)
        if (entry.kind === 'dir') plan.blocked.push(joinRel(listing.rel, entry.name));
      for (const name of listing.unchanged?.dirs ?? []) plan.blocked.push(joinRel(listing.rel, name));
      return plan;
    }
    if (listing.dir && !listing.partial) this.dirs.push({ rel: listing.rel, entry: listing.dir });
    if (listing.unchanged) {
      // Found as listed, entry by entry, when the listing came (unchangedAt): each one a skip.
      this.tally.skipped += listing.unchanged.count;
      return plan;
    }
    // The pure plan (engine/plan-entry.ts) for what both sides list, then carried out here.
    const planned = planListing(listing, this.existing(listing.rel), this.filter, this.options);
    for (const { rel, entry, dest, step } of planned.entries) {
      if (!this.waitsForLeader(rel, entry, dest, step))
        this.apply(rel, entry, listing.rel, plan, wholeDirs, step);
      if (entry.kind === 'dir' && dest?.kind === 'dir') plan.existingDirs.push({ rel, entry });
    }
    // A table's files are not among the listing's entries: a directory not known empty then deletes
    // nothing (the root when something made it between its lstat and here: takesFreshFiles).
    if (!listing.fresh || this.fresh.has(listing.rel))
      for (const extra of planned.extras) this.addDeletion(extra.rel, extra.kind, extra.verdict);
    return plan;
  }

  /**
   * A directory that engine/whole-dirs.ts copies (whole, without a listing coming through here):
   * its mode and mtime are set at the end like every other's.
   */
  adoptDirectory(rel: string, entry: Entry): void {
    this.dirs.push({ rel, entry });
  }

  /**
   * Mirror: a destination entry the source lacks, found by engine/whole-dirs.ts, whose directories
   * are included whole (the only filters there are excludes: filter.ts nativeExcludes). An excluded
   * entry is spared, as in reconcile, unless --delete-excluded.
   */
  addCandidate(rel: string, kind: EntryKind): void {
    const verdict = this.filter.test(rel, kind === 'dir', this.filter.root);
    if (verdict.status === 'exclude' && !this.options.deleteExcluded) return;
    this.addDeletion(rel, kind, verdict);
  }

  /**
   * `rel`, which the source lacks, is to go: whole, unless it is a directory in which the filters
   * spare something. Then the candidates are what they select in it, found now, so that the
   * question before deleting, a dry run and the count name what will go (applyDeletions spares
   * anything excluded that appears meanwhile).
   */
  private addDeletion(rel: string, kind: EntryKind, verdict: FilterVerdict): void {
    const selected =
      kind === 'dir' && !this.filter.passAll && !this.options.deleteExcluded
        ? this.selectedIn(rel, verdict)
        : 'all';
    if (selected === 'all') this.candidates.push({ rel, kind, verdict });
    else this.candidates.push(...selected);
  }

  /**
   * What the filters select in directory `rel` of the destination, topmost only: 'all' when they
   * select all of it (or it cannot be listed: applyDeletions reports that).
   */
  private selectedIn(rel: string, verdict: FilterVerdict): DeletionCandidate[] | 'all' {
    let contents: DirectoryContents;
    try {
      contents = listDirectory(this.pathOf(rel));
    } catch {
      return 'all';
    }
    const selected: DeletionCandidate[] = [];
    // A name that is not UTF-8 cannot be matched: it stays, and so does its directory.
    let all = contents.problems.length === 0;
    for (const entry of contents.entries) {
      const childRel = joinRel(rel, entry.name);
      const childVerdict = this.filter.test(childRel, entry.kind === 'dir', verdict);
      if (childVerdict.status === 'exclude') {
        all = false;
        continue;
      }
      const below = entry.kind === 'dir' ? this.selectedIn(childRel, childVerdict) : 'all';
      if (below === 'all') selected.push({ rel: childRel, kind: entry.kind, verdict: childVerdict });
      else {
        all = false;
        selected.push(...below);
      }
    }
    return all ? 'all' : selected;
  }

  /**
   * A temp file or staging directory found at the destination (here, or by engine/whole-dirs.ts):
   * removed when its writer is gone: a file now, a directory (it may hold a whole directory's
   * files) by removeStaleDirs at the end.
   */
  removeStaleTemp(rel: string): void {
    if (this.options.dryRun || !isStaleTempName(basename(rel))) return;
    try {
      unlinkSync(this.pathOf(rel));
    } catch (error) {
      // Linux says EISDIR for a directory, others EPERM (removeTree tells what it is); ENOENT:
      // another run removed it first.
      const code = codeOf(error);
      if (code === 'EISDIR' || code === 'EPERM') this.staleDirs.push(rel);
    }
  }

  /**
   * Removes the staging directories of dead runs found on the way, one entry at a time
   * (fsops/remove-tree.ts): `step` beats the stall detector, yields, and stops it when the run is
   * interrupted. What cannot be removed stays for a later run.
   */
  async removeStaleDirs(step: RemovalStep): Promise<void> {
    for (const rel of this.staleDirs.splice(0)) {
      await step(rel);
      await this.fs.removeTree(rel, [], step);
    }
  }

  /** True when `rel` is a real directory at the destination, or will be one (fresh, or missing). */
  private isDirectoryHere(rel: string): boolean {
    if (rel === '' || this.fresh.has(rel)) return true;
    try {
      const stats = lstatSync(this.pathOf(rel), { throwIfNoEntry: false });
      return stats === undefined || stats.isDirectory();
    } catch (error) {
      // Other errors (permissions) surface when the directory is listed.
      return codeOf(error) !== 'ENOTDIR';
    }
  }

  /**
   * A later name of a file with other names in the source waits to be linked to the first
   * (linkFollowers), whatever is at the destination now: unless --ignore-existing keeps it, or it
   * waits for a mirror's deletions (then it is looked at again).
   */
  private waitsForLeader(rel: string, entry: SourceEntry, dest: Entry | undefined, step: EntryStep): boolean {
    if (entry.kind !== 'file' || entry.nlink === undefined || entry.nlink < 2) return false;
    if (!(this.options.preserve?.hardLinks ?? true)) return false;
    // Left out by --min-size/--max-size: no name of it is written.
    if (outsideSizeLimits(entry, this.options.filter)) return false;
    const role = this.links.classify(rel, entry.inode, entry.nlink);
    if (role.role === 'over-cap') {
      this.fidelity.failed(
        'hardLinks',
        `more than ${MAX_LINK_GROUPS} hard-link groups: copied as separate files`,
      );
      return false;
    }
    if (role.role !== 'follower') return false;
    if (step.kind !== 'need' && step.kind !== 'update' && step.kind !== 'skip') return false;
    if (step.kind === 'skip' && dest !== undefined && this.options.compare === 'ignore-existing')
      return false;
    this.links.wait(rel, role.leader, entry);
    return true;
  }

  /** A file's copy failed: if it leads a hard-link group, its later names are copied instead. */
  copyFailed(rel: string): void {
    this.links.failed(rel);
  }

  /**
   * Links the later names of hard-link groups to their first, once every copy is back: a name
   * already that inode stays; anything else is replaced by a link (through a temp name). Returns the
   * names to copy as separate files instead (their first could not be written, or the link was
   * refused: EXDEV, EMLINK), and those now in place (a move removes their source).
   */
  linkFollowers(): { copy: Need[]; landed: string[] } {
    const { link, copy } = this.links.take();
    const result: { copy: Need[]; landed: string[] } = { copy: [], landed: [] };
    const copyInstead = (rel: string, entry: SourceEntry, reason: string) => {
      this.fidelity.failed('hardLinks', `${rel}: ${reason}; copied as a separate file`);
      result.copy.push({ rel, entry, hashFirst: false });
    };
    for (const { rel, item } of copy) copyInstead(rel, item, 'its first name could not be copied');
    for (const { rel, leader, item } of link) {
      const outcome = this.linkTo(rel, leader);
      if (outcome === 'same') {
        this.tally.skipped++;
        result.landed.push(rel);
      } else if (outcome === 'linked') {
        this.onAction({ kind: 'link', path: rel });
        this.tally.copied++;
        this.fidelity.applied('hardLinks');
        result.landed.push(rel);
      } else copyInstead(rel, item, outcome.reason);
    }
    return result;
  }

  private linkTo(rel: string, leader: string): 'same' | 'linked' | { reason: string } {
    let path = this.pathOf(rel);
    const leaderPath = this.pathOf(leader);
    const target = lstatSync(leaderPath, { throwIfNoEntry: false });
    const here = lstatSync(path, { throwIfNoEntry: false });
    if (target && here && target.ino === here.ino && target.dev === here.dev) return 'same';
    if (this.options.dryRun) return 'linked';
    if (!target?.isFile()) return { reason: `cannot link to ${leader}: it is not at the destination` };
    if (here?.isDirectory()) return { reason: 'a directory is in the way' };
    let temp = tempPathFor(dirname(path));
    try {
      try {
        linkSync(leaderPath, temp);
      } catch (error) {
        if (codeOf(error) !== 'ENOENT') throw error;
        this.fs.makeDirs(parentRel(rel));
        path = this.pathOf(rel);
        temp = tempPathFor(dirname(path));
        linkSync(leaderPath, temp);
      }
      renameSync(temp, path);
      return 'linked';
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // never created
      }
      return { reason: `cannot link to ${leader}: ${reasonOf(error)}` };
    }
  }

  private apply(
    rel: string,
    entry: SourceEntry,
    parent: string,
    plan: DirPlan,
    wholeDirs: boolean,
    step: EntryStep,
  ): void {
    switch (step.kind) {
      case 'skip':
        if (step.block) plan.blocked.push(rel);
        this.tally.skipped++;
        if (step.landed) plan.landed.push(rel);
        return;
      case 'walk-through':
        // Created only when something inside is written.
        if (step.fresh) this.fresh.add(rel);
        return;
      case 'need':
        plan.needs.push({ rel, entry, hashFirst: step.hashFirst, metadataMatches: step.metadataMatches });
        return;
      case 'update':
        this.onAction({ kind: 'update', path: rel });
        if (!this.options.dryRun) {
          try {
            this.giveOwner(this.pathOf(rel), entry);
            writeXattrs(this.pathOf(rel), entry, this.keep, this.fidelity);
            applyMetadata(this.pathOf(rel), entry.kind, entry.mode, entry.mtimeNs);
          } catch (error) {
            this.fail(rel, `cannot set metadata: ${reasonOf(error)}`);
            return;
          }
        }
        this.tally.updated++;
        plan.landed.push(rel);
        return;
      case 'mkdir':
        this.makeDirectory(rel, entry, plan, wholeDirs);
        return;
      case 'link':
        this.onAction({ kind: 'link', path: rel });
        if (!this.options.dryRun) {
          const failure = this.writeLink(rel, entry);
          if (failure) {
            this.fail(rel, failure);
            return;
          }
        }
        this.tally.copied++;
        if (step.landed) plan.landed.push(rel);
        return;
      case 'special':
        this.makeSpecial(rel, entry, step.landed, plan);
        return;
      case 'defer':
        this.candidates.push({ rel, kind: step.candidate });
        this.deferred.push({ parent, entry });
        if (step.block) plan.blocked.push(rel);
        return;
      case 'refuse':
        this.fail(rel, step.reason);
        return;
      case 'replace':
        if (!this.options.dryRun) {
          try {
            unlinkSync(this.pathOf(rel));
          } catch (error) {
            this.fail(rel, `cannot replace with a directory: ${reasonOf(error)}`);
            plan.blocked.push(rel);
            return;
          }
        }
        this.apply(rel, entry, parent, plan, wholeDirs, step.next);
        return;
    }
  }

  private makeDirectory(rel: string, entry: SourceEntry, plan: DirPlan, wholeDirs: boolean): void {
    this.onAction({ kind: 'mkdir', path: rel });
    this.fresh.add(rel);
    if (!this.options.dryRun) {
      const stage = wholeDirs ? tempPathFor(dirname(this.pathOf(rel))) : undefined;
      try {
        if (stage) makeDirs(stage);
        else this.fs.makeDirs(rel);
      } catch (error) {
        this.fail(rel, `cannot create directory: ${reasonOf(error)}`);
        plan.blocked.push(rel);
        return;
      }
      plan.freshDirs.push({ rel, entry, stage });
      if (!stage) this.made.add(rel);
    }
    this.tally.copied++;
  }

  /** A FIFO or device node (engine/special-files.ts); one that cannot be made here is counted, not failed. */
  private makeSpecial(rel: string, entry: Entry, landed: boolean, plan: DirPlan): void {
    const cannot = cannotMakeSpecial(entry, this.devicesAllowed);
    if (cannot) {
      this.fidelity.failed('special', cannot);
      // A daemon refuses a client's device outright: the client hears which and why.
      if (!this.devicesAllowed && isDevice(entry.special)) this.fail(rel, cannot);
      else this.tally.skipped++;
      return;
    }
    this.onAction({ kind: 'copy', path: rel });
    if (!this.options.dryRun) {
      try {
        const owner = ownerToGive(entry, this.owners);
        try {
          countOwner(this.fidelity, makeSpecialNode(this.pathOf(rel), entry, owner));
        } catch (error) {
          if (codeOf(error) !== 'ENOENT') throw error;
          this.fs.makeDirs(parentRel(rel));
          countOwner(this.fidelity, makeSpecialNode(this.pathOf(rel), entry, owner));
        }
      } catch (error) {
        this.fidelity.failed('special', reasonOf(error));
        this.fail(
          rel,
          `cannot create ${entry.special === 'fifo' ? 'FIFO' : 'device file'}: ${reasonOf(error)}`,
        );
        return;
      }
      this.fidelity.applied('special');
    }
    this.tally.copied++;
    if (landed) plan.landed.push(rel);
  }

  private writeLink(rel: string, entry: Entry): string | undefined {
    let path = this.pathOf(rel);
    let temp = tempPathFor(dirname(path));
    try {
      try {
        symlinkSync(entry.linkTarget ?? '', temp);
      } catch (error) {
        if (codeOf(error) !== 'ENOENT') throw error;
        this.fs.makeDirs(parentRel(rel));
        path = this.pathOf(rel);
        temp = tempPathFor(dirname(path));
        symlinkSync(entry.linkTarget ?? '', temp);
      }
      this.giveOwner(temp, entry);
      writeXattrs(temp, entry, this.keep, this.fidelity);
      applyMetadata(temp, 'symlink', entry.mode, entry.mtimeNs);
      renameSync(temp, path);
      return undefined;
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // never created
      }
      return `cannot create symbolic link: ${reasonOf(error)}`;
    }
  }

  /**
   * Performs the confirmed mirror deletions, never outside the destination root. `step` runs before
   * each candidate (with its path) and after each removal: a rejection from it (the run was
   * interrupted or stalled) stops the deletions and propagates; a failure to remove fails that
   * path only, and the rest goes on.
   */
  async applyDeletions(candidates: DeletionCandidate[], step: RemovalStep): Promise<void> {
    // What `step` rejected with, told apart from a failed removal.
    let stop: { error: unknown } | undefined;
    const guarded: RemovalStep = (rel) =>
      step(rel)?.catch((error: unknown) => {
        stop = { error };
        throw error;
      });
    const deleted = (rel: string) => {
      this.onAction({ kind: 'delete', path: rel });
      this.tally.deleted++;
    };
    for (const candidate of candidates) {
      if (!this.options.dryRun) {
        const announce = guarded(candidate.rel);
        if (announce) await announce;
      }
      if (candidate.rel === '' || !isSafeRel(candidate.rel)) {
        this.fail(candidate.rel, 'refusing to delete outside the destination');
        continue;
      }
      const path = this.pathOf(candidate.rel);
      const failures: RemovalFailure[] = [];
      try {
        // Filters may spare part of a directory; otherwise removeTree takes all (its own lstat tells
        // a directory from the rest, and a path gone meanwhile removes nothing and fails nothing).
        const verdict = this.filter.passAll || this.options.deleteExcluded ? undefined : candidate.verdict;
        const isDirectory = verdict && lstatSync(path, { throwIfNoEntry: false })?.isDirectory();
        if (verdict && isDirectory) {
          for (const rel of await this.deleteSparingExcluded(candidate.rel, verdict, guarded, failures))
            deleted(rel);
        } else if (verdict?.status === 'traverse') {
          // Walked through as a directory, no longer one: what is there now is not selected.
        } else if (this.options.dryRun) {
          deleted(candidate.rel);
        } else {
          const removed = await this.fs.removeTree(candidate.rel, failures, guarded);
          if (removed > 0 && failures.length === 0) deleted(candidate.rel);
        }
      } catch (error) {
        if (stop) throw stop.error;
        failures.push({ path: candidate.rel, reason: reasonOf(error) });
      }
      for (const failure of failures) this.fail(failure.path, `cannot delete: ${failure.reason}`);
    }
    // Directories held open may have gone: the writes after the deletions look them up afresh.
    this.fs.refresh();
  }

  /**
   * Deletes directory `rel`'s subtree but for what the filters exclude, which stays with the
   * directories that hold it (rsync leaves them so too). Returns what went, topmost only: `rel`
   * alone when the directory went whole. A dry run removes nothing and returns the same.
   */
  private async deleteSparingExcluded(
    rel: string,
    verdict: FilterVerdict,
    step: RemovalStep,
    failures: RemovalFailure[],
  ): Promise<string[]> {
    const dryRun = this.options.dryRun;
    let contents: DirectoryContents;
    try {
      contents = listDirectory(this.pathOf(rel));
    } catch (error) {
      failures.push({ path: rel, reason: reasonOf(error) });
      return [];
    }
    const gone: string[] = [];
    // A name that is not UTF-8 cannot be matched: it stays, and so does its directory.
    let kept = contents.problems.length > 0;
    for (const entry of contents.entries) {
      const childRel = joinRel(rel, entry.name);
      const childVerdict = this.filter.test(childRel, entry.kind === 'dir', verdict);
      if (childVerdict.status === 'exclude') {
        kept = true;
        continue;
      }
      if (entry.kind === 'dir') {
        const below = await this.deleteSparingExcluded(childRel, childVerdict, step, failures);
        if (below.length !== 1 || below[0] !== childRel) kept = true;
        gone.push(...below);
        continue;
      }
      if (!dryRun) {
        try {
          unlinkSync(this.pathOf(childRel));
        } catch (error) {
          // ENOENT: gone meanwhile, deleted by no one here.
          if (codeOf(error) !== 'ENOENT') {
            failures.push({ path: childRel, reason: reasonOf(error) });
            kept = true;
          }
          continue;
        }
        const pause = step();
        if (pause) await pause;
      }
      gone.push(childRel);
    }
    if (kept) return gone;
    if (!dryRun) {
      try {
        // Named afresh: the walk below may have let the directory holding it out of the pinned ones.
        rmdirSync(this.pathOf(rel));
      } catch (error) {
        failures.push({ path: rel, reason: reasonOf(error) });
        return gone;
      }
      const pause = step();
      if (pause) await pause;
    }
    return [rel];
  }

  /**
   * A received file's xattrs for the landing threads to set on its temp file (fsops/land-files.ts
   * LandJob), when there are any to keep.
   */
  xattrsToLand(entry: Entry): { list: readonly Xattr[]; keep: number } | undefined {
    return this.options.dryRun || !entry.xattrs || this.keep === 0
      ? undefined
      : { list: entry.xattrs, keep: this.keep };
  }

  /** Counts what the landing threads did with a file's xattrs. */
  countLandedXattrs(outcome: XattrOutcome): void {
    const addon = nativeAddon();
    if (addon) countXattrOutcome(addon, outcome, this.fidelity);
  }

  /**
   * A file received from a peer is in place: its xattrs and ACLs, then its mode again if an ACL was
   * or is there (an ACL moves the mode's group bits; its mtime stays). After the rename, unlike a
   * local copy's (which sets them on the temp file): for the paths that do not carry them (the
   * gRPC stream's files, a data-plane file written by ranges, any file without the addon).
   */
  keepReceivedXattrs(rel: string, entry: Entry): void {
    if (this.options.dryRun || !entry.xattrs) return;
    const path = this.pathOf(rel);
    try {
      if (writeXattrs(path, entry, this.keep, this.fidelity))
        applyMetadata(path, 'file', entry.mode, entry.mtimeNs);
    } catch (error) {
      this.fail(rel, `cannot set metadata: ${reasonOf(error)}`);
    }
  }

  /** Applies directory modes and mtimes after their contents, deepest first. */
  finishDirectories(): void {
    if (this.options.dryRun) return;
    const dirs = [...this.dirs].sort((a, b) => relDepth(b.rel) - relDepth(a.rel));
    for (const { rel, entry } of dirs) {
      const path = this.pathOf(rel);
      try {
        const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
        if (!stats?.isDirectory()) continue;
        const current = {
          ...entry,
          mode: Number(stats.mode & 0o7777n),
          mtimeNs: stats.mtimeNs,
          uid: Number(stats.uid),
          gid: Number(stats.gid),
        };
        // Read afresh (the listing's are gone, or were made now, inherited from a default ACL).
        if (entry.xattrs) current.xattrs = readXattrs(path);
        // The owner before the xattrs and the mode (chown may clear a setgid bit).
        if (!sameOwner(entry, current, this.owners)) this.giveOwner(path, entry);
        if (!sameMetadata(entry, current, false, this.keep)) {
          writeXattrs(path, entry, this.keep, this.fidelity);
          applyMetadata(path, 'dir', entry.mode, entry.mtimeNs);
        }
      } catch (error) {
        this.fail(rel === '' ? this.root : rel, `cannot set directory metadata: ${reasonOf(error)}`);
      }
    }
  }
}
