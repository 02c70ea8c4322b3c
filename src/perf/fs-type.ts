/**
 * The file-system type a path lives on (ext4, tmpfs, nfs, …), from /proc/self/mountinfo: the mount
 * whose mount point is the longest prefix of the path. 'unknown' where there is no mountinfo.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface Mount {
  mountPoint: string;
  fsType: string;
}

/** Mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Parses mountinfo lines: `id parent major:minor root mount-point options [optional…] - type source …`. */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[dash + 1];
    if (dash < 0 || !mountPoint || !fsType) continue;
    mounts.push({ mountPoint: unescapeOctal(mountPoint), fsType: unescapeOctal(fsType) });
  }
  return mounts;
}

function under(path: string, mountPoint: string): boolean {
  if (mountPoint === '/') return path.startsWith('/');
  return path === mountPoint || path.startsWith(`${mountPoint}/`);
}

/** The type of the mount holding `path` (absolute, symlinks resolved); a later mount hides an earlier one. */
export function fsTypeIn(mounts: Mount[], path: string): string {
  let best: Mount | undefined;
  for (const mount of mounts) {
    if (under(path, mount.mountPoint) && mount.mountPoint.length >= (best?.mountPoint.length ?? 0))
      best = mount;
  }
  return best?.fsType ?? 'unknown';
}

/** The path with symlinks resolved, through its nearest existing ancestor (a destination may not exist yet). */
function realPathOf(path: string): string {
  let current = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      return resolve(realpathSync(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      rest.push(basename(current));
      current = parent;
    }
  }
}

let cachedMounts: Mount[] | undefined;

function systemMounts(): Mount[] {
  if (!cachedMounts) {
    try {
      cachedMounts = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    } catch {
      cachedMounts = [];
    }
  }
  return cachedMounts;
}

/** The file-system type of a local path, or 'unknown' (not Linux, no /proc, nothing matched). */
export function fsTypeOf(path: string): string {
  const mounts = systemMounts();
  if (mounts.length === 0) return 'unknown';
  return fsTypeIn(mounts, realPathOf(path));
}
