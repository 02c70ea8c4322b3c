/**
 * The stall detector's main-thread side. Any thread that makes progress beats the shared board;
 * when nothing has beaten for 10 s (planner and workers all idle), the session aborts with an error
 * naming what each thread was doing: the phase and the paths in flight.
 */

import { nativeAddon } from '../fsops/native.js';
import { ActivityBoard, STOPPED } from '../util/activity-board.js';
import { startWorker } from '../util/start-worker.js';
import type { WatchdogData } from './stall-watchdog.js';

export const STALL_TIMEOUT_MS = 10_000;
const GRACE_MS = 2_000;

/** Thrown when a transfer stalls; the CLI exits at once (a hung thread cannot be joined). */
export class StallError extends Error {
  override name = 'StallError';
}

export class StallWatch {
  readonly board = new ActivityBoard();
  /** Settles (rejects) only when the watchdog reports a stall. */
  readonly stalled: Promise<never>;

  constructor(timeoutMs = stallTimeoutMs()) {
    let reportStall: (message: string) => void = () => {};
    this.stalled = new Promise<never>((_, reject) => {
      reportStall = (message) => reject(new StallError(message));
    });
    // Nobody may be waiting on it when the run ends normally.
    this.stalled.catch(() => {});
    const addon = nativeAddon();
    if (addon) {
      // A native thread: no V8 isolate to start (a worker thread costs ~60 ms of CPU).
      addon.startWatchdog(this.board.ints, this.board.slots, timeoutMs, GRACE_MS, reportStall);
      return;
    }
    const data: WatchdogData = { buffer: this.board.buffer, timeoutMs, graceMs: GRACE_MS };
    const worker = startWorker(import.meta.url, 'stall-watchdog', { workerData: data });
    worker.unref();
    worker.on('message', (message: { stalled?: string }) => {
      if (message.stalled) reportStall(message.stalled);
    });
  }

  stop(): void {
    Atomics.store(this.board.ints, STOPPED, 1);
    Atomics.notify(this.board.ints, STOPPED);
  }
}

/** 10 s; BLIT_STALL_TIMEOUT_MS shortens it for tests (not a tuning knob). */
export function stallTimeoutMs(): number {
  const fromEnv = Number(process.env.BLIT_STALL_TIMEOUT_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : STALL_TIMEOUT_MS;
}
