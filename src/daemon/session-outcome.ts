/**
 * How a Transfer session that did not finish is named: the ErrorCode of the TransferError frame the
 * daemon ends it with, and, for metrics, its outcome and whether an idle time-out (a stall) ended
 * it. One table for both, so the client and the operator see the same code.
 */
import { status } from '@grpc/grpc-js';
import { StallError } from '../engine/stall-watch.js';
import { ErrorCode } from '../generated/blit.js';
import { IncompatiblePeer } from '../protocol/handshake.js';
import { ProtocolError } from '../protocol/manifest-wire.js';
import { PeerEndedEarly, PeerGone, PeerStalled } from '../transport/frame-channel.js';
import { DataPlaneFailed, DataPlaneStalled } from '../transport/tcp/data-failure.js';
import type { SessionOutcome, StallPlane } from './daemon-metrics.js';
import { RpcError } from './rpc-error.js';

const CODE_OF_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.NOT_FOUND]: ErrorCode.ERROR_CODE_NOT_FOUND,
  [status.PERMISSION_DENIED]: ErrorCode.ERROR_CODE_PERMISSION_DENIED,
  [status.INVALID_ARGUMENT]: ErrorCode.ERROR_CODE_PATH_OUTSIDE_MODULE,
  [status.RESOURCE_EXHAUSTED]: ErrorCode.ERROR_CODE_NO_SPACE,
};

/** The protocol's code for the error that ends a session. */
export function errorCodeOf(error: unknown): ErrorCode {
  if (error instanceof RpcError) return CODE_OF_STATUS[error.code] ?? ErrorCode.ERROR_CODE_IO;
  if (error instanceof ProtocolError) return ErrorCode.ERROR_CODE_PROTOCOL;
  if (error instanceof IncompatiblePeer) return ErrorCode.ERROR_CODE_INCOMPATIBLE_VERSION;
  if (error instanceof PeerStalled || error instanceof DataPlaneStalled || error instanceof StallError)
    return ErrorCode.ERROR_CODE_STALLED;
  if (error instanceof PeerGone || error instanceof PeerEndedEarly) return ErrorCode.ERROR_CODE_CANCELLED;
  if (error instanceof DataPlaneFailed) return ErrorCode.ERROR_CODE_DATA_PLANE;
  return ErrorCode.ERROR_CODE_IO;
}

/** The code as a metric label: the enum's name without its ERROR_CODE_ prefix. */
export function errorCodeName(code: ErrorCode): string {
  return (ErrorCode[code] ?? 'ERROR_CODE_UNRECOGNIZED').replace(/^ERROR_CODE_/, '');
}

export interface FailedSession {
  outcome: SessionOutcome;
  /** errorCodeName of what ended it. */
  error: string;
  stall?: StallPlane;
}

/**
 * A session that ended with `error`: refused when the daemon had not accepted it yet; cancelled
 * when the client cancelled, quit or ended its stream early, or the call was cancelled whatever
 * error its half saw first (`cancelled`). A stall is not that: it counts as failed.
 */
export function failedSession(error: unknown, accepted: boolean, cancelled = false): FailedSession {
  const stall =
    error instanceof PeerStalled
      ? 'control'
      : error instanceof DataPlaneStalled
        ? 'data'
        : error instanceof StallError
          ? 'local'
          : undefined;
  const left = (error instanceof PeerGone && !stall) || error instanceof PeerEndedEarly;
  if (cancelled || left) return { outcome: 'cancelled', error: 'CANCELLED' };
  const outcome: SessionOutcome = accepted ? 'failed' : 'refused';
  return { outcome, error: errorCodeName(errorCodeOf(error)), ...(stall ? { stall } : {}) };
}
