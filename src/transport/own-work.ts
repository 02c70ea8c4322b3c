/**
 * What the stall detector of a remote session counts: this side's own work. Waiting for the peer is
 * not a stall here: the peer's own detector names its stalls, and its heartbeats and the idle
 * time-outs (frame-channel.ts, outlet.ts) end a peer that is gone or silent. So the board is paused
 * while this side waits for the peer with nothing of its own in flight; its own I/O in flight (a
 * batch of small files landing, a range written, a file hashed) must answer, or beat, within the
 * time-out, and the stall message names the oldest of it.
 */
import type { ActivityBoard } from '../util/activity-board.js';

/** The board slot the oldest work in flight is shown in (the session's own phase is in slot 0). */
const SLOT = 1;

export class OwnWork {
  /** Labels of the work in flight, oldest first. */
  private readonly inFlight = new Map<number, string>();
  private nextId = 0;
  /** The work whose label the board shows. */
  private shown = -1;
  private waiting = 0;
  private paused = false;

  /** Without a board (no stall detector), nothing is counted. */
  constructor(private readonly board?: ActivityBoard) {}

  /** Own work started (`label`: what it does to which path); call the result when it answers. */
  start(label: string): () => void {
    const board = this.board;
    if (!board) return () => {};
    const id = this.nextId++;
    this.inFlight.set(id, label);
    if (this.inFlight.size === 1) this.show(id, label);
    this.update();
    return () => {
      if (!this.inFlight.delete(id)) return;
      board.beat();
      if (id === this.shown) {
        const next = this.inFlight.entries().next();
        if (next.done) this.show(-1, '');
        else this.show(next.value[0], next.value[1]);
      }
      this.update();
    };
  }

  /** What this side's main flow does now (the board's slot 0): named if it stalls. */
  now(label: string): void {
    this.board?.set(0, label);
    this.board?.beat();
  }

  /** Progress inside one piece of work (a chunk of a large file hashed). */
  beat(): void {
    this.board?.beat();
  }

  /** Waits for the peer: no stall while it lasts, unless own work is in flight meanwhile. */
  async forPeer<T>(wait: Promise<T>): Promise<T> {
    if (!this.board) return wait;
    this.waiting++;
    this.update();
    try {
      return await wait;
    } finally {
      this.waiting--;
      // What the peer sent (or its failure) is progress.
      this.board.beat();
      this.update();
    }
  }

  private show(id: number, label: string): void {
    this.shown = id;
    this.board!.set(SLOT, label);
  }

  private update(): void {
    const pause = this.waiting > 0 && this.inFlight.size === 0;
    if (pause === this.paused) return;
    this.paused = pause;
    this.board!.pause(pause);
  }
}
