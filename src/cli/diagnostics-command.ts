/**
 * `blit diagnostics perf`: the local performance history — recent runs, the predictor's state and
 * error, the plan it would choose next — and switches to turn recording off, on, or erase it.
 */
import { defaultPlan } from '../engine/execution-plan.js';
import { chooseExecutionPlan } from '../perf/choose-plan.js';
import { type Env, historyPath, settingsPath } from '../perf/config-paths.js';
import { HistoryStore } from '../perf/history-store.js';
import { type PlanHistory, Predictor, perFileMs, type SegmentState, segmentId } from '../perf/predictor.js';
import type { PerfRecord } from '../perf/record.js';
import { disabledByEnv, readSettings, writeSettings } from '../perf/settings.js';
import { BlitError, reasonOf, showPath } from '../util/errors.js';
import { formatBytes, formatDuration } from '../util/human.js';

export interface DiagnosticsPerfFlags {
  limit?: string;
  json?: boolean;
  enable?: boolean;
  disable?: boolean;
  clear?: boolean;
}

export const DEFAULT_LIMIT = 20;

export function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(text.trim())) throw new BlitError(`--limit ${JSON.stringify(text)}: not a whole number`);
  return Number(text.trim());
}

const ms = (value: number | null | undefined) => (value == null ? '-' : formatDuration(value));
const pct = (value: number | undefined) => (value === undefined ? '-' : `${Math.round(value * 100)}%`);
const rate = (bytesPerSec: number) => (bytesPerSec > 0 ? `${formatBytes(Math.round(bytesPerSec))}/s` : '-');

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => `  ${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`.trimEnd())
    .join('\n');
}

export function runRows(records: PerfRecord[]): string[][] {
  const rows = [
    ['time', 'operation', 'fs', 'path', 'files', 'copied', 'scan', '1st byte', 'copy', 'rate', 'outcome'],
  ];
  for (const r of records) {
    rows.push([
      r.time.replace('T', ' ').slice(0, 19),
      `${r.operation}${r.compare === 'default' ? '' : ` ${r.compare}`}${r.dryRun ? ' -n' : ''}`,
      `${r.fs.source}>${r.fs.destination}`,
      r.fastPath,
      String(r.workload.files),
      `${r.copied.files} / ${formatBytes(r.copied.bytes)}`,
      ms(r.timing.scanMs),
      ms(r.timing.firstByteMs),
      ms(r.timing.copyMs),
      rate(r.bytesPerSec),
      r.outcome,
    ]);
  }
  return rows;
}

function segmentRows(states: SegmentState[]): string[][] {
  const rows = [['segment', 'runs', 'scan', 'error', 'copy/file', 'error', 'rate', 'start']];
  for (const s of states) {
    const perFile = perFileMs(s);
    rows.push([
      segmentId(s),
      String(s.runs),
      ms(s.scanMs),
      pct(s.scanError),
      perFile === undefined ? '-' : `${perFile.toPrecision(2)} ms`,
      pct(s.copyError),
      rate(s.bytesPerSec),
      s.fastPath === 'pool' && s.rateRuns > 0 ? ms(s.rateStartMs) : '-',
    ]);
  }
  return rows;
}

interface PlanGroup {
  group: string;
  plan: ReturnType<typeof chooseExecutionPlan>;
}

/** The plan the next run would get, for each (file-system pair, operation, compare mode) seen. */
function nextPlans(predictor: Predictor): PlanGroup[] {
  const seen = new Map<string, PlanHistory>();
  for (const s of predictor.states()) {
    const group = `${s.fsPair} ${s.operation} ${s.compare}`;
    if (!seen.has(group)) seen.set(group, predictor.lookup(s.fsPair, s.operation, s.compare));
  }
  const defaults = defaultPlan();
  return [...seen].map(([group, history]) => ({ group, plan: chooseExecutionPlan(history, defaults) }));
}

export function runDiagnosticsPerf(
  flags: DiagnosticsPerfFlags,
  env: Env = process.env,
  out: NodeJS.WritableStream = process.stdout,
): number {
  const switches = [flags.enable, flags.disable, flags.clear].filter(Boolean).length;
  if (switches > 1) throw new BlitError('choose one of --enable, --disable, --clear');
  const limit = parseLimit(flags.limit);
  const path = historyPath(env);
  const store = new HistoryStore(path);
  const guard = <T>(what: string, action: () => T): T => {
    try {
      return action();
    } catch (error) {
      throw new BlitError(`${showPath(what)}: ${reasonOf(error)}`);
    }
  };

  if (flags.enable || flags.disable) {
    const enabled = Boolean(flags.enable);
    guard(settingsPath(env), () => writeSettings(settingsPath(env), { enabled }));
    const note =
      enabled && disabledByEnv(env) ? ' (but BLIT_DISABLE_PERF_HISTORY is set in this environment)' : '';
    out.write(`perf history: recording ${enabled ? 'on' : 'off'}${note}\n`);
    return 0;
  }
  if (flags.clear) {
    const runs = guard(path, () => store.read().records.length);
    guard(path, () => store.clear());
    out.write(`perf history: cleared ${showPath(path)} (${runs} run${runs === 1 ? '' : 's'})\n`);
    return 0;
  }

  const contents = guard(path, () => store.read());
  const predictor = Predictor.fromRecords(contents.records);
  const recent = limit === 0 ? [] : contents.records.slice(-limit);
  const enabled = readSettings(settingsPath(env)).enabled;
  const plans = nextPlans(predictor);
  if (flags.json) {
    const summary = {
      path,
      enabled,
      disabledByEnv: disabledByEnv(env),
      runs: contents.records.length,
      bytes: contents.bytes,
      skippedLines: contents.skipped,
      records: recent,
      predictor: predictor.states().map((s) => ({ segment: segmentId(s), ...s, perFileMs: perFileMs(s) })),
      nextPlans: plans,
    };
    out.write(`${JSON.stringify(summary)}\n`);
    return 0;
  }

  const envNote = disabledByEnv(env) ? '; off for this run (BLIT_DISABLE_PERF_HISTORY)' : '';
  const lines = [
    `perf history: ${showPath(path)} (kept on this machine only, never sent anywhere)`,
    `recording: ${enabled ? 'on' : 'off'}${envNote}; ${contents.records.length} run(s), ${formatBytes(contents.bytes)}${contents.skipped ? `, ${contents.skipped} unreadable line(s) skipped` : ''}`,
  ];
  if (contents.records.length === 0) {
    out.write(`${lines.join('\n')}\n`);
    return 0;
  }
  if (recent.length > 0) lines.push('', `last ${recent.length} run(s), newest last:`, table(runRows(recent)));
  lines.push('', 'predictor (EMA per segment; error = mean relative error of its predictions):');
  lines.push(table(segmentRows(predictor.states())));
  lines.push('', 'next plan:');
  for (const { group, plan } of plans) lines.push(`  ${group}: ${plan.reason}`);
  out.write(`${lines.join('\n')}\n`);
  return 0;
}
