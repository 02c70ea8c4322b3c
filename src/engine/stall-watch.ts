/**
 * The stall detector's main-thread side. Any thread that makes progress beats the shared board;
 * when nothing has beaten for 10 s (planner and workers all idle), the session aborts with an error
 * naming what each thread was doing: the phase and the paths in flight.
 *
 * Two ways to watch: a thread of its own (blit), which also sees a main thread stuck in a system
 * call and then ends the process; or a timer on the main thread (blitd), which sees every stall of
 * the work the main thread waits for and never ends the process, whose other sessions go on.
 */

import { nativeAddon } from '../fsops/native.js';
import { ActivityBoard, STOPPED, StallClock } from '../util/activity-board.js';
import { nowMs } from '../util/clock.js';
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
  private timer?: NodeJS.Timeout;

  constructor(timeoutMs = stallTimeoutMs(), how: 'thread' | 'timer' = 'thread') {
    let reportStall: (message: string) => void = () => {};
    this.stalled = new Promise<never>((_, reject) => {
      reportStall = (message) => reject(new StallError(message));
    });
    // Nobody may be waiting on it when the run ends normally.
    this.stalled.catch(() => {});
    if (how === 'timer') {
      this.watchByTimer(timeoutMs, reportStall);
      return;
    }
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
    clearInterval(this.timer);
    Atomics.store(this.board.ints, STOPPED, 1);
    Atomics.notify(this.board.ints, STOPPED);
  }

  private watchByTimer(timeoutMs: number, reportStall: (message: string) => void): void {
    const tick = Math.max(10, Math.min(250, timeoutMs / 4));
    let lastTick = nowMs();
    const clock = new StallClock(this.board, timeoutMs, lastTick);
    this.timer = setInterval(() => {
      const now = nowMs();
      // A tick this late: the event loop was busy (another session's work, in a daemon), so this
      // session's work could not be answered meanwhile either; the time-out starts again.
      const late = now - lastTick > 4 * tick;
      lastTick = now;
      if (!clock.stalled(now, late)) return;
      clearInterval(this.timer);
      reportStall(this.board.stallMessage(timeoutMs));
    }, tick);
    this.timer.unref();
  }
}

/** What a session takes of a stall watch: the board its work beats, the verdict, the end. */
export type StallWatching = Pick<StallWatch, 'board' | 'stalled' | 'stop'>;

/** 10 s; BLIT_STALL_TIMEOUT_MS shortens it for tests (not a tuning knob). */
export function stallTimeoutMs(): number {
  const fromEnv = Number(process.env.BLIT_STALL_TIMEOUT_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : STALL_TIMEOUT_MS;
}
