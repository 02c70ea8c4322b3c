/**
 * Injected faults for tests (a source that changes mid-copy: see changeSourceIfInjected below) and
 * injected hangs for the stall detector's tests: BLIT_TEST_HANG=scan:REL blocks the thread about to
 * list source directory REL, copy:REL the worker about to copy REL, delete:REL the mirror about to
 * delete REL, for a minute, as a hung mount would; send:REL pauses a remote session's source for a
 * minute after the first chunk of REL went out; copy-each:MS makes every file copy MS slower,
 * delete-each:MS every removal, a slow mount that still moves. Unset (always, outside tests) this
 * costs one comparison.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { sleepSync } from './clock.js';

const spec = process.env.BLIT_TEST_HANG;
const slowMs = spec?.startsWith('copy-each:') ? Number(spec.slice('copy-each:'.length)) : 0;
const slowDeleteMs = spec?.startsWith('delete-each:') ? Number(spec.slice('delete-each:'.length)) : 0;

/** Blocks as injected; true after a copy-each delay, which the caller then counts as progress. */
export function hangIfInjected(phase: 'scan' | 'copy' | 'delete', rel: string): boolean {
  if (spec === undefined) return false;
  if (spec === `${phase}:${rel}`) sleepSync(60_000);
  if (phase !== 'copy' || slowMs <= 0) return false;
  sleepSync(slowMs);
  return true;
}

/** Listening from the start: a SIGUSR2 that comes early must not find its default action (exit). */
const sendReleased = spec?.startsWith('send:')
  ? new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()))
  : undefined;

/**
 * send:REL: the source of a remote session pauses for a minute once the first chunk of REL is on
 * its way (the event loop keeps running: heartbeats flow, the chunk reaches the destination), so
 * a test can break the session while a file is half-written. SIGUSR2 ends the pause early, so a
 * test can also let the session go on once it has done something meanwhile (reload the daemon).
 */
export function sendPauseIfInjected(rel: string): Promise<void> | undefined {
  if (spec !== `send:${rel}`) return undefined;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 60_000).unref();
    void sendReleased?.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** REL of scan:REL: with the addon its listing hangs in native code (fsops/native.ts setListingHang). */
export function injectedScanRel(): string | undefined {
  return spec?.startsWith('scan:') ? spec.slice('scan:'.length) : undefined;
}

/** The delete-each delay, for each removal of a mirror's deletions. */
export function slowDeletionIfInjected(): void {
  if (slowDeleteMs > 0) sleepSync(slowDeleteMs);
}

/** The same injections for a batch run by native copy threads: the delay per file, the file that hangs. */
export function injectedCopyDelays(jobs: { rel: string }[]): { delayMs: number; hangIndex: number } {
  if (spec === undefined) return { delayMs: 0, hangIndex: -1 };
  return { delayMs: slowMs, hangIndex: jobs.findIndex((job) => spec === `copy:${job.rel}`) };
}

/**
 * The same for a whole-directory job on REL (engine/whole-dirs.ts): the delay per file, the name
 * within REL whose copy hangs ('' for none), and whether listing REL hangs.
 */
export function injectedDirDelays(rel: string): { delayMs: number; hangName: string; scanHang: boolean } {
  if (spec === undefined) return { delayMs: 0, hangName: '', scanHang: false };
  const prefix = rel === '' ? 'copy:' : `copy:${rel}/`;
  const name = spec.startsWith(prefix) ? spec.slice(prefix.length) : '';
  return { delayMs: slowMs, hangName: name.includes('/') ? '' : name, scanHang: spec === `scan:${rel}` };
}

/**
 * BLIT_TEST_CHANGE_SOURCE=PATH: the source file PATH (as the copy opens it) changes while it is
 * copied. Once a copy has read its data (or, with --checksum, compared it), and before the checks
 * that the source is still what the scan saw, its first byte is rewritten in place: the same
 * size, a new mtime, as a writer would leave it. The addon reads the same variable
 * (native/blit_native.cc ChangeSourceIfInjected). Unset, this costs one comparison.
 */
const changedSource = process.env.BLIT_TEST_CHANGE_SOURCE;

export function changeSourceIfInjected(path: string): void {
  if (changedSource === undefined || path !== changedSource) return;
  const fd = openSync(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    if (readSync(fd, byte, 0, 1, 0) !== 1) return;
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, 0);
  } finally {
    closeSync(fd);
  }
}
