/** How a data-plane failure ends its session. */
import type { FrameChannel } from '../frame-channel.js';

/** How long a lost data connection waits for the control stream to bring the peer's own reason. */
const LOSS_GRACE_MS = 1_000;

/** A data socket failed, closed early or stalled: the session cannot go on. */
export class DataPlaneFailed extends Error {
  override readonly name = 'DataPlaneFailed';
}

/** A data socket moved nothing for its idle time-out in the middle of its work. */
export class DataPlaneStalled extends DataPlaneFailed {}

/**
 * Ends the session for a data-plane failure. A malformed or refused record ends it at once; a lost
 * connection waits a moment first: a peer that ended the session with an error of its own sends
 * that reason on the control stream, and it is the one to report.
 */
export function failOnDataPlane(channel: FrameChannel, error: Error): void {
  if (!(error instanceof DataPlaneFailed)) {
    channel.fail(error);
    return;
  }
  setTimeout(() => channel.fail(error), LOSS_GRACE_MS).unref();
}
