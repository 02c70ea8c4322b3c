/**
 * How much of this machine's CPU went unused over an interval, in cores: the sockets' measurement
 * (transport/tcp/stream-count.ts) asks for another socket only when a core is free to run its
 * thread. From the kernel's per-CPU idle times (os.cpus: /proc/stat on Linux), so it counts every
 * process: on a loopback transfer the peer's threads too. Idle time per wall-clock time is idle
 * cores directly; time a VM's host took (steal) or spent waiting on disks (iowait), which os.cpus
 * does not report, counts as not idle.
 */
import { cpus } from 'node:os';

export interface CpuTimes {
  /** Milliseconds the CPUs spent idle, summed over all of them. */
  idleMs: number;
  cores: number;
}

/** The CPUs' idle time now; undefined where the platform reports none. */
export function cpuTimes(list: readonly { times: { idle: number } }[] = cpus()): CpuTimes | undefined {
  if (list.length === 0) return undefined;
  let idleMs = 0;
  for (const { times } of list) idleMs += times.idle;
  return { idleMs, cores: list.length };
}

/**
 * Cores left idle between two readings `wallMs` apart (0 to the machine's count); undefined when
 * either is missing, the CPUs changed, no time passed, or the counters went back.
 */
export function spareCores(
  before: CpuTimes | undefined,
  after: CpuTimes | undefined,
  wallMs: number,
): number | undefined {
  if (!before || !after || before.cores !== after.cores || !(wallMs > 0)) return undefined;
  const idle = after.idleMs - before.idleMs;
  if (idle < 0) return undefined;
  return Math.min(after.cores, idle / wallMs);
}
