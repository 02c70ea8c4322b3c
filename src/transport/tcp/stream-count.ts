/**
 * How many data sockets a session uses, decided from what its sender measures (no flag): it starts
 * with one; after a window that moved bulk data, while a CPU core of this machine sat idle, it asks
 * for one more, keeps the new one while throughput still grows, and stops asking at the first
 * socket that no longer brings at least GAIN more, or at MAX_DATA_SOCKETS.
 */

export const MAX_DATA_SOCKETS = 8;
/** A window that moved less than this is not bulk work: it says nothing about sockets. */
const BULK_BYTES = 8 << 20;
/** A new socket must raise throughput by this factor to be worth the next one. */
const GAIN = 1.1;
/**
 * Idle cores a window must have left for one more socket: its thread needs one to run on. On a
 * machine its sockets already keep busy (2 cores, a loopback transfer's sender and receiver) a
 * second socket of one large file brought no throughput and its threads spun on the file's lock
 * (docs/DECISIONS.md).
 */
export const SPARE_CORES_FOR_MORE = 1;

export interface SendWindow {
  /** Bytes handed to the sockets during the window. */
  bytes: number;
  ms: number;
  /** Sockets connected at the end of the window. */
  sockets: number;
  /** CPU cores this machine left idle over the window (util/spare-cores.ts); undefined: not known. */
  spareCores?: number;
}

export class StreamCount {
  /** Throughput (bytes per ms) with the socket count before the last request. */
  private before = 0;
  /** The socket count a request is waiting for, until its first bulk window has judged it. */
  private awaited: number | undefined;
  private done = false;

  constructor(private readonly max = MAX_DATA_SOCKETS) {}

  /** One window's figures in; true when one more socket should be asked for now. */
  observe(window: SendWindow): boolean {
    if (this.done || window.ms <= 0) return false;
    if (this.awaited !== undefined && window.sockets < this.awaited) return false;
    if (window.bytes < BULK_BYTES) return false;
    const rate = window.bytes / window.ms;
    if (this.awaited !== undefined) {
      // The new socket's one test, against the rate before it was asked for.
      if (rate < this.before * GAIN) {
        this.done = true;
        return false;
      }
      this.awaited = undefined;
    }
    if (window.sockets >= this.max) {
      this.done = true;
      return false;
    }
    // Not now: a later window may find a core free.
    if (window.spareCores !== undefined && window.spareCores < SPARE_CORES_FOR_MORE) return false;
    this.before = rate;
    this.awaited = window.sockets + 1;
    return true;
  }

  /** The count settled (or the maximum reached): no more requests. */
  get settled(): boolean {
    return this.done;
  }
}
