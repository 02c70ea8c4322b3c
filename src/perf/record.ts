/**
 * One line of the performance history: what a transfer did and how long each part took.
 * Versioned: a reader skips lines of a schema it does not know, so a newer blit never breaks an
 * older one sharing the same file.
 */
import type { CompareMode, Operation } from '../engine/types.js';

export const PERF_SCHEMA_VERSION = 1;

export type FastPath = 'none' | 'inline' | 'pool';
export type Outcome = 'ok' | 'partial' | 'fatal';

/** What the predictor expected of this run before it started (absent without history). */
export interface Prediction {
  scanMs: number;
  /** Milliseconds per copied file over the copy phase (after the executor started). */
  perFileMs?: number;
  bytesPerSec?: number;
}

export interface PerfRecord {
  v: typeof PERF_SCHEMA_VERSION;
  /** ISO-8601 time the run ended. */
  time: string;
  operation: Operation;
  compare: CompareMode;
  dryRun: boolean;
  /** Workload signature: entries listed, files among them, their bytes, files per size bucket. */
  workload: { entries: number; files: number; bytes: number; sizeHistogram: number[] };
  /**
   * Files copied (handed to the executor) and their bytes; wholeDirs: directories taken whole by
   * the copy threads (engine/whole-dirs.ts; absent in older records).
   */
  copied: { files: number; bytes: number; wholeDirs?: number };
  fs: { source: string; destination: string };
  fastPath: FastPath;
  /** The execution plan the run used; `fromHistory` when the predictor chose it. */
  plan: {
    inlineFiles: number;
    inlineBytes: number;
    workers: number;
    batchFiles: number;
    batchBytes: number;
    fromHistory: boolean;
  };
  /**
   * Milliseconds: scan (and diff, with any waits for copies), listing the source alone, first file
   * landed, copy phase, executor start to first batch, whole run.
   */
  timing: {
    scanMs: number;
    listMs?: number;
    firstByteMs: number | null;
    copyMs: number;
    startMs: number | null;
    totalMs: number;
  };
  /** Copied bytes per second of copy phase (0 when nothing was copied). */
  bytesPerSec: number;
  /** Stall events: the stall detector ended the run. */
  stalls: number;
  /** Entries whose xattrs were left unread on both sides: unchanged since the last clean run (perf/xattr-mark.ts). */
  xattrsUnread?: number;
  /** Directories of a peer's listing found as listed at the destination, none of their entries planned. */
  unchangedDirs?: number;
  /** Small files of directories the session made, landed from a table (transport/stream/fresh-files.ts). */
  freshFiles?: number;
  outcome: Outcome;
  predicted: Prediction | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numbers(value: unknown, keys: string[]): boolean {
  return (
    isObject(value) && keys.every((key) => typeof value[key] === 'number' && Number.isFinite(value[key]))
  );
}

/** A history line as a record, or undefined when it is corrupt, truncated or of another schema. */
export function parseRecord(line: string): PerfRecord | undefined {
  if (line.length === 0 || line[0] !== '{') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObject(value) || value.v !== PERF_SCHEMA_VERSION) return undefined;
  const ok =
    typeof value.time === 'string' &&
    typeof value.operation === 'string' &&
    typeof value.compare === 'string' &&
    typeof value.fastPath === 'string' &&
    typeof value.outcome === 'string' &&
    isObject(value.fs) &&
    typeof value.fs.source === 'string' &&
    typeof value.fs.destination === 'string' &&
    numbers(value.workload, ['entries', 'files', 'bytes']) &&
    numbers(value.copied, ['files', 'bytes']) &&
    numbers(value.timing, ['scanMs', 'copyMs', 'totalMs']) &&
    typeof value.bytesPerSec === 'number';
  return ok ? (value as unknown as PerfRecord) : undefined;
}

export function serializeRecord(record: PerfRecord): string {
  return `${JSON.stringify(record)}\n`;
}
