/**
 * DaemonMetrics kept with prom-client, in a registry of blitd's own (never prom-client's global
 * one). Loaded only when `[daemon] metrics` is configured (metrics-server.ts imports it).
 *
 * Labels stay closed sets: verb, direction, outcome, ErrorCode names, gRPC status names, the
 * plane that stalled, and configured module names. Series an operator looks for before anything
 * happened (every verb × direction × outcome, each module's traffic) start at 0, so rate() and
 * alerts see them from the first scrape.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../generated/blit.js';
import {
  type DaemonMetrics,
  type EndedSession,
  SESSION_OUTCOMES,
  type SessionDirection,
  type SessionVerb,
  type UnaryRpc,
} from './daemon-metrics.js';
import { errorCodeName } from './session-outcome.js';

/** Seconds: a converged mirror takes well under one, a large push an hour. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const VERBS: SessionVerb[] = ['copy', 'mirror', 'move'];
const DIRECTIONS: SessionDirection[] = ['push', 'pull'];
const UNARY: UnaryRpc[] = ['ping', 'listModules', 'list', 'purge', 'space'];

export interface KeptMetrics {
  metrics: DaemonMetrics;
  registry: Registry;
}

/** `modules`: the configured module names, whose traffic series start at 0. */
export function createMetrics(modules: readonly string[]): KeptMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const sessions = new Counter({
    name: 'blitd_sessions_total',
    help: 'Transfer sessions ended, by verb, direction (push: to blitd, pull: from it) and outcome',
    labelNames: ['verb', 'direction', 'outcome'] as const,
    registers,
  });
  const active = new Gauge({
    name: 'blitd_sessions_active',
    help: 'Transfer sessions running now',
    registers,
  });
  const duration = new Histogram({
    name: 'blitd_session_duration_seconds',
    help: 'How long accepted Transfer sessions ran (refused ones are not observed)',
    labelNames: ['verb', 'direction'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const traffic = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['module'] as const, registers });
  const receivedBytes = traffic(
    'blitd_received_bytes_total',
    'File bytes received from clients (pushes), counted when their session finishes',
  );
  const receivedFiles = traffic(
    'blitd_received_files_total',
    'Files received from clients (pushes), counted when their session finishes',
  );
  const sentBytes = traffic('blitd_sent_bytes_total', 'File bytes read and sent to clients (pulls)');
  const sentFiles = traffic('blitd_sent_files_total', 'Files read and sent to clients (pulls)');
  const errors = new Counter({
    name: 'blitd_session_errors_total',
    help: "Transfer sessions ended by an error, by the protocol's ErrorCode name",
    labelNames: ['code'] as const,
    registers,
  });
  const stalls = new Counter({
    name: 'blitd_stalls_total',
    help: "Sessions ended because nothing moved: the peer for the idle time-out (plane control stream or data socket), or the daemon's own work for 10 s (local)",
    labelNames: ['plane'] as const,
    registers,
  });
  const socketsOpen = new Gauge({
    name: 'blitd_data_sockets_open',
    help: 'Data-plane sockets admitted to a session and still open',
    registers,
  });
  const socketsTotal = new Counter({
    name: 'blitd_data_sockets_total',
    help: 'Data-plane sockets admitted to a session',
    registers,
  });
  const calls = new Counter({
    name: 'blitd_calls_total',
    help: 'Unary calls (ping, listModules, list, purge, space) answered, by gRPC status',
    labelNames: ['rpc', 'code'] as const,
    registers,
  });

  for (const verb of VERBS)
    for (const direction of DIRECTIONS) {
      for (const outcome of SESSION_OUTCOMES) sessions.labels(verb, direction, outcome).inc(0);
      duration.labels(verb, direction);
    }
  for (const module of modules)
    for (const counter of [receivedBytes, receivedFiles, sentBytes, sentFiles]) counter.labels(module).inc(0);
  for (const code of Object.values(ErrorCode)) {
    if (typeof code !== 'number' || code <= ErrorCode.ERROR_CODE_UNSPECIFIED) continue;
    errors.labels(errorCodeName(code)).inc(0);
  }
  stalls.labels('control').inc(0);
  stalls.labels('data').inc(0);
  stalls.labels('local').inc(0);
  for (const rpc of UNARY) calls.labels(rpc, 'OK').inc(0);

  const metrics: DaemonMetrics = {
    sessionStarted() {
      active.inc();
    },
    sessionEnded(session: EndedSession) {
      active.dec();
      sessions.labels(session.verb, session.direction, session.outcome).inc();
      if (session.outcome !== 'refused')
        duration.labels(session.verb, session.direction).observe(session.seconds);
      if (session.error) errors.labels(session.error).inc();
      if (session.stall) stalls.labels(session.stall).inc();
      if (session.module !== undefined && session.files + session.bytes > 0) {
        const push = session.direction === 'push';
        (push ? receivedFiles : sentFiles).labels(session.module).inc(session.files);
        (push ? receivedBytes : sentBytes).labels(session.module).inc(session.bytes);
      }
    },
    dataSocketOpened() {
      socketsOpen.inc();
      socketsTotal.inc();
    },
    dataSocketClosed() {
      socketsOpen.dec();
    },
    callAnswered(rpc, code) {
      calls.labels(rpc, code).inc();
    },
  };
  return { metrics, registry };
}
