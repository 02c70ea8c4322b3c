/**
 * The data path of a remote session on the destination's machine: what the destination needs is
 * asked of the peer (NeedBatch frames), and the bytes come back as FileData frames in the stream or
 * as records over the data-plane sockets (transport/tcp). They land through temp files, small files
 * in batches on the addon's landing threads, and each file is installed under its final name once
 * every byte is in. Data is accepted only for files this side asked for, never past their declared
 * size; the peer is not trusted.
 */
import { closeSync, constants, openSync } from 'node:fs';
import type { DataPath, FileEvents } from '../../engine/data-path.js';
import type { DirPlan, LocalDestination, Need } from '../../engine/local-destination.js';
import type { FreshListing, SourceEntry, SourceListing } from '../../engine/roles.js';
import type { SessionStats } from '../../engine/session-stats.js';
import { type HasherFactory, hashFdAsync } from '../../fsops/hash.js';
import { applyMetadata } from '../../fsops/metadata.js';
import { nativeAddon } from '../../fsops/native.js';
import { countOwner, ownerToGive } from '../../fsops/owner.js';
import { FileReceiver, ReceiveError } from '../../fsops/receive-file.js';
import { hasHoles } from '../../fsops/sparse-blocks.js';
import type { FileData, FileHash, TransferError, Need as WireNeed } from '../../generated/blit.js';
import { ProtocolError } from '../../protocol/manifest-wire.js';
import { peerText } from '../../protocol/peer-text.js';
import { nowMs } from '../../util/clock.js';
import { isFatalWriteError, reasonOf, showPath } from '../../util/errors.js';
import { faults } from '../../util/faults.js';
import { type FrameChannel, PeerEndedEarly } from '../frame-channel.js';
import type { OwnWork } from '../own-work.js';
import { ByteBudget, MAX_HELD_BYTES, type SharedBudget } from '../tcp/byte-budget.js';
import { failOnDataPlane } from '../tcp/data-failure.js';
import { LandingJobs } from '../tcp/landing-jobs.js';
import { BackingHold, LandingQueue } from '../tcp/landing-queue.js';
import { blockCount, blockLength, blocksOf, SMALL_FILE_BYTES } from '../tcp/layout.js';
import { RangeWriter } from '../tcp/range-writer.js';
import { RangeAbandoned, type RangeSink, type Receiving, receiveRecords } from '../tcp/record-receiver.js';
import type { SessionSockets } from '../tcp/session-sockets.js';
import { holdView, releaseView } from '../tcp/slab-pool.js';
import { FreshFiles } from './fresh-files.js';

/** Needs per NeedBatch frame. */
const NEEDS_PER_BATCH = 1024;
/**
 * Files asked for and not settled yet, at most: past it the session waits until half of them have
 * settled before it asks for more. Each holds ~1 KB here until it lands (its entry, its need, its
 * receiver), so a tree of millions of files does not make this side hold them all at once.
 */
export const MAX_FILES_ASKED = 16_384;
/**
 * Files in the tables of small files held at once (fresh-files.ts), at most: a table is held until
 * every file of it has settled, so a source that leaves one file of each unsent would otherwise
 * keep each table's rows while asking nothing more of this side's patience than one file each.
 */
export const MAX_TABLE_ROWS = 16_384;

export interface PeerDataHooks {
  /** The daemon's budget of bytes held by all its sessions together (absent: this session's alone). */
  sharedBudget?: SharedBudget;
  /** Loaded before the session when --checksum may hash destination files. */
  hasher?: HasherFactory;
  /** The session's data-plane sockets: file data may come as records over them too. */
  sockets?: SessionSockets;
  stats?: SessionStats;
  /** What the stall detector counts: this side's landings, writes and hashes, and its waits for the peer. */
  work: OwnWork;
}

/** The data path, and the frames of the stream that belong to it. */
export interface PeerData extends DataPath {
  /** Wakes the session if everything asked for has settled: after every frame (a throw fails the channel first). */
  settle(): void;
  onFileData(data: FileData): void;
  onFileHash(hash: FileHash): void;
  /** A TransferError about one file (`fileId`): that file failed at the source. */
  onFileError(error: TransferError): void;
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
  /**
   * A record of it has begun on the data plane (whole, a block, or its CHECKED): FileData frames for
   * it end the session, or the stream could install (and close) the temp file a socket's thread
   * still writes to.
   */
  overRecords?: boolean;
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

export function receiveFromPeer(
  destination: LocalDestination,
  channel: FrameChannel,
  hooks: PeerDataHooks,
): PeerData {
  const started = nowMs();
  const stats = hooks.stats;
  let events!: FileEvents;
  const pending = new Map<bigint, PendingFile>();
  let outstanding = 0;
  let nextId = 1n;
  let idle: (() => void) | undefined;
  let idleFailed: ((error: Error) => void) | undefined;
  /** The session waits for room to ask for more files (MAX_FILES_ASKED; a table's, MAX_TABLE_ROWS). */
  let room: (() => void) | undefined;
  /** The rows of the table waiting for room (0: files asked one by one). */
  let roomRows = 0;
  let roomFailed: ((error: Error) => void) | undefined;
  let ended: Error | undefined;
  const end = (error: Error) => {
    ended = error;
    idleFailed?.(error);
    roomFailed?.(error);
  };
  channel.closed.then(() => end(new PeerEndedEarly('the source ended the session early')), end);
  const scratch = Buffer.allocUnsafe(1 << 20);
  /** Needs asked for and not yet sent (one NeedBatch per listing). */
  let needs: WireNeed[] = [];

  /** Needs under --checksum whose file here is still to be hashed, one at a time. */
  const hashQueue: { wire: WireNeed; file: PendingFile }[] = [];
  let hashing = false;
  const hashQueued = async () => {
    if (hashing) return;
    hashing = true;
    try {
      while (hashQueue.length > 0) {
        const { wire, file } = hashQueue.shift()!;
        const done = hooks.work.start(`hash: ${showPath(wire.path)}`);
        try {
          wire.destinationHash = Buffer.from(
            await hashNoFollow(destination.pathOf(wire.path), hooks.hasher!, scratch, () =>
              hooks.work.beat(),
            ),
            'hex',
          );
        } catch {
          // Unreadable here: the data is rewritten whatever the source holds.
          wire.hashFirst = false;
          file.hashFirst = false;
        } finally {
          done();
        }
        channel.send({ $case: 'needBatch', value: { needs: [wire] } });
      }
    } finally {
      hashing = false;
    }
  };

  /** A file settled (landed, or found equal): it leaves the files asked for. */
  const resolved = (fileId: bigint) => {
    const file = pending.get(fileId)!;
    pending.delete(fileId);
    dropGathered(file);
    if (!file.failed) outstanding--;
  };

  /**
   * A file's gathered bytes are handed on (landing holds them itself) or will not land (it failed,
   * or a hostile peer settled it another way meanwhile): their read buffers may be read into again.
   */
  const dropGathered = (file: PendingFile) => {
    if (!file.gathered) return;
    for (const piece of file.gathered) releaseView(piece);
    file.gathered = [];
  };

  const failFile = (fileId: bigint, reason: string, sourceSide: boolean) => {
    const file = pending.get(fileId)!;
    dropGathered(file);
    // With writes in flight the descriptor stays open; the last answer drops the temp file.
    if (!file.writing) {
      file.receiver?.abort();
      file.receiver = undefined;
    }
    if (!file.failed) {
      file.failed = true;
      outstanding--;
      events.failed({ path: file.rel, reason }, { sourceSide });
    }
  };

  const fileOf = (fileId: bigint, what: string): PendingFile => {
    const file = pending.get(fileId) ?? adopt(fileId);
    if (!file) throw new ProtocolError(`${what} for file ${fileId}, which was not asked for`);
    return file;
  };

  /** A file of a table still only asked for, sent another way: a pending file from now on (fresh-files.ts). */
  const adopt = (fileId: bigint): PendingFile | undefined => {
    const taken = fresh?.materialize(fileId);
    if (!taken) return undefined;
    const file: PendingFile = {
      rel: taken.rel,
      entry: taken.entry,
      hashFirst: false,
      metadataMatches: false,
    };
    pending.set(fileId, file);
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
    resolved(fileId);
    events.copied(file.rel, file.entry.size);
  };

  /**
   * A frame's bytes are written here, on this thread, while the session waits for the peer: this
   * side's own work (a write that hangs is a stall here).
   */
  const onFileData = (data: FileData) => {
    const file = fileOf(data.fileId, 'data');
    const done = hooks.work.start(`write: ${showPath(file.rel)}`);
    try {
      faults.hang('write', file.rel);
      receiveChunk(data, file);
    } finally {
      done();
    }
  };

  const receiveChunk = (data: FileData, file: PendingFile) => {
    if (file.overRecords) throw new ProtocolError(`file ${data.fileId} sent over both data paths`);
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
  /** Small files landing and ranges written: the session's jobs on the shared landing threads. */
  const landingJobs = new LandingJobs(hooks.work);
  /** Read buffers held until the files in them have landed, by the queue and the tables alike. */
  const holds = new BackingHold(held);
  const landing = new LandingQueue(
    destination.fs,
    held,
    {
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
    },
    landingJobs,
    holds,
  );
  /** Small files of directories this session made, taken by the table (fresh-files.ts). */
  const addon = nativeAddon();
  const fresh =
    addon &&
    new FreshFiles(addon, destination, holds, landingJobs, {
      copied: (count, bytes) => {
        if (stats) stats.freshFiles += count;
        events.copiedMany(count, bytes);
      },
      failed: (rel, reason, sourceSide) => events.failed({ path: rel, reason }, { sourceSide }),
      settled: (count) => {
        outstanding -= count;
        settle();
      },
      fatal: (rel, error) => channel.fail(new DestinationFull(`${rel}: ${reasonOf(error)}`)),
    });
  const ranges = new RangeWriter<{ fileId: bigint; file: PendingFile }>(
    held,
    {
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
        voidedWriting.delete(file);
        if (file.failed) {
          // Failed while its writes were out: the temp file goes now that nothing writes to it.
          file.receiver?.abort();
          file.receiver = undefined;
        } else if (file.arrived) {
          // Not thrown out of the writer's callback (nothing there would catch it): the session ends.
          try {
            install(fileId, file);
          } catch (fatal) {
            channel.fail(fatal as Error);
          }
        }
        settle();
      },
    },
    landingJobs,
  );

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
      // It may have been the last file outstanding: nothing else will wake the session for it.
      settle();
      return undefined;
    }
    file.writing = (file.writing ?? 0) + 1;
    return fd;
  };

  /** A file sent as blocks: the source vouched for it (FINAL or CHECKED) and every block is in. */
  const allBlocksIn = (file: PendingFile) => file.finalSeen && file.blocksDone === blocksOf(file.entry.size);

  /** Every byte of a file received by records is in: installed once its writes have answered. */
  const arrived = (fileId: bigint, file: PendingFile) => {
    file.arrived = true;
    if (!file.writing) install(fileId, file);
  };

  /** Files whose source failed on the data plane: blocks of theirs still on the way are dropped. */
  const voided = new Set<bigint>();
  /** fileOf, but undefined for a file the source voided on the data plane (its records may still come). */
  const unlessVoided = (fileId: bigint, what: string): PendingFile | undefined =>
    voided.has(fileId) ? undefined : fileOf(fileId, what);
  /** Of those, the ones with writes still out: their temp files go once the writes answer. */
  const voidedWriting = new Set<PendingFile>();
  const records: RangeSink = {
    begin(fileId, offset, length, whole, hole) {
      if (voided.has(fileId)) return false;
      if (fresh?.begin(fileId, length, whole) === 'taken') return true;
      const file = unlessVoided(fileId, 'data');
      if (!file || file.failed) return false;
      const size = file.entry.size;
      if (whole) {
        if (length !== size || blockCount(size) > 0 || file.receiver || file.blocks)
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
      file.overRecords = true;
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
        settle();
        return false;
      }
      return true;
    },
    // The small files of tables taken at once; any other member comes to begin, data and done.
    batch: fresh ? (fileIds, lengths, data) => fresh.takeBatch(fileIds, lengths, data) : undefined,
    // A file may be voided by a FAIL on one socket while a range of it still arrives on another.
    data(fileId, offset, data) {
      if (fresh?.data(fileId, data)) return;
      const file = pending.get(fileId);
      if (!file || file.failed) return;
      if (file.gathered) {
        // Kept past this call (a file may straddle two reads): its read buffer is not refilled meanwhile.
        holdView(data);
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
          rel: file.rel,
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
      if (fresh?.done(fileId)) return;
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
        // The landing queue holds what it keeps (or a copy): the pieces' own holds end here.
        dropGathered(file);
        return;
      }
      if (!file.blocks || allBlocksIn(file)) arrived(fileId, file);
      settle();
    },
    checked(fileId) {
      const file = unlessVoided(fileId, 'a check');
      if (!file) return;
      const size = file.entry.size;
      if (file.gathered || (file.receiver && !file.blocks) || blockLength(size, 0) === undefined)
        throw new ProtocolError(`a check for file ${fileId} (${size} bytes), which was not sent as blocks`);
      if (file.finalSeen) throw new ProtocolError(`file ${fileId} checked twice`);
      // Its blocks may still be on their way over other sockets: they complete it then.
      file.finalSeen = true;
      file.blocks ??= new Set();
      file.overRecords = true;
      if (file.failed) return;
      if (allBlocksIn(file)) arrived(fileId, file);
      settle();
    },
    fail(fileId, reason) {
      if (voided.has(fileId)) return;
      if (fresh?.fail(fileId, peerText(reason))) {
        voided.add(fileId);
        return;
      }
      const file = fileOf(fileId, 'a failure');
      failFile(fileId, peerText(reason), true);
      if (file.writing) voidedWriting.add(file);
      pending.delete(fileId);
      voided.add(fileId);
      settle();
    },
  };

  const onFileHash = (hash: FileHash) => {
    const file = fileOf(hash.fileId, 'a hash');
    if (!file.hashFirst || file.receiver || file.failed)
      throw new ProtocolError(`unexpected hash for file ${hash.fileId}`);
    if (!file.metadataMatches) {
      const done = hooks.work.start(`metadata: ${showPath(file.rel)}`);
      try {
        applyMetadata(destination.pathOf(file.rel), 'file', file.entry.mode, file.entry.mtimeNs);
      } catch (error) {
        failFile(hash.fileId, `cannot set metadata: ${reasonOf(error)}`, false);
        pending.delete(hash.fileId);
        return;
      } finally {
        done();
      }
    }
    resolved(hash.fileId);
    if (file.metadataMatches) events.unchanged(file.rel);
    else events.updated(file.rel);
  };

  /** The source could not read a file it was asked for: that file fails, the session goes on. */
  const onFileError = (error: TransferError) => {
    if (fresh?.fail(error.fileId, peerText(error.message))) return;
    fileOf(error.fileId, 'an error');
    failFile(error.fileId, peerText(error.message), true);
    pending.delete(error.fileId);
  };

  hooks.sockets?.onSocket((socket) => {
    const receiving = receiveRecords(socket, records, (error) => failOnDataPlane(channel, error));
    recordSockets.add(receiving);
    socket.once('close', () => recordSockets.delete(receiving));
  });
  /**
   * Wakes the session when every file asked for has settled, or when half of those it waits on
   * (MAX_FILES_ASKED) have; or, when the session failed meanwhile (a write that cannot go on failed
   * the channel), with that failure: it must not go on to delete.
   */
  const settle = () => {
    const failure = channel.failure;
    if (failure) {
      const fail = idleFailed;
      const failRoom = roomFailed;
      idle = idleFailed = room = roomFailed = undefined;
      fail?.(failure);
      failRoom?.(failure);
      return;
    }
    if (room && outstanding <= MAX_FILES_ASKED / 2 && tableFits(roomRows)) {
      const wake = room;
      room = roomFailed = undefined;
      wake();
    }
    if (idle && outstanding === 0) {
      allInAt();
      // Before the session sets its directories' times: removing them changes their parents'.
      fresh?.removeSpares();
      const wake = idle;
      idle = idleFailed = undefined;
      wake();
    }
  };

  /** The first time every file asked for is in: the scan and the copy are over (perf history). */
  let measured = false;
  const allInAt = () => {
    if (!stats || measured) return;
    measured = true;
    stats.scanMs = stats.copyMs = nowMs() - started;
  };

  /**
   * Once MAX_FILES_ASKED are asked for and not settled (or would be, with a table of `more` asked at
   * once, or the tables held would pass MAX_TABLE_ROWS with it): waits, as for the peer, until half
   * of them have (and the table fits). The needs gathered go out first, so the peer has them all to
   * send while this side waits.
   */
  const roomToAsk = (more = 0) => {
    if (more === 0 ? outstanding < MAX_FILES_ASKED : outstanding + more <= MAX_FILES_ASKED && tableFits(more))
      return undefined;
    roomRows = more;
    sendNeeds();
    return hooks.work.forPeer(
      new Promise<void>((resolve, reject) => {
        if (channel.failure) reject(channel.failure);
        else if (ended) reject(ended);
        else {
          room = resolve;
          roomFailed = reject;
        }
      }),
    );
  };

  /** Whether a table of `rows` files may be held now (MAX_TABLE_ROWS); always, for files asked one by one. */
  const tableFits = (rows: number) => rows === 0 || (fresh?.rows ?? 0) + rows <= MAX_TABLE_ROWS;

  /** Sends the needs gathered. */
  const sendNeeds = () => {
    if (needs.length === 0) return;
    channel.send({ $case: 'needBatch', value: { needs } });
    needs = [];
  };

  return {
    removesMovedSources: false,
    begin(sink) {
      events = sink;
    },
    // Within one machine only.
    takesWhole: () => false,
    planned(_listing: SourceListing, _plan: DirPlan) {},
    fetch(need: Need) {
      const fileId = nextId++;
      const file: PendingFile = {
        rel: need.rel,
        entry: need.entry,
        hashFirst: need.hashFirst,
        metadataMatches: need.metadataMatches ?? false,
      };
      pending.set(fileId, file);
      outstanding++;
      const wire: WireNeed = {
        fileId,
        path: need.rel,
        hashFirst: need.hashFirst,
        blocks: [],
        destinationHash: Buffer.alloc(0),
        size: BigInt(need.entry.size),
        mtimeNs: need.entry.mtimeNs,
      };
      // Asked for once this side's own copy is hashed, off this listing's turn.
      if (need.hashFirst) {
        hashQueue.push({ wire, file });
        void hashQueued().catch((error: Error) => channel.fail(error));
        return roomToAsk();
      }
      needs.push(wire);
      if (needs.length === NEEDS_PER_BATCH) sendNeeds();
      return roomToAsk();
    },
    fetchFresh(listing: SourceListing, table: FreshListing) {
      const takes = fresh;
      if (!takes) throw new Error('a table of small files without the addon');
      const ask = () => {
        const first = nextId;
        nextId += BigInt(table.count);
        outstanding += table.count;
        // After the needs asked one by one before it, in the order the session asked.
        sendNeeds();
        for (const frame of takes.add(listing.rel, listing.verdict, table, first, channel.role))
          channel.sendEncoded(frame, 'needBatch');
      };
      // Asked whole: past MAX_FILES_ASKED with it, first until half of those asked have settled.
      const room = roomToAsk(table.count);
      if (room) return room.then(ask);
      ask();
      return undefined;
    },
    flush() {
      sendNeeds();
      return undefined;
    },
    walkEnded(scanned) {
      scanned();
    },
    drain() {
      sendNeeds();
      // Waiting for the peer's data; what lands meanwhile is this side's own work (own-work.ts).
      return hooks.work.forPeer(
        new Promise<void>((resolve, reject) => {
          if (channel.failure) reject(channel.failure);
          // The source ended its stream before the Summary: whatever is in, the session cannot finish.
          else if (ended) reject(ended);
          else if (outstanding === 0) {
            allInAt();
            fresh?.removeSpares();
            resolve();
          } else {
            idle = resolve;
            idleFailed = reject;
          }
        }),
      );
    },
    // Files fail one by one; a write that cannot go on ends the session through the channel.
    fatal: undefined,
    abort(error: Error) {
      channel.fail(error);
    },
    async close(how) {
      landingJobs.close();
      // Nothing lands after the session (what is already with the landing threads still may).
      landing.close();
      fresh?.close();
      // A session that failed stops reading its sockets (a receive waiting on one answers at once),
      // and the writes still out answer first: no descriptor closes under them.
      if (how !== 'finished') for (const receiving of recordSockets) receiving.stop();
      for (const file of pending.values()) if (file.writing) file.failed = true;
      if (how === 'stalled') {
        // A write that stalled may never answer: its temp file goes now, its descriptor stays
        // open until the write answers (never closed under it), and the session ends at once.
        for (const file of pending.values()) {
          if (file.writing) file.receiver?.abandon();
          else file.receiver?.abort();
        }
        for (const file of voidedWriting) file.receiver?.abandon();
        held.close();
        return;
      }
      await ranges.idle();
      for (const file of pending.values()) file.receiver?.abort();
      held.close();
    },
    settle,
    onFileData,
    onFileHash,
    onFileError,
  };
}

/** The hash of the destination's file, opened without following a last link. */
async function hashNoFollow(
  path: string,
  hasher: HasherFactory,
  scratch: Buffer,
  onRead: () => void,
): Promise<string> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    return await hashFdAsync(fd, hasher, scratch, onRead);
  } finally {
    closeSync(fd);
  }
}

/** The destination's disk is full (or read-only): nothing more can be written. */
export class DestinationFull extends Error {
  override readonly name = 'DestinationFull';
}
