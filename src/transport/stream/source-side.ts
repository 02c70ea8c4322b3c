/**
 * The source role of a remote session, driven by frames: the blit of a push, the blitd of a pull.
 * The local walk (engine/local-source.ts) streams its listings as manifest batches while needs come
 * back; each needed file is read and sent as FileData chunks (or, under --checksum, answered with
 * FileHash when it hashes the same as the destination's). A file is sent only if it still has the
 * size and mtime it was listed with, and checked again before its last chunk: a file that changed
 * meanwhile fails instead of landing. The session ends with the destination's Summary.
 *
 * The peer is not trusted: a need or a removal (move) is served only for a path below a directory
 * this walk listed itself, opened without following a final link.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { LocalSource } from '../../engine/local-source.js';
import type { EncodedEntries, SourceListing } from '../../engine/roles.js';
import { countListing, countSizes, type SessionStats } from '../../engine/session-stats.js';
import type { StallWatching } from '../../engine/stall-watch.js';
import type { Failure, TransferOptions } from '../../engine/types.js';
import { type HasherFactory, hashFdAsync } from '../../fsops/hash.js';
import {
  canReadWhole,
  openedAsListed,
  readWholeFiles,
  stillAsListed,
  type WholeFile,
  type WholeRead,
} from '../../fsops/read-listed.js';
import { baseRel, joinRel, parentRel } from '../../fsops/rel-path.js';
import { isAllZeros } from '../../fsops/sparse-blocks.js';
import type {
  Actions,
  DataPlaneGrant,
  ManifestBatch,
  Need,
  Summary,
  Progress as WireProgress,
} from '../../generated/blit.js';
import { ErrorCode, Phase, TransferFrame } from '../../generated/blit.js';
import { LinkGroupIds } from '../../protocol/link-groups.js';
import {
  checkPeerRel,
  MANIFEST_WINDOW_BYTES,
  MAX_EXACT_ID,
  ProtocolError,
  toEncodedManifestFrames,
  toManifestBatches,
} from '../../protocol/manifest-wire.js';
import { peerPath, peerText } from '../../protocol/peer-text.js';
import { nowMs } from '../../util/clock.js';
import { reasonOf, showPath, sourceKeptReason } from '../../util/errors.js';
import { faults } from '../../util/faults.js';
import { cpuTimes, spareCores } from '../../util/spare-cores.js';
import { type FrameChannel, PeerEndedEarly, PeerFailed } from '../frame-channel.js';
import { OwnWork } from '../own-work.js';
import { failOnDataPlane } from '../tcp/data-failure.js';
import { LandingJobs } from '../tcp/landing-jobs.js';
import { RecordSender } from '../tcp/record-sender.js';
import type { SessionSockets } from '../tcp/session-sockets.js';
import { StreamCount } from '../tcp/stream-count.js';
import { MAX_FILES_ASKED } from './peer-data.js';

/** Kept sources reported one by one after the Summary; the rest are counted. */
const MAX_KEPT_REPORTED = 1000;
/** Bytes per FileData frame: well under the 4 MiB control-plane message limit. */
export const CHUNK_BYTES = 1 << 20;
/**
 * Needs queued here at most: a destination asks for no more than MAX_FILES_ASKED files it has not
 * settled (peer-data.ts), and this side serves them before they settle there. More is a protocol
 * error: each queued need is an object of a few hundred bytes here, and its path (at most
 * MAX_PATH_BYTES, checkPeerRel), so what they hold is bounded too.
 */
export const MAX_NEEDS_QUEUED = 2 * MAX_FILES_ASKED;
/**
 * Files a destination may ask for beyond the entries listed to it, at most: asking for one that
 * was not listed is answered file by file (a name changed meanwhile), but every id asked for is
 * kept for the session, so they are bounded by what it lists.
 */
export const ASKED_BEYOND_LISTED = 1024;
/**
 * Groups of small files read on the addon's landing threads at once (source-side sendGroup): two,
 * one per thread, so one is read while the other's batch goes out.
 */
const GROUPS_IN_FLIGHT = 2;

/**
 * Small files read together (source-side takeGroup): each need with its path relative to the
 * transfer root (`rel`), where it is read from (`path`) and what it was listed with; and their
 * places in the batch they go out in.
 */
interface Group {
  files: (WholeFile & { need: Need; rel: string })[];
  members: { fileId: bigint; length: number }[];
}

export interface SourceSideHooks {
  /** A push's deletion prompt: asked when the destination sends DeletionsPending. */
  confirmDeletions?(count: number, sample: string[]): Promise<boolean>;
  /** The destination's progress heartbeats. */
  onProgress?(progress: WireProgress): void;
  /** What the destination did, when Open asked for the list. */
  onActions?(actions: Actions): void;
  /** Loaded before the session under --checksum. */
  hasher?: HasherFactory;
  /** A single-entry transfer: every need names the one entry. */
  single: boolean;
  /** Filled with what the session measured (perf history), when given. */
  stats?: SessionStats;
  /** Sources a move kept are sent to the destination after its Summary (a pull-move's daemon). */
  reportKept?: boolean;
  /**
   * How a file the destination needs is opened for reading, and how a move's landed source is
   * removed, given its path relative to the transfer root: the daemon resolves both beneath its
   * module through directory descriptors. Default: the walk's local path, the last link not
   * followed.
   */
  files?: SourceFiles;
  /** The session's data-plane sockets: once one is connected, files go over them as records. */
  sockets?: SessionSockets;
  /** Asks for one more data socket (the sender measured that it may help). */
  moreSockets?(): void;
  /** A grant of data sockets came (a push's client dials them). */
  onGrant?(grant: DataPlaneGrant): void;
  /**
   * The stall detector (engine/stall-watch.ts): its board, which this side's own work beats
   * (own-work.ts), and its verdict, which ends the session.
   */
  watch?: StallWatching;
}

export interface SourceFiles {
  openForRead(rel: string): number;
  remove(rel: string): void;
  /**
   * Small files read whole off the event loop, each opened as openForRead opens it
   * (read-listed.ts readWholeFiles; `path` relative to the transfer root); undefined without the
   * addon.
   */
  readWholeFiles(files: WholeFile[], into: Uint8Array): Promise<WholeRead[]> | undefined;
}

export interface SourceOutcome {
  summary: Summary;
  /**
   * Failures the destination does not hear of (its Summary lists the rest): sources a move could
   * not remove.
   */
  failures: Failure[];
}

export function runSourceSide(
  source: LocalSource,
  channel: FrameChannel,
  options: TransferOptions,
  hooks: SourceSideHooks,
): Promise<SourceOutcome> {
  const work = new OwnWork(hooks.watch?.board);
  const served = serveSource(source, channel, options, hooks, work);
  const stalled = hooks.watch?.stalled;
  if (!stalled) return served;
  // A stall ends the session at once, whatever this side was waiting for (the peer is told).
  served.catch(() => {});
  return Promise.race([
    served,
    stalled.catch((error: Error) => {
      channel.fail(error);
      throw error;
    }),
  ]);
}

async function serveSource(
  source: LocalSource,
  channel: FrameChannel,
  options: TransferOptions,
  hooks: SourceSideHooks,
  work: OwnWork,
): Promise<SourceOutcome> {
  const started = nowMs();
  const stats = hooks.stats;
  const move = options.operation === 'move' && !options.dryRun;
  /** Sources a move kept although their copy landed. */
  const failures: Failure[] = [];
  const needs: Need[] = [];
  const rescans: string[] = [];
  /** A move's files and links this session listed: the only ones a Landed frame may remove. */
  const movable = new Set<string>();
  /** The ids asked for so far, as numbers while exact (a set of bigints costs more per need). */
  const askedIds = new Set<number | bigint>();
  /** Entries listed to the destination so far (counted as each listing starts out), and their files' bytes. */
  let entries = 0;
  let bytes = 0;
  /** Bytes of manifest frames the destination's window has room for (ManifestCredit adds to it). */
  let credit = MANIFEST_WINDOW_BYTES;
  let summary: Summary | undefined;
  /** Who waits for the next frame (or the end): the walk, for credit; the loop serving needs. */
  let wakers: (() => void)[] = [];
  const wakeUp = () => {
    const waiting = wakers;
    wakers = [];
    for (const wake of waiting) wake();
  };
  const scratch = Buffer.allocUnsafe(CHUNK_BYTES);
  const records = new RecordSender(work);
  hooks.sockets?.onSocket((socket) => records.attach(socket));
  records.failed.catch((error: Error) => failOnDataPlane(channel, error));
  // Measuring stops when the stream does, whichever way the session ends.
  const measuring = hooks.moreSockets && measureSockets(records, hooks.moreSockets);
  const stopMeasuring = () => clearInterval(measuring);
  channel.closed.then(stopMeasuring, stopMeasuring);
  /** Groups of small files read on the landing threads, as the stall detector sees them. */
  const reads = new LandingJobs(work);
  const stopReads = () => reads.close();
  channel.closed.then(stopReads, stopReads);

  /**
   * Where a file the peer asks for lies here, or undefined: only what the walk lists may be sent
   * (in a directory it walked, and passed by the filters), never a file the user excluded, even to
   * a peer that knows its name, size and time.
   */
  const pathOf = (rel: string): string | undefined => {
    if (hooks.single) return source.localPathOf('');
    return source.verdictOf(rel, false) ? source.localPathOf(rel) : undefined;
  };
  /** A file's path as hooks.files name it: relative to the transfer root ('' for a single entry). */
  const filesRel = (rel: string) => (hooks.single ? '' : rel);

  /** A move's source whose copy landed, removed; a failure says the source was kept. */
  const removeLanded = (rel: string): Failure | undefined => {
    if (!hooks.files) return source.remove(rel);
    try {
      hooks.files.remove(filesRel(rel));
      return undefined;
    } catch (error) {
      return { path: rel, reason: sourceKeptReason(error) };
    }
  };

  channel.onFrame((frame) => {
    const body = frame.body;
    switch (body?.$case) {
      case 'needBatch':
        if (needs.length + body.value.needs.length > MAX_NEEDS_QUEUED)
          throw new ProtocolError('too many needs outstanding');
        for (const need of body.value.needs) {
          checkPeerRel(need.path, 'need');
          const id = need.fileId <= MAX_EXACT_ID ? Number(need.fileId) : need.fileId;
          if (askedIds.has(id)) throw new ProtocolError(`file ${need.fileId} asked for twice`);
          askedIds.add(id);
          if (askedIds.size > entries + ASKED_BEYOND_LISTED)
            throw new ProtocolError(`more files asked for than the ${entries} entries listed`);
          needs.push(need);
        }
        wakeUp();
        break;
      case 'manifestCredit': {
        const granted = body.value.bytes;
        // Only for frames it took: never more than the window, never nothing.
        if (granted === 0 || credit + granted > MANIFEST_WINDOW_BYTES)
          throw new ProtocolError('manifest credit for batches not sent');
        credit += granted;
        wakeUp();
        break;
      }
      case 'landed': {
        if (!move) throw new ProtocolError('landed entries outside a move');
        // Removed here, on this thread, while the loop may wait for the peer: this side's own work.
        const paths = body.value.paths;
        const more = paths.length > 1 ? ` and ${paths.length - 1} more` : '';
        const done = work.start(`move: removing ${showPath(paths[0] ?? '.')}${more}`);
        try {
          for (const rel of paths) {
            checkPeerRel(rel, 'landed');
            // Only what this session listed for the move (and, once it is removed, not again).
            if (!hooks.single && !movable.delete(rel)) continue;
            const failure = removeLanded(rel);
            if (failure) failures.push(failure);
          }
        } finally {
          done();
        }
        break;
      }
      case 'rescan':
        if (options.operation !== 'mirror') throw new ProtocolError('rescan outside a mirror');
        for (const rel of body.value.paths) rescans.push(checkPeerRel(rel, 'rescan'));
        wakeUp();
        break;
      case 'deletionsPending': {
        const ask = hooks.confirmDeletions;
        if (!ask) throw new ProtocolError('deletions pending sent to a peer that cannot be asked');
        const sample = body.value.sample.slice(0, 10).map(peerPath);
        ask(Number(body.value.count), sample).then(
          (confirmed) => channel.send({ $case: 'deletionsConfirm', value: { confirmed } }),
          (error: Error) => channel.fail(error),
        );
        break;
      }
      case 'progress':
        hooks.onProgress?.(body.value);
        break;
      case 'actions':
        hooks.onActions?.(body.value);
        break;
      case 'summary':
        summary = body.value;
        wakeUp();
        break;
      case 'grant':
        if (!hooks.onGrant) throw new ProtocolError('data-plane grant sent to a peer that does not dial');
        hooks.onGrant(body.value);
        break;
      case 'dataRequest':
        // The destination of a pull could not connect the sockets granted: data goes in the stream.
        if (!body.value.unreachable) throw new ProtocolError('data sockets asked of the sending side');
        hooks.sockets?.unavailable();
        break;
      case 'error':
        // The destination's failures come in its Summary; only a fatal one is news here.
        if (body.value.fatal) throw new PeerFailed(peerText(body.value.message));
        break;
      default:
        throw new ProtocolError(`${body?.$case ?? 'empty'} frame from the destination`);
    }
  });
  channel.startHeartbeat(() => ({
    $case: 'progress',
    value: {
      phase: Phase.PHASE_SCAN,
      filesDone: 0n,
      bytesDone: 0n,
      filesTotal: 0n,
      bytesTotal: 0n,
      currentPath: '',
    },
  }));

  let broken: Error | undefined;
  channel.closed.then(
    () => {
      broken ??= summary ? undefined : new PeerEndedEarly('the destination ended the session early');
      wakeUp();
    },
    (error: Error) => {
      broken ??= error;
      wakeUp();
    },
  );
  const check = () => {
    if (broken) throw broken;
  };
  /** The walk's flow of work, beside the main one that serves the needs. */
  const walking = work.flow();
  const nextEvent = (flow = work) =>
    flow.forPeer(
      new Promise<void>((resolve) => {
        wakers.push(resolve);
      }),
    );
  /** The walk waits for the next frame, with nothing of its own in flight: a stall elsewhere names none of it. */
  const walkWaits = () => {
    walking.now('');
    return nextEvent(walking);
  };
  /** Sends a frame; waits, if the stream is full, for the peer to read (not this side's stall). */
  /** Waits, as for the peer, while the stream holds more than it takes (what a send answered). */
  const drained = async (full: Promise<void> | undefined) => {
    if (full) await work.forPeer(full);
  };
  const send = (body: Parameters<FrameChannel['send']>[0]) => drained(channel.send(body));
  /**
   * Sends one manifest frame, encoded, once the destination's window has room for all of it (the
   * needs are served meanwhile by their own loop, serveAll: the destination may be waiting for those
   * files before it takes more).
   */
  const sendManifestFrame = async (frame: Uint8Array) => {
    while (credit < frame.length) {
      check();
      await walkWaits();
    }
    credit -= frame.length;
    const full = channel.sendEncoded(frame);
    if (full) await walking.forPeer(full);
  };
  const manifestFrame = (batch: ManifestBatch) =>
    TransferFrame.encode({ role: channel.role, body: { $case: 'manifest', value: batch } }).finish();
  source.onListing = (rel) => walking.now(`scan: listing ${showPath(rel === '' ? '.' : rel)}`);

  /** Files with other names go with their hard-link group; the destination decides what to keep. */
  const links = new LinkGroupIds();
  /** One listing as manifest batches, counted. */
  const sendListing = async (listing: SourceListing) => {
    // Movable before the destination can hear of them: their files may land (and a Landed frame
    // come back) while this listing's last frame still waits for the stream to drain.
    if (move)
      for (const entry of listing.entries)
        if (entry.kind !== 'dir') movable.add(joinRel(listing.rel, entry.name));
    // Counted before any of it goes: the destination may ask for its files as its first frame lands.
    entries += listing.entries.length;
    for (const batch of toManifestBatches(listing, links)) {
      await sendManifestFrame(manifestFrame(batch));
      check();
    }
    if (stats) countListing(stats, listing.entries);
    for (const entry of listing.entries) if (entry.kind === 'file') bytes += entry.size;
  };
  /**
   * The same for one whose entries the addon encoded (a push's walk): its `entries` are the
   * subdirectories alone (a move, which needs every name, never lists this way).
   */
  const sendEncodedListing = async (listing: SourceListing, encoded: EncodedEntries) => {
    entries += encoded.count;
    for (const frame of toEncodedManifestFrames(listing, encoded, channel.role)) {
      await sendManifestFrame(frame);
      check();
    }
    if (stats) countSizes(stats, encoded.count, encoded.fileSizes);
    for (const size of encoded.fileSizes) bytes += size;
  };
  /** Streams listings as batches. */
  const sendManifest = async (listings: AsyncIterable<SourceListing>) => {
    for await (const listing of listings) {
      check();
      if (listing.encoded) await sendEncodedListing(listing, listing.encoded);
      else await sendListing(listing);
    }
  };
  const manifestComplete = () =>
    channel.send({
      $case: 'manifestComplete',
      value: { scanComplete: source.scanComplete, entries: BigInt(entries), bytes: BigInt(bytes) },
    });

  const sendError = (need: Need, message: string) =>
    send({
      $case: 'error',
      value: {
        code: ErrorCode.ERROR_CODE_IO,
        path: need.path,
        message,
        fatal: false,
        fileId: need.fileId,
        hasFileId: true,
      },
    });

  /** A failure of this side that no file id names, sent to the destination. */
  const sendFailure = (path: string, message: string) =>
    channel.send({
      $case: 'error',
      value: { code: ErrorCode.ERROR_CODE_IO, path, message, fatal: false, fileId: 0n, hasFileId: false },
    });

  /** Sends one needed file (or its hash). Failures go to the destination as that file's error. */
  const serveNeed = async (need: Need) => {
    work.now(`send: ${showPath(need.path)}`);
    const path = pathOf(need.path);
    if (path === undefined) {
      await sendError(need, 'not a file this source listed');
      return;
    }
    let fd: number;
    try {
      fd = hooks.files
        ? hooks.files.openForRead(filesRel(need.path))
        : openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      await sendError(need, `cannot read: ${reasonOf(error)}`);
      return;
    }
    /** The data plane closes the descriptor once the file is out. */
    let handedOver = false;
    try {
      // Checked before it is read: a file swapped for a device or a FIFO is never read at all.
      const opened = openedAsListed(fd, need);
      if (opened === 'changed') {
        await sendError(need, 'changed since it was listed; not copied');
        return;
      }
      const size = Number(need.size);
      // Holes (fewer bytes on disk than the size): zero blocks go as holes, never as zeros.
      const sparse = opened === 'sparse';
      countJob(size);
      if (need.hashFirst && hooks.hasher) {
        const hash = Buffer.from(await hashFdAsync(fd, hooks.hasher, scratch, () => work.beat()), 'hex');
        if (hash.equals(need.destinationHash)) {
          await send({
            $case: 'fileHash',
            value: { fileId: need.fileId, algorithm: 1, hash },
          });
          return;
        }
      }
      if (records.ready) {
        handedOver = true;
        await records.sendFile({
          fileId: need.fileId,
          rel: need.path,
          path,
          fd,
          size,
          sparse,
          listed: need,
        });
      } else await sendFrames(need, path, fd, size, sparse);
    } catch (error) {
      if (!handedOver) await sendError(need, `cannot read: ${reasonOf(error)}`);
      else await dataPlaneFailed(error);
    } finally {
      if (!handedOver) closeSync(fd);
    }
  };

  /** `count` files of `bytes` in all sent (perf history). */
  const countJobs = (count: number, bytes: number) => {
    if (!stats || count === 0) return;
    stats.jobs += count;
    stats.jobBytes += bytes;
    stats.firstByteMs ??= nowMs() - started;
  };
  const countJob = (size: number) => countJobs(1, size);

  /**
   * The data plane failed under a file handed to it: the session ends with the control stream's
   * reason when it has one (the peer's own error, a Ctrl+C), which failOnDataPlane leaves it a
   * moment to bring.
   */
  const dataPlaneFailed = async (error: unknown): Promise<never> => {
    await work.forPeer(channel.closed.catch(() => {}));
    check();
    throw error;
  };

  /**
   * The needs at the head of the queue that go as one group of small files read off the event loop
   * (sendGroup), taken from the queue: files this walk listed, not hashed first, as many as one
   * batch takes (RecordSender.groupTakes), each with where it is read from (its local path, or with
   * hooks.files its path relative to the transfer root, which they resolve). Empty when the first
   * need is not such a file, or without the addon.
   */
  const takeGroup = (): Group => {
    const group: Group = { files: [], members: [] };
    if (!canReadWhole()) return group;
    let bytes = 0;
    for (const need of needs) {
      const size = Number(need.size);
      if ((need.hashFirst && hooks.hasher) || !records.groupTakes(group.files.length, bytes, size)) break;
      const path = pathOf(need.path);
      if (path === undefined) break;
      group.files.push({
        need,
        rel: need.path,
        path: hooks.files ? filesRel(need.path) : path,
        listed: need,
      });
      group.members.push({ fileId: need.fileId, length: size });
      bytes += size;
    }
    needs.splice(0, group.files.length);
    return group;
  };

  /**
   * A group of small files (takeGroup) opened, checked, read, checked again and closed on the
   * addon's threads (read-listed.ts readWholeFiles), where serveNeed's steps make four calls and
   * two awaits per file on the event loop, and sent as one batch (RecordSender.batchGroup). A file
   * not as listed is reported as serveNeed reports it; one not opened goes through serveNeed's own
   * steps (which report why in Node's words).
   */
  const sendGroup = async ({ files, members }: Group) => {
    let answers: WholeRead[] | undefined;
    try {
      answers = await records.batchGroup(members, (into) =>
        // Own work while queued behind other sessions' jobs too (landing-jobs.ts).
        reads.run('read', files, 'file(s)', async () =>
          hooks.files ? hooks.files.readWholeFiles(files, into) : readWholeFiles(files, into),
        ),
      );
    } catch (error) {
      return dataPlaneFailed(error);
    }
    // Counted at once: the files read (or answered FAIL by batchGroup) went as those of one job.
    let sent = 0;
    let sentBytes = 0;
    for (let i = 0; i < files.length; i++) {
      const need = files[i]!.need;
      const answer = answers?.[i];
      if (answer === undefined || answer.kind === 'not-opened') await serveNeed(need);
      else if (answer.kind === 'not-as-listed')
        await sendError(need, 'changed since it was listed; not copied');
      else {
        sent++;
        sentBytes += members[i]!.length;
      }
    }
    countJobs(sent, sentBytes);
    await records.room();
  };

  /** Sends a file as FileData frames inside the session stream (no data plane, or not yet). */
  const sendFrames = async (need: Need, path: string, fd: number, size: number, sparse: boolean) => {
    let offset = 0;
    do {
      const want = Math.min(CHUNK_BYTES, size - offset);
      const n = want === 0 ? 0 : readSync(fd, scratch, 0, want, offset);
      work.beat();
      const last = offset + n >= size;
      if (last) faults.changeSource(path);
      if ((n === 0 && want > 0) || (last && !stillAsListed(fstatSync(fd, { bigint: true }), need))) {
        await sendError(need, 'changed while it was copied; not installed');
        return;
      }
      const hole = sparse && n > 0 && isAllZeros(scratch.subarray(0, n));
      // A copy: the stream may still hold the frame when the scratch buffer is read into again.
      const data = hole ? Buffer.alloc(0) : Buffer.from(scratch.subarray(0, n));
      const full = channel.send({
        $case: 'fileData',
        value: { fileId: need.fileId, offset: BigInt(offset), data, last, holeLength: hole ? BigInt(n) : 0n },
      });
      offset += n;
      if (full) await work.forPeer(full);
      const pause = offset === n && !last ? faults.pause('send', need.path) : undefined;
      if (pause) await Promise.race([pause, channel.closed]);
      check();
    } while (offset < size);
  };

  const serveNeeds = async () => {
    // The first file waits until the data plane is up or known not to be coming.
    if (needs.length > 0 && hooks.sockets)
      await work.forPeer(Promise.race([hooks.sockets.settled, channel.closed]));
    // Groups read on the addon's threads while the next is taken; anything else waits for them.
    const reading: Promise<void>[] = [];
    let groupFailure: { error: unknown } | undefined;
    const settle = async (group: Promise<void> | undefined) => {
      await group;
      if (groupFailure) throw groupFailure.error;
    };
    try {
      while (needs.length > 0) {
        check();
        const group = takeGroup();
        if (group.files.length > 0) {
          reading.push(
            sendGroup(group).catch((error: unknown) => {
              groupFailure ??= { error };
            }),
          );
          if (reading.length >= GROUPS_IN_FLIGHT) await settle(reading.shift());
          continue;
        }
        while (reading.length > 0) await settle(reading.shift());
        const need = needs.shift();
        if (!need) break;
        await serveNeed(need);
      }
      while (reading.length > 0) await settle(reading.shift());
    } finally {
      // The session failed meanwhile: no group outlives it (its reads and fallbacks end first).
      await Promise.allSettled(reading);
    }
    // A batch being packed goes out once nothing more is asked for.
    records.flush();
    work.now('');
  };

  const rescan = async (rel: string) => {
    // A single entry is listed again as it was first (its only listing is the root's).
    if (hooks.single) {
      await sendManifest(source.scan());
      return;
    }
    const parent = parentRel(rel);
    // Only below a directory this walk listed; an entry gone meanwhile is listed as nothing.
    const [entry] = source.hasWalked(parent) ? source.entriesOf(parent, [baseRel(rel)]) : [];
    // Listed again with the verdict the walk gives it: nothing the filters leave out.
    const verdict = entry && source.verdictOf(rel, entry.kind === 'dir');
    if (entry && verdict) await sendManifest(source.scan({ parent, entry: { ...entry, verdict } }));
    else {
      await sendManifestFrame(
        manifestFrame({ directory: parent, entries: [], partial: true, last: true, unreadable: [] }),
      );
    }
  };

  /**
   * The walk: the manifest, then the listings a mirror's destination asks for again. It runs beside
   * serveAll, as a flow of its own, so the destination has the next directories to plan while this
   * side reads files (a push of 20,000 small files took 6% less time than with the needs served
   * between listings, a pull 7%: docs/DECISIONS.md).
   */
  const walk = async () => {
    await sendManifest(source.scan());
    if (stats) stats.scanMs = nowMs() - started;
    manifestComplete();
    channel.send({
      $case: 'sourceDone',
      value: { scanComplete: source.scanComplete, failures: source.failures },
    });
    // The destination sends its Summary once everything it asked for is in: the session is over,
    // whatever came after it (a Ctrl+C racing the finish is reported as the finish).
    while (!summary) {
      check();
      if (rescans.length > 0) {
        // One ManifestComplete answers one Rescan frame, whatever it names.
        for (const rel of rescans.splice(0)) await rescan(rel);
        manifestComplete();
      } else await walkWaits();
    }
  };
  /** The files asked for, sent as they are asked for: the first byte does not wait for the walk. */
  const serveAll = async () => {
    while (!summary) {
      check();
      if (needs.length > 0) await serveNeeds();
      else await nextEvent();
    }
  };
  /**
   * The first of the two to fail ends the other at once: its waits for the peer end (the channel
   * fails), and so do its sends on the data sockets (cut, their waiters failed), as when one flow
   * did both.
   */
  const alongside = (task: Promise<void>) =>
    task.catch((error: Error) => {
      broken ??= error;
      channel.fail(error);
      records.abort(error);
      wakeUp();
      throw error;
    });
  const ended = await Promise.allSettled([
    alongside(walk().finally(() => walking.close())),
    alongside(serveAll()),
  ]);
  for (const end of ended) if (end.status === 'rejected') throw broken ?? end.reason;
  // Every file is in at the destination: the data sockets end.
  stopMeasuring();
  records.end();
  if (move) {
    work.now('move: removing the emptied source directories');
    failures.push(...source.removeEmptyDirectories());
  }
  if (hooks.reportKept) {
    // The destination has sent its Summary, but reads on until this side ends: a pull-move's
    // sources that stayed are reported there (the first many, then a count).
    for (const failure of failures.slice(0, MAX_KEPT_REPORTED)) sendFailure(failure.path, failure.reason);
    if (failures.length > MAX_KEPT_REPORTED) {
      sendFailure('.', `${failures.length - MAX_KEPT_REPORTED} more source(s) kept, not listed`);
    }
  }
  if (stats) stats.totalMs = stats.copyMs = nowMs() - started;
  return { summary: summary!, failures };
}

/**
 * Every half second, the sender's throughput and the machine's idle cores decide whether one more
 * socket is asked for.
 */
function measureSockets(records: RecordSender, more: () => void): NodeJS.Timeout {
  const count = new StreamCount();
  let bytes = records.bytesSent;
  let at = nowMs();
  let cpu = cpuTimes();
  const timer = setInterval(() => {
    const now = nowMs();
    const ms = now - at;
    const cpuNow = cpuTimes();
    const window = {
      bytes: records.bytesSent - bytes,
      ms,
      sockets: records.socketCount,
      spareCores: spareCores(cpu, cpuNow, ms),
    };
    bytes = records.bytesSent;
    at = now;
    cpu = cpuNow;
    if (!records.ready) return;
    if (count.observe(window)) more();
    if (count.settled) clearInterval(timer);
  }, 500);
  timer.unref();
  return timer;
}
