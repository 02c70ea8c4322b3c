/**
 * A small shared-memory board on which every thread of a transfer says what it is doing and beats
 * when it makes progress. The stall watchdog reads it from its own thread, so it still sees a main
 * thread that is stuck in a blocking system call (a hung network mount). Copiers also add the bytes
 * they write as they go, so progress moves inside a huge file, not only when it lands.
 */

// The native addon reads and writes this layout too: its `codes.board` must equal it
// (test/unit/native-codes.test.ts).

/** Each slot: a 2-byte length, then UTF-8 text. */
export const SLOT_BYTES = 512;
const HEADER_INTS = 4;
/**
 * The header: HEADER_INTS Int32s, then the BigInt64 counters, 8-byte aligned: bytes written
 * (WRITTEN), entries dealt with inside whole-directory jobs (DIR_ENTRIES), and what those jobs
 * listed (LISTED_COUNTERS from LISTED; see listed()); native copy threads count them as they go.
 */
export const WRITTEN = 0;
export const DIR_ENTRIES = 1;
export const LISTED = 2;
export const LISTED_COUNTERS = 3;
const COUNTERS = LISTED + LISTED_COUNTERS;
const HEADER_BYTES = HEADER_INTS * 4 + COUNTERS * 8;
/** Int32 indexes in the header. */
export const BEATS = 0;
export const STOPPED = 1;
/**
 * Non-zero while the run waits for a person (a confirmation prompt), a reader of its output, or a
 * remote session's peer: waiting is not stalling. A count: each waiter holds one (pause).
 */
export const PAUSED = 2;
/**
 * Non-zero once the run is interrupted (SIGINT, SIGTERM): copiers stop between files (the addon
 * also between 64 MiB chunks) and remove the temp file of the one they were writing.
 */
export const CANCELLED = 3;

export const MAX_SLOTS = 32;

export class ActivityBoard {
  readonly ints: Int32Array;
  /** [0]: bytes written so far, files in flight included (bumped per chunk); [1]: see dirEntries(); [2–4]: see listed(). */
  readonly written: BigInt64Array;
  /** The slots' bytes (what each thread is doing), for the native watchdog to read. */
  readonly slots: Uint8Array;
  private readonly encoder = new TextEncoder();
  /** Each slot's text bytes, made when first written. */
  private readonly views: Uint8Array[] = [];

  constructor(
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(HEADER_BYTES + MAX_SLOTS * SLOT_BYTES),
  ) {
    this.ints = new Int32Array(buffer, 0, HEADER_INTS);
    this.written = new BigInt64Array(buffer, HEADER_INTS * 4, COUNTERS);
    this.slots = new Uint8Array(buffer, HEADER_BYTES);
  }

  beat(): void {
    Atomics.add(this.ints, BEATS, 1);
  }

  /** Holds one pause (true) or lets go of one (false): the board is paused while any is held. */
  pause(paused: boolean): void {
    Atomics.add(this.ints, PAUSED, paused ? 1 : -1);
    this.beat();
  }

  /**
   * Runs `wait` with the board paused (a promise keeps it paused until it settles): waiting for a
   * reader of the actions (`blit -v … | less`) or for the user is not a stall.
   */
  whilePaused<T>(wait: () => T): T {
    this.pause(true);
    let result: T;
    try {
      result = wait();
    } catch (error) {
      this.pause(false);
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => this.pause(false)) as T;
    this.pause(false);
    return result;
  }

  /** Tells every copier to stop (see CANCELLED). */
  cancel(): void {
    Atomics.store(this.ints, CANCELLED, 1);
  }

  beats(): number {
    return Atomics.load(this.ints, BEATS);
  }

  bytesWritten(): number {
    return Number(Atomics.load(this.written, WRITTEN));
  }

  /** Entries that whole-directory jobs have dealt with so far, finished jobs included. */
  dirEntries(): number {
    return Number(Atomics.load(this.written, DIR_ENTRIES));
  }

  /**
   * What whole-directory jobs have listed, finished jobs included: entries, bytes of the files they
   * copy, and the change in directories still to list (each listed job adds its subdirectories and
   * takes itself off).
   */
  listed(): { entries: number; bytes: number; dirsDelta: number } {
    return {
      entries: Number(Atomics.load(this.written, LISTED)),
      bytes: Number(Atomics.load(this.written, LISTED + 1)),
      dirsDelta: Number(Atomics.load(this.written, LISTED + 2)),
    };
  }

  /** Says what thread `slot` is doing ('' when idle). Texts are cut to fit the slot. */
  set(slot: number, text: string): void {
    const base = slot * SLOT_BYTES;
    const length = this.write(slot, text);
    this.slots[base] = length & 0xff;
    this.slots[base + 1] = length >> 8;
  }

  /**
   * Writes `text` as UTF-8 into the slot's bytes (as much as fits, whole characters only); returns
   * the bytes written. ASCII is copied here: TextEncoder.encode cost ~2 µs per call, which a sender
   * naming each small file it sends paid per file (~40 ms of 20,000).
   */
  private write(slot: number, text: string): number {
    this.views[slot] ??= this.slots.subarray(slot * SLOT_BYTES + 2, (slot + 1) * SLOT_BYTES);
    const into = this.views[slot];
    const n = Math.min(text.length, into.length);
    for (let i = 0; i < n; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return this.encoder.encodeInto(text, into).written;
      into[i] = code;
    }
    return n;
  }

  get(slot: number): string {
    const base = slot * SLOT_BYTES;
    const length = this.slots[base]! | (this.slots[base + 1]! << 8);
    // Copy out of shared memory first: TextDecoder refuses shared buffers.
    return new TextDecoder().decode(this.slots.slice(base + 2, base + 2 + length));
  }

  /** What the stall detector says when nothing has beaten for `timeoutMs` (native/watchdog.cc says the same). */
  stallMessage(timeoutMs: number): string {
    const doing = this.all();
    const seconds = Math.round(timeoutMs / 100) / 10;
    return `stalled: no progress for ${seconds} s; ${doing.length > 0 ? `in flight: ${doing.join('; ')}` : 'nothing in flight'}`;
  }

  all(): string[] {
    const texts: string[] = [];
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const text = this.get(slot);
      if (text) texts.push(text);
    }
    return texts;
  }
}

/**
 * A look at a board now and then tells when nothing has beaten, unpaused, for `timeoutMs`: the
 * stall detector's rule, for its watchers (a worker thread, a timer; native/watchdog.cc has its own).
 */
export class StallClock {
  private lastBeats: number;
  private lastChange: number;

  constructor(
    private readonly board: ActivityBoard,
    private readonly timeoutMs: number,
    now: number,
  ) {
    this.lastBeats = board.beats();
    this.lastChange = now;
  }

  /** Whether the board has stalled by `now`; `restart`: the time-out counts from now. */
  stalled(now: number, restart = false): boolean {
    const beats = this.board.beats();
    if (restart || beats !== this.lastBeats || Atomics.load(this.board.ints, PAUSED) !== 0) {
      this.lastBeats = beats;
      this.lastChange = now;
      return false;
    }
    return now - this.lastChange >= this.timeoutMs;
  }
}
