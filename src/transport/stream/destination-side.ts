/**
 * The destination role of a remote session, driven by frames: the blitd of a push, the blit of a
 * pull. Manifest batches from the peer become listings that the local destination role plans
 * (engine/local-destination.ts: the same diff as a local transfer); what it needs goes back as
 * needs; file data lands through temp files; once the source says its scan is complete a mirror
 * confirms and deletes; a Summary ends the session.
 *
 * The peer is not trusted: a listing is accepted only for a directory that an earlier listing
 * announced as a directory (so no link, file or unknown path is ever written through), names
 * are single components, and data is accepted only for files this side asked for, never past
 * their declared size.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { type FidelityReport, toWireFidelity } from '../../engine/fidelity.js';
import type { FilterVerdict } from '../../engine/filter.js';
import type { DeletionCandidate, LocalDestination, Need } from '../../engine/local-destination.js';
import type { Progress } from '../../engine/progress.js';
import type { SourceEntry, SourceListing } from '../../engine/roles.js';
import { countListing, type SessionStats } from '../../engine/session-stats.js';
import type { Action, Failure, TransferOptions } from '../../engine/types.js';
import { type HasherFactory, hashFdAsync } from '../../fsops/hash.js';
import { localIdNames } from '../../fsops/id-map.js';
import { applyMetadata } from '../../fsops/metadata.js';
import { countOwner, ownerToGive } from '../../fsops/owner.js';
import { FileReceiver, ReceiveError } from '../../fsops/receive-file.js';
import { joinRel, parentRel } from '../../fsops/rel-path.js';
import type { RemovalStep } from '../../fsops/remove-tree.js';
import { hasHoles } from '../../fsops/sparse-blocks.js';
import {
  type DataPlaneGrant,
  type FileData,
  type FileHash,
  type ManifestBatch,
  Phase,
  type Summary,
  type TransferError,
  type TransferFrame,
  type Need as WireNeed,
} from '../../generated/blit.js';
import {
  checkPeerRel,
  fromManifestEntry,
  type OwnerMapping,
  ProtocolError,
} from '../../protocol/manifest-wire.js';
import { peerPath, peerText } from '../../protocol/peer-text.js';
import { loopTurns, nowMs } from '../../util/clock.js';
import { isFatalWriteError, reasonOf } from '../../util/errors.js';
import { type FrameChannel, PeerEndedEarly, PeerFailed } from '../frame-channel.js';
import { ByteBudget, MAX_HELD_BYTES, type SharedBudget } from '../tcp/byte-budget.js';
import { failOnDataPlane } from '../tcp/data-failure.js';
import { LandingQueue } from '../tcp/landing-queue.js';
import { blockCount, blockLength, SMALL_FILE_BYTES } from '../tcp/layout.js';
import { RangeWriter } from '../tcp/range-writer.js';
import { RangeAbandoned, type RangeSink, type Receiving, receiveRecords } from '../tcp/record-receiver.js';
import type { SessionSockets } from '../tcp/session-sockets.js';

/** Needs per NeedBatch frame. */
const NEEDS_PER_BATCH = 1024;
/** A directory holding more names than this from a peer is refused (memory is bounded). */
const MAX_DIRECTORY_ENTRIES = 2_000_000;
/** Failures the source reports that are kept (the rest are counted). */
const MAX_PEER_FAILURES = 10_000;

export interface DestinationSideHooks {
  /** The daemon's budget of bytes held by all its sessions together (absent: this session's alone). */
  sharedBudget?: SharedBudget;
  /**
   * Asked once, with every deletion a mirror is about to make; false withholds them all. Absent:
   * the peer (a push's initiator) is asked with DeletionsPending and answers DeletionsConfirm.
   */
  confirmDeletions?(candidates: DeletionCandidate[]): Promise<boolean>;
  onAction?(action: Action): void;
  /** Counters kept up to date while the session runs (also sent to the peer as heartbeats). */
  progress: Progress;
  /** A single-entry transfer: the one entry takes this name in the destination's root. */
  singleName?: string;
  /** Loaded before the session when --checksum may hash destination files. */
  hasher?: HasherFactory;
  /** Set-user-ID and set-group-ID bits of received files are dropped (a daemon's pushes). */
  stripSetId?: boolean;
  /** Runs just before the Summary goes out (the daemon sends its last actions). */
  beforeSummary?(): void;
  /** Filled with what the session measured (perf history), when given. */
  stats?: SessionStats;
  /** The session's data-plane sockets: file data may come as records over them too. */
  sockets?: SessionSockets;
  /** A grant of data sockets came (a pull's client dials them). */
  onGrant?(grant: DataPlaneGrant): void;
  /** The source asks for more data sockets (a push's daemon grants them). */
  onDataRequest?(sockets: number): void;
}

export interface DestinationOutcome {
  copied: number;
  skipped: number;
  updated: number;
  deleted: number;
  bytes: number;
  scanComplete: boolean;
  deletionsWithheld: number;
  /** This side's failures, then those the source reported. */
  failures: Failure[];
  fidelity: FidelityReport;
}

interface PendingFile {
  rel: string;
  entry: SourceEntry;
  hashFirst: boolean;
  metadataMatches: boolean;
  receiver?: FileReceiver;
  /** Failed already: later chunks are dropped until its last one. */
  failed?: boolean;
  /** Offsets of the blocks received (a large file over the data plane). */
  blocks?: Set<number>;
  /** The source's final block came: it read the whole file and found it unchanged. */
  finalSeen?: boolean;
  /** Blocks received whole (others may still be arriving on other sockets). */
  blocksDone?: number;
  /** A small file's bytes gathered in memory, to land with others on the addon's threads. */
  gathered?: Buffer[];
  /** Ranges of this file handed to the range writer and not answered yet: its descriptor stays open. */
  writing?: number;
  /** Every byte has arrived (the file installs once its writes have answered). */
  arrived?: boolean;
}

/** A directory whose batches are coming in. */
interface OpenListing {
  listing: SourceListing;
  names: Set<string>;
  ignored: boolean;
  /** A rescan's answer: only these names may be listed (each once). */
  only?: Set<string>;
}

const PHASES: Record<Progress['phase'], Phase> = {
  scan: Phase.PHASE_SCAN,
  copy: Phase.PHASE_COPY,
  delete: Phase.PHASE_DELETE,
  finish: Phase.PHASE_FINISH,
  done: Phase.PHASE_FINISH,
};

export function progressFrame(progress: Progress): NonNullable<TransferFrame['body']> {
  return {
    $case: 'progress',
    value: {
      phase: PHASES[progress.phase],
      filesDone: BigInt(progress.entriesDone),
      bytesDone: BigInt(progress.bytesDone),
      filesTotal: BigInt(progress.entriesFound),
      bytesTotal: BigInt(progress.bytesNeeded),
      currentPath: '',
    },
  };
}

export async function runDestinationSide(
  destination: LocalDestination,
  channel: FrameChannel,
  options: TransferOptions,
  hooks: DestinationSideHooks,
): Promise<DestinationOutcome> {
  const started = nowMs();
  const progress = hooks.progress;
  const stats = hooks.stats;
  const move = options.operation === 'move';
  const pending = new Map<bigint, PendingFile>();
  let outstanding = 0;
  let nextId = 1n;
  /** Directories whose listing the source may send next: announced as directories, not blocked. */
  const expected = new Set<string>(['']);
  /** Directories this side will not write into: their listings (and their subtrees') are ignored. */
  const blocked = new Set<string>();
  /** Entries asked for again (Rescan), by parent: partial listings of these names alone may come. */
  const rescanAsked = new Map<string, Set<string>>();
  let open: OpenListing | undefined;
  let roundsAsked = 1;
  let roundsDone = 0;
  let scanComplete = true;
  /** The source's SourceDone came (once, after its first scan): its failures are all in. */
  let sourceDone = false;
  let sourceReadFailed = false;
  /** Failures the source reported beyond what is kept, counted. */
  let sourceFailuresDropped = 0;
  const sourceFailures: Failure[] = [];
  const copyFailures: Failure[] = [];
  let bytes = 0;
  let waitingForConfirm: ((confirmed: boolean) => void) | undefined;
  let idle: (() => void) | undefined;
  const scratch = Buffer.allocUnsafe(1 << 20);

  const onAction = (action: Action) => hooks.onAction?.(action);
  /** Sent owners get this machine's ids by name, unless --numeric-ids (fsops/id-map.ts). */
  const owners: OwnerMapping = { here: localIdNames, numericIds: options.preserve?.numericIds ?? false };
  const sendLanded = (paths: string[]) => {
    if (move && paths.length > 0 && !options.dryRun) channel.send({ $case: 'landed', value: { paths } });
  };

  /** A failure the source reported, kept up to MAX_PEER_FAILURES (memory is bounded). */
  const sourceFailure = (path: string, reason: string) => {
    if (sourceFailures.length < MAX_PEER_FAILURES)
      sourceFailures.push({ path: peerPath(path), reason: peerText(reason) });
    else sourceFailuresDropped++;
  };

  const underBlocked = (rel: string): boolean => {
    for (let at = rel; at !== ''; at = parentRel(at)) if (blocked.has(at)) return true;
    return false;
  };

  /**
   * Each announced directory's filter verdict, derived here from this side's own filter: what the
   * source says of it is not taken, since it decides what a mirror deletes (a hostile source could
   * otherwise mark a directory wholly included and have files the filters spare deleted).
   */
  const filter = destination.filter;
  const dirVerdicts = new Map<string, FilterVerdict>([['', filter.root]]);
  /** `entry`'s verdict under this side's filter; an entry the filters leave out is refused. */
  const verdictOf = (dirRel: string, dirVerdict: FilterVerdict, entry: SourceEntry): FilterVerdict => {
    if (filter.passAll) return dirVerdict;
    const verdict = filter.test(joinRel(dirRel, entry.name), entry.kind === 'dir', dirVerdict);
    if (verdict.status === 'exclude' || (verdict.status === 'traverse' && entry.kind !== 'dir'))
      throw new ProtocolError(`${entry.name}: listed, but the filters leave it out`);
    return verdict;
  };

  const startListing = (batch: ManifestBatch): OpenListing => {
    const rel = checkPeerRel(batch.directory, 'manifest');
    let ignored = false;
    let only: Set<string> | undefined;
    if (expected.has(rel) && !batch.partial) expected.delete(rel);
    else if (batch.partial && rescanAsked.has(rel)) {
      only = rescanAsked.get(rel);
    } else if (hooks.singleName !== undefined && rel === '' && expected.delete('')) {
      // The one entry of a single-entry transfer comes as a partial listing of the root.
    } else if (underBlocked(rel)) ignored = true;
    else
      throw new ProtocolError(
        `listing of ${JSON.stringify(rel.slice(0, 200))}, which is not a directory announced by the source`,
      );
    const dir = batch.directoryEntry ? fromManifestEntry(batch.directoryEntry, true, owners) : undefined;
    if (dir && dir.kind !== 'dir') throw new ProtocolError('a directory described as another kind');
    // Announced by a listing of its parent (or the root): its verdict was derived then.
    const verdict = dirVerdicts.get(rel) ?? filter.root;
    if (dir) dir.verdict = verdict;
    return {
      listing: { rel, dir, verdict, entries: [], partial: batch.partial },
      names: new Set(),
      ignored,
      only,
    };
  };

  const plan = (listing: SourceListing) => {
    progress.entriesFound += listing.entries.length;
    if (stats) countListing(stats, listing.entries);
    const dirPlan = destination.reconcile(listing);
    const blockedNow = new Set(dirPlan.blocked);
    for (const entry of listing.entries) {
      const rel = joinRel(listing.rel, entry.name);
      if (entry.kind !== 'dir') {
        // Listed again as another kind (a rescan): nothing is listed below it any more.
        expected.delete(rel);
        continue;
      }
      // A directory listed again (a mirror's rescan) may be open now that what stood in its way is gone.
      if (blockedNow.has(rel)) blocked.add(rel);
      else {
        blocked.delete(rel);
        expected.add(rel);
      }
    }
    sendLanded(dirPlan.landed);
    progress.entriesDone += listing.entries.length - dirPlan.needs.length;
    askFor(dirPlan.needs);
  };

  /** Asks the source for the data of `needs` (counted in progress as not yet done). */
  const askFor = (dirNeeds: Need[]) => {
    const needs: WireNeed[] = [];
    for (const need of dirNeeds) {
      progress.bytesNeeded += need.entry.size;
      if (options.dryRun) {
        onAction({ kind: need.hashFirst ? 'update' : 'copy', path: need.rel });
        destination.tally.copied++;
        bytes += need.entry.size;
        progress.entriesDone++;
        continue;
      }
      const fileId = nextId++;
      const file: PendingFile = {
        rel: need.rel,
        entry: need.entry,
        hashFirst: need.hashFirst,
        metadataMatches: need.metadataMatches ?? false,
      };
      pending.set(fileId, file);
      outstanding++;
      if (stats) {
        stats.jobs++;
        stats.jobBytes += need.entry.size;
      }
      const wire: WireNeed = {
        fileId,
        path: need.rel,
        hashFirst: need.hashFirst,
        blocks: [],
        destinationHash: Buffer.alloc(0),
        size: BigInt(need.entry.size),
        mtimeNs: need.entry.mtimeNs,
      };
      // Asked for once this side's own copy is hashed, off this frame's turn.
      if (need.hashFirst) {
        hashQueue.push({ wire, file });
        void hashQueued().catch((error: Error) => channel.fail(error));
        continue;
      }
      needs.push(wire);
      if (needs.length === NEEDS_PER_BATCH)
        channel.send({ $case: 'needBatch', value: { needs: needs.splice(0) } });
    }
    if (needs.length > 0) channel.send({ $case: 'needBatch', value: { needs } });
  };

  /** Needs under --checksum whose file here is still to be hashed, one at a time. */
  const hashQueue: { wire: WireNeed; file: PendingFile }[] = [];
  let hashing = false;
  const hashQueued = async () => {
    if (hashing) return;
    hashing = true;
    try {
      while (hashQueue.length > 0) {
        const { wire, file } = hashQueue.shift()!;
        try {
          wire.destinationHash = Buffer.from(
            await hashNoFollow(destination.pathOf(wire.path), hooks.hasher!, scratch),
            'hex',
          );
        } catch {
          // Unreadable here: the data is rewritten whatever the source holds.
          wire.hashFirst = false;
          file.hashFirst = false;
        }
        channel.send({ $case: 'needBatch', value: { needs: [wire] } });
      }
    } finally {
      hashing = false;
    }
  };

  const onManifest = (batch: ManifestBatch) => {
    if (roundsDone >= roundsAsked) throw new ProtocolError('manifest after the source said it was complete');
    open ??= startListing(batch);
    if (checkPeerRel(batch.directory, 'manifest') !== open.listing.rel) {
      throw new ProtocolError('batches of two directories interleaved');
    }
    for (const wire of batch.entries) {
      const entry = fromManifestEntry(wire, false, owners);
      // The one entry of a single-entry transfer takes the destination's name for it.
      if (hooks.singleName !== undefined && open.listing.rel === '') entry.name = hooks.singleName;
      if (hooks.stripSetId && entry.kind === 'file') entry.mode &= ~0o6000;
      // A single entry is taken whatever the filters say, as locally.
      if (hooks.singleName === undefined || open.listing.rel !== '') {
        entry.verdict = verdictOf(open.listing.rel, open.listing.verdict!, entry);
        if (entry.kind === 'dir' && !open.ignored)
          dirVerdicts.set(joinRel(open.listing.rel, entry.name), entry.verdict);
      }
      if (open.only) {
        if (!open.only.delete(entry.name))
          throw new ProtocolError(`${entry.name}: listed again, but not asked for`);
        if (open.only.size === 0) rescanAsked.delete(open.listing.rel);
      }
      if (open.names.has(entry.name)) throw new ProtocolError(`${entry.name}: listed twice`);
      if (open.names.size >= MAX_DIRECTORY_ENTRIES)
        throw new ProtocolError('directory with too many entries');
      open.names.add(entry.name);
      if (!open.ignored) open.listing.entries.push(entry);
    }
    if (!batch.last) return;
    const { listing, ignored } = open;
    open = undefined;
    if (ignored) return;
    if (hooks.singleName !== undefined && listing.rel === '') {
      if (listing.entries.length > 1 || listing.entries[0]?.kind === 'dir') {
        throw new ProtocolError('a single-entry transfer lists one entry that is not a directory');
      }
    }
    plan(listing);
  };

  const resolved = (fileId: bigint) => {
    const file = pending.get(fileId)!;
    pending.delete(fileId);
    if (!file.failed) outstanding--;
    progress.entriesDone++;
  };

  const failFile = (fileId: bigint, reason: string, sourceSide: boolean) => {
    const file = pending.get(fileId)!;
    // With writes in flight the descriptor stays open; the last answer drops the temp file.
    if (!file.writing) {
      file.receiver?.abort();
      file.receiver = undefined;
    }
    if (!file.failed) {
      file.failed = true;
      destination.copyFailed(file.rel);
      outstanding--;
      copyFailures.push({ path: file.rel, reason });
      if (sourceSide) sourceReadFailed = true;
    }
  };

  const fileOf = (fileId: bigint, what: string): PendingFile => {
    const file = pending.get(fileId);
    if (!file) throw new ProtocolError(`${what} for file ${fileId}, which was not asked for`);
    return file;
  };

  /** A write here failed: the file fails (the session too, when nothing more can be written). */
  const writeFailed = (fileId: bigint, file: PendingFile, error: unknown) => {
    const peerFault = error instanceof ReceiveError;
    failFile(fileId, peerFault ? reasonOf(error) : `cannot write: ${reasonOf(error)}`, peerFault);
    if (isFatalWriteError(error)) throw new DestinationFull(`${file.rel}: ${reasonOf(error)}`);
  };

  /** Where a file's bytes go: a temp file, given the source's owner when owners are kept. */
  const receiverOf = (file: PendingFile, size: number) =>
    new FileReceiver(
      destination.fs,
      file.rel,
      size,
      file.entry.mode,
      ownerToGive(file.entry, destination.owners),
      hasHoles(file.entry),
    );

  /** Every byte of the file is in: it is installed under its final name. */
  const install = (fileId: bigint, file: PendingFile) => {
    try {
      file.receiver ??= receiverOf(file, file.entry.size);
      countOwner(destination.fidelity, file.receiver.finish(file.entry.mtimeNs));
    } catch (error) {
      writeFailed(fileId, file, error);
      return;
    }
    if (file.receiver.sparse) destination.fidelity.applied('sparse');
    counted(fileId, file);
  };

  /** A file is in place under its final name. */
  const counted = (fileId: bigint, file: PendingFile, xattrsSet = false) => {
    if (!xattrsSet) destination.keepReceivedXattrs(file.rel, file.entry);
    destination.tally.copied++;
    bytes += file.entry.size;
    progress.bytesDone += file.entry.size;
    progress.firstFileAt ??= nowMs();
    if (stats) stats.firstByteMs ??= nowMs() - started;
    onAction({ kind: 'copy', path: file.rel });
    sendLanded([file.rel]);
    resolved(fileId);
  };

  const onFileData = (data: FileData) => {
    const file = fileOf(data.fileId, 'data');
    if (file.blocks) throw new ProtocolError(`file ${data.fileId} sent over both data paths`);
    if (file.failed) {
      if (data.last) pending.delete(data.fileId);
      return;
    }
    try {
      file.receiver ??= receiverOf(file, file.entry.size);
      if (data.holeLength > 0n) {
        if (data.data.length > 0) throw new ProtocolError(`file ${data.fileId}: a hole with data`);
        if (data.holeLength > BigInt(file.entry.size))
          throw new ReceiveError(`a hole of ${data.holeLength} bytes in a file of ${file.entry.size}`);
        file.receiver.hole(Number(data.offset), Number(data.holeLength), true);
      } else file.receiver.write(Number(data.offset), data.data);
    } catch (error) {
      try {
        writeFailed(data.fileId, file, error);
      } finally {
        if (data.last) pending.delete(data.fileId);
      }
      return;
    }
    if (data.last) install(data.fileId, file);
  };

  /** Sockets records come over: paused while too much waits to land. */
  const recordSockets = new Set<Receiving>();
  /** What waits for the landing threads, files and ranges together: bounded. */
  const held = new ByteBudget(
    (full) => {
      for (const socket of recordSockets) {
        if (full) socket.pause();
        else socket.resume();
      }
    },
    MAX_HELD_BYTES,
    hooks.sharedBudget,
  );
  const landing = new LandingQueue(destination.fs, held, {
    landed(fileId, owner, xattrs) {
      countOwner(destination.fidelity, owner);
      const file = pending.get(fileId);
      if (file && !file.failed) {
        if (xattrs) destination.countLandedXattrs(xattrs);
        counted(fileId, file, xattrs !== undefined);
      }
      settle();
    },
    failed(fileId, error) {
      const file = pending.get(fileId);
      try {
        if (file && !file.failed) writeFailed(fileId, file, error);
      } catch (fatal) {
        channel.fail(fatal as Error);
      }
      settle();
    },
  });
  const ranges = new RangeWriter<{ fileId: bigint; file: PendingFile }>(held, {
    written({ fileId, file }, offset, length, error) {
      file.writing = (file.writing ?? 1) - 1;
      try {
        // A socket failed mid-range: the session ends with that, the file is not failed for it.
        if (error instanceof RangeAbandoned) file.arrived = false;
        else if (error !== undefined && !file.failed) writeFailed(fileId, file, error);
        else if (!file.failed) file.receiver!.wrote(offset, length);
      } catch (fatal) {
        channel.fail(fatal as Error);
      }
      if (file.writing > 0) return;
      if (file.failed) {
        // Failed while its writes were out: the temp file goes now that nothing writes to it.
        file.receiver?.abort();
        file.receiver = undefined;
      } else if (file.arrived) install(fileId, file);
      settle();
    },
  });

  /**
   * The descriptor of a file's temp file for one more write in flight (it stays open until that
   * write answers), or undefined when it cannot be opened: the file has failed then.
   */
  const startWrite = (fileId: bigint, file: PendingFile): number | undefined => {
    let fd: number;
    try {
      fd = file.receiver!.descriptor();
    } catch (error) {
      writeFailed(fileId, file, error);
      return undefined;
    }
    file.writing = (file.writing ?? 0) + 1;
    return fd;
  };

  /** Files whose source failed on the data plane: blocks of theirs still on the way are dropped. */
  const voided = new Set<bigint>();
  const records: RangeSink = {
    begin(fileId, offset, length, whole, hole) {
      const file = pending.get(fileId);
      if (!file) {
        if (voided.has(fileId)) return false;
        throw new ProtocolError(`data for file ${fileId}, which was not asked for`);
      }
      if (file.failed) return false;
      const size = file.entry.size;
      if (whole) {
        if (length !== size || blockCount(size) > 0 || file.receiver)
          throw new ProtocolError(`file ${fileId} sent whole as ${length} of its ${size} bytes`);
      } else {
        if (blockLength(size, offset) !== length)
          throw new ProtocolError(`block at ${offset} of file ${fileId} (${size} bytes) is ${length} bytes`);
        if (file.receiver && !file.blocks)
          throw new ProtocolError(`file ${fileId} sent over both data paths`);
        file.blocks ??= new Set();
        if (file.blocks.has(offset))
          throw new ProtocolError(`block at ${offset} of file ${fileId} sent twice`);
        file.blocks.add(offset);
      }
      if (whole && size <= SMALL_FILE_BYTES) {
        if (file.gathered) throw new ProtocolError(`file ${fileId} sent twice`);
        file.gathered = [];
        return true;
      }
      try {
        file.receiver ??= receiverOf(file, size);
        // A hole (only ever a block, checked above): nothing to write, 'done' follows.
        if (hole) file.receiver.hole(offset, length, false);
      } catch (error) {
        writeFailed(fileId, file, error);
        return false;
      }
      return true;
    },
    // A file may be voided by a FAIL on one socket while a range of it still arrives on another.
    data(fileId, offset, data) {
      const file = pending.get(fileId);
      if (!file || file.failed) return;
      if (file.gathered) {
        file.gathered.push(data);
        return;
      }
      const fd = startWrite(fileId, file);
      if (fd !== undefined)
        ranges.add({
          fd,
          offset,
          data,
          owner: { fileId, file },
          sparse: file.receiver!.sparseTarget || undefined,
        });
    },
    direct(fileId, offset, length) {
      const file = pending.get(fileId);
      if (!file || file.failed || file.gathered) return undefined;
      const fd = startWrite(fileId, file);
      return fd === undefined
        ? undefined
        : { fd, written: ranges.external({ fileId, file }, offset, length) };
    },
    done(fileId, final) {
      const file = pending.get(fileId);
      if (!file || file.failed) return;
      if (final) file.finalSeen = true;
      if (file.blocks) file.blocksDone = (file.blocksDone ?? 0) + 1;
      if (file.gathered) {
        const mode = file.entry.mode;
        landing.add({
          fileId,
          rel: file.rel,
          // One piece: landed from the read buffer it came in (landing-queue.ts charges all of it).
          data: file.gathered.length === 1 ? file.gathered[0]! : Buffer.concat(file.gathered),
          mode,
          mtimeNs: file.entry.mtimeNs,
          owner: ownerToGive(file.entry, destination.owners),
          sparse: hasHoles(file.entry) || undefined,
          xattrs: destination.xattrsToLand(file.entry),
        });
        file.gathered = [];
        return;
      }
      if (!file.blocks || (file.finalSeen && file.blocksDone === blockCount(file.entry.size))) {
        file.arrived = true;
        if (!file.writing) install(fileId, file);
      }
      settle();
    },
    fail(fileId, reason) {
      if (voided.has(fileId)) return;
      fileOf(fileId, 'a failure');
      failFile(fileId, peerText(reason), true);
      pending.delete(fileId);
      voided.add(fileId);
      settle();
    },
  };

  const onFileHash = (hash: FileHash) => {
    const file = fileOf(hash.fileId, 'a hash');
    if (!file.hashFirst || file.receiver || file.failed)
      throw new ProtocolError(`unexpected hash for file ${hash.fileId}`);
    if (file.metadataMatches) destination.tally.skipped++;
    else {
      try {
        applyMetadata(destination.pathOf(file.rel), 'file', file.entry.mode, file.entry.mtimeNs);
      } catch (error) {
        failFile(hash.fileId, `cannot set metadata: ${reasonOf(error)}`, false);
        pending.delete(hash.fileId);
        return;
      }
      destination.tally.updated++;
      onAction({ kind: 'update', path: file.rel });
    }
    sendLanded([file.rel]);
    resolved(hash.fileId);
  };

  const onError = (error: TransferError) => {
    const message = peerText(error.message);
    if (error.fatal) throw new PeerFailed(message);
    if (error.hasFileId) {
      fileOf(error.fileId, 'an error');
      failFile(error.fileId, message, true);
      pending.delete(error.fileId);
      return;
    }
    sourceFailure(error.path, error.message);
    sourceReadFailed = true;
  };

  channel.onFrame((frame) => {
    const body = frame.body;
    switch (body?.$case) {
      case 'manifest':
        onManifest(body.value);
        break;
      case 'fileData':
        onFileData(body.value);
        break;
      case 'fileHash':
        onFileHash(body.value);
        break;
      case 'manifestComplete':
        if (open) throw new ProtocolError('manifest complete in the middle of a directory');
        if (roundsDone >= roundsAsked) throw new ProtocolError('manifest complete twice');
        roundsDone++;
        if (!body.value.scanComplete) scanComplete = false;
        break;
      case 'sourceDone':
        if (sourceDone) throw new ProtocolError('source done twice');
        sourceDone = true;
        if (!body.value.scanComplete) scanComplete = false;
        for (const failure of body.value.failures) sourceFailure(failure.path, failure.reason);
        break;
      case 'deletionsConfirm': {
        const answer = waitingForConfirm;
        if (!answer) throw new ProtocolError('deletions confirmed, but none were pending');
        waitingForConfirm = undefined;
        answer(body.value.confirmed);
        break;
      }
      case 'error':
        onError(body.value);
        break;
      case 'progress':
        break;
      case 'grant':
        if (!hooks.onGrant) throw new ProtocolError('data-plane grant sent to a peer that does not dial');
        hooks.onGrant(body.value);
        break;
      case 'dataRequest':
        if (!hooks.onDataRequest)
          throw new ProtocolError('data sockets asked of a peer that does not grant them');
        if (body.value.unreachable) hooks.sockets?.unavailable();
        else hooks.onDataRequest(body.value.sockets);
        break;
      default:
        throw new ProtocolError(`${body?.$case ?? 'empty'} frame from the source`);
    }
    settle();
  });
  hooks.sockets?.onSocket((socket) => {
    const receiving = receiveRecords(socket, records, (error) => failOnDataPlane(channel, error));
    recordSockets.add(receiving);
    socket.once('close', () => recordSockets.delete(receiving));
  });
  channel.startHeartbeat(() => progressFrame(progress));

  const allInNow = () => sourceDone && roundsDone >= roundsAsked && outstanding === 0;
  /** Wakes the session when everything asked for has come. */
  const settle = () => {
    if (idle && allInNow()) {
      const wake = idle;
      idle = undefined;
      wake();
    }
  };
  /** Waits until the source has sent every listing asked for and every needed file is settled. */
  const allIn = () =>
    new Promise<void>((resolve, reject) => {
      if (allInNow()) {
        resolve();
        return;
      }
      idle = resolve;
      channel.closed.then(() => reject(new PeerEndedEarly('the source ended the session early')), reject);
    });

  const askPeer = (candidates: DeletionCandidate[]) =>
    new Promise<boolean>((resolve, reject) => {
      waitingForConfirm = resolve;
      const sample = candidates.slice(0, 10).map((c) => (c.kind === 'dir' ? `${c.rel}/` : c.rel));
      channel.send({ $case: 'deletionsPending', value: { count: BigInt(candidates.length), sample } });
      channel.closed.then(
        () => reject(new PeerEndedEarly('the peer ended the session at the deletion prompt')),
        reject,
      );
    });
  const confirmDeletions = hooks.confirmDeletions ?? askPeer;

  const turn = loopTurns(20);
  const step: RemovalStep = () => turn();

  /** The Summary went out: the session did not fail. */
  let finished = false;
  try {
    await allIn();
    if (stats) stats.scanMs = stats.copyMs = nowMs() - started;
    progress.scanComplete = true;
    progress.phase = 'copy';
    let deletionsWithheld = 0;
    const candidates = destination.candidates;
    if (options.operation === 'mirror' && candidates.length > 0) {
      const complete = scanComplete && !sourceReadFailed;
      const confirmed = complete && (options.dryRun || (await confirmDeletions(candidates)));
      if (confirmed) {
        progress.phase = 'delete';
        await destination.applyDeletions(candidates, step);
        progress.phase = 'copy';
        const deferred = destination.deferred.splice(0);
        if (deferred.length > 0) {
          for (const { parent, entry } of deferred) {
            const names = rescanAsked.get(parent) ?? new Set<string>();
            names.add(entry.name);
            rescanAsked.set(parent, names);
          }
          roundsAsked++;
          channel.send({
            $case: 'rescan',
            value: { paths: deferred.map(({ parent, entry }) => joinRel(parent, entry.name)) },
          });
          await allIn();
        }
      } else {
        deletionsWithheld = candidates.length;
        const reason = complete
          ? 'not confirmed (use --yes to delete without asking)'
          : 'parts of the source could not be read';
        copyFailures.push({ path: '.', reason: `${candidates.length} deletion(s) withheld: ${reason}` });
      }
    }
    // The later names of hard-link groups, once all else is in: linked, or asked for where they cannot be.
    const followers = destination.linkFollowers();
    sendLanded(followers.landed);
    if (followers.copy.length > 0) {
      progress.entriesDone -= followers.copy.length;
      askFor(followers.copy);
      await allIn();
    }
    await destination.removeStaleDirs(step);
    progress.phase = 'finish';
    destination.finishDirectories();
    const outcome: DestinationOutcome = {
      ...destination.tally,
      fidelity: destination.fidelity.report(),
      bytes,
      scanComplete,
      deletionsWithheld,
      failures: [
        ...destination.failures,
        ...copyFailures,
        ...sourceFailures,
        ...(sourceFailuresDropped > 0
          ? [
              {
                path: '.',
                reason: `${sourceFailuresDropped} more failure(s) reported by the source, not listed`,
              },
            ]
          : []),
      ],
    };
    hooks.beforeSummary?.();
    channel.send({ $case: 'summary', value: summaryOf(outcome, nowMs() - started) });
    finished = true;
    return outcome;
  } finally {
    if (stats) stats.totalMs = nowMs() - started;
    // A session that failed stops reading its sockets (a receive waiting on one answers at once),
    // and the writes still out answer first: no descriptor closes under them.
    if (!finished) for (const receiving of recordSockets) receiving.stop();
    for (const file of pending.values()) if (file.writing) file.failed = true;
    await ranges.idle();
    for (const file of pending.values()) file.receiver?.abort();
    held.close();
    waitingForConfirm = undefined;
  }
}

/** The hash of the destination's file, opened without following a last link. */
async function hashNoFollow(path: string, hasher: HasherFactory, scratch: Buffer): Promise<string> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    return await hashFdAsync(fd, hasher, scratch);
  } finally {
    closeSync(fd);
  }
}

/** What the destination reports at the end: the Summary frame. */
export function summaryOf(outcome: DestinationOutcome, elapsedMs: number): Summary {
  return {
    copied: BigInt(outcome.copied),
    skipped: BigInt(outcome.skipped),
    updated: BigInt(outcome.updated),
    deleted: BigInt(outcome.deleted),
    failed: BigInt(outcome.failures.length),
    bytes: BigInt(outcome.bytes),
    elapsedMs: BigInt(Math.round(elapsedMs)),
    scanComplete: outcome.scanComplete,
    deletionsWithheld: BigInt(outcome.deletionsWithheld),
    failures: boundedFailures(outcome.failures),
    fidelity: toWireFidelity(outcome.fidelity),
  };
}

/** Failures a Summary carries: as many as fit in 2 MiB (`failed` counts them all). */
function boundedFailures(failures: Failure[]): Failure[] {
  let budget = 2 << 20;
  const kept: Failure[] = [];
  for (const failure of failures) {
    budget -= failure.path.length + failure.reason.length + 8;
    if (budget < 0) break;
    kept.push(failure);
  }
  return kept;
}

/** The destination's disk is full (or read-only): nothing more can be written. */
export class DestinationFull extends Error {
  override readonly name = 'DestinationFull';
}
