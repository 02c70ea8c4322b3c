/**
 * The source role of a remote session, as the destination's machine sees it: a proxy that speaks
 * frames. The peer's manifest batches become listings, one directory at a time, in the order the
 * session asks for them; a listing of the directories a mirror must walk again is asked for with a
 * Rescan frame; a move's landed entries go back as Landed frames (the peer removes them).
 *
 * The peer is not trusted: a listing is accepted only for a directory that an earlier listing
 * announced as a directory and that the destination did not block (so no link, file or unknown path
 * is ever written through), names are single components, each listed once, and every entry's filter
 * verdict is this side's own. A batch is checked when the session takes it, after the destination
 * planned the listing before it: what that plan blocked is known by then.
 */
import type { FilterVerdict, PathFilter } from '../../engine/filter.js';
import type {
  DeferredEntry,
  FreshListing,
  SourceEntry,
  SourceListing,
  SourceRole,
} from '../../engine/roles.js';
import type { Failure } from '../../engine/types.js';
import { localIdNames } from '../../fsops/id-map.js';
import type { FoundAsListed, SameAsManifest } from '../../fsops/native.js';
import { joinRel, parentRel } from '../../fsops/rel-path.js';
import type { ManifestComplete, ManifestEntry, SourceDone } from '../../generated/blit.js';
import { MAX_MESSAGE_BYTES } from '../../protocol/handshake.js';
import {
  BATCH_ENTRIES,
  checkPeerRel,
  fromManifestEntry,
  MANIFEST_CREDIT_BYTES,
  MANIFEST_WINDOW_BYTES,
  type OwnerMapping,
  ProtocolError,
} from '../../protocol/manifest-wire.js';
import { peerPath, peerText } from '../../protocol/peer-text.js';
import { decodeEntries, entriesOf, type ReceivedBatch } from '../../protocol/received-manifest.js';
import { type FrameChannel, PeerEndedEarly } from '../frame-channel.js';
import type { OwnWork } from '../own-work.js';

/** A directory holding more names than this from a peer is refused (memory is bounded). */
const MAX_DIRECTORY_ENTRIES = 2_000_000;
/** Failures the source reports that are kept (the rest are counted). */
const MAX_PEER_FAILURES = 10_000;
/** Paths per Landed frame. */
const LANDED_PER_FRAME = 1024;
/**
 * A directory's batches held undecoded for the destination's comparison, at most (an honest source
 * fills each but the last with BATCH_ENTRIES), and their entries' bytes; a larger one is decoded.
 */
const MAX_HELD_BATCHES = 64;
const MAX_HELD_BYTES = 16 * 1024 * 1024;
/**
 * Comparisons started ahead and not yet answered, at most: each holds a directory open and a copy
 * of its listing's bytes (a frame's worth at most) until the landing threads get to it. Beyond
 * them a listing is compared when the session comes to it.
 */
const MAX_AHEAD = 8;

export interface RemoteSourceOptions {
  /** A single-entry transfer: the one entry takes this name in the destination's root. */
  singleName?: string;
  /** Set-user-ID and set-group-ID bits of received files are dropped (a daemon's pushes). */
  stripSetId?: boolean;
  /** Sent owners get this machine's ids by name, unless --numeric-ids (fsops/id-map.ts). */
  numericIds: boolean;
  /** The stall detector's count of this side's work: waiting for the next listing is not a stall. */
  work: OwnWork;
  /**
   * Whether the destination already holds exactly the entries listed for `rel` (`entries`: their
   * records as received): its counts and subdirectories, or undefined. Asked of a whole listing of
   * the first round under filters that take everything; then no entry of it is decoded or planned.
   */
  unchanged?: (rel: string, verdict: FilterVerdict, entries: Uint8Array) => SameAsManifest | undefined;
  /**
   * The same question asked as soon as a whole listing in one batch arrives, answered later (on the
   * landing threads) while the session reads the listings before it; undefined: not asked.
   */
  unchangedLater?: (
    rel: string,
    verdict: FilterVerdict,
    entries: Uint8Array,
  ) => Promise<FoundAsListed | undefined> | undefined;
  /**
   * Whether an answer of `unchangedLater` found equal may be taken now: the destination may still
   * leave `rel` unplanned, and `rel` still names the directory it listed (the session's own plans
   * may have replaced what stood there when the listing arrived). Otherwise it is asked again.
   */
  stillUnchanged?: (rel: string, found: FoundAsListed) => boolean;
  /**
   * A whole listing of the first round (`entries`: its records as received) that the destination
   * did not find unchanged: its small plain files taken into a table (transport/stream/
   * fresh-files.ts), with the records left to decode; undefined: all are decoded.
   */
  fresh?: (rel: string, entries: Uint8Array) => { fresh: FreshListing; rest: Uint8Array } | undefined;
}

/** A batch as taken: with the destination's comparison already under way (`unchangedLater`). */
interface TakenBatch extends ReceivedBatch {
  ahead?: Promise<FoundAsListed | undefined>;
  /** Its directory, checked, while it waits for a comparison to start (pumpAhead). */
  aheadRel?: string;
  /** The session has read it: too late to start a comparison. */
  read?: boolean;
}

type SourceFrame =
  | { $case: 'manifest'; value: TakenBatch }
  | { $case: 'manifestComplete'; value: ManifestComplete }
  | { $case: 'sourceDone'; value: SourceDone };

/** A directory whose batches are coming in. */
interface OpenListing {
  listing: SourceListing;
  names: Set<string>;
  ignored: boolean;
  /** A rescan's answer: only these names may be listed (each once). */
  only?: Set<string>;
  /** Entries' records not decoded yet, for the destination to compare with its own (`unchanged`). */
  held?: Uint8Array[];
}

/** A batch's frame as the window counts it: as long as it came (the largest a frame may be, if not known). */
function frameBytes(batch: TakenBatch): number {
  return batch.wireBytes ?? MAX_MESSAGE_BYTES;
}

/** The entries a batch holds, decoded or not. */
function entryCount(batch: TakenBatch): number {
  return batch.raw !== undefined ? (batch.rawEntries ?? 0) : batch.entries.length;
}

export class RemoteSource implements SourceRole {
  private complete = true;
  private readFailedFlag = false;
  private readonly kept: Failure[] = [];
  private dropped = 0;
  /** Frames of the manifest not yet taken by the session, in order. */
  private readonly queue: SourceFrame[] = [];
  /**
   * The manifest's window, in bytes of whole frames: what the source may send in all (the first
   * window and the credit granted since), what came, and what the session took and was not granted
   * again yet.
   */
  private bytesGranted = MANIFEST_WINDOW_BYTES;
  private bytesArrived = 0;
  private bytesToGrant = 0;
  private wake: (() => void) | undefined;
  private fail: ((error: Error) => void) | undefined;
  /** Why no more frames will come: the stream ended or broke. */
  private ended: Error | undefined;
  /** Directories whose listing the source may send next: announced as directories, not blocked. */
  private readonly expected = new Set<string>(['']);
  /** Directories this side will not write into: their listings (and their subtrees') are ignored. */
  private readonly blocked = new Set<string>();
  /** Entries asked for again (Rescan), by parent: partial listings of these names alone may come. */
  private readonly rescanAsked = new Map<string, Set<string>>();
  /** Each announced directory's verdict under this side's filter. */
  private readonly dirVerdicts: Map<string, FilterVerdict>;
  private readonly owners: OwnerMapping;
  private open: OpenListing | undefined;
  /** Rounds of listings asked (the first scan, then one per Rescan) and answered, as frames arrive. */
  private roundsAsked = 1;
  private roundsArrived = 0;
  /** A directory's batches are arriving (checked as frames arrive). */
  private arrivingOpen = false;
  private sourceDoneArrived = false;
  /** Comparisons started ahead (compareAhead) and not answered yet, and those waiting to start. */
  private ahead = 0;
  private readonly waitingAhead: TakenBatch[] = [];
  private landed: string[] = [];

  constructor(
    private readonly channel: FrameChannel,
    private readonly filter: PathFilter,
    private readonly options: RemoteSourceOptions,
  ) {
    this.dirVerdicts = new Map([['', filter.root]]);
    this.owners = { here: localIdNames, numericIds: options.numericIds };
    const end = (error: Error) => {
      this.ended = error;
      this.fail?.(error);
    };
    channel.closed.then(() => end(new PeerEndedEarly('the source ended the session early')), end);
  }

  get scanComplete(): boolean {
    return this.complete;
  }

  get failures(): Failure[] {
    if (this.dropped === 0) return this.kept;
    return [
      ...this.kept,
      { path: '.', reason: `${this.dropped} more failure(s) reported by the source, not listed` },
    ];
  }

  /** A frame of the manifest arrived: checked for its place in the protocol now, read when the session asks. */
  take(frame: SourceFrame): void {
    switch (frame.$case) {
      case 'manifest':
        if (this.roundsArrived >= this.roundsAsked)
          throw new ProtocolError('manifest after the source said it was complete');
        this.bytesArrived += frameBytes(frame.value);
        if (this.bytesArrived > this.bytesGranted)
          throw new ProtocolError(
            `more than ${MANIFEST_WINDOW_BYTES >> 20} MiB of manifest sent ahead of the destination`,
          );
        // Held until the session takes it: decoded entries may weigh far more than their bytes.
        if (entryCount(frame.value) > BATCH_ENTRIES || frame.value.unreadable.length > BATCH_ENTRIES)
          throw new ProtocolError(`a manifest batch of more than ${BATCH_ENTRIES} entries`);
        if (!this.arrivingOpen && frame.value.last) this.compareAhead(frame.value);
        this.arrivingOpen = !frame.value.last;
        break;
      case 'manifestComplete':
        if (this.arrivingOpen) throw new ProtocolError('manifest complete in the middle of a directory');
        if (this.roundsArrived >= this.roundsAsked) throw new ProtocolError('manifest complete twice');
        this.roundsArrived++;
        break;
      case 'sourceDone':
        if (this.sourceDoneArrived) throw new ProtocolError('source done twice');
        this.sourceDoneArrived = true;
        if (!frame.value.scanComplete) this.complete = false;
        // Its own word on whether they block a mirror's deletions (a name that cannot be sent does not).
        for (const failure of frame.value.failures) this.keep(failure.path, failure.reason);
        break;
    }
    this.queue.push(frame);
    const wake = this.wake;
    this.wake = this.fail = undefined;
    wake?.();
  }

  /**
   * A whole listing in one batch, just arrived: the destination starts comparing it with its own
   * (read checks again whether the answer may be taken). Only what read would ask: a whole listing
   * of the first round, under filters that give every directory the root's verdict.
   */
  private compareAhead(batch: TakenBatch): void {
    if (!this.options.unchangedLater) return;
    let rel: string;
    try {
      rel = checkPeerRel(batch.directory, 'manifest');
    } catch {
      return; // refused when read
    }
    if (!this.comparable(rel, batch)) return;
    batch.aheadRel = rel;
    this.waitingAhead.push(batch);
    this.pumpAhead();
  }

  /** Starts the comparisons waiting, in the order their listings came, up to MAX_AHEAD at once. */
  private pumpAhead(): void {
    const later = this.options.unchangedLater!;
    while (this.ahead < MAX_AHEAD && this.waitingAhead.length > 0) {
      const batch = this.waitingAhead.shift()!;
      if (batch.read || batch.raw === undefined) continue;
      const answer = later(batch.aheadRel!, this.filter.root, batch.raw);
      if (!answer) continue;
      this.ahead++;
      batch.ahead = answer.finally(() => {
        this.ahead--;
        this.pumpAhead();
      });
    }
  }

  /** The source could not read something while it served the session: a mirror deletes nothing. */
  failed(path: string, reason: string): void {
    this.readFailedFlag = true;
    this.keep(path, reason);
  }

  get readFailed(): boolean {
    return this.readFailedFlag;
  }

  /** A failure the source reported, kept up to MAX_PEER_FAILURES (memory is bounded). */
  private keep(path: string, reason: string): void {
    if (this.kept.length < MAX_PEER_FAILURES)
      this.kept.push({ path: peerPath(path), reason: peerText(reason) });
    else this.dropped++;
  }

  scan(): AsyncIterable<SourceListing> {
    // The first round ends with the source's ManifestComplete and its one SourceDone (its failures).
    return this.listings(() => this.sourceDoneArrived);
  }

  scanAgain(entries: readonly DeferredEntry[]): AsyncIterable<SourceListing> {
    for (const { parent, entry } of entries) {
      const names = this.rescanAsked.get(parent) ?? new Set<string>();
      names.add(entry.name);
      this.rescanAsked.set(parent, names);
    }
    this.roundsAsked++;
    this.channel.send({
      $case: 'rescan',
      value: { paths: entries.map(({ parent, entry }) => joinRel(parent, entry.name)) },
    });
    return this.listings(() => true);
  }

  /** The listings of one round, until its ManifestComplete (and `alsoDone()`). */
  private async *listings(alsoDone: () => boolean): AsyncGenerator<SourceListing> {
    let roundDone = false;
    while (!roundDone || !alsoDone()) {
      const frame = await this.next();
      if (frame.$case === 'manifestComplete') {
        roundDone = true;
        if (!frame.value.scanComplete) this.complete = false;
      } else if (frame.$case === 'manifest') {
        let listing: SourceListing | undefined;
        try {
          listing = await this.read(frame.value);
        } catch (error) {
          // Refused now, as a frame refused on arrival is: nothing more from the peer is taken.
          this.channel.fail(error as Error);
          throw error;
        }
        if (listing) yield listing;
      }
    }
  }

  /** The next frame of the manifest, once it arrives (the session waits here for the peer). */
  private next(): Promise<SourceFrame> {
    // A session that failed (a frame refused, a write that cannot go on) reads nothing more.
    const failure = this.channel.failure;
    if (failure) return Promise.reject(failure);
    const frame = this.queue.shift();
    if (frame) return Promise.resolve(this.taken(frame));
    if (this.ended) return Promise.reject(this.ended);
    return this.options.work.forPeer(
      new Promise<SourceFrame>((resolve, reject) => {
        this.wake = () => resolve(this.taken(this.queue.shift()!));
        this.fail = reject;
      }),
    );
  }

  /** A frame leaves the queue: a batch taken makes room for others in the manifest's window. */
  private taken(frame: SourceFrame): SourceFrame {
    if (frame.$case !== 'manifest') return frame;
    this.bytesToGrant += frameBytes(frame.value);
    if (this.bytesToGrant < MANIFEST_CREDIT_BYTES) return frame;
    this.bytesGranted += this.bytesToGrant;
    this.channel.send({ $case: 'manifestCredit', value: { bytes: this.bytesToGrant } });
    this.bytesToGrant = 0;
    return frame;
  }

  /** One batch read: the listing it completes, if it is the directory's last and not ignored. */
  private async read(batch: TakenBatch): Promise<SourceListing | undefined> {
    batch.read = true;
    if (!this.open) {
      this.open = this.startListing(batch);
      if (this.mayBeUnchanged(this.open, batch)) this.open.held = [];
    }
    const open = this.open;
    const rel = open.listing.rel;
    if (checkPeerRel(batch.directory, 'manifest') !== rel) {
      throw new ProtocolError('batches of two directories interleaved');
    }
    const raw = batch.raw;
    if (
      open.held &&
      raw !== undefined &&
      open.held.length < MAX_HELD_BATCHES &&
      open.held.reduce((bytes, held) => bytes + held.length, raw.length) <= MAX_HELD_BYTES
    ) {
      if (!batch.last) {
        // Copied: a view would keep the whole frame it came in.
        open.held.push(Buffer.from(raw));
        return undefined;
      }
      const entries = open.held.length === 0 ? raw : Buffer.concat([...open.held, raw]);
      const asked =
        open.held.length === 0 && open.listing.verdict === this.filter.root ? batch.ahead : undefined;
      open.held = undefined;
      const same = await this.sameHere(rel, open.listing.verdict!, entries, asked);
      if (same) return this.unchangedListing(open, same);
      const taken = this.options.fresh?.(rel, entries);
      if (taken) {
        if (taken.fresh.count > MAX_DIRECTORY_ENTRIES)
          throw new ProtocolError('directory with too many entries');
        open.listing.fresh = taken.fresh;
      }
      this.takeEntries(open, decodeEntries(taken ? taken.rest : entries), taken?.fresh.count ?? 0);
    } else {
      // Decoded after all: what was held first, in the order it came.
      for (const raw of open.held ?? []) this.takeEntries(open, decodeEntries(raw));
      open.held = undefined;
      this.takeEntries(open, entriesOf(batch));
    }
    if (!batch.last) return undefined;
    this.open = undefined;
    if (open.ignored) return undefined;
    const listing = open.listing;
    if (this.options.singleName !== undefined && rel === '') {
      if (listing.entries.length > 1 || listing.entries[0]?.kind === 'dir') {
        throw new ProtocolError('a single-entry transfer lists one entry that is not a directory');
      }
    }
    for (const entry of listing.entries) {
      const at = joinRel(rel, entry.name);
      // Listed again as another kind (a rescan): nothing is listed below it any more.
      if (entry.kind !== 'dir') this.expected.delete(at);
      else {
        // A directory listed again (a mirror's rescan) may be open now that what stood in its way
        // is gone; the session blocks it again (skipSubtree) if the destination still cannot take it.
        this.blocked.delete(at);
        this.expected.add(at);
      }
    }
    return listing;
  }

  /**
   * Whether the destination may be asked to compare this directory's entries with its own: a whole
   * listing of the first round (a rescan's may name only some, and changes what was announced),
   * taken, under filters that give every entry its directory's verdict.
   */
  private mayBeUnchanged(open: OpenListing, batch: ReceivedBatch): boolean {
    return (
      this.options.unchanged !== undefined &&
      !open.ignored &&
      open.only === undefined &&
      this.comparable(open.listing.rel, batch)
    );
  }

  /**
   * What both ways of asking need of a directory's first batch: kept raw, a whole listing of the
   * first round, filters that give every entry its directory's verdict, not a single entry's root.
   */
  private comparable(rel: string, batch: ReceivedBatch): boolean {
    return (
      batch.raw !== undefined &&
      !batch.partial &&
      this.roundsAsked === 1 &&
      this.filter.passAll &&
      (this.options.singleName === undefined || rel !== '')
    );
  }

  /**
   * The destination's answer for a whole listing: the one started when it arrived (`asked`), taken
   * if the directory is still the one compared, else asked now.
   */
  private async sameHere(
    rel: string,
    verdict: FilterVerdict,
    entries: Uint8Array,
    asked: Promise<FoundAsListed | undefined> | undefined,
  ): Promise<SameAsManifest | undefined> {
    if (asked) {
      const found = await this.ownWork(`compare: ${rel}`, asked);
      // Not equal when it arrived: decoded and planned, whatever stands there now.
      if (!found) return undefined;
      if (this.options.stillUnchanged?.(rel, found)) return found;
    }
    return this.options.unchanged!(rel, verdict, entries);
  }

  /** Waits for this side's own work (not the peer): the stall detector sees it in flight. */
  private async ownWork<T>(label: string, work: Promise<T>): Promise<T> {
    const done = this.options.work.start(label);
    try {
      return await work;
    } finally {
      done();
    }
  }

  /** The destination holds the listed entries already: its subdirectories' listings come next. */
  private unchangedListing(open: OpenListing, same: SameAsManifest): SourceListing {
    this.open = undefined;
    const { rel, verdict } = open.listing;
    for (const name of same.dirs) {
      const at = joinRel(rel, name);
      this.dirVerdicts.set(at, verdict!);
      this.expected.add(at);
    }
    return {
      ...open.listing,
      unchanged: { count: same.entries, fileSizes: same.fileSizes, dirs: same.dirs },
    };
  }

  /**
   * Entries of the open directory, checked and added to its listing (`taken`: how many more the
   * listing holds in a table, SourceListing.fresh, whose names the addon checked).
   */
  private takeEntries(open: OpenListing, wires: Iterable<ManifestEntry>, taken = 0): void {
    const rel = open.listing.rel;
    const { singleName, stripSetId } = this.options;
    for (const wire of wires) {
      const entry = fromManifestEntry(wire, false, this.owners);
      // The one entry of a single-entry transfer takes the destination's name for it.
      if (singleName !== undefined && rel === '') entry.name = singleName;
      if (stripSetId && entry.kind === 'file') entry.mode &= ~0o6000;
      // A single entry is taken whatever the filters say, as locally.
      if (singleName === undefined || rel !== '') {
        entry.verdict = this.verdictOf(rel, open.listing.verdict!, entry);
        if (entry.kind === 'dir' && !open.ignored)
          this.dirVerdicts.set(joinRel(rel, entry.name), entry.verdict);
      }
      if (open.only) {
        if (!open.only.delete(entry.name))
          throw new ProtocolError(`${entry.name}: listed again, but not asked for`);
        if (open.only.size === 0) this.rescanAsked.delete(rel);
      }
      if (open.names.has(entry.name)) throw new ProtocolError(`${entry.name}: listed twice`);
      if (open.names.size + taken >= MAX_DIRECTORY_ENTRIES)
        throw new ProtocolError('directory with too many entries');
      open.names.add(entry.name);
      if (!open.ignored) open.listing.entries.push(entry);
    }
  }

  private startListing(batch: ReceivedBatch): OpenListing {
    const rel = checkPeerRel(batch.directory, 'manifest');
    let ignored = false;
    let only: Set<string> | undefined;
    if (this.expected.has(rel) && !batch.partial) this.expected.delete(rel);
    else if (batch.partial && this.rescanAsked.has(rel)) {
      only = this.rescanAsked.get(rel);
    } else if (this.options.singleName !== undefined && rel === '' && this.expected.delete('')) {
      // The one entry of a single-entry transfer comes as a partial listing of the root.
    } else if (this.underBlocked(rel)) ignored = true;
    else
      throw new ProtocolError(
        `listing of ${JSON.stringify(rel.slice(0, 200))}, which is not a directory announced by the source`,
      );
    const dir = batch.directoryEntry ? fromManifestEntry(batch.directoryEntry, true, this.owners) : undefined;
    if (dir && dir.kind !== 'dir') throw new ProtocolError('a directory described as another kind');
    // Announced by a listing of its parent (or the root): its verdict was derived then.
    const verdict = this.dirVerdicts.get(rel) ?? this.filter.root;
    if (dir) dir.verdict = verdict;
    return {
      listing: { rel, dir, verdict, entries: [], partial: batch.partial },
      names: new Set(),
      ignored,
      only,
    };
  }

  private underBlocked(rel: string): boolean {
    for (let at = rel; at !== ''; at = parentRel(at)) if (this.blocked.has(at)) return true;
    return false;
  }

  /**
   * `entry`'s verdict under this side's filter: what the source says of it is not taken, since it
   * decides what a mirror deletes (a hostile source could otherwise mark a directory wholly included
   * and have files the filters spare deleted). An entry the filters leave out is refused.
   */
  private verdictOf(dirRel: string, dirVerdict: FilterVerdict, entry: SourceEntry): FilterVerdict {
    const filter = this.filter;
    if (filter.passAll) return dirVerdict;
    const verdict = filter.test(joinRel(dirRel, entry.name), entry.kind === 'dir', dirVerdict);
    if (verdict.status === 'exclude' || (verdict.status === 'traverse' && entry.kind !== 'dir'))
      throw new ProtocolError(`${entry.name}: listed, but the filters leave it out`);
    return verdict;
  }

  skipSubtree(rel: string): void {
    this.expected.delete(rel);
    this.blocked.add(rel);
  }

  /** The source removes it once told (a Landed frame); what it keeps it reports itself. */
  remove(rel: string): Failure | undefined {
    if (this.landed.length === 0) queueMicrotask(() => this.sendLanded());
    this.landed.push(rel);
    if (this.landed.length >= LANDED_PER_FRAME) this.sendLanded();
    return undefined;
  }

  /** Sends the landed entries gathered (also before the Summary, so none is left behind). */
  sendLanded(): void {
    if (this.landed.length === 0) return;
    this.channel.send({ $case: 'landed', value: { paths: this.landed } });
    this.landed = [];
  }

  /** The source removes the directories a move emptied on its side, after the Summary. */
  removeEmptyDirectories(): Failure[] {
    return [];
  }
}
