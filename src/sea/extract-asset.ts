/**
 * Writes a file that a single executable embeds (its native addon) to a per-user cache directory,
 * once: Node loads addons from files only (process.dlopen). The file is named after its contents'
 * SHA-256, so binaries of different builds never share a copy, and a copy found there is used only
 * after its bytes have been compared with the embedded ones: a truncated or altered one is
 * replaced, never loaded. New copies are written under a temp name and renamed into place, so
 * binaries starting at once never see half a file. The directory must belong to this user and be
 * writable by nobody else (it is made 0700): whoever can replace the file runs code as us.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Env } from '../perf/config-paths.js';

/** `$XDG_CACHE_HOME/blit`, else `~/.cache/blit` (a relative $XDG_CACHE_HOME is ignored, as the spec says). */
export function assetCacheDir(env: Env = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
  return join(base, 'blit');
}

/** Makes `dir` (0700) or checks the one there: a directory of this user that no one else can write to. */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = lstatSync(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (process.getuid && info.uid !== process.getuid()) throw new Error(`${dir} belongs to another user`);
  // Ours, made by an older blit or by hand with a looser mode: ours to tighten.
  if ((info.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * The path of `bytes` as `dir`/HASH-`name`, written there first when no identical copy is; throws
 * (with the path and reason) when the directory is unfit or cannot be written.
 */
export function extractToCache(dir: string, name: string, bytes: Uint8Array): string {
  privateDir(dir);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const path = join(dir, `${digest.slice(0, 32)}-${name}`);
  try {
    if (readFileSync(path).equals(bytes)) return path;
  } catch {
    // Not there yet (or unreadable): write it.
  }
  const temp = `${path}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  // 'wx': a name planted meanwhile is never followed or reused.
  const fd = openSync(temp, 'wx', 0o700);
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  return path;
}
