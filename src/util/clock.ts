/**
 * Time: measuring intervals, formatting instants, and waiting (blocking, or for one turn of the
 * event loop).
 */

/**
 * Milliseconds since an arbitrary fixed point, for intervals: performance.now() without the global
 * `performance`, whose first use loads node:perf_hooks (2.5 ms of a one-file copy here).
 */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` milliseconds (nothing else runs on it meanwhile). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Resolves after the event loop has had a turn (timers, I/O and signal handlers run first). */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * For long work on the main thread (deletions, inline copies): a function that, once `everyMs`
 * have passed since the last turn it gave, gives the event loop one (a SIGINT handler, the progress
 * line), and otherwise returns undefined at once, so most calls make no promise.
 */
export function loopTurns(everyMs: number): () => Promise<void> | undefined {
  let turnAt = nowMs();
  return () => {
    if (nowMs() - turnAt < everyMs) return undefined;
    return yieldToLoop().then(() => {
      turnAt = nowMs();
    });
  };
}

/**
 * `new Date(ms).toISOString()` without its first-call cost: V8 then loads the local time zone
 * (/etc/localtime and the links to it), ~1 ms of a one-file copy here, for a UTC string.
 */
export function isoTime(ms: number): string {
  const dayMs = 86_400_000;
  const days = Math.floor(ms / dayMs);
  const inDay = ms - days * dayMs;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const time = `${pad(Math.floor(inDay / 3_600_000))}:${pad(Math.floor(inDay / 60_000) % 60)}:${pad(Math.floor(inDay / 1000) % 60)}.${pad(Math.floor(inDay) % 1000, 3)}`;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${time}Z`;
}
