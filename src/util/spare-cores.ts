/**
 * How much of this machine's CPU went unused over an interval, in cores: the sockets' measurement
 * (transport/tcp/stream-count.ts) asks for another socket only when a core is free to run its
 * thread. From the kernel's per-CPU times (os.cpus: /proc/stat on Linux), so it counts every
 * process: on a loopback transfer the peer's threads too.
 */
import { cpus } from 'node:os';

export interface CpuTimes {
  /** Milliseconds the CPUs spent idle, summed over all of them. */
  idleMs: number;
  /** Milliseconds the CPUs spent in any state, summed over all of them. */
  totalMs: number;
  cores: number;
}

/** The CPUs' times now; undefined where the platform reports none. */
export function cpuTimes(list: readonly { times: Record<string, number> }[] = cpus()): CpuTimes | undefined {
  if (list.length === 0) return undefined;
  let idleMs = 0;
  let totalMs = 0;
  for (const { times } of list) {
    idleMs += times.idle ?? 0;
    for (const ms of Object.values(times)) totalMs += ms;
  }
  return { idleMs, totalMs, cores: list.length };
}

/**
 * Cores left idle between two readings (0 to the machine's count); undefined when either is
 * missing, the CPUs changed, or no time passed.
 */
export function spareCores(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (!before || !after || before.cores !== after.cores) return undefined;
  const total = after.totalMs - before.totalMs;
  const idle = after.idleMs - before.idleMs;
  if (total <= 0 || idle < 0) return undefined;
  return Math.min(1, idle / total) * after.cores;
}
