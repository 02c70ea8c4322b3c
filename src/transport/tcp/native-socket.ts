/**
 * A data socket handed to the addon's thread for it (native/data_socket.cc): file bytes move
 * between the socket and files there (splice, sendfile), never through the JS thread. Node keeps
 * the socket object (its lifetime, keep-alive, 'close'), but stops reading it; each step is a
 * promise of its outcome, answered in the order asked.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import {
  type NativeAddon,
  type NativeDataSocket,
  nativeAddon,
  nativeErrnoError,
} from '../../fsops/native.js';
import { nowMs } from '../../util/clock.js';
import { errnoError } from '../../util/errors.js';
import { autotuneMax, bufferFor } from './socket-buffers.js';

/** What one step did: its bytes, and why it stopped short (the socket's fault or the file's). */
export interface StepOutcome {
  bytes: number;
  /** Set when the step failed; `closed`: the peer ended the connection inside it. */
  error?: NodeJS.ErrnoException;
  closed?: boolean;
  /** Which side failed: the socket (the session cannot go on) or the file (that file fails). */
  side?: 'socket' | 'file';
}

/** The libuv handle Node keeps for a TCP socket: its descriptor, and the switch of its reading. */
interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStop?(): number;
}

/** How often a socket's buffer is sized again from what it moved. */
const TUNE_EVERY_MS = 1000;

export class NativeSocket {
  private readonly answers: ((outcome: StepOutcome) => void)[] = [];
  private closed = false;
  private tuner: NodeJS.Timeout | undefined;

  private constructor(
    private readonly addon: NativeAddon,
    private readonly handle: NativeDataSocket,
  ) {}

  /**
   * Takes `socket` over for the addon's thread, or undefined where that cannot be (no addon, no
   * descriptor): the caller stays on the JS path. Node stops reading the socket for good; `close`
   * ends the thread. Bytes Node had read already (a pull's first records can come with the
   * daemon's admission) stay in the socket's buffer, complete once this returns: the reading
   * caller takes them first (`socket.read()`).
   */
  static take(socket: Socket, reading: boolean): NativeSocket | undefined {
    // A TLS socket's descriptor carries ciphertext: its bytes go through Node's TLS layer in JS.
    if (socket instanceof TLSSocket) return undefined;
    const addon = nativeAddon();
    const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
    if (!addon || typeof handle?.fd !== 'number' || handle.fd < 0 || typeof handle.readStop !== 'function')
      return undefined;
    let taken: NativeSocket | undefined;
    try {
      taken = new NativeSocket(
        addon,
        addon.dataSocketOpen(handle.fd, (bytes, errno, side) => taken?.answer(bytes, errno, side)),
      );
    } catch {
      // No descriptor or thread to be had (EMFILE): this socket stays on the JS path.
      return undefined;
    }
    if (reading) {
      // Stopped here, not by pause(), which leaves libuv reading until Node's buffer is full; and
      // for good: the stream would start it again to refill its buffer (maybeReadMore).
      if (handle.reading) {
        handle.reading = false;
        if (handle.readStop() !== 0) {
          taken.close(false);
          return undefined;
        }
      }
      socket._read = () => {};
    }
    return taken;
  }

  private answer(bytes: number, errno: number, side: number): void {
    const resolve = this.answers.shift();
    if (!resolve) return;
    if (side === 0) {
      resolve({ bytes });
      return;
    }
    const failed: StepOutcome = { bytes, side: side === 2 ? 'file' : 'socket' };
    if (errno === 0) failed.closed = true;
    else failed.error = nativeErrnoError(this.addon, errno);
    resolve(failed);
  }

  private step(ask: () => void): Promise<StepOutcome> {
    if (this.closed) return Promise.resolve({ bytes: 0, side: 'socket', error: errnoError('ECANCELED') });
    return new Promise<StepOutcome>((resolve) => {
      // Asked first: a call the addon refuses (it throws) must not leave an answer waiting.
      ask();
      this.answers.push(resolve);
    });
  }

  /**
   * Reads 1..into.length bytes (0: the peer closed; ETIMEDOUT after idleMs of nothing); `whole`:
   * into.length bytes unless the peer closes first (a batch's payload, read in one piece).
   */
  read(into: Uint8Array, idleMs: number, whole = false): Promise<StepOutcome> {
    return this.step(() => this.addon.dataSocketRead(this.handle, into, idleMs, whole));
  }

  /** Moves exactly `length` bytes from the socket into `fd` at `offset`. */
  receive(fd: number, offset: number, length: number, idleMs: number): Promise<StepOutcome> {
    return this.step(() => this.addon.dataSocketReceive(this.handle, fd, offset, length, idleMs));
  }

  /** Writes `header`, then `length` bytes of `fd` from `offset` (zeros past a file that shrank). */
  send(header: Uint8Array, fd: number, offset: number, length: number, idleMs: number): Promise<StepOutcome> {
    return this.step(() => this.addon.dataSocketSend(this.handle, header, fd, offset, length, idleMs));
  }

  write(data: Uint8Array, idleMs: number): Promise<StepOutcome> {
    return this.step(() => this.addon.dataSocketWrite(this.handle, data, idleMs));
  }

  /**
   * Sizes this socket's send or receive buffer from what it moved over the last `ms`
   * (socket-buffers.ts): returns the size set, or undefined when it was left to autotuning.
   */
  tuneBuffer(receive: boolean, bytes: number, ms: number): number | undefined {
    if (this.closed || ms <= 0) return undefined;
    try {
      const tcp = this.addon.dataSocketTcpInfo(this.handle);
      const rttUs = receive ? Math.max(tcp.rcvRttUs, tcp.rttUs) : tcp.rttUs;
      const current = receive ? tcp.receiveBuffer : tcp.sendBuffer;
      const wanted = bufferFor({ bytesPerSecond: (bytes * 1000) / ms, rttUs }, current, autotuneMax(receive));
      return wanted === undefined ? undefined : this.addon.dataSocketSetBuffer(this.handle, receive, wanted);
    } catch {
      // A socket going away meanwhile: nothing to tune.
      return undefined;
    }
  }

  /** Every second until closed, sizes the buffer from `moved()`, the bytes moved so far. */
  keepTuned(receive: boolean, moved: () => number): void {
    let last = moved();
    let at = nowMs();
    this.tuner = setInterval(() => {
      const now = nowMs();
      const total = moved();
      this.tuneBuffer(receive, total - last, now - at);
      last = total;
      at = now;
    }, TUNE_EVERY_MS);
    this.tuner.unref();
  }

  /** Ends the thread: the step under way and those queued answer ECANCELED. */
  close(shutdown: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tuner);
    this.addon.dataSocketClose(this.handle, shutdown);
  }
}
