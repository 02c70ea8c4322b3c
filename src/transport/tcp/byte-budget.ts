/**
 * The receiving side's memory bound: the bytes held for the landing threads (files to land, ranges
 * to write), counted together. Past the limit the sockets stop being read; once the bytes held
 * have drained to half, they are read again.
 */

/** Bytes held beyond which reading stops. */
export const MAX_HELD_BYTES = 64 << 20;

export class ByteBudget {
  private held = 0;
  private full = false;

  constructor(
    /** True: stop reading; false: read again. */
    private readonly pressure: (full: boolean) => void,
    private readonly limit = MAX_HELD_BYTES,
  ) {}

  take(bytes: number): void {
    this.held += bytes;
    if (!this.full && this.held > this.limit) {
      this.full = true;
      this.pressure(true);
    }
  }

  give(bytes: number): void {
    this.held -= bytes;
    if (this.full && this.held <= this.limit / 2) {
      this.full = false;
      this.pressure(false);
    }
  }
}
