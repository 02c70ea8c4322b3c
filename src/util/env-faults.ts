/**
 * A fault plan from the environment, for the tests that run the real blit and blitd
 * (util/faults.ts is the seam it fills; the entry points install it at start-up, and only when a
 * test set one of these variables):
 * - BLIT_TEST_HANG=scan:REL blocks the thread about to list source directory REL, copy:REL the
 *   worker about to copy REL, delete:REL the mirror about to delete REL, write:REL a remote
 *   session's destination about to write a chunk of REL from the stream, for a minute, as a hung
 *   mount would; send:REL pauses a remote session's source for a minute after the first chunk of
 *   REL went out, land:REL its destination for a minute before the group of small files, or of
 *   ranges, led by REL lands (SIGUSR2 ends either pause early); copy-each:MS makes every file
 *   copy MS slower, delete-each:MS every removal, a slow mount that still moves.
 * - BLIT_TEST_CHANGE_SOURCE=PATH: the source file PATH (as the copy opens it) changes while it is
 *   copied. Once a copy has read its data (or, with --checksum, compared it), and before the
 *   checks that the source is still what the scan saw, its first byte is rewritten in place: the
 *   same size, a new mtime, as a writer would leave it. The addon's copy threads are told the
 *   path when it loads (fsops/native.ts, native/copy.cc ChangeSourceIfInjected).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { sleepSync } from './clock.js';
import { type Faults, installFaults } from './faults.js';

/** Installs the plan the environment asks for, if it asks for one. */
export function installFaultsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  const spec = env.BLIT_TEST_HANG;
  const changedSource = env.BLIT_TEST_CHANGE_SOURCE;
  if (spec === undefined && changedSource === undefined) return;
  installFaults(faultsOf(spec, changedSource));
}

function faultsOf(spec: string | undefined, changedSource: string | undefined): Faults {
  const slowMs = spec?.startsWith('copy-each:') ? Number(spec.slice('copy-each:'.length)) : 0;
  const slowDeleteMs = spec?.startsWith('delete-each:') ? Number(spec.slice('delete-each:'.length)) : 0;
  // Listening from the start: a SIGUSR2 that comes early must not find its default action (exit).
  const pauseReleased =
    spec?.startsWith('send:') || spec?.startsWith('land:')
      ? new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()))
      : undefined;
  return {
    hang(phase, rel) {
      if (spec === undefined) return false;
      if (spec === `${phase}:${rel}`) sleepSync(60_000);
      if (phase !== 'copy' || slowMs <= 0) return false;
      sleepSync(slowMs);
      return true;
    },
    // The event loop keeps running (heartbeats flow, the chunk reaches the destination), so a test
    // can break the session while a file is half-written; SIGUSR2 ends the pause early, so a test
    // can also let the session go on once it has done something meanwhile (reload the daemon).
    pause(phase, rel) {
      if (spec !== `${phase}:${rel}`) return undefined;
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, 60_000).unref();
        void pauseReleased?.then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    // With the addon, scan:REL hangs in native code (fsops/native.ts setListingHang).
    scanRel: () => (spec?.startsWith('scan:') ? spec.slice('scan:'.length) : undefined),
    slowDeletion() {
      if (slowDeleteMs > 0) sleepSync(slowDeleteMs);
    },
    copyDelays(jobs) {
      if (spec === undefined) return { delayMs: 0, hangIndex: -1 };
      return { delayMs: slowMs, hangIndex: jobs.findIndex((job) => spec === `copy:${job.rel}`) };
    },
    dirDelays(rel) {
      if (spec === undefined) return { delayMs: 0, hangName: '', scanHang: false };
      const prefix = rel === '' ? 'copy:' : `copy:${rel}/`;
      const name = spec.startsWith(prefix) ? spec.slice(prefix.length) : '';
      return { delayMs: slowMs, hangName: name.includes('/') ? '' : name, scanHang: spec === `scan:${rel}` };
    },
    sourceToChange: () => changedSource,
    changeSource(path) {
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
    },
  };
}
