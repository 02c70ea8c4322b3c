/**
 * Hard-link groups on the wire (Entry.link_group): the source numbers each `dev:ino` of a file with
 * other names 1, 2, 3… for the session, so that no inode number crosses the wire and an id means
 * nothing but "the same file as another entry of this session". The destination reads it back as
 * a group key of its own (engine/hard-links.ts), which only ever matches entries of the same
 * session: a peer's id can link a name to another name of the transfer, never to anything else.
 */
import { MAX_LINK_GROUPS } from '../engine/hard-links.js';

export class LinkGroupIds {
  private readonly ids = new Map<string, bigint>();

  /** The id of `inode`'s group; 0 (none) for no inode, or past the cap. */
  idOf(inode: string | undefined): bigint {
    if (inode === undefined) return 0n;
    let id = this.ids.get(inode);
    if (id === undefined) {
      if (this.ids.size >= MAX_LINK_GROUPS) return 0n;
      id = BigInt(this.ids.size + 1);
      this.ids.set(inode, id);
    }
    return id;
  }
}

/** The group key of a peer's entry: its id under a prefix no `dev:ino` has; undefined for 0. */
export function peerLinkKey(linkGroup: bigint): string | undefined {
  return linkGroup === 0n ? undefined : `peer:${linkGroup}`;
}
