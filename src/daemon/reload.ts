/**
 * Reloading blitd's configuration on SIGHUP (`systemctl reload blitd`) without dropping a session.
 * The file is read again with the flags blitd started with; the new modules, allow lists,
 * read_only, comments, motd and log level apply to every call that starts afterwards (calls in
 * flight keep the configuration they started with: live-config.ts). What the listening socket and
 * its TLS identity were built from (bind, port, tls, data_tls, cert, key, state_dir) cannot change
 * under open connections: those keep their running values, and one warning names them. A file with
 * an error changes nothing: one error line names it (file:line), and blitd serves on as before
 * (so does any other failure of a reload: it is never a reason to stop serving).
 */
import { BlitError } from '../util/errors.js';
import type { DaemonConfig } from './config.js';
import type { LiveConfig } from './live-config.js';
import type { Logger } from './logger.js';
import { monotonicUsec, type Readiness } from './readiness.js';
import { checkSecurity } from './security.js';
import type { RunningServer } from './server.js';

/** The settings a reload keeps as they were at start, under the names the config file gives them. */
export const RESTART_ONLY: readonly (readonly [keyof DaemonConfig, string])[] = [
  ['bind', 'bind'],
  ['port', 'port'],
  ['tls', 'tls'],
  ['dataTls', 'data_tls'],
  ['certFile', 'cert'],
  ['keyFile', 'key'],
  ['stateDir', 'state_dir'],
  // Its listener is bound once, at start.
  ['metrics', 'metrics'],
];

export interface Reloaded {
  /** The configuration the daemon runs with from now on. */
  config: DaemonConfig;
  /** Config-file names of the restart-only settings that differ in the file and were not applied. */
  notApplied: string[];
}

/** What a reload applies: `next`, with the restart-only settings kept from `running`. Pure. */
export function mergeReload(running: DaemonConfig, next: DaemonConfig): Reloaded {
  const config: DaemonConfig = { ...next };
  const notApplied: string[] = [];
  for (const [field, name] of RESTART_ONLY) {
    // By value: an address ([daemon] metrics) is parsed into a fresh object by every load.
    if (JSON.stringify(running[field]) !== JSON.stringify(next[field])) notApplied.push(name);
    // An unset optional stays unset (an own property holding undefined would read the same anyway).
    if (running[field] === undefined) delete config[field];
    else Object.assign(config, { [field]: running[field] });
  }
  return { config, notApplied };
}

/** A short account of the modules for the log: names, read_only, how many identities are allowed. */
export function describeModules(config: DaemonConfig): Record<string, unknown>[] {
  return config.modules.map((m) => ({
    name: m.name,
    readOnly: m.readOnly,
    ...(m.allow ? { allow: m.allow.length } : {}),
  }));
}

/**
 * Reads the configuration again (`load`: the same file and flags as at start) and applies it to
 * `live` and the log level of `log`; returns false, with one error line logged, when it cannot.
 */
export function reloadConfig(live: LiveConfig, load: () => DaemonConfig, log: Logger): boolean {
  let reloaded: Reloaded;
  try {
    reloaded = mergeReload(live.current, load());
    // The rules of security.ts hold for what actually runs: e.g. a new writable module needs an
    // allow list when the running daemon has TLS on, whatever the file now says about tls.
    checkSecurity(reloaded.config);
  } catch (error) {
    // Not a reason to stop serving, even when it is a bug of blitd's own.
    const reason =
      error instanceof BlitError
        ? error.message
        : `internal error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    log.error(
      error instanceof BlitError ? { reason } : { reason, err: error },
      `reload refused, the configuration is unchanged: ${reason}`,
    );
    return false;
  }
  live.replace(reloaded.config);
  // This reload's own lines go out under the more verbose of the old and new levels: an operator
  // who turns the log down to warn still sees that the reload happened.
  const level = reloaded.config.logLevel;
  if ((log.levels.values[level] ?? Number.POSITIVE_INFINITY) < log.levelVal) log.level = level;
  if (reloaded.notApplied.length > 0) {
    log.warn(
      { notApplied: reloaded.notApplied },
      `not applied until blitd restarts: ${reloaded.notApplied.join(', ')} (kept as running)`,
    );
  }
  log.info({ modules: describeModules(reloaded.config) }, 'reloaded');
  log.level = level;
  return true;
}

/** A reload as SIGHUP runs it: systemd sees RELOADING=1, then READY=1 with how it went. */
export function reloadNotified(
  server: Pick<RunningServer, 'config' | 'address'>,
  load: () => DaemonConfig,
  log: Logger,
  readiness: Readiness,
): void {
  readiness.notify({ RELOADING: '1', MONOTONIC_USEC: monotonicUsec(), STATUS: 'reloading' });
  const applied = reloadConfig(server.config, load, log);
  const outcome = applied ? 'reloaded' : 'reload refused, configuration unchanged (see the log)';
  readiness.notify({ READY: '1', STATUS: `listening on ${server.address}; ${outcome}` });
}
