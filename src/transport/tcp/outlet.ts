/**
 * One data socket as the sending half writes to it: through Node (the pure-JS path), or through
 * the addon's thread for it (native-socket.ts), which also sends file ranges by sendfile. All of a
 * socket's writes go the same way, in the order asked; `load` is what waits to be written.
 */
import type { Socket } from 'node:net';
import { reasonOf } from '../../util/errors.js';
import { DataPlaneFailed, DataPlaneStalled } from './data-failure.js';
import type { NativeSocket, StepOutcome } from './native-socket.js';
import { endRecord } from './records.js';

/** A socket whose queued bytes have not moved for this long is stalled: the session fails. */
export const WRITE_IDLE_MS = 30_000;

export interface OutletEvents {
  /** Bytes went out (for the session's measurements). */
  sent(bytes: number): void;
  /** The socket failed: the session cannot go on. */
  failed(error: Error): void;
}

export class Outlet {
  /** Bytes handed to the socket's thread and not written yet (native path). */
  private queued = 0;
  /** Bytes written, for sizing the socket's send buffer. */
  private written = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(
    readonly socket: Socket,
    private readonly native: NativeSocket | undefined,
    private readonly on: OutletEvents,
  ) {
    // Cut by the session (no socket outlives it): the thread ends with it, whatever it was doing.
    socket.once('close', () => native?.close(true));
    native?.keepTuned(false, () => this.written);
  }

  /** True when file ranges can go by sendfile on this socket. */
  get sendsFiles(): boolean {
    return this.native !== undefined;
  }

  /** Bytes waiting to be written. */
  get load(): number {
    return this.native ? this.queued : this.socket.writableLength;
  }

  /**
   * Queues `parts` in order. Resolves once the socket no longer holds any of them (written, or
   * dropped as the socket failed): their buffers may be used again then.
   */
  write(parts: Buffer[]): Promise<void> {
    let released: Promise<unknown> = Promise.resolve();
    for (const part of parts) {
      if (this.native) {
        const step = this.native.write(part, WRITE_IDLE_MS);
        this.track(step, part.length);
        released = step;
      } else {
        released = new Promise<void>((resolve) => this.socket.write(part, () => resolve()));
        this.on.sent(part.length);
      }
    }
    return released.then(() => {});
  }

  /**
   * Writes `header`, then `length` bytes of `fd` from `offset` (native path only). The outcome
   * says whether the file could be read whole; the descriptor must stay open until it comes.
   */
  sendRange(header: Buffer, fd: number, offset: number, length: number): Promise<StepOutcome> {
    const step = this.native!.send(header, fd, offset, length, WRITE_IDLE_MS);
    this.track(step, header.length + length);
    return step;
  }

  private track(step: Promise<StepOutcome>, bytes: number): void {
    this.queued += bytes;
    void step.then((outcome) => {
      this.queued -= bytes;
      if (outcome.side === 'socket') this.on.failed(socketFailure(outcome));
      else {
        this.written += bytes;
        this.on.sent(bytes);
      }
      for (const wake of this.drainWaiters.splice(0)) wake();
    });
  }

  /** Resolves once some of what waits has been written. */
  drained(): Promise<void> {
    if (!this.native) return new Promise((resolve) => this.socket.once('drain', resolve));
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** An end record, then the socket is closed once everything is written. */
  end(): void {
    if (!this.native) {
      this.socket.end(endRecord());
      return;
    }
    const native = this.native;
    void native.write(endRecord(), WRITE_IDLE_MS).then((outcome) => {
      native.close(outcome.side !== undefined);
      this.socket.end();
    });
  }

  /** The session failed: the socket's thread stops at once (its queued steps answer ECANCELED). */
  cut(): void {
    this.native?.close(true);
  }

  /** Cuts the socket at once (the session failed). */
  destroy(): void {
    this.native?.close(true);
    this.socket.destroy();
  }
}

function socketFailure(outcome: StepOutcome): DataPlaneFailed {
  if (outcome.closed) return new DataPlaneFailed('data connection closed by the peer');
  if (outcome.error?.code === 'ETIMEDOUT')
    return new DataPlaneStalled(`data connection stalled for ${WRITE_IDLE_MS / 1000} s`);
  return new DataPlaneFailed(`data connection failed: ${reasonOf(outcome.error)}`);
}
