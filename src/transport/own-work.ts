/**
 * What the stall detector of a remote session counts: this side's own work. Waiting for the peer is
 * not a stall here: the peer's own detector names its stalls, and its heartbeats and the idle
 * time-outs (frame-channel.ts, outlet.ts) end a peer that is gone or silent. So the board is paused
 * while this side waits for the peer with nothing of its own in flight; its own I/O in flight (a
 * batch of small files landing, a range written, a file hashed) must answer, or beat, within the
 * time-out, and the stall message names the oldest of it. A side that runs two flows of work at
 * once (a source's walk beside its serving of needs: flow()) is paused only while every open flow
 * waits for the peer.
 */
import type { ActivityBoard } from '../util/activity-board.js';

/** The board slot the oldest work in flight is shown in (the session's own phase is in slot 0). */
const SLOT = 1;
/** The board slot of the first flow beside the main one (flow()); the next ones follow. */
const FIRST_FLOW_SLOT = 2;

/** What the flows of one side share: the work in flight, and how many flows wait for the peer. */
class Tally {
  /** Labels of the work in flight, oldest first. */
  readonly inFlight = new Map<number, string>();
  nextId = 0;
  nextFlowSlot = FIRST_FLOW_SLOT;
  /** The work whose label the board shows. */
  shown = -1;
  flowsOpen = 0;
  flowsWaiting = 0;
  paused = false;
}

/**
 * One flow of this side's work. A side may run a second flow beside its main one (flow(): a
 * source's walk beside the loop that serves its needs); the board is then paused only while every
 * open flow waits for the peer and nothing is in flight.
 */
export class OwnWork {
  /** This flow's waits for the peer now (nested waits count once for the flow). */
  private waiting = 0;
  private open = true;

  /**
   * Without a board (no stall detector), nothing is counted. `tally` and `nowSlot`: given by flow()
   * (the main flow's `now` shows in slot 0).
   */
  constructor(
    private readonly board?: ActivityBoard,
    private readonly tally = new Tally(),
    private readonly nowSlot = 0,
  ) {
    tally.flowsOpen++;
  }

  /** A flow beside this one, its `now` shown in a board slot of its own. */
  flow(): OwnWork {
    return new OwnWork(this.board, this.tally, this.tally.nextFlowSlot++);
  }

  /** This flow is over: it no longer keeps the board going, nor shows what it did last. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.tally.flowsOpen--;
    if (this.waiting > 0) this.tally.flowsWaiting--;
    this.board?.set(this.nowSlot, '');
    this.update();
  }

  /** Own work started (`label`: what it does to which path); call the result when it answers. */
  start(label: string): () => void {
    const board = this.board;
    if (!board) return () => {};
    const tally = this.tally;
    const id = tally.nextId++;
    tally.inFlight.set(id, label);
    if (tally.inFlight.size === 1) this.show(id, label);
    this.update();
    return () => {
      if (!tally.inFlight.delete(id)) return;
      board.beat();
      if (id === tally.shown) {
        const next = tally.inFlight.entries().next();
        if (next.done) this.show(-1, '');
        else this.show(next.value[0], next.value[1]);
      }
      this.update();
    };
  }

  /** What this flow does now (its board slot; slot 0 for the main flow): named if it stalls. */
  now(label: string): void {
    this.board?.set(this.nowSlot, label);
    this.board?.beat();
  }

  /** Progress inside one piece of work (a chunk of a large file hashed). */
  beat(): void {
    this.board?.beat();
  }

  /** Waits for the peer: no stall while it lasts, unless own work is in flight meanwhile. */
  async forPeer<T>(wait: Promise<T>): Promise<T> {
    if (!this.board) return wait;
    if (this.waiting++ === 0 && this.open) this.tally.flowsWaiting++;
    this.update();
    try {
      return await wait;
    } finally {
      if (--this.waiting === 0 && this.open) this.tally.flowsWaiting--;
      // What the peer sent (or its failure) is progress.
      this.board.beat();
      this.update();
    }
  }

  private show(id: number, label: string): void {
    this.tally.shown = id;
    this.board!.set(SLOT, label);
  }

  private update(): void {
    if (!this.board) return;
    const tally = this.tally;
    const pause =
      tally.flowsWaiting > 0 && tally.flowsWaiting === tally.flowsOpen && tally.inFlight.size === 0;
    if (pause === tally.paused) return;
    tally.paused = pause;
    this.board.pause(pause);
  }
}
