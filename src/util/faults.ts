/**
 * The seam through which a test injects faults into a running blit or blitd: a hang where a hung
 * mount would hang, a slow copy or deletion, a source file that changes while it is copied or sent.
 * Production code calls these hooks and nothing else of testing; each does nothing until a fault
 * plan is installed, which only the entry points do, and only when a test's environment asks for
 * one (util/env-faults.ts).
 */

export interface Faults {
  /**
   * Blocks as injected before a scan, copy or deletion of `rel`, or a remote session's write of a
   * chunk of it; true after a per-copy delay (counted as progress).
   */
  hang(phase: 'scan' | 'copy' | 'delete' | 'write', rel: string): boolean;
  /**
   * A remote session's work on `rel` pauses while the event loop runs on: the source once the first
   * chunk of `rel` is on its way (send), the destination before a group of small files led by
   * `rel` lands or a group of ranges led by one of `rel` is written (land).
   */
  pause(phase: 'send' | 'land', rel: string): Promise<void> | undefined;
  /** The directory whose listing hangs inside the addon. */
  scanRel(): string | undefined;
  /** A delay for each removal of a mirror's deletions. */
  slowDeletion(): void;
  /** For a batch on the native copy threads: the delay per file, the index of the file that hangs (-1: none). */
  copyDelays(jobs: { rel: string }[]): { delayMs: number; hangIndex: number };
  /** For a whole-directory job on `rel`: the delay per file, the name whose copy hangs, a hung listing. */
  dirDelays(rel: string): { delayMs: number; hangName: string; scanHang: boolean };
  /** The source file at `path` changes now (its first byte, a new mtime), as a writer would leave it. */
  changeSource(path: string): void;
  /** The path changeSource changes, for the addon's copy threads (told when it loads). */
  sourceToChange(): string | undefined;
}

const NONE: Faults = {
  hang: () => false,
  pause: () => undefined,
  scanRel: () => undefined,
  slowDeletion: () => {},
  copyDelays: () => ({ delayMs: 0, hangIndex: -1 }),
  dirDelays: () => ({ delayMs: 0, hangName: '', scanHang: false }),
  changeSource: () => {},
  sourceToChange: () => undefined,
};

/** The hooks production code calls: none injected unless installFaults ran. */
export const faults: Faults = { ...NONE };

export function installFaults(plan: Faults): void {
  Object.assign(faults, plan);
}
