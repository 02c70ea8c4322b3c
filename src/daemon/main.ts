/**
 * `blitd` entry point: reads the configuration, serves the modules until SIGINT or SIGTERM, then
 * stops gracefully (a second signal stops at once); SIGHUP reloads the configuration (reload.ts).
 * Problems that prevent starting are one line on stderr and exit 1; everything after start-up goes
 * to the JSON log on stdout. Under systemd, readiness.ts tells it when blitd is ready.
 */
import { version } from '../cli/version.js';
import { nativeStatus } from '../fsops/native.js';
import { installFaultsFromEnv } from '../util/env-faults.js';
import { BlitError } from '../util/errors.js';
import { loadDaemonConfig } from './load-config.js';
import { createLogger } from './logger.js';
import { blitdProgram, type DaemonFlags } from './program.js';
import { systemdReadiness } from './readiness.js';
import { describeModules, reloadNotified } from './reload.js';
import { startServer } from './server.js';
import { tierUpLater } from './tier-up.js';

async function serve(options: DaemonFlags): Promise<void> {
  const config = loadDaemonConfig(options);
  const log = createLogger(config.logLevel);
  const server = await startServer(config, log);
  const readiness = systemdReadiness(process.env, log);
  // Before the 'listening' line: a SIGHUP sent as soon as it is seen must not find the default action (exit).
  process.on('SIGHUP', () => reloadNotified(server, () => loadDaemonConfig(options), log, readiness));
  log.info(
    {
      address: server.address,
      port: server.port,
      version,
      // Clients pin this key on first contact (blit trust HOST:PORT --fingerprint …).
      tls: server.fingerprint !== undefined,
      ...(server.fingerprint ? { fingerprint: server.fingerprint } : {}),
      // Containment through descriptors needs the addon (README: "Containment without the addon").
      fileOperations: nativeStatus(),
      // HOST:PORT of GET /metrics, or off ([daemon] metrics).
      metrics: server.metricsAddress ?? 'off',
      modules: describeModules(config),
    },
    'listening',
  );
  readiness.notify({ READY: '1', STATUS: `listening on ${server.address}` });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: stopping now');
      process.exit(1);
    }
    log.info({ signal }, 'stopping');
    readiness.notify({ STOPPING: '1', STATUS: 'stopping' });
    void server.stop().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// Tests inject faults through the environment (util/faults.ts); nothing is installed otherwise.
installFaultsFromEnv();
tierUpLater();
blitdProgram(serve)
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    const message =
      error instanceof BlitError
        ? error.message
        : `internal error: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`blitd: ${message}\n`);
    if (process.env.BLIT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  });
