/**
 * A file read to be sent, and the check that it is still what its listing said (same size and
 * mtime, still a regular file): what makes "a file that changes while it is copied is not
 * installed" hold for the remote senders. With the addon, the last read and the check are one call
 * (native/read_checked.cc); without it, readSync and a bigint fstat.
 */
import { type BigIntStats, fstatSync, readSync } from 'node:fs';
import { splitNs } from './metadata.js';
import { nativeAddon, nativeErrnoError } from './native.js';

/** What a file was listed with. */
export interface Listed {
  size: bigint;
  mtimeNs: bigint;
}

/** Whether `stats` (of the open file) still say what it was listed with. */
export function stillAsListed(stats: BigIntStats, listed: Listed): boolean {
  return stats.isFile() && stats.size === listed.size && stats.mtimeNs === listed.mtimeNs;
}

/**
 * Fills `into` from `fd` at `offset`. False when the file ended early or, `last` (this read ends
 * the file), no longer is as listed afterwards; throws when it could not be read. `beforeCheck`
 * runs once the bytes are read and before the check (with the addon, just before the call that
 * reads and checks): a test's injected change.
 */
export function readListed(
  fd: number,
  into: Uint8Array,
  offset: number,
  last: boolean,
  listed: Listed,
  beforeCheck: () => void,
): boolean {
  const addon = last ? nativeAddon() : undefined;
  if (addon) {
    beforeCheck();
    const [sec, nsec] = splitNs(listed.mtimeNs);
    const outcome = addon.readChecked(fd, into, offset, Number(listed.size), sec, nsec);
    if (outcome > 0) throw nativeErrnoError(addon, outcome);
    return outcome === 0;
  }
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, offset + done);
    if (n === 0) return false;
    done += n;
  }
  if (!last) return true;
  beforeCheck();
  return stillAsListed(fstatSync(fd, { bigint: true }), listed);
}
