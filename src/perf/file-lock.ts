/**
 * A lock file beside the file it guards, taken with O_EXCL. Waits are bounded (a run never hangs on
 * history), and a lock whose holder died or which is older than any holder could be is taken over.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { sleepSync } from '../util/clock.js';

export interface LockOptions {
  /** Give up after this long (milliseconds). */
  waitMs?: number;
  /** A lock older than this belongs to a holder that is gone. */
  staleMs?: number;
}

const RETRY_MS = 5;

function holderAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(path: string, staleMs: number): boolean {
  try {
    const age = Date.now() - statSync(path).mtimeMs;
    if (age > staleMs) return true;
    // An empty lock was just created and its pid is about to be written: not stale.
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && !holderAlive(pid);
  } catch {
    return false; // released meanwhile: just try again
  }
}

/**
 * Takes the lock at `path`; returns the function that releases it, or undefined when another
 * holder kept it for the whole wait.
 */
export function acquireLock(path: string, options: LockOptions = {}): (() => void) | undefined {
  const deadline = Date.now() + (options.waitMs ?? 500);
  const staleMs = options.staleMs ?? 10_000;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {}
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    if (isStale(path, staleMs)) {
      try {
        unlinkSync(path);
        continue;
      } catch {} // cannot take it over: wait like for a live holder
    }
    if (Date.now() >= deadline) return undefined;
    sleepSync(RETRY_MS);
  }
}
