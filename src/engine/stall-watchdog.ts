/**
 * Watchdog thread: when nothing on the activity board has beaten for the stall time-out, it tells
 * the main thread (which aborts cleanly); if the main thread itself is stuck and does not stop the
 * watchdog within a grace period, it prints the error and ends the process with status 1.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { nativeAddon } from '../fsops/native.js';
import { ActivityBoard, STOPPED, StallClock } from '../util/activity-board.js';

export interface WatchdogData {
  buffer: SharedArrayBuffer;
  timeoutMs: number;
  graceMs: number;
}

function watch(data: WatchdogData): void {
  const board = new ActivityBoard(data.buffer);
  const clock = new StallClock(board, data.timeoutMs, Date.now());
  const tick = Math.min(250, data.timeoutMs / 4);
  while (Atomics.load(board.ints, STOPPED) === 0) {
    Atomics.wait(board.ints, STOPPED, 0, tick);
    if (!clock.stalled(Date.now())) continue;
    const message = board.stallMessage(data.timeoutMs);
    parentPort?.postMessage({ stalled: message });
    Atomics.wait(board.ints, STOPPED, 0, data.graceMs);
    if (Atomics.load(board.ints, STOPPED) !== 0) return;
    // The main thread is stuck in a system call: end the process from here.
    writeSync(2, `blit: ${message}\n`);
    const addon = nativeAddon();
    if (addon) addon.exitProcess(1);
    process.kill(process.pid, 'SIGKILL');
  }
}

if (parentPort && workerData) watch(workerData as WatchdogData);
