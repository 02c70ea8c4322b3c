/**
 * Perf history around one transfer: before it, the predictor's plan; after it, one record appended.
 * History can only ever help: any error reading or writing it leaves the defaults and the run alone.
 */
import { defaultPlan, type ExecutionPlan } from '../engine/execution-plan.js';
import type { SessionStats } from '../engine/session-stats.js';
import type { CompareMode, Operation } from '../engine/types.js';
import { isoTime } from '../util/clock.js';
import { chooseExecutionPlan } from './choose-plan.js';
import { type Env, historyPath } from './config-paths.js';
import { fsTypeOf } from './fs-type.js';
import { HistoryStore } from './history-store.js';
import { fsPairOf, lastCopiedFiles, type PlanHistory, Predictor, predictionOf } from './predictor.js';
import { type Outcome, PERF_SCHEMA_VERSION, type PerfRecord } from './record.js';
import { historyEnabled } from './settings.js';

export interface RunDescription {
  source: string;
  destination: string;
  operation: Operation;
  compare: CompareMode;
  dryRun: boolean;
  /**
   * A remote session: the side on the other machine, named by its peer (`blitd HOST:PORT` on the
   * client, `blit ADDRESS` on the daemon) instead of a file-system type, so remote runs form
   * segments of their own.
   */
  peer?: { side: 'source' | 'destination'; name: string };
}

export interface PerfRun {
  /** The plan the session should run with. */
  readonly plan: ExecutionPlan;
  /**
   * Files the latest run like this one (same file systems or peer, operation and compare mode)
   * copied; undefined when history has none, or is off.
   */
  readonly lastCopied?: number;
  /** Receives the session's measurements (SessionHooks.onStats). */
  onStats(stats: SessionStats): void;
  /**
   * Appends the run's record (nothing when history is off or the session never reported); `error`
   * is what ended a fatal run (a stall counts as a stall event).
   */
  finish(outcome: Outcome, error?: unknown): void;
}

function debug(error: unknown): void {
  if (process.env.BLIT_DEBUG) process.stderr.write(`blit: perf history: ${String(error)}\n`);
}

const round = (value: number) => Math.round(value * 100) / 100;

/**
 * The predictor reads the newest 60 records of this run's segments, found in the last 64 KiB:
 * with EMA_ALPHA = 0.3 a run 20 runs back weighs 0.7^20 ≈ 0.08 %, and parsing a whole 1 MB
 * history took 11–50 ms at start-up.
 */
export const PREDICTOR_TAIL_BYTES = 64 * 1024;
export const PREDICTOR_RECORDS = 60;

/**
 * Text every record of this run's segments contains (JSON.stringify keeps buildRecord's key
 * order), so the other lines are passed over without being parsed.
 */
export function segmentNeedles(run: RunDescription, fs: { source: string; destination: string }): string[] {
  return [
    JSON.stringify({ operation: run.operation, compare: run.compare }).slice(1, -1),
    JSON.stringify({ fs }).slice(1, -1),
  ];
}

export function buildRecord(
  run: RunDescription,
  fs: { source: string; destination: string },
  plan: ExecutionPlan & { fromHistory: boolean },
  stats: SessionStats,
  outcome: Outcome,
  history: PlanHistory,
  stalls = 0,
  timeMs = Date.now(),
): PerfRecord {
  const predicted = stats.executor === 'none' ? history.none : history[stats.executor];
  return {
    v: PERF_SCHEMA_VERSION,
    time: isoTime(timeMs),
    operation: run.operation,
    compare: run.compare,
    dryRun: run.dryRun,
    workload: {
      entries: stats.entries,
      files: stats.files,
      bytes: stats.bytes,
      sizeHistogram: stats.sizeHistogram,
    },
    copied: { files: stats.jobs, bytes: stats.jobBytes, wholeDirs: stats.wholeDirs },
    fs,
    fastPath: stats.executor,
    plan: {
      inlineFiles: plan.inlineFiles,
      inlineBytes: plan.inlineBytes,
      workers: stats.workers,
      batchFiles: plan.batchFiles,
      batchBytes: plan.batchBytes,
      fromHistory: plan.fromHistory,
    },
    timing: {
      scanMs: round(stats.scanMs),
      listMs: round(stats.listMs),
      firstByteMs: stats.firstByteMs === undefined ? null : round(stats.firstByteMs),
      copyMs: round(stats.copyMs),
      startMs: stats.executorStartMs === undefined ? null : round(stats.executorStartMs),
      totalMs: round(stats.totalMs),
    },
    bytesPerSec: stats.copyMs > 0 ? Math.round((stats.jobBytes * 1000) / stats.copyMs) : 0,
    stalls,
    xattrsUnread: stats.xattrsUnread,
    unchangedDirs: stats.unchangedDirs,
    freshFiles: stats.freshFiles,
    outcome,
    predicted: predicted ? predictionOf(predicted) : null,
  };
}

const OFF: PerfRun = { plan: defaultPlan(), onStats() {}, finish() {} };

export function startPerfRun(run: RunDescription, env: Env = process.env): PerfRun {
  try {
    if (!historyEnabled(env)) return OFF;
    const fsOf = (side: 'source' | 'destination') =>
      run.peer?.side === side ? run.peer.name : fsTypeOf(side === 'source' ? run.source : run.destination);
    const fs = { source: fsOf('source'), destination: fsOf('destination') };
    const store = new HistoryStore(historyPath(env));
    const history = Predictor.fromRecords(
      store.read({
        tailBytes: PREDICTOR_TAIL_BYTES,
        only: segmentNeedles(run, fs),
        newest: PREDICTOR_RECORDS,
      }).records,
    ).lookup(fsPairOf(fs.source, fs.destination), run.operation, run.compare);
    const plan = chooseExecutionPlan(history, defaultPlan());
    let stats: SessionStats | undefined;
    return {
      plan,
      lastCopied: lastCopiedFiles(history),
      onStats(measured) {
        stats = measured;
      },
      finish(outcome, error) {
        if (!stats) return;
        const stalls = error instanceof Error && error.name === 'StallError' ? 1 : 0;
        try {
          store.append(buildRecord(run, fs, plan, stats, outcome, history, stalls));
        } catch (error) {
          debug(error);
        }
      },
    };
  } catch (error) {
    debug(error);
    return OFF;
  }
}
