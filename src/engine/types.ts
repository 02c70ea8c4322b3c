/** The vocabulary shared by the source and destination roles and the session that joins them. */

import type { Entry } from '../fsops/entry.js';
import type { FidelityReport, PreserveOptions } from './fidelity.js';

export type { Entry, EntryKind } from '../fsops/entry.js';

/** A directory of the source, listed in one go: the unit the manifest streams. */
export interface DirListing {
  /** Relative path of the directory ('' for the transfer root). */
  rel: string;
  entries: Entry[];
}

export type Operation = 'copy' | 'mirror' | 'move';

export type CompareMode = 'default' | 'checksum' | 'size-only' | 'ignore-times' | 'ignore-existing';

export interface FilterSpec {
  include: string[];
  exclude: string[];
  /** Relative paths read from --files-from, already validated. */
  filesFrom?: string[];
  minSize?: number;
  maxSize?: number;
}

export interface TransferOptions {
  operation: Operation;
  compare: CompareMode;
  filter: FilterSpec;
  dryRun: boolean;
  deleteExcluded: boolean;
  /** Which metadata kinds beyond mode and mtime are kept: absent, all of them (engine/fidelity.ts). */
  preserve?: PreserveOptions;
}

export interface Failure {
  path: string;
  reason: string;
}

export type ActionKind = 'copy' | 'link' | 'mkdir' | 'delete' | 'update' | 'remove-source';

export interface Action {
  kind: ActionKind;
  path: string;
}

export interface TransferReport {
  operation: Operation;
  source: string;
  destination: string;
  dryRun: boolean;
  /** Entries written (files, links, created directories). */
  copied: number;
  /** Entries found identical (or kept by --ignore-existing / size limits). */
  skipped: number;
  /** Entries whose metadata alone was brought in line. */
  updated: number;
  deleted: number;
  failed: number;
  bytes: number;
  elapsedMs: number;
  scanComplete: boolean;
  /** Deletions a mirror would have made but did not (not confirmed, or incomplete scan). */
  deletionsWithheld: number;
  failures: Failure[];
  /** A move done by one rename (same file system, new target): counts then describe the rename. */
  renamed?: boolean;
  /** Per metadata kind (owners, xattrs, ...): entries that got it, and that could not. */
  fidelity?: FidelityReport;
}
