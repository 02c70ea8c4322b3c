/**
 * The buffers a receiving data socket reads headers and batches of small files into (slabs), read
 * into again once nothing holds a view of them. Each read lands in a view of the socket's current
 * slab, and the small files' bytes go on as views of it to the landing threads. On the VMs measured
 * the first write to a page of fresh memory costs ~12 µs (a page fault the hypervisor takes part
 * in; a page written before costs nothing), so a fresh 4 MiB slab costs ~12 ms: a pull of 20,000
 * small files took ~22,000 such faults for its 88 MiB of slabs (docs/DECISIONS.md).
 *
 * So slabs are one pool for the process, kept when released (up to SPARE_SLABS), and each socket
 * (a SlabQuota) has at most SLABS_PER_SOCKET out at once: once its slabs are all waiting for their
 * files to land it reads on only when one comes back, so a receiver ahead of its landing threads
 * reuses the same few slabs instead of filling fresh ones. With the addon a slab is mapped at a
 * 2 MiB boundary and advised for transparent huge pages (hugeBuffer): its first fill then takes
 * two faults, not ~1,000 (malloc's own huge-page advice covered only the 2 MiB that happened to be
 * aligned inside a slab: a pull of 20,000 small files still took ~2,100 faults in the copy from the
 * socket).
 *
 * Whoever keeps a view past the call that handed it over holds it (holdView) and releases it once
 * done (releaseView); the socket holds its current slab. A slab whose holds are all released goes
 * back to the pool. A hold released twice would let a slab be read into under a view still in use,
 * so each holder pairs its own calls; a hold never released only keeps the slab from coming back
 * (the garbage collector frees it as before).
 */

import { hugeBuffers } from './huge-buffers.js';

/** The size of every slab: the largest read a socket's thread makes into one. */
export const SLAB_BYTES = 4 << 20;
/** Slabs out at once per socket (16 MiB): enough landing work queued for ~2,500 small files. */
export const SLABS_PER_SOCKET = 4;
/** Released slabs the process keeps for the next reads (32 MiB); the rest go to the garbage collector. */
export const SPARE_SLABS = 8;

interface Slab {
  readonly buffer: Buffer;
  holds: number;
  /** The socket it was taken for, told when it comes back. */
  quota: SlabQuota | undefined;
}

/** Every slab, by its memory: a view names its slab by its `buffer`. */
const slabs = new WeakMap<ArrayBufferLike, Slab>();
const spare: Slab[] = [];
/** Slabs allocated so far (tests: reads that found none spare). */
let made = 0;

/** One receiving socket's slabs: at most SLABS_PER_SOCKET out at once. */
export class SlabQuota {
  private out = 0;
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(private readonly limit = SLABS_PER_SOCKET) {}

  /** Whether a slab can be taken now; otherwise `wake` is called once one has come back. */
  available(wake: () => void): boolean {
    if (this.out < this.limit) return true;
    this.waiter = wake;
    return false;
  }

  /** A slab to read into, held once by the caller (releaseView on it when done with it). */
  take(): Buffer {
    const slab = spare.pop() ?? fresh();
    slab.holds = 1;
    slab.quota = this;
    this.out++;
    return slab.buffer;
  }

  /** The socket is done: nothing is woken any more (slabs still held come back to the pool). */
  close(): void {
    this.closed = true;
    this.waiter = undefined;
  }

  /** One of its slabs is held by no one any more. */
  returned(): void {
    this.out--;
    const wake = this.waiter;
    this.waiter = undefined;
    if (wake && !this.closed) wake();
  }
}

function fresh(): Slab {
  made++;
  const buffer = hugeBuffers(SLAB_BYTES)[0]!;
  const slab: Slab = { buffer, holds: 0, quota: undefined };
  slabs.set(buffer.buffer, slab);
  return slab;
}

/** `view` is kept past the call that handed it over: its slab (if it is one) is not read into until released. */
export function holdView(view: Uint8Array): void {
  const slab = slabs.get(view.buffer);
  if (!slab) return;
  // Released by all and held again (a file queued to land once more): back out of the spares.
  if (slab.holds === 0) {
    const at = spare.indexOf(slab);
    if (at >= 0) spare.splice(at, 1);
  }
  slab.holds++;
}

/** One hold of holdView (or of SlabQuota.take) is over. Views of other memory are left alone. */
export function releaseView(view: Uint8Array): void {
  const slab = slabs.get(view.buffer);
  if (!slab || slab.holds === 0) return;
  slab.holds--;
  if (slab.holds > 0) return;
  const quota = slab.quota;
  slab.quota = undefined;
  if (spare.length < SPARE_SLABS) spare.push(slab);
  quota?.returned();
}

/** Slabs allocated so far (tests). */
export function slabsMade(): number {
  return made;
}

/** Slabs kept for reuse now (tests). */
export function spareSlabs(): number {
  return spare.length;
}
