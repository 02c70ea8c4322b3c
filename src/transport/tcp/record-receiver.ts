/**
 * The receiving half of the data plane: each data socket's bytes are decoded into records
 * (records.ts, bounded) and handed to the session's sink range by range. The sink decides whether
 * a range fits a file it asked for; a range it refuses, or a socket that closes before its end
 * record, fails the session. Bytes of a file that failed already are dropped.
 *
 * With the addon, the socket is read on a thread of its own (native-socket.ts): headers and
 * batches of small files come to this thread in buffers, and the bytes of a whole file or a block
 * go from the socket straight into the file the sink names (splice), never through this thread.
 * Without it (or for a socket Node had already read from), the socket's chunks come here as on any
 * stream. Both read the same records under the same rules.
 */
import type { Socket } from 'node:net';
import { ProtocolError } from '../../protocol/manifest-wire.js';
import { reasonOf } from '../../util/errors.js';
import { DataPlaneFailed, DataPlaneStalled } from './data-failure.js';
import { NativeSocket, type StepOutcome } from './native-socket.js';
import { type BatchEvent, RecordDecoder, type RecordEvent } from './records.js';
import { releaseView, SLAB_BYTES, SlabQuota } from './slab-pool.js';

/** Where received ranges go: the destination half of the session. */
export interface RangeSink {
  /**
   * A range of file `fileId` begins. False: the file failed already, its bytes are dropped. Throws
   * ProtocolError when the file was not asked for or the range does not fit it. A `hole` has no
   * bytes: `done` follows at once.
   */
  begin(fileId: bigint, offset: number, length: number, whole: boolean, hole?: boolean): boolean;
  data(fileId: bigint, offset: number, data: Buffer): void;
  /** The range is complete; `final`: the source read the whole file and found it unchanged. */
  done(fileId: bigint, final: boolean): void;
  /**
   * The source sent every block of the file and found it unchanged after the last (CHECKED): the
   * file is complete once they are all in. Throws ProtocolError for a file not sent as blocks.
   */
  checked(fileId: bigint): void;
  fail(fileId: bigint, reason: string): void;
  /**
   * A whole batch that came in one read (records.ts BatchEvent): the sink takes the members it
   * can at once and says which (1 in the answer); the others go through begin, data and done as
   * any range does. Undefined: none taken.
   */
  batch?(fileIds: bigint[], lengths: number[], data: Buffer): Uint8Array | undefined;
  /**
   * Where the receiver may write the next `length` bytes of a range itself (at `offset` of the
   * descriptor), calling `written` once they are in or could not be; undefined: hand them as data.
   */
  direct?(fileId: bigint, offset: number, length: number): DirectWrite | undefined;
}

export interface DirectWrite {
  fd: number;
  /**
   * The bytes are in (`error` undefined), or could not be written (the stream went on), or the
   * socket failed before they were all read (`error` a RangeAbandoned: not the file's fault, the
   * session is failing).
   */
  written(error: unknown): void;
}

/** A range a socket failed in the middle of: its file is not to blame (the session fails). */
export class RangeAbandoned extends Error {}

/** A socket's reading, which the destination stops while too much waits to land. */
export interface Receiving {
  pause(): void;
  resume(): void;
  /** The session failed: the socket is cut, a step under way answers at once, nothing is reported. */
  stop(): void;
}

/** A record begun and not continued for this long fails the session (idle between records is fine). */
export const RECORD_IDLE_MS = 30_000;
/** A slab with less room than this left is replaced, unless the read wants less. */
const MIN_READ_BYTES = 64 << 10;
/** Read at a record's start: a FILE or BLOCK header whole (its data then goes by splice). */
const FIRST_READ_BYTES = 32;

/**
 * Reads records from `socket` into `sink` until its end record. `onError` hears of the first
 * failure (a malformed record, a refused range, a lost socket, a record left half-sent for
 * `idleMs`); the socket is destroyed then. `path`: tests choose the pure-JS reading.
 */
export function receiveRecords(
  socket: Socket,
  sink: RangeSink,
  onError: (error: Error) => void,
  idleMs = RECORD_IDLE_MS,
  path: 'auto' | 'js' = 'auto',
): Receiving {
  socket.setNoDelay(true);
  const native = path === 'auto' ? NativeSocket.take(socket, true) : undefined;
  if (!native) return receiveInJs(socket, sink, onError, idleMs);
  // What Node read before the thread took over (Node reads no more now): decoded first.
  const early: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null)
    early.push(chunk);
  return receiveNatively(socket, native, sink, onError, idleMs, early);
}

/** The decoder's events given to the sink, and the range under way. */
class Ranges {
  /** The range being received: its file, whether it is kept, and whether it is final. */
  current: { fileId: bigint; keep: boolean; final: boolean } | undefined;
  ended = false;

  constructor(private readonly sink: RangeSink) {}

  apply(events: RecordEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case 'start':
          this.current = {
            fileId: event.fileId,
            keep: this.sink.begin(event.fileId, event.offset, event.length, event.whole, event.hole),
            final: event.final,
          };
          break;
        case 'data':
          if (this.current?.keep) this.sink.data(event.fileId, event.offset, event.data);
          break;
        case 'done':
          if (this.current?.keep) this.sink.done(event.fileId, this.current.final);
          this.current = undefined;
          break;
        case 'fail':
          this.sink.fail(event.fileId, event.reason);
          break;
        case 'checked':
          this.sink.checked(event.fileId);
          break;
        case 'end':
          this.ended = true;
          break;
        case 'batch':
          this.applyBatch(event);
          break;
      }
    }
  }

  /** A batch read whole: what the sink takes at once, the rest member by member, in order. */
  private applyBatch({ fileIds, lengths, data }: BatchEvent): void {
    const taken = this.sink.batch?.(fileIds, lengths, data);
    for (let i = 0, at = 0; i < fileIds.length; at += lengths[i]!, i++) {
      if (taken?.[i] === 1) continue;
      const fileId = fileIds[i]!;
      const length = lengths[i]!;
      if (!this.sink.begin(fileId, 0, length, true)) continue;
      if (length > 0) this.sink.data(fileId, 0, data.subarray(at, at + length));
      this.sink.done(fileId, true);
    }
  }

  /** Inside a record: silence now is a stall. */
  midRecord(decoder: RecordDecoder): boolean {
    return this.current !== undefined || decoder.inRecord;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new ProtocolError(String(error));
}

function stalled(idleMs: number): DataPlaneFailed {
  return new DataPlaneStalled(
    `data connection stalled in the middle of a record for ${Math.round(idleMs / 1000)} s`,
  );
}

const CLOSED_EARLY = 'data connection closed before its end record';

function receiveInJs(
  socket: Socket,
  sink: RangeSink,
  onError: (error: Error) => void,
  idleMs: number,
): Receiving {
  const decoder = new RecordDecoder({ batches: true });
  const ranges = new Ranges(sink);
  let broken = false;
  const fail = (error: Error) => {
    if (broken) return;
    broken = true;
    socket.destroy();
    onError(error);
  };
  socket.on('data', (chunk: Buffer) => {
    if (broken) return;
    try {
      ranges.apply(decoder.push(chunk));
    } catch (error) {
      fail(asError(error));
    }
  });
  socket.on('error', (error) => fail(new DataPlaneFailed(`data connection failed: ${reasonOf(error)}`)));
  // Silence between records is normal (the source may be scanning); inside one it is a stall. A
  // socket this side paused (too much waiting to land) is not the peer's silence.
  socket.setTimeout(idleMs);
  socket.on('timeout', () => {
    if (ranges.midRecord(decoder) && !socket.isPaused()) fail(stalled(idleMs));
  });
  socket.on('close', () => {
    if (!ranges.ended) fail(new DataPlaneFailed(CLOSED_EARLY));
  });
  socket.resume();
  return {
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    stop: () => {
      broken = true;
      socket.destroy();
    },
  };
}

/** A read asked of the socket's thread behind another step (receiveNatively's readAhead). */
interface Ahead {
  into: Buffer;
  outcome: Promise<StepOutcome>;
}

/**
 * One step at a time on the socket's thread: a read of what the decoder wants next, or, for the
 * rest of a whole file or block the sink has a descriptor for, a receive straight into it. After
 * the end record, one more read must find the peer's end. `early`: bytes Node read off the socket
 * before the thread took it, decoded before the first step.
 */
function receiveNatively(
  socket: Socket,
  native: NativeSocket,
  sink: RangeSink,
  onError: (error: Error) => void,
  idleMs: number,
  early: Buffer[] = [],
): Receiving {
  const decoder = new RecordDecoder({ batches: true });
  const ranges = new Ranges(sink);
  // The buffers reads go into (slab-pool.ts): a view of the current one per read.
  const slabs = new SlabQuota();
  let slab: Buffer | undefined;
  let used = 0;
  let busy = false;
  let paused = false;
  let over = false;
  /** Bytes taken off the socket, for sizing its receive buffer. */
  let moved = 0;
  native.keepTuned(true, () => moved);
  const fail = (error: Error) => {
    if (over) return;
    over = true;
    native.close(true);
    socket.destroy();
    onError(error);
  };
  // Cut by the session (or by the end): the thread ends with it. After the end record the close is
  // the end (Node may have read the peer's end before the thread took the socket): the read it
  // cancels is no failure.
  socket.once('close', () => {
    if (ranges.ended) over = true;
    slabs.close();
    // A read still under way writes into the slab until it answers: given back then (`read`).
    if (!busy) dropSlab();
    native.close(true);
    if (!ranges.ended) fail(new DataPlaneFailed(CLOSED_EARLY));
  });
  socket.on('error', () => {});

  /** A step the thread could not finish on the socket's side: the session cannot go on. */
  const socketFailed = (outcome: StepOutcome) => {
    if (over) return;
    if (outcome.closed) fail(new DataPlaneFailed(CLOSED_EARLY));
    else fail(new DataPlaneFailed(`data connection failed: ${reasonOf(outcome.error)}`));
  };

  /** The socket is done with its current slab (none of its reads is under way). */
  const dropSlab = () => {
    if (slab) releaseView(slab);
    slab = undefined;
  };

  /**
   * After a step: the read queued behind it, if any (readAhead), is answered next; otherwise, when
   * `proceed`, the next step is asked.
   */
  const then = (ahead: Ahead | undefined, proceed: boolean) => {
    if (ahead) {
      busy = true;
      void ahead.outcome.then((outcome) => read(outcome, ahead.into));
    } else if (proceed) next();
  };

  /**
   * A step's answer handled by `handle` (whether the next step may be asked), then what follows it
   * (then): busy meanwhile while a read queued behind the step is under way, whatever `handle` does.
   */
  const answered = (ahead: Ahead | undefined, handle: () => boolean) => {
    busy = ahead !== undefined;
    let proceed = false;
    try {
      proceed = handle();
    } finally {
      then(ahead, proceed);
    }
  };

  const read = (outcome: StepOutcome, into: Buffer, ahead?: Ahead) =>
    answered(ahead, () => readDone(outcome, into, ahead));

  /** What a read brought, decoded; whether the next step may be asked. */
  const readDone = (outcome: StepOutcome, into: Buffer, ahead: Ahead | undefined): boolean => {
    if (over) {
      // Given back once no read into it is under way.
      if (!ahead) dropSlab();
      return false;
    }
    if (outcome.error?.code === 'ETIMEDOUT' && outcome.side === 'socket') {
      if (ranges.midRecord(decoder)) fail(stalled(idleMs));
      return true;
    }
    if (outcome.side) {
      socketFailed(outcome);
      return false;
    }
    if (outcome.bytes === 0) {
      if (!ranges.ended) fail(new DataPlaneFailed(CLOSED_EARLY));
      else {
        over = true;
        native.close(false);
        socket.destroy();
      }
      return false;
    }
    used += outcome.bytes;
    moved += outcome.bytes;
    try {
      ranges.apply(decoder.push(into.subarray(0, outcome.bytes)));
    } catch (error) {
      fail(asError(error));
      return false;
    }
    return true;
  };

  const received = (
    outcome: StepOutcome,
    target: { written(error: unknown): void },
    length: number,
    ahead: Ahead | undefined,
  ) => answered(ahead, () => receivedDone(outcome, target, length, ahead));

  /** A range received into its file: said to the sink, the decoder moved past it; whether to go on. */
  const receivedDone = (
    outcome: StepOutcome,
    target: { written(error: unknown): void },
    length: number,
    ahead: Ahead | undefined,
  ): boolean => {
    // Closed while the bytes went straight into the file: the close left the slab for this answer
    // (or for the read queued behind it).
    if (over && !ahead) dropSlab();
    if (outcome.side === 'socket') {
      try {
        target.written(new RangeAbandoned('the data connection failed inside this range'));
      } finally {
        socketFailed(outcome);
      }
      return false;
    }
    moved += length;
    try {
      target.written(outcome.side === 'file' ? outcome.error : undefined);
      if (over) return false;
      ranges.apply(decoder.skip(length));
    } catch (error) {
      fail(asError(error));
      return false;
    }
    return true;
  };

  /**
   * The next record's first bytes, asked of the thread right behind a step that ends its record (a
   * range received into its file, a batch read whole), at `at` of the slab: the thread reads them
   * as soon as that step is done, not an event-loop turn after its answer. None where the slab has
   * no room for them.
   */
  const readAhead = (at: number): Ahead | undefined => {
    if (!slab || slab.length - at < FIRST_READ_BYTES) return undefined;
    const into = slab.subarray(at, at + FIRST_READ_BYTES);
    return { into, outcome: native.read(into, idleMs) };
  };

  const next = () => {
    if (over || busy || paused) return;
    busy = true;
    try {
      step();
    } catch (error) {
      // The sink refused (a fatal write error) or broke: the session ends, not the process.
      busy = false;
      fail(asError(error));
    }
  };

  const step = () => {
    const sole = ranges.current?.keep ? decoder.soleRange : undefined;
    const target = sole && sink.direct?.(sole.fileId, sole.offset, sole.length);
    if (sole && target) {
      const receiving = native.receive(target.fd, sole.offset, sole.length, idleMs);
      const ahead = readAhead(used);
      void receiving.then((outcome) => received(outcome, target, sole.length, ahead));
      return;
    }
    const atStart = !ranges.midRecord(decoder) && !ranges.ended;
    let want = ranges.ended ? 1 : Math.max(decoder.wanted, atStart ? FIRST_READ_BYTES : 1);
    // A batch's table begun: the rest of it and its payload in one read where a slab holds them.
    const throughBatch = ranges.ended ? undefined : decoder.wantedThroughBatch;
    const batchRest = throughBatch !== undefined && throughBatch <= SLAB_BYTES;
    if (batchRest) want = Math.max(want, throughBatch);
    // A batch's payload is read in one piece where a slab holds it: the decoder then hands the
    // batch on whole (one event, not three per file). Either read ends the batch's record.
    const whole = (decoder.batchPending || batchRest) && want <= SLAB_BYTES;
    // A new slab is always the same size: `want` comes from the peer (a dropped range may claim
    // petabytes); a read takes what fits, the decoder the rest on the next one.
    if (slab && slab.length - used < (whole ? want : Math.min(want, MIN_READ_BYTES))) {
      // Back to the pool once the views the sink keeps of it are released.
      releaseView(slab);
      slab = undefined;
    }
    if (!slab) {
      // Every slab of this socket still holds files waiting to land: read on once one comes back.
      if (!slabs.available(() => next())) {
        busy = false;
        return;
      }
      slab = slabs.take();
      used = 0;
    }
    const into = slab.subarray(used, used + Math.min(want, slab.length - used));
    const reading = native.read(into, idleMs, whole);
    // Read whole, it ends its record.
    const ahead = whole ? readAhead(used + into.length) : undefined;
    void reading.then((outcome) => read(outcome, into, ahead));
  };
  try {
    for (const chunk of early) ranges.apply(decoder.push(chunk));
  } catch (error) {
    fail(asError(error));
  }
  next();
  return {
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      next();
    },
    stop: () => {
      over = true;
      native.close(true);
      socket.destroy();
    },
  };
}
