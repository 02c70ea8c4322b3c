/**
 * Temp-file naming. Data is written to a temp file beside its target and renamed over it, so no
 * partial file ever sits under a final name. The writer's pid is part of the name so a later run
 * can tell a stale temp file (its writer is gone) from one a concurrent run is still writing.
 */
import { join } from 'node:path';

/** process.pid is a system call each time it is read; it never changes. */
const PID = process.pid;

const TEMP_NAME = /^\.blit-(\d+)-[0-9a-f]{12}\.tmp$/;

/**
 * Random per thread, then counted: randomBytes per name would cost a getpid() each (OpenSSL's fork
 * check), one system call per file. The pid already separates processes, so the seed only has to
 * differ between threads: Math.random (seeded per isolate) does, without loading node:crypto at
 * every start. Temp files are opened exclusively, so a clash fails, never clobbers.
 *
 * The 48-bit count is kept as two 24-bit halves, the high one's text made once per 16,777,216
 * names: a number past 2^31 printed in hex takes V8's slow path for doubles (20,000 names cost
 * 14–61 ms that way, 1.5–4.8 ms so; the landing side names every small file it receives).
 */
let high = Math.floor(Math.random() * 0x1000000);
let low = Math.floor(Math.random() * 0x1000000);
let prefix = namePrefix(high);

function namePrefix(high: number): string {
  return `.blit-${PID}-${high.toString(16).padStart(6, '0')}`;
}

/** Where the count goes on from (tests: the carry from the low half into the high one). */
export function seedTempNames(nextHigh: number, nextLow: number): void {
  high = nextHigh & 0xffffff;
  low = nextLow & 0xffffff;
  prefix = namePrefix(high);
}

export function tempPathFor(directory: string): string {
  return join(directory, tempName());
}

/** A fresh temp file's name alone, for a directory the caller names (tempPathFor without the join). */
export function tempName(): string {
  low = (low + 1) & 0xffffff;
  if (low === 0) {
    high = (high + 1) & 0xffffff;
    prefix = namePrefix(high);
  }
  return `${prefix}${low.toString(16).padStart(6, '0')}.tmp`;
}

export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** True for a temp file left by a process that no longer runs. */
export function isStaleTempName(name: string, isAlive: (pid: number) => boolean = processIsAlive): boolean {
  const match = TEMP_NAME.exec(name);
  if (!match) return false;
  const pid = Number(match[1]);
  return pid !== PID && !isAlive(pid);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
