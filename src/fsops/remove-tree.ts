/**
 * Removes a directory and everything below it, one entry at a time, calling `step` after each
 * removal. `step` is how a long deletion stays a good citizen: it beats the stall detector, and now
 * and then it yields to the event loop (so SIGINT reaches the session) or throws to stop. Names
 * are handled as bytes, so entries whose names are not UTF-8 go too. Symbolic links are removed,
 * never followed.
 */
import { type OpenDirOptions, opendirSync, rmdirSync, unlinkSync } from 'node:fs';

/**
 * Called after each removal (and by a caller with the path it is about to remove); a promise it
 * returns is awaited, and may reject to stop.
 */
export type RemovalStep = (rel?: string) => Promise<void> | undefined;

const SLASH = Buffer.from('/');
// Names as bytes (@types/node only knows string names for Dir).
const AS_BYTES = { encoding: 'buffer' } as unknown as OpenDirOptions;

export async function removeTree(path: string, step: RemovalStep): Promise<void> {
  await removeDir(Buffer.from(path), step);
}

async function removeDir(path: Buffer, step: RemovalStep): Promise<void> {
  // Files go while the directory is read; subdirectories after it is closed, so a deep tree holds
  // no handles, and memory holds the subdirectory names of one directory per level.
  const subdirs: Buffer[] = [];
  const dir = opendirSync(path as unknown as string, AS_BYTES);
  try {
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      const child = Buffer.concat([path, SLASH, entry.name as unknown as Buffer]);
      if (entry.isDirectory()) subdirs.push(child);
      else {
        unlinkSync(child);
        const pause = step();
        if (pause) await pause;
      }
    }
  } finally {
    dir.closeSync();
  }
  for (const subdir of subdirs) await removeDir(subdir, step);
  rmdirSync(path);
  const pause = step();
  if (pause) await pause;
}
