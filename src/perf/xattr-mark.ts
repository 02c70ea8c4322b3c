/**
 * The xattr mark: what lets a re-run of a local copy or mirror skip reading the xattrs and ACLs of
 * entries that changed on neither side since the last run that found both trees equal.
 *
 * Reading them costs one llistxattr per entry and side: on a converged mirror of 20,000 files,
 * 40,000 calls, 45 ms of 273 ms here (docs/DECISIONS.md). Whatever changes an inode's xattrs or
 * ACLs also moves its change time (ctime), which no call can set: only the kernel's clock does.
 * So after a clean run that started at T, an entry changed before T on both sides is as that run
 * found it: equal. The next run reads xattrs only where either side changed since (the whole-
 * directory jobs: native/listing.h XattrReads), and compares those.
 *
 * Guards:
 * - T is taken MARGIN_MS before the run started (timestamps lag the clock by up to a tick) and, for
 *   the source, no later than the latest change time its listings showed: a snapshot mounted as
 *   the source holds changes only up to its own making, which may be long before the run.
 * - Only local file systems count (native LocalChangeTimes): elsewhere ctime comes from another
 *   machine's clock; there every entry is read.
 * - At the end of the run the destination's root gets its change time moved (chmod to its own mode)
 *   and recorded; a destination whose root has another one at the next run (rolled back to a
 *   snapshot, replaced, changed at its top) gets no mark. Nor does a source whose root's change
 *   time went back.
 * - Only a run that ended with nothing failed (no xattr or ACL refused either), in the default
 *   compare mode, not a dry run, with the addon, records a mark; it is keyed by both real paths,
 *   their roots' device and inode, the operation, filters and kinds kept, so no other job's mark
 *   applies. `-c` and `--ignore-times` read every entry's xattrs.
 * What the mark cannot see: a source put back in place to an older state (whose root did not
 * change) where an entry's xattrs alone differ from the last run's; `-c` reads them all.
 *
 * Any error reading or writing the marks leaves the run to read everything.
 */
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { FidelityReport } from '../engine/fidelity.js';
import type { CompareMode, FilterSpec, Operation } from '../engine/types.js';
import { configDir, type Env } from './config-paths.js';

/** How long before a run's start its mark begins: timestamps lag the wall clock by a tick (≤ 10 ms). */
export const MARGIN_MS = 100;
/** Marks kept (the newest used): one per job a user repeats. */
export const MARKS_KEPT = 256;

export interface XattrMarkJob {
  source: string;
  destination: string;
  operation: Operation;
  compare: CompareMode;
  dryRun: boolean;
  filter: FilterSpec;
  /** The xattr kinds kept (fsops/xattrs.ts keepMask); 0: none, no mark. */
  keepXattrs: number;
  /** Whether the addon reads xattrs at all (without it none are read, so none are verified). */
  native: boolean;
}

/** Entries changed before these times (ms since the epoch) need not have their xattrs read. */
export interface UnchangedBefore {
  sourceMs: number;
  destinationMs: number;
}

/** One job's mark, as stored. Root change times in nanoseconds, as decimal strings. */
export interface Mark extends UnchangedBefore {
  sourceRootCtimeNs: string;
  destinationRootCtimeNs: string;
  usedMs: number;
}

export interface RootState {
  dev: bigint;
  ino: bigint;
  ctimeNs: bigint;
}

/** The mark that applies now, if the roots show nothing that could have put older states in place. */
export function markThatApplies(
  mark: Mark | undefined,
  source: RootState,
  destination: RootState,
): UnchangedBefore | undefined {
  if (!mark) return undefined;
  if (destination.ctimeNs !== BigInt(mark.destinationRootCtimeNs)) return undefined;
  if (source.ctimeNs < BigInt(mark.sourceRootCtimeNs)) return undefined;
  return { sourceMs: mark.sourceMs, destinationMs: mark.destinationMs };
}

/** The times a clean run that started at `startedMs` leaves for the next one. */
export function nextMarkTimes(startedMs: number, sourceCtimeMaxMs: number): UnchangedBefore {
  const before = startedMs - MARGIN_MS;
  return { sourceMs: Math.min(before, sourceCtimeMaxMs), destinationMs: before };
}

/** Whether a run's end lets it record a mark: nothing failed, xattrs and ACLs included. */
export function endedClean(failed: number, fidelity: FidelityReport | undefined): boolean {
  return failed === 0 && !fidelity?.xattrs?.failed && !fidelity?.acls?.failed;
}

/**
 * FNV-1a, 64 bits, of the text's UTF-8 bytes: the marks file names no path. Not node:crypto, which
 * a local run does not load otherwise (it costs ~190 page faults, 3 ms, at start-up here).
 */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8'))
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16).padStart(16, '0');
}

export function markKey(
  job: XattrMarkJob,
  source: RootState,
  destination: RootState,
  real: [string, string],
): string {
  const { operation, compare, filter, keepXattrs } = job;
  const identity = [1, real, `${source.dev}:${source.ino}`, `${destination.dev}:${destination.ino}`];
  return fnv1a64(JSON.stringify([...identity, operation, compare, keepXattrs, filter]));
}

type Marks = Record<string, Mark>;

function readMarks(path: string): Marks {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const marks = (parsed as { v?: number; marks?: unknown }).marks;
    if ((parsed as { v?: number }).v === 1 && marks && typeof marks === 'object') return marks as Marks;
  } catch {}
  return {};
}

/** With `key` set, the newest MARKS_KEPT, written to a temp file renamed over the old one. */
function writeMark(path: string, key: string, mark: Mark): void {
  const marks = readMarks(path);
  marks[key] = mark;
  const kept = Object.entries(marks)
    .filter(([, value]) => typeof value?.usedMs === 'number')
    .sort((a, b) => b[1].usedMs - a[1].usedMs)
    .slice(0, MARKS_KEPT);
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ v: 1, marks: Object.fromEntries(kept) })}\n`);
  renameSync(temp, path);
}

function rootState(path: string): RootState {
  const stats = statSync(path, { bigint: true });
  return { dev: stats.dev, ino: stats.ino, ctimeNs: stats.ctimeNs };
}

export function marksPath(env: Env = process.env): string {
  return join(configDir(env), 'xattr_marks.json');
}

export interface XattrMarkRun {
  /** Where a run may leave xattrs unread (absent: read them all). */
  readonly unchangedBefore?: UnchangedBefore;
  /**
   * After the run: records this run's mark when it ended clean; `sourceCtimeMaxMs`: the latest
   * change time the source's listings showed (SessionStats).
   */
  finish(clean: boolean, sourceCtimeMaxMs: number | undefined): void;
}

const NONE: XattrMarkRun = { finish() {} };

function debug(error: unknown): void {
  if (process.env.BLIT_DEBUG) process.stderr.write(`blit: xattr mark: ${String(error)}\n`);
}

export function startXattrMark(job: XattrMarkJob, env: Env = process.env, nowMs = Date.now): XattrMarkRun {
  const eligible =
    job.native &&
    job.keepXattrs !== 0 &&
    job.compare === 'default' &&
    !job.dryRun &&
    (job.operation === 'copy' || job.operation === 'mirror');
  if (!eligible) return NONE;
  const startedMs = nowMs();
  const path = marksPath(env);
  let unchangedBefore: UnchangedBefore | undefined;
  let sourceRoot: RootState | undefined;
  let real: [string, string] | undefined;
  try {
    real = [realpathSync(job.source), realpathSync(job.destination)];
    sourceRoot = rootState(real[0]);
    const destinationRoot = rootState(real[1]);
    unchangedBefore = markThatApplies(
      readMarks(path)[markKey(job, sourceRoot, destinationRoot, real)],
      sourceRoot,
      destinationRoot,
    );
  } catch (error) {
    // A destination that does not exist yet has no mark; its first run may leave one.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') debug(error);
  }
  return {
    unchangedBefore,
    finish(clean, sourceCtimeMaxMs) {
      if (!clean) return;
      try {
        real ??= [realpathSync(job.source), realpathSync(job.destination)];
        sourceRoot ??= rootState(real[0]);
        const before = statSync(real[1], { bigint: true });
        // A set-group-ID directory chmod'ed by someone not in its group would lose the bit: not
        // touched (and no mark) unless root.
        if ((before.mode & 0o2000n) !== 0n && process.geteuid?.() !== 0) return;
        // Moves the root's change time: a destination put back to any state before now shows it.
        chmodSync(real[1], Number(before.mode & 0o7777n));
        const destinationRoot = rootState(real[1]);
        if (destinationRoot.ino !== before.ino) return;
        const latest = Math.max(sourceCtimeMaxMs ?? 0, Number(sourceRoot.ctimeNs / 1_000_000n));
        const mark: Mark = {
          ...nextMarkTimes(startedMs, latest),
          sourceRootCtimeNs: String(sourceRoot.ctimeNs),
          destinationRootCtimeNs: String(destinationRoot.ctimeNs),
          usedMs: nowMs(),
        };
        writeMark(path, markKey(job, sourceRoot, destinationRoot, real), mark);
      } catch (error) {
        debug(error);
      }
    },
  };
}
