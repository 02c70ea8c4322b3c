/**
 * Removes a path and, for a directory, everything below it, one entry at a time: a mirror's
 * deletions and the daemon's Purge. A symbolic link is removed itself, never followed. Names are
 * handled as bytes, so entries whose names are not UTF-8 go too (failures describe them escaped).
 * A failure is recorded with its path and the walk goes on with the rest; a directory that keeps an
 * entry stays too, unreported (it could only fail as not empty).
 *
 * `step` runs after each removal. It is how a long removal stays a good citizen: it beats the stall
 * detector, yields to the event loop now and then (so a signal, or another client, gets a turn),
 * or rejects to stop the walk, and that rejection propagates.
 */
import { type Dir, lstatSync, type OpenDirOptions, opendirSync, rmdirSync, unlinkSync } from 'node:fs';
import { codeOf, reasonOf } from '../util/errors.js';
import { describeRawName } from './listing.js';

/** Called after each removal (and by callers with the path they are about to remove). */
export type RemovalStep = (rel?: string) => Promise<void> | undefined;

export interface RemovalFailure {
  /** The label given for the top path, then `/name` per level. */
  path: string;
  reason: string;
}

const SLASH = Buffer.from('/');
// Names as bytes (@types/node only knows string names for Dir).
const AS_BYTES = { encoding: 'buffer' } as unknown as OpenDirOptions;

/** Removes `path`; returns how many entries went. A path that is not there counts as removed already. */
export async function removeTree(
  path: string | Buffer,
  label: string,
  failures: RemovalFailure[],
  step: RemovalStep,
): Promise<number> {
  const top = typeof path === 'string' ? Buffer.from(path) : path;
  let isDirectory: boolean;
  try {
    const stats = lstatSync(top, { throwIfNoEntry: false });
    if (!stats) return 0;
    isDirectory = stats.isDirectory();
  } catch (error) {
    failures.push({ path: label, reason: reasonOf(error) });
    return 0;
  }
  if (!isDirectory) return removeOne(() => unlinkSync(top), label, failures, step);
  return removeDir(top, label, failures, step);
}

async function removeDir(
  path: Buffer,
  label: string,
  failures: RemovalFailure[],
  step: RemovalStep,
): Promise<number> {
  const failuresBefore = failures.length;
  let dir: Dir;
  try {
    dir = opendirSync(path as unknown as string, AS_BYTES);
  } catch (error) {
    failures.push({ path: label, reason: reasonOf(error) });
    return 0;
  }
  // Files go while the directory is read; subdirectories after it is closed, so a deep tree holds
  // no open handles, and memory holds the subdirectory names of one directory per level.
  let removed = 0;
  const subdirs: { path: Buffer; label: string }[] = [];
  try {
    for (;;) {
      let entry: ReturnType<Dir['readSync']>;
      try {
        entry = dir.readSync();
      } catch (error) {
        failures.push({ path: label, reason: reasonOf(error) });
        break;
      }
      if (entry === null) break;
      const name = entry.name as unknown as Buffer;
      const child = { path: Buffer.concat([path, SLASH, name]), label: `${label}/${describeRawName(name)}` };
      if (entry.isDirectory()) subdirs.push(child);
      else removed += await removeOne(() => unlinkSync(child.path), child.label, failures, step);
    }
  } finally {
    dir.closeSync();
  }
  for (const subdir of subdirs) removed += await removeDir(subdir.path, subdir.label, failures, step);
  if (failures.length > failuresBefore) return removed;
  return removed + (await removeOne(() => rmdirSync(path), label, failures, step));
}

/** One removal, recorded when it fails; `step` after it, outside the catch, so a stop propagates. */
async function removeOne(
  remove: () => void,
  label: string,
  failures: RemovalFailure[],
  step: RemovalStep,
): Promise<number> {
  try {
    remove();
  } catch (error) {
    // Gone meanwhile (another process removed it): what the walk wanted.
    if (codeOf(error) !== 'ENOENT') failures.push({ path: label, reason: reasonOf(error) });
    return 0;
  }
  const pause = step();
  if (pause) await pause;
  return 1;
}
