/**
 * Buffers of one size a sender fills, hands to a socket, and fills again once the socket has let
 * go of them. A fresh buffer costs a page fault per 4 KiB the first time it is filled (~12.8 µs each
 * on the VMs measured: more than reading the bytes); a few kept for reuse cost none.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];
  /** Made with others (views of one mapping) and not handed out yet. */
  private readonly unused: Buffer[] = [];
  /** The memory of every buffer this pool made: only those are taken back. */
  private readonly own = new WeakSet<ArrayBufferLike>();

  constructor(
    /** The size of every buffer of the pool. */
    readonly size: number,
    /** How many given back are kept; the rest are left to the garbage collector. */
    private readonly keep: number,
    /**
     * Makes fresh buffers of `size` bytes, one or more at a time; more than one share their memory,
     * each at a `byteOffset` that is a multiple of `size` (huge-buffers.ts hugeBuffers).
     */
    private readonly make: (size: number) => Buffer[] = (size) => [Buffer.allocUnsafeSlow(size)],
  ) {}

  take(): Buffer {
    const spare = this.spare.pop() ?? this.unused.pop();
    if (spare) return spare;
    const made = this.make(this.size);
    const first = made.pop()!;
    this.own.add(first.buffer);
    this.unused.push(...made);
    return first;
  }

  /**
   * A buffer taken from this pool, or a view of it, is no longer used by anyone. Anything else
   * (a buffer the pool did not make, one given back already) is left alone.
   */
  giveBack(view: Buffer): void {
    const memory = view.buffer;
    if (this.spare.length >= this.keep || !this.own.has(memory)) return;
    const start = view.byteOffset - (view.byteOffset % this.size);
    if (start + this.size > memory.byteLength) return;
    if (this.spare.some((buffer) => buffer.buffer === memory && buffer.byteOffset === start)) return;
    this.spare.push(Buffer.from(memory, start, this.size));
  }
}
