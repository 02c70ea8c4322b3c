/**
 * The EMA predictor: per segment — (filesystem pair, operation, fast path, compare mode) — an
 * exponential moving average of scan time, copy rate and executor start-up, with the error of its
 * own predictions. Its state is rebuilt from the history file at each run, so clearing the history
 * resets it and nothing else needs storing.
 */
import type { CompareMode, Operation } from '../engine/types.js';
import type { FastPath, PerfRecord, Prediction } from './record.js';

/** Weight of the newest run: after 10 runs the oldest weighs 0.7^10 ≈ 3 %. */
export const EMA_ALPHA = 0.3;
/** Copy rates are learnt from runs of at least this many files; fewer measure fixed costs, not a rate. */
export const MIN_FILES_FOR_RATE = 32;

export interface SegmentKey {
  /** `source>destination` file-system types, e.g. `ext4>tmpfs`. */
  fsPair: string;
  operation: Operation;
  fastPath: FastPath;
  compare: CompareMode;
}

export interface SegmentState extends SegmentKey {
  runs: number;
  lastTime: string;
  /** Scan (and diff) milliseconds; milliseconds spent listing the source, per listed entry. */
  scanMs: number;
  listMsPerEntry: number;
  /** Files and bytes copied per run. */
  files: number;
  bytes: number;
  /** Files the latest run copied (absent in states made before it was kept). */
  lastFiles?: number;
  /** Over runs of at least MIN_FILES_FOR_RATE files: files, copy-phase ms, executor start to first batch. */
  rateRuns: number;
  rateFiles: number;
  rateCopyMs: number;
  rateStartMs: number;
  /** Copied bytes per second of copy phase, over runs that copied bytes. */
  bytesPerSec: number;
  /** Mean relative error |predicted − actual| / actual of the scan-time and copy-time predictions. */
  scanError?: number;
  copyError?: number;
}

export function fsPairOf(source: string, destination: string): string {
  return `${source}>${destination}`;
}

export function segmentId(key: SegmentKey): string {
  return `${key.fsPair} ${key.operation} ${key.fastPath} ${key.compare}`;
}

function ema(previous: number, value: number, first: boolean): number {
  return first ? value : previous + EMA_ALPHA * (value - previous);
}

function relativeError(predicted: number, actual: number): number {
  return Math.abs(predicted - actual) / Math.max(actual, 1);
}

/** Milliseconds per copied file over the copy phase, when the segment has learnt a rate. */
export function perFileMs(state: SegmentState): number | undefined {
  return state.rateRuns > 0 ? state.rateCopyMs / state.rateFiles : undefined;
}

/** What a segment expects of its next run. */
export function predictionOf(state: SegmentState): Prediction {
  return {
    scanMs: state.scanMs,
    ...(perFileMs(state) !== undefined ? { perFileMs: perFileMs(state) } : {}),
    ...(state.bytesPerSec > 0 ? { bytesPerSec: state.bytesPerSec } : {}),
  };
}

export class Predictor {
  private readonly segments = new Map<string, SegmentState>();

  static fromRecords(records: Iterable<PerfRecord>): Predictor {
    const predictor = new Predictor();
    for (const record of records) predictor.update(record);
    return predictor;
  }

  /** Learns from one finished run; dry runs and fatal runs teach nothing about speed. */
  update(record: PerfRecord): void {
    if (record.dryRun || record.outcome === 'fatal') return;
    const key: SegmentKey = {
      fsPair: fsPairOf(record.fs.source, record.fs.destination),
      operation: record.operation,
      fastPath: record.fastPath,
      compare: record.compare,
    };
    const id = segmentId(key);
    const previous = this.segments.get(id);
    const state: SegmentState = previous ?? {
      ...key,
      runs: 0,
      lastTime: record.time,
      scanMs: 0,
      listMsPerEntry: 0,
      files: 0,
      bytes: 0,
      rateRuns: 0,
      rateFiles: 0,
      rateCopyMs: 0,
      rateStartMs: 0,
      bytesPerSec: 0,
    };
    const first = state.runs === 0;
    const { timing, copied } = record;
    if (!first)
      state.scanError = ema(
        state.scanError ?? 0,
        relativeError(state.scanMs, timing.scanMs),
        state.scanError === undefined,
      );
    state.scanMs = ema(state.scanMs, timing.scanMs, first);
    state.listMsPerEntry = ema(
      state.listMsPerEntry,
      (timing.listMs ?? timing.scanMs) / Math.max(record.workload.entries, 1),
      first,
    );
    state.files = ema(state.files, copied.files, first);
    state.bytes = ema(state.bytes, copied.bytes, first);
    if (copied.files >= MIN_FILES_FOR_RATE) {
      const rate = perFileMs(state);
      if (rate !== undefined) {
        const error = relativeError(rate * copied.files, timing.copyMs);
        state.copyError = ema(state.copyError ?? 0, error, state.copyError === undefined);
      }
      const firstRate = state.rateRuns === 0;
      state.rateFiles = ema(state.rateFiles, copied.files, firstRate);
      state.rateCopyMs = ema(state.rateCopyMs, timing.copyMs, firstRate);
      state.rateStartMs = ema(state.rateStartMs, timing.startMs ?? 0, firstRate);
      state.rateRuns++;
    }
    if (record.bytesPerSec > 0)
      state.bytesPerSec = ema(state.bytesPerSec, record.bytesPerSec, state.bytesPerSec === 0);
    state.lastFiles = copied.files;
    state.runs++;
    state.lastTime = record.time;
    this.segments.set(id, state);
  }

  get(key: SegmentKey): SegmentState | undefined {
    return this.segments.get(segmentId(key));
  }

  /** Every segment, most recently used first. */
  states(): SegmentState[] {
    return [...this.segments.values()].sort(newestFirst);
  }

  /** The segments a run with this file-system pair, operation and compare mode may choose between. */
  lookup(fsPair: string, operation: Operation, compare: CompareMode): PlanHistory {
    const of = (fastPath: FastPath) => this.get({ fsPair, operation, fastPath, compare });
    return { inline: of('inline'), pool: of('pool'), none: of('none') };
  }
}

/** What history knows about the runs like the one about to start, one segment per fast path. */
export interface PlanHistory {
  inline?: SegmentState;
  pool?: SegmentState;
  none?: SegmentState;
}

/**
 * Most recent first. A run's time is isoTime's fixed-width UTC text (util/clock.ts), which sorts as
 * plain text; localeCompare started ICU's collator, ~7 ms of every run with a history to consult.
 */
function newestFirst(a: SegmentState, b: SegmentState): number {
  return a.lastTime < b.lastTime ? 1 : a.lastTime > b.lastTime ? -1 : 0;
}

/** The most recently used of these segments (the first of equals); undefined without one. */
export function newest(...states: (SegmentState | undefined)[]): SegmentState | undefined {
  let best: SegmentState | undefined;
  for (const state of states) if (state && (!best || state.lastTime > best.lastTime)) best = state;
  return best;
}

/** Files the latest run like this one copied, whichever fast path it took; undefined without one. */
export function lastCopiedFiles(history: PlanHistory): number | undefined {
  return newest(history.inline, history.pool, history.none)?.lastFiles;
}
