/**
 * Owner and group fidelity (issue 17): an entry written as root gets the source's uid and gid, as
 * the step after its data and before xattrs, the mode and the times (chown clears setuid bits and
 * security.capability); so does a user holding CAP_CHOWN and CAP_FOWNER. Otherwise owners are left as the writing
 * user's, with no error and no warning (as rsync does); --no-owner turns it off. The addon does the same (native/owner.cc).
 */
import { fchownSync, lchownSync, readFileSync } from 'node:fs';
import { reasonOf } from '../util/errors.js';
import type { Entry } from './entry.js';

/** The ids an entry is given. */
export interface Owner {
  uid: number;
  gid: number;
}

/** CAP_CHOWN (bit 0) to give a file away, CAP_FOWNER (bit 3) to set its xattrs, mode and times after. */
const CHOWN_CAPABILITIES = 0b1001;

/** Whether a /proc/PID/status text shows CAP_CHOWN and CAP_FOWNER in the effective set (CapEff, hex). */
export function hasChownCapability(status: string): boolean {
  const effective = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status)?.[1];
  if (effective === undefined) return false;
  return (Number.parseInt(effective.slice(-1), 16) & CHOWN_CAPABILITIES) === CHOWN_CAPABILITIES;
}

let chownable: boolean | undefined;

/**
 * Whether this process may give files away: root, or a user holding CAP_CHOWN and CAP_FOWNER (a
 * service run with `AmbientCapabilities=CAP_CHOWN CAP_FOWNER`, say: the second because a file's
 * xattrs, mode and times are set after its owner, which chown has to come before as it clears
 * setuid bits). Owners are kept only then. Asked once.
 */
export function canChown(): boolean {
  if (chownable === undefined) {
    chownable = process.geteuid?.() === 0;
    if (!chownable) {
      try {
        chownable = hasChownCapability(readFileSync('/proc/self/status', 'utf8'));
      } catch {
        // No /proc (not Linux): root only.
      }
    }
  }
  return chownable;
}

/**
 * Whether a transfer writing here keeps owners: asked for (`keep`, from PreserveOptions.owner) and
 * this process may give files away (canChown).
 */
export function keepsOwners(keep: boolean | undefined): boolean {
  return keep !== false && canChown();
}

/** The owner to give the copy of `entry`, when owners are kept and the entry says who owns it. */
export function ownerToGive(entry: Entry, keep: boolean): Owner | undefined {
  if (!keep || entry.uid === undefined || entry.gid === undefined) return undefined;
  return { uid: entry.uid, gid: entry.gid };
}

/** Whether `dest` already has the owner `source` asks for (always, when owners are not kept). */
export function sameOwner(source: Entry, dest: Entry, keep: boolean): boolean {
  if (!keep || source.uid === undefined || source.gid === undefined) return true;
  return source.uid === dest.uid && source.gid === dest.gid;
}

/** What came of giving an entry its owner: nothing to give, given, or the reason it failed. */
export type OwnerResult = undefined | 'applied' | { failed: string };

/** Where the results are counted (the destination's FidelityTally). */
export interface OwnerTally {
  applied(kind: 'owner', entries?: number): void;
  failed(kind: 'owner', reason: string): void;
}

export function countOwner(tally: OwnerTally, result: OwnerResult): void {
  if (result === undefined) return;
  if (result === 'applied') tally.applied('owner');
  else tally.failed('owner', result.failed);
}

/** Gives `owner` through `chown`; a failure fails the owner, never the entry. */
function give(owner: Owner | undefined, chown: (uid: number, gid: number) => void): OwnerResult {
  if (!owner) return undefined;
  try {
    chown(owner.uid, owner.gid);
    return 'applied';
  } catch (error) {
    return { failed: reasonOf(error) };
  }
}

/** fchown on a written file's open descriptor. */
export function giveOwnerFd(fd: number, owner: Owner | undefined): OwnerResult {
  return give(owner, (uid, gid) => fchownSync(fd, uid, gid));
}

/** lchown: the entry at `path` itself, never what a symbolic link names. */
export function giveOwnerPath(path: string, owner: Owner | undefined): OwnerResult {
  return give(owner, (uid, gid) => lchownSync(path, uid, gid));
}

/** An addon's errno for one entry (-1: no owner given) as an OwnerResult. */
export function ownerResultOfErrno(errno: number, describe: (errno: number) => string): OwnerResult {
  if (errno < 0) return undefined;
  return errno === 0 ? 'applied' : { failed: describe(errno) };
}

/** A whole-directory job's counts (NativeDirResult.owners), with the first failure's errno described. */
export function countOwners(
  tally: OwnerTally,
  counts: { applied: number; failed: number; errno: number } | undefined,
  describe: (errno: number) => string,
): void {
  if (!counts) return;
  if (counts.applied > 0) tally.applied('owner', counts.applied);
  for (let i = 0; i < counts.failed; i++) tally.failed('owner', describe(counts.errno));
}
