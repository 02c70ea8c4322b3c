/**
 * The receiving side's memory bound: the bytes held for the landing threads (files to land, ranges
 * to write), counted together. Past the limit the sockets stop being read; once the bytes held
 * have drained to half, they are read again.
 *
 * A daemon receives many sessions at once: their budgets also count in one SharedBudget, and while
 * all of them together hold more than its limit, every one of them stops reading (256 sessions of
 * 64 MiB each could otherwise hold 16 GiB). Held bytes drain by landing, which needs no further
 * reads, so a stop never deadlocks.
 */

/** Bytes one session holds beyond which its sockets stop being read. */
export const MAX_HELD_BYTES = 64 << 20;
/** Bytes all of a daemon's sessions hold together beyond which all of them stop reading. */
export const MAX_SHARED_HELD_BYTES = 256 << 20;

export class SharedBudget {
  private held = 0;
  private full = false;
  private readonly members = new Set<ByteBudget>();
  /** How many times the sessions together went past the limit (for tests and logs). */
  stops = 0;

  constructor(readonly limit = MAX_SHARED_HELD_BYTES) {}

  get bytes(): number {
    return this.held;
  }

  get isFull(): boolean {
    return this.full;
  }

  join(member: ByteBudget): void {
    this.members.add(member);
  }

  leave(member: ByteBudget, stillHeld: number): void {
    this.members.delete(member);
    this.change(-stillHeld);
  }

  change(bytes: number): void {
    this.held += bytes;
    const full = this.full ? this.held > this.limit / 2 : this.held > this.limit;
    if (full === this.full) return;
    this.full = full;
    if (full) this.stops++;
    for (const member of this.members) member.recheck();
  }
}

export class ByteBudget {
  private held = 0;
  private full = false;
  /** What `pressure` was last told. */
  private stopped = false;
  private shared: SharedBudget | undefined;

  constructor(
    /** True: stop reading; false: read again. */
    private readonly pressure: (full: boolean) => void,
    private readonly limit = MAX_HELD_BYTES,
    shared?: SharedBudget,
  ) {
    this.shared = shared;
    shared?.join(this);
  }

  take(bytes: number): void {
    this.held += bytes;
    if (!this.full && this.held > this.limit) this.full = true;
    this.shared?.change(bytes);
    this.recheck();
  }

  give(bytes: number): void {
    this.held -= bytes;
    if (this.full && this.held <= this.limit / 2) this.full = false;
    this.shared?.change(-bytes);
    this.recheck();
  }

  /**
   * The session is over: what it still holds stops counting in the shared budget (it drains on
   * its own; a session that failed must never leave the daemon's budget short for good).
   */
  close(): void {
    this.shared?.leave(this, this.held);
    this.shared = undefined;
  }

  /** Tells `pressure` when this budget or the shared one changed its mind. */
  recheck(): void {
    const stop = this.full || (this.shared?.isFull ?? false);
    if (stop === this.stopped) return;
    this.stopped = stop;
    this.pressure(stop);
  }
}
