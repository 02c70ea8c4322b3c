/**
 * The destination half of a remote session, driven by frames: the blitd of a push, the blit of a
 * pull. It runs the one session loop (engine/session.ts) with the local destination role, the peer's
 * manifest as the source role (remote-source.ts) and the peer's data as the data path
 * (peer-data.ts); it hands each frame to the one of them it belongs to, asks the peer to confirm a
 * push-mirror's deletions, and ends the session with a Summary.
 */

import { lstatSync } from 'node:fs';
import { type FidelityReport, toWireFidelity } from '../../engine/fidelity.js';
import type { DeletionCandidate, LocalDestination } from '../../engine/local-destination.js';
import type { Progress } from '../../engine/progress.js';
import { runTransfer } from '../../engine/session.js';
import type { SessionStats } from '../../engine/session-stats.js';
import type { StallWatching } from '../../engine/stall-watch.js';
import type { Action, Failure, TransferOptions } from '../../engine/types.js';
import type { ParentDir } from '../../fsops/destination-fs.js';
import type { HasherFactory } from '../../fsops/hash.js';
import { baseRel } from '../../fsops/rel-path.js';
import { type DataPlaneGrant, Phase, type Summary, type TransferFrame } from '../../generated/blit.js';
import { ProtocolError } from '../../protocol/manifest-wire.js';
import { sameAsListed, sameAsListedLater } from '../../protocol/native-manifest.js';
import { peerText } from '../../protocol/peer-text.js';
import { type FrameChannel, PeerEndedEarly, PeerFailed } from '../frame-channel.js';
import { OwnWork } from '../own-work.js';
import type { SharedBudget } from '../tcp/byte-budget.js';
import type { SessionSockets } from '../tcp/session-sockets.js';
import { takeFreshFiles } from './fresh-files.js';
import { receiveFromPeer } from './peer-data.js';
import { RemoteSource } from './remote-source.js';

export interface DestinationSideHooks {
  /** The daemon's budget of bytes held by all its sessions together (absent: this session's alone). */
  sharedBudget?: SharedBudget;
  /**
   * Asked once, with every deletion a mirror is about to make; false withholds them all. Absent:
   * the peer (a push's initiator) is asked with DeletionsPending and answers DeletionsConfirm.
   */
  confirmDeletions?(candidates: DeletionCandidate[]): Promise<boolean>;
  onAction?(action: Action): void;
  /**
   * Whether each file's action is listed (the client asked for them): then every file is planned
   * and reported by name, and none is taken in a table (transport/stream/fresh-files.ts).
   */
  listsActions: boolean;
  /** Files copied without an action each (a table's, fresh-files.ts): how many. */
  onCopied?(count: number): void;
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
  /**
   * The stall detector (engine/stall-watch.ts): its board, which this side's own work beats
   * (own-work.ts), and its verdict, which ends the session.
   */
  watch?: StallWatching;
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
  const started = Date.now();
  const progress = hooks.progress;
  const work = new OwnWork(hooks.watch?.board);
  const compared = {
    // The set-ID bits a daemon drops from what it receives: a file here with them is changed.
    refusedFileModes: hooks.stripSetId ? 0o6000 : 0,
    numericIds: options.preserve?.numericIds ?? false,
  };
  const source = new RemoteSource(channel, destination.filter, {
    singleName: hooks.singleName,
    stripSetId: hooks.stripSetId,
    numericIds: compared.numericIds,
    work,
    unchanged: (rel, verdict, entries) =>
      destination.mayFindUnchanged(rel)
        ? sameAsListed(destination.pathOf(rel), verdict, entries, compared)
        : undefined,
    unchangedLater: (rel, verdict, entries) => {
      // Not the root (one directory), and not by pathOf, which would keep the parent open as it is
      // now: the session's plans may yet replace what stands there (stillUnchanged checks).
      if (rel === '' || !destination.mayFindUnchanged(rel)) return undefined;
      let parent: ParentDir | undefined;
      try {
        parent = destination.fs.parentOf(rel);
        return parent && sameAsListedLater(parent.path(baseRel(rel)), verdict, entries, compared);
      } catch {
        return undefined; // not beneath the module now: the walk says why
      } finally {
        parent?.close();
      }
    },
    fresh: hooks.listsActions
      ? undefined
      : (rel, entries) =>
          destination.takesFreshFiles(rel)
            ? takeFreshFiles(entries, rel, {
                stripSetId: hooks.stripSetId ?? false,
                numericIds: compared.numericIds,
                giveOwners: destination.owners,
                keep: destination.keptXattrs,
              })
            : undefined,
    stillUnchanged: (rel, found) => {
      if (!destination.mayFindUnchanged(rel)) return false;
      try {
        const now = lstatSync(destination.pathOf(rel), { bigint: true, throwIfNoEntry: false });
        return now?.isDirectory() === true && now.dev === found.dev && now.ino === found.ino;
      } catch {
        return false;
      }
    },
  });
  const data = receiveFromPeer(destination, channel, {
    sharedBudget: hooks.sharedBudget,
    hasher: hooks.hasher,
    sockets: hooks.sockets,
    stats: hooks.stats,
    work,
  });
  let waitingForConfirm: ((confirmed: boolean) => void) | undefined;

  channel.onFrame((frame) => {
    const body = frame.body;
    switch (body?.$case) {
      case 'manifest':
      case 'manifestComplete':
      case 'sourceDone':
        source.take(body);
        break;
      case 'fileData':
        data.onFileData(body.value);
        break;
      case 'fileHash':
        data.onFileHash(body.value);
        break;
      case 'deletionsConfirm': {
        const answer = waitingForConfirm;
        if (!answer) throw new ProtocolError('deletions confirmed, but none were pending');
        waitingForConfirm = undefined;
        answer(body.value.confirmed);
        break;
      }
      case 'error':
        if (body.value.fatal) throw new PeerFailed(peerText(body.value.message));
        if (body.value.hasFileId) data.onFileError(body.value);
        else source.failed(body.value.path, body.value.message);
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
    // A heartbeat too: whatever failed a file without a frame of its own still wakes the session.
    data.settle();
  });
  channel.startHeartbeat(() => progressFrame(progress));

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

  try {
    const report = await runTransfer(source, destination, data, options, {
      onAction: hooks.onAction,
      onCopied: hooks.onCopied,
      confirmDeletions: hooks.confirmDeletions ?? askPeer,
      progress,
      stats: hooks.stats,
      board: hooks.watch?.board,
      stalled: hooks.watch?.stalled,
      ending: () => hooks.watch?.stop(),
    });
    const outcome: DestinationOutcome = {
      copied: report.copied,
      skipped: report.skipped,
      updated: report.updated,
      deleted: report.deleted,
      bytes: report.bytes,
      scanComplete: report.scanComplete,
      deletionsWithheld: report.deletionsWithheld,
      // This side's failures first, then those the source reported (the session lists the
      // source's first): a Summary carries what fits in 2 MiB, from the start.
      failures: [...report.failures.slice(source.failures.length), ...source.failures],
      fidelity: report.fidelity ?? destination.fidelity.report(),
    };
    source.sendLanded();
    hooks.beforeSummary?.();
    channel.send({ $case: 'summary', value: summaryOf(outcome, Date.now() - started) });
    return outcome;
  } catch (error) {
    // A peer's frame that the session could not take (checked as the session reads it) ends the
    // stream as a frame refused on arrival does.
    channel.fail(error as Error);
    throw error;
  } finally {
    waitingForConfirm = undefined;
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
