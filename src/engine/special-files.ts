/**
 * Special files (issue 17): FIFOs and character and block devices are recreated at the
 * destination, sockets never (a socket file is useless without the process that bound it). A FIFO
 * needs no privilege and is always made; a device needs root (CAP_MKNOD) and is made only then —
 * rsync's -D, with FIFOs also kept for a user (mkfifo is anyone's). A daemon never makes a device in
 * its module (a client must not plant /dev/sda in it): refused per entry. The node is made by the
 * addon under a temp name beside its own, given mode and mtime, and renamed into place
 * (native/special_file.cc); without the addon it cannot be made (Node has no mknod).
 */
import { constants } from 'node:fs';
import type { SpecialType } from '../fsops/entry.js';
import { nativeAddon, nativeErrnoError } from '../fsops/native.js';
import { type Owner, type OwnerResult, ownerResultOfErrno } from '../fsops/owner.js';
import { reasonOf } from '../util/errors.js';
import type { Entry } from './types.js';

/** The special files blit recreates: the rest of kind 'other' (sockets, unknown) is skipped. */
export function isMadeSpecial(entry: Entry): boolean {
  return entry.kind === 'other' && (entry.special === 'fifo' || isDevice(entry.special));
}

export function isDevice(special: SpecialType | undefined): boolean {
  return special === 'char' || special === 'block';
}

/** Same node: same type, same device number (devices), same mode and mtime (compare.ts). */
export function sameSpecialNode(source: Entry, dest: Entry): boolean {
  return source.special === dest.special && (source.rdev ?? 0n) === (dest.rdev ?? 0n);
}

/** Why this process cannot make `entry` here (undefined: it can). */
export function cannotMakeSpecial(entry: Entry, devicesAllowed: boolean): string | undefined {
  if (!isDevice(entry.special))
    return nativeAddon() ? undefined : 'FIFOs are made only with the native addon';
  if (!devicesAllowed) return 'device files are never made in a daemon module';
  if (process.geteuid?.() !== 0) return 'device files are made only as root';
  return nativeAddon() ? undefined : 'device files are made only with the native addon';
}

const FILE_TYPE: Record<'fifo' | 'char' | 'block', number> = {
  fifo: constants.S_IFIFO,
  char: constants.S_IFCHR,
  block: constants.S_IFBLK,
};

/**
 * Makes the node `entry` at `path` (replacing what is there), given `owner` before its mode; throws
 * the errno error. Returns what came of the owner.
 */
export function makeSpecialNode(path: string, entry: Entry, owner?: Owner): OwnerResult {
  const addon = nativeAddon();
  if (!addon) throw new Error('no native addon');
  const type = FILE_TYPE[entry.special as 'fifo' | 'char' | 'block'];
  const ns = entry.mtimeNs;
  const ownerErrno = addon.makeSpecial(
    path,
    type,
    entry.mode & 0o7777,
    entry.rdev ?? 0n,
    Number(ns / 1_000_000_000n),
    Number(ns % 1_000_000_000n),
    owner?.uid,
    owner?.gid,
  );
  return ownerResultOfErrno(ownerErrno, (errno) => reasonOf(nativeErrnoError(addon, errno)));
}
