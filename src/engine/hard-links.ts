/**
 * Hard-link groups (rsync -H): source files that are one inode become one inode at the destination.
 * The first name of a group seen is its leader and is copied as any file; every later name is a
 * follower, linked to the leader's final name once the leader has landed (never to a temp file).
 *
 * Pure bookkeeping, without a disk: local-destination.ts does the links. Its cost is bounded: only
 * entries with a link count above 1 come here, and at most `maxGroups` groups are remembered (beyond
 * that a name is no follower of anything: it is copied as a file of its own, and the caller counts
 * it failed). A group's key is the source's `dev:ino`, or for a peer's entry an id that only
 * matches other entries of the same session: it never names a path.
 */

/** Groups remembered before further ones are copied as separate files (a key and a path each). */
export const MAX_LINK_GROUPS = 1 << 20;

export type LinkRole =
  /** Not grouped: no key, or the link count says it has no other name. */
  | { role: 'none' }
  /** The first name of its group: copied; later names link to it. */
  | { role: 'leader' }
  /** A later name: linked to `leader` (a relative path at the destination) once it has landed. */
  | { role: 'follower'; leader: string }
  /** A new group past the cap: copied as a separate file. */
  | { role: 'over-cap' };

/** A follower waiting for its leader. */
export interface PendingLink<T> {
  rel: string;
  leader: string;
  item: T;
}

export class HardLinkGroups<T> {
  /** Group key → the leader's relative path. */
  private readonly leaders = new Map<string, string>();
  private readonly leaderNames = new Set<string>();
  /** Leaders that could not be written: their followers are copied instead. */
  private readonly failedLeaders = new Set<string>();
  private readonly pending: PendingLink<T>[] = [];

  constructor(private readonly maxGroups = MAX_LINK_GROUPS) {}

  /** The role of the name `rel` of a file whose group key is `key` (undefined: not grouped). */
  classify(rel: string, key: string | undefined, nlink: number | undefined): LinkRole {
    if (key === undefined || nlink === undefined || nlink < 2) return { role: 'none' };
    const leader = this.leaders.get(key);
    if (leader !== undefined) return leader === rel ? { role: 'leader' } : { role: 'follower', leader };
    if (this.leaders.size >= this.maxGroups) return { role: 'over-cap' };
    this.leaders.set(key, rel);
    this.leaderNames.add(rel);
    return { role: 'leader' };
  }

  /** True when `rel` leads a group. */
  isLeader(rel: string): boolean {
    return this.leaderNames.has(rel);
  }

  /** A follower waits until its leader's fate is known (followers are decided after all copies). */
  wait(rel: string, leader: string, item: T): void {
    this.pending.push({ rel, leader, item });
  }

  /** The leader `rel` could not be written. */
  failed(rel: string): void {
    if (this.leaderNames.has(rel)) this.failedLeaders.add(rel);
  }

  get waiting(): number {
    return this.pending.length;
  }

  /**
   * The followers whose leaders' fate is known, taken out: `link` to link to a landed leader,
   * `copy` for those whose leader failed (copied as separate files). Called once every copy has
   * come back: a leader not failed is in place (copied, updated or already there), and the
   * destination checks what is there when it links.
   */
  take(): { link: PendingLink<T>[]; copy: PendingLink<T>[] } {
    const link: PendingLink<T>[] = [];
    const copy: PendingLink<T>[] = [];
    for (const pending of this.pending.splice(0)) {
      if (this.failedLeaders.has(pending.leader)) copy.push(pending);
      else link.push(pending);
    }
    return { link, copy };
  }
}
