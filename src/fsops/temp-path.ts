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
 */
let nextSuffix = Math.floor(Math.random() * 0x1000000000000);

export function tempPathFor(directory: string): string {
  return join(directory, tempName());
}

/** A fresh temp file's name alone, for a directory the caller names (tempPathFor without the join). */
export function tempName(): string {
  nextSuffix = (nextSuffix + 1) % 0x1000000000000;
  return `.blit-${PID}-${nextSuffix.toString(16).padStart(12, '0')}.tmp`;
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
