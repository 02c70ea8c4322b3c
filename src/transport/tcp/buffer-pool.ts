/**
 * Buffers of one size a sender fills, hands to a socket, and fills again once the socket has let
 * go of them. A fresh buffer costs a page fault per 4 KiB the first time it is filled (~20 µs each
 * on the VMs measured: more than reading the bytes); a few kept for reuse cost none.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];
  /** The memory of every buffer this pool made: only those are taken back. */
  private readonly own = new WeakSet<ArrayBufferLike>();
  private cleared = false;

  constructor(
    /** The size of every buffer of the pool. */
    readonly size: number,
    /** How many given back are kept; the rest are left to the garbage collector. */
    private readonly keep: number,
  ) {}

  take(): Buffer {
    const spare = this.spare.pop();
    if (spare) return spare;
    const fresh = Buffer.allocUnsafeSlow(this.size);
    this.own.add(fresh.buffer);
    return fresh;
  }

  /**
   * A buffer taken from this pool, or a view of it, is no longer used by anyone. Anything else
   * (a buffer the pool did not make, one given back already) is left alone.
   */
  giveBack(view: Buffer): void {
    const memory = view.buffer;
    if (this.cleared || this.spare.length >= this.keep || !this.own.has(memory)) return;
    if (this.spare.some((buffer) => buffer.buffer === memory)) return;
    this.spare.push(Buffer.from(memory, 0, this.size));
  }

  /** The owner is done: what is kept is let go, and nothing given back is kept any more. */
  clear(): void {
    this.cleared = true;
    this.spare.length = 0;
  }
}
