/**
 * Directory read-ahead for the walk: while the main thread turns one listing into objects and
 * compares it, the addon's background thread already lists the next directories (source and
 * destination), so on 2 cores the getdents and lstat calls leave the main thread. The window follows
 * the walk's own order (depth first: the newest directories found are visited next) and stays a few
 * directories ahead. Without the addon this does nothing.
 */
import { type NativeAddon, nativeAddon } from './native.js';

/** A directory the walk will visit, and the paths listed when it does (source, maybe destination). */
export interface UpcomingDir {
  rel: string;
  paths: string[];
}

/** Paths requested ahead of the walk at most (8 directories on both sides). */
const WINDOW = 16;

export class ReadAhead {
  /** Directories found and not yet requested, newest group on top, each in visiting order. */
  private readonly groups: { dirs: UpcomingDir[]; next: number }[] = [];
  private readonly requested = new Map<string, number>();
  private inFlight = 0;
  private closed = false;

  constructor(private readonly addon: NativeAddon | undefined = nativeAddon()) {}

  /** Subdirectories just listed, in the order the walk will visit them (before anything found earlier). */
  found(dirs: UpcomingDir[]): void {
    if (!this.addon || this.closed || dirs.length === 0) return;
    this.groups.push({ dirs, next: 0 });
    this.pump();
  }

  /** The walk reached `rel`: its listings are being taken, which makes room for more. */
  reached(rel: string): void {
    const count = this.requested.get(rel);
    if (count === undefined) return;
    this.requested.delete(rel);
    this.inFlight -= count;
    this.pump();
  }

  /** Forgets every listing read ahead and not taken (so none is used long after it was read). */
  close(): void {
    if (!this.addon || this.closed) return;
    this.closed = true;
    this.groups.length = 0;
    this.requested.clear();
    this.addon.dropReadAhead();
  }

  private pump(): void {
    const batch: string[] = [];
    while (this.inFlight < WINDOW && this.groups.length > 0) {
      const group = this.groups[this.groups.length - 1]!;
      const dir = group.dirs[group.next++];
      if (group.next >= group.dirs.length) this.groups.pop();
      if (!dir) continue;
      this.requested.set(dir.rel, dir.paths.length);
      this.inFlight += dir.paths.length;
      batch.push(...dir.paths);
    }
    if (batch.length > 0) this.addon!.readAhead(batch);
  }
}
