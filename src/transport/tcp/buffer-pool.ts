/**
 * Buffers of one size a sender fills, hands to a socket, and fills again once the socket has let
 * go of them. A fresh buffer costs a page fault per 4 KiB the first time it is filled (~20 µs each
 * on the VMs measured: more than reading the bytes); a few kept for reuse cost none.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];

  constructor(
    /** The size of every buffer of the pool. */
    readonly size: number,
    /** How many given back are kept; the rest are left to the garbage collector. */
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** A buffer taken from this pool, or a view of it from its start, is no longer used by anyone. */
  giveBack(view: Buffer): void {
    if (this.spare.length >= this.keep || view.buffer.byteLength < view.byteOffset + this.size) return;
    this.spare.push(Buffer.from(view.buffer, view.byteOffset, this.size));
  }
}
