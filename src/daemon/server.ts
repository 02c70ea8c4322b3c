/**
 * blitd's server: listens on the configured address, serves the Blit service (gRPC) and admits
 * data-plane sockets on the same port (shared-port.ts), stops gracefully.
 */

import { createSecureContext } from 'node:tls';
import { format } from 'node:util';
import { Server, type ServerInterceptor, setLogger } from '@grpc/grpc-js';
import { BlitService } from '../generated/blit.js';
import { MAX_MESSAGE_BYTES } from '../protocol/handshake.js';
import { decodeTransferFrame } from '../protocol/received-manifest.js';
import { dialTarget } from '../remote/endpoint.js';
import { passEncoded } from '../transport/frame-channel.js';
import { DataAdmission } from '../transport/tcp/admission.js';
import type { SharedBudget } from '../transport/tcp/byte-budget.js';
import { BlitError } from '../util/errors.js';
import { type CallLimits, callLimits } from './call-limits.js';
import type { DaemonConfig } from './config.js';
import { daemonIdentity } from './daemon-identity.js';
import { NO_METRICS } from './daemon-metrics.js';
import { LiveConfig } from './live-config.js';
import type { Logger } from './logger.js';
import { lenientService } from './malformed.js';
import type { MetricsEndpoint } from './metrics-server.js';
import { PeerIdentities } from './peer-identities.js';
import { requireTls } from './require-tls.js';
import { type DaemonAccess, tlsOn } from './security.js';
import { createService } from './service.js';
import { listenShared } from './shared-port.js';

/** How long a graceful stop waits for calls in flight before cutting them off. */
export const STOP_GRACE_MS = 5000;
/** A gRPC connection with no call in flight for this long is closed (GOAWAY; clients reconnect). */
export const CONNECTION_IDLE_MS = 120_000;

export interface RunningServer {
  /** The address actually bound (the port is filled in when 0 was asked for). */
  address: string;
  port: number;
  /** Issues the tokens that admit a session's data sockets on this port. */
  admission: DataAdmission;
  /** The fingerprint of the daemon's key when TLS is on (clients pin it). */
  fingerprint?: string;
  /** Where GET /metrics answers (the port filled in), when metrics are configured. */
  metricsAddress?: string;
  /** The configuration calls read; a reload replaces it (bind, port and TLS stay as started). */
  config: LiveConfig;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** How long a new connection has to say what it is (tests shorten it). */
  handshakeMs?: number;
  /** How long a gRPC connection may sit with no call before it is closed (tests shorten it). */
  idleMs?: number;
  /** Limits on calls: how long a unary request has to arrive whole, calls in flight (tests lower them). */
  calls?: CallLimits;
  /** The budget of bytes all sessions hold for landing together (tests pass a small one). */
  held?: SharedBudget;
}

function bindReason(error: Error): string {
  const message = error.message;
  if (/EADDRINUSE/.test(message)) return 'address already in use';
  if (/EACCES/.test(message)) return 'permission denied';
  if (/EADDRNOTAVAIL/.test(message)) return 'address not available on this machine';
  if (/ENOTFOUND|EAI_AGAIN|resolv/i.test(message)) return 'cannot resolve the address';
  return message.split('\n')[0] ?? message;
}

/** The metrics endpoint when one is configured; prom-client is loaded only then. */
async function startMetrics(config: DaemonConfig, log: Logger): Promise<MetricsEndpoint | undefined> {
  if (!config.metrics) return undefined;
  const wanted = dialTarget(config.metrics);
  const { serveMetrics } = await import('./metrics-server.js');
  const modules = config.modules.map((m) => m.name);
  return serveMetrics(config.metrics, modules, log).catch((error: Error) => {
    throw new BlitError(`cannot serve metrics on ${wanted}: ${bindReason(error)}`);
  });
}

export async function startServer(
  config: DaemonConfig,
  log: Logger,
  options: ServerOptions = {},
): Promise<RunningServer> {
  // grpc-js's own diagnostics go into the JSON log, never raw onto stderr.
  const relay = (...args: unknown[]) => log.debug({ source: 'grpc-js' }, format(...args));
  setLogger({ error: relay, info: relay, debug: relay });
  const interceptors: ServerInterceptor[] = [callLimits(options.calls)];
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // Idle clients are detected (a peer that vanished without closing), never cut off for taking long.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    // A connection kept open with no call at all is closed: an idle peer holds nothing for good.
    'grpc.max_connection_idle_ms': options.idleMs ?? CONNECTION_IDLE_MS,
    interceptors,
  });
  const admission = new DataAdmission();
  const access: DaemonAccess = { tls: tlsOn(config), identities: new PeerIdentities() };
  const identity = access.tls ? daemonIdentity(config) : undefined;
  if (access.tls) interceptors.unshift(requireTls(access.identities));
  // Bound before the main port, closed again if that fails: a refused start leaves nothing open.
  const exported = await startMetrics(config, log);
  const live = new LiveConfig(config);
  server.addService(
    // A pull's manifest goes out encoded by the addon (protocol/native-manifest.ts).
    lenientService({
      ...BlitService,
      transfer: {
        ...BlitService.transfer,
        // A push's manifest entries stay as they came until the session asks (received-manifest.ts).
        requestDeserialize: decodeTransferFrame,
        responseSerialize: passEncoded(BlitService.transfer.responseSerialize),
      },
    }),
    createService(live, log, admission, access, options.held, exported?.metrics ?? NO_METRICS),
  );
  const wanted = dialTarget({ host: config.bind, port: config.port });
  const shared = await listenShared({
    host: config.bind,
    port: config.port,
    grpc: server,
    admission,
    log,
    identities: access.identities,
    tls: identity
      ? createSecureContext({ key: identity.keyPem, cert: identity.certPem, minVersion: 'TLSv1.3' })
      : undefined,
    handshakeMs: options.handshakeMs,
  }).catch(async (error: Error) => {
    await exported?.close();
    throw new BlitError(`cannot listen on ${wanted}: ${bindReason(error)}`);
  });
  const port = shared.port;
  const address = dialTarget({ host: config.bind, port });
  let stopping: Promise<void> | undefined;
  return {
    address,
    port,
    admission,
    fingerprint: identity?.fingerprint,
    metricsAddress: exported?.address,
    config: live,
    stop() {
      stopping ??= shared.close(STOP_GRACE_MS).then(async (cutOff) => {
        if (cutOff > 0) {
          log.warn(
            { graceMs: STOP_GRACE_MS, connections: cutOff },
            'cut off connections still open after the grace time',
          );
        }
        // Its connections are all gone by now; this marks it stopped.
        server.forceShutdown();
        await exported?.close();
      });
      return stopping;
    },
  };
}
