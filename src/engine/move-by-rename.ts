/**
 * The move fast path: when the whole source goes to a target that does not exist yet on the same
 * file system, one rename(2) moves it — instantly, atomically, with hard links, ownership and
 * extended attributes intact. Anything else (contents-only moves, filters, another file system,
 * an existing target) takes the copy-then-remove path.
 */
import { lstatSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirs } from '../fsops/make-dirs.js';
import { nowMs } from '../util/clock.js';
import { codeOf } from '../util/errors.js';
import type { Endpoints } from './endpoints.js';
import type { TransferOptions, TransferReport } from './types.js';

export function renameApplies(endpoints: Endpoints, options: TransferOptions): boolean {
  const { filter } = options;
  return (
    options.operation === 'move' &&
    !options.dryRun &&
    !endpoints.contentsOnly &&
    filter.include.length === 0 &&
    filter.exclude.length === 0 &&
    filter.filesFrom === undefined &&
    filter.minSize === undefined &&
    filter.maxSize === undefined
  );
}

function nearestExistingDevice(path: string): number | undefined {
  for (let current = path; ; current = dirname(current)) {
    const stats = statSync(current, { throwIfNoEntry: false });
    if (stats) return stats.dev;
    if (dirname(current) === current) return undefined;
  }
}

/** Moves by rename when it applies; undefined means "use the ordinary path". */
export function tryMoveByRename(endpoints: Endpoints, options: TransferOptions): TransferReport | undefined {
  if (!renameApplies(endpoints, options)) return undefined;
  const started = nowMs();
  try {
    if (lstatSync(endpoints.target, { throwIfNoEntry: false })) return undefined;
    const source = lstatSync(endpoints.source);
    if (source.dev !== nearestExistingDevice(dirname(endpoints.target))) return undefined;
    makeDirs(dirname(endpoints.target));
    renameSync(endpoints.source, endpoints.target);
  } catch (error) {
    // EXDEV (a bind mount across file systems), a target that appeared meanwhile, permissions:
    // the ordinary path handles each of them, with per-entry errors.
    if (codeOf(error) !== undefined) return undefined;
    throw error;
  }
  return {
    operation: 'move',
    source: endpoints.source,
    destination: endpoints.target,
    dryRun: false,
    // One entry moved: the tree (or file) as a whole, by rename; its bytes did not move.
    copied: 1,
    skipped: 0,
    updated: 0,
    deleted: 0,
    failed: 0,
    bytes: 0,
    elapsedMs: nowMs() - started,
    scanComplete: true,
    deletionsWithheld: 0,
    failures: [],
    renamed: true,
  };
}
