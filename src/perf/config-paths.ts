/**
 * Where blit keeps its per-user state: `$XDG_CONFIG_HOME/blit/`, else `~/.config/blit/`.
 * Performance history never leaves this directory.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export type Env = Record<string, string | undefined>;

/** The XDG base directory spec says a relative $XDG_CONFIG_HOME is to be ignored. */
export function configDir(env: Env = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'blit');
}

export function historyPath(env: Env = process.env): string {
  return join(configDir(env), 'perf_local.jsonl');
}

export function settingsPath(env: Env = process.env): string {
  return join(configDir(env), 'perf_settings.json');
}
