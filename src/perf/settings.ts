/**
 * Whether performance history is recorded: persisted by `blit diagnostics perf --enable/--disable`
 * in the config directory; `BLIT_DISABLE_PERF_HISTORY=1` turns it off for one run.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Env, settingsPath } from './config-paths.js';

export interface PerfSettings {
  enabled: boolean;
}

const DEFAULTS: PerfSettings = { enabled: true };

/** The persisted settings; a missing or unreadable file means the defaults (recording on). */
export function readSettings(path: string): PerfSettings {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (parsed && typeof parsed === 'object' && typeof (parsed as PerfSettings).enabled === 'boolean') {
      return { enabled: (parsed as PerfSettings).enabled };
    }
  } catch {}
  return { ...DEFAULTS };
}

/** Written to a temp file and renamed over the old one, so a reader never sees half a file. */
export function writeSettings(path: string, settings: PerfSettings): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ v: 1, ...settings })}\n`);
  renameSync(temp, path);
}

export function disabledByEnv(env: Env = process.env): boolean {
  const value = env.BLIT_DISABLE_PERF_HISTORY;
  return value !== undefined && value !== '' && value !== '0';
}

/** True when this run may read and write the history. */
export function historyEnabled(env: Env = process.env): boolean {
  return !disabledByEnv(env) && readSettings(settingsPath(env)).enabled;
}
