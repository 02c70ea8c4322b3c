/**
 * What blitd's handlers tell about their work, for whoever counts it: the one seam between the
 * daemon and its metrics. When `[daemon] metrics` is not configured the handlers talk to
 * NO_METRICS, which does nothing, so no handler asks whether metrics are on and prom-client is
 * never loaded (metrics.ts implements this with it; metrics-server.ts serves it).
 *
 * Every value the handlers pass is from a closed set: no path, peer address or client-chosen text
 * ever becomes a label. A module name does, but only a configured one (the operator chose it).
 */
import type { Operation } from '../engine/types.js';

export type SessionVerb = Operation | 'unknown';
export type SessionDirection = 'push' | 'pull' | 'unknown';

/**
 * How a Transfer session ended (session-outcome.ts decides): ok, partial (some files failed),
 * refused (before the daemon accepted it: module, access, path, version), failed (a fatal error
 * after it was accepted, a stall included), cancelled (the client cancelled or left).
 */
export const SESSION_OUTCOMES = ['ok', 'partial', 'refused', 'failed', 'cancelled'] as const;
export type SessionOutcome = (typeof SESSION_OUTCOMES)[number];

/**
 * What stalled a session: the peer, silent past the control stream's or a data socket's idle
 * time-out, or this daemon's own work, which made no progress for the stall detector's 10 s.
 */
export type StallPlane = 'control' | 'data' | 'local';

export interface EndedSession {
  verb: SessionVerb;
  direction: SessionDirection;
  outcome: SessionOutcome;
  /** The configured module it used, once known. */
  module?: string;
  /** From the call's start to its end. */
  seconds: number;
  /** Files and their bytes received (push) or sent (pull); 0 for a dry run. */
  files: number;
  bytes: number;
  /** The protocol's ErrorCode name (without ERROR_CODE_) of the error that ended it, if one did. */
  error?: string;
  stall?: StallPlane;
}

export type UnaryRpc = 'ping' | 'listModules' | 'list' | 'purge' | 'space';

export interface DaemonMetrics {
  /** A Transfer call began. */
  sessionStarted(): void;
  /** It ended, whichever way (called once per sessionStarted). */
  sessionEnded(session: EndedSession): void;
  /** A data-plane socket was admitted to a session; dataSocketClosed follows when it closes. */
  dataSocketOpened(): void;
  dataSocketClosed(): void;
  /** A unary call was answered with this gRPC status name ('OK', 'NOT_FOUND', …). */
  callAnswered(rpc: UnaryRpc, code: string): void;
}

export const NO_METRICS: DaemonMetrics = {
  sessionStarted() {},
  sessionEnded() {},
  dataSocketOpened() {},
  dataSocketClosed() {},
  callAnswered() {},
};
