/**
 * Milliseconds since an arbitrary fixed point, for intervals: performance.now() without the global
 * `performance`, whose first use loads node:perf_hooks (2.5 ms of a one-file copy here).
 */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
