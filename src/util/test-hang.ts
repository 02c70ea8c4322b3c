/**
 * Injected hangs for the stall detector's tests: BLIT_TEST_HANG=scan:REL blocks the thread about to
 * list source directory REL, copy:REL the worker about to copy REL, for a minute, as a hung mount
 * would. Unset (always, outside tests) this costs one comparison.
 */
const spec = process.env.BLIT_TEST_HANG;

export function hangIfInjected(phase: 'scan' | 'copy', rel: string): void {
  if (spec === undefined || spec !== `${phase}:${rel}`) return;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
}
