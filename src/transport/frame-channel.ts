/**
 * One side of a `Transfer` stream, whichever end of the gRPC call holds it: frames out with
 * back-pressure, frames in to one handler, a heartbeat, and an idle time-out (never a total
 * deadline). Every way the stream can end — the peer's end, an error, a cancel, silence — settles
 * `closed` once, so a session waits on one promise.
 */
import type { Role, TransferFrame } from '../generated/blit.js';

export type FrameBody = NonNullable<TransferFrame['body']>;

/** What the channel needs of either end of a gRPC duplex call. */
export interface FrameStream {
  /** A frame, or one already encoded (sendEncoded: only to a stream whose serializer passes bytes on). */
  write(frame: TransferFrame | Uint8Array): boolean;
  end(): void;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  on(event: 'data', listener: (frame: TransferFrame) => void): unknown;
  on(event: 'end' | 'close' | 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * A Transfer serializer that sends a frame already encoded (FrameChannel.sendEncoded) as it is, and
 * encodes the others with `serialize`: the client's requests (remote/client.ts) and the daemon's
 * responses (daemon/server.ts) both carry manifests the addon encoded (protocol/native-manifest.ts).
 */
export function passEncoded<T>(serialize: (frame: T) => Buffer): (frame: T | Uint8Array) => Buffer {
  return (frame) =>
    frame instanceof Uint8Array
      ? Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
      : serialize(frame);
}

/** Nothing heard from the peer for this long ends the session (its heartbeat comes every second). */
export const PEER_IDLE_MS = 30_000;
const HEARTBEAT_MS = 1_000;

export class PeerGone extends Error {
  override readonly name = 'PeerGone';
}

/** The peer went silent, or stopped reading, for the idle time (a stall, not a cancel). */
export class PeerStalled extends PeerGone {}

/** The peer ended the session with a fatal error of its own (its message, made harmless). */
export class PeerFailed extends Error {
  override readonly name = 'PeerFailed';
}

/** The peer ended its stream before the session was over, without a reason: it quit or cancelled. */
export class PeerEndedEarly extends PeerFailed {}

/** A kind of Transfer frame (its body's case). */
type FrameKind = FrameBody['$case'];

interface FirstWatcher {
  kinds: readonly FrameKind[];
  watcher: () => void;
}

export class FrameChannel {
  private handler?: (frame: TransferFrame) => void;
  /** One-shot watchers of the first frame of some kinds, either way (onFirst). */
  private firstWatchers: FirstWatcher[] = [];
  private idleTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private settled = false;
  private failedWith: Error | undefined;
  private drained: Promise<void> | undefined;
  private releaseDrain: (() => void) | undefined;
  private resolveClosed!: () => void;
  private rejectClosed!: (error: Error) => void;
  /** Settles when the peer ended the stream (resolves) or it broke (rejects). */
  readonly closed: Promise<void>;

  constructor(
    private readonly stream: FrameStream,
    /** The role this side's frames carry (a responder learns it from Open). */
    public role: Role,
    private readonly idleMs = PEER_IDLE_MS,
  ) {
    this.closed = new Promise<void>((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    // Nobody may be waiting on it yet; a rejection is read through `closed` when someone does.
    this.closed.catch(() => {});
    stream.on('data', (frame: TransferFrame) => {
      this.touch();
      if (this.settled) return;
      if (this.firstWatchers.length > 0) this.sawFrame(frame.body?.$case);
      try {
        this.handler?.(frame);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
    stream.on('end', () => this.finish());
    stream.on('error', (error: Error) => this.fail(error));
    stream.on('close', () => this.finish());
    this.touch();
  }

  /** Frames from the peer go to `handler`, synchronously, in order. A throw ends the session. */
  onFrame(handler: (frame: TransferFrame) => void): void {
    this.handler = handler;
  }

  /** `watcher` runs once, at the first file data this channel carries either way. */
  onFirstFileData(watcher: () => void): void {
    this.onFirst(['fileData'], watcher);
  }

  /** `watcher` runs once, at the first frame of one of these kinds this channel carries either way. */
  onFirst(kinds: readonly FrameKind[], watcher: () => void): void {
    this.firstWatchers.push({ kinds, watcher });
  }

  private sawFrame(kind: FrameKind | undefined): void {
    if (kind === undefined) return;
    const due = this.firstWatchers.filter((first) => first.kinds.includes(kind));
    if (due.length === 0) return;
    this.firstWatchers = this.firstWatchers.filter((first) => !due.includes(first));
    for (const first of due) first.watcher();
  }

  /**
   * Sends one frame. Returns a promise when the stream's buffer is full: a producer of bulk frames
   * awaits it; a reply to the peer may not (the peer is still reading).
   */
  send(body: FrameBody): Promise<void> | undefined {
    // A session that failed on this side still tells the peer why: only a closed stream refuses.
    if (this.stream.destroyed || this.stream.writableEnded) return undefined;
    if (this.firstWatchers.length > 0) this.sawFrame(body.$case);
    return this.write({ role: this.role, body });
  }

  /**
   * Sends a whole TransferFrame already encoded (protocol/native-manifest.ts), as `send` does: the
   * stream's serializer must pass bytes on (passEncoded). `kind`: its body's case, for onFirst.
   */
  sendEncoded(frame: Uint8Array, kind?: FrameKind): Promise<void> | undefined {
    if (this.stream.destroyed || this.stream.writableEnded) return undefined;
    // Its kind, when given, for the watchers of a first frame (onFirst).
    if (this.firstWatchers.length > 0) this.sawFrame(kind);
    return this.write(frame);
  }

  private write(frame: TransferFrame | Uint8Array): Promise<void> | undefined {
    const ok = this.stream.write(frame);
    // Once the session is over nothing waits for a drain that may never come.
    if (ok || this.settled) return undefined;
    // Resolved by the drain, or by the end of the stream (then nothing more will drain); one wait
    // shared by every send until then.
    // A peer that stops reading (its heartbeats may still come) ends the session after the idle
    // time, as one that stops writing does.
    this.drained ??= new Promise<void>((resolve) => {
      const stalled = setTimeout(
        () => this.fail(new PeerStalled(`the peer read nothing for ${Math.round(this.idleMs / 1000)} s`)),
        this.idleMs,
      );
      stalled.unref();
      this.releaseDrain = () => {
        clearTimeout(stalled);
        this.drained = undefined;
        this.releaseDrain = undefined;
        resolve();
      };
      this.stream.once('drain', this.releaseDrain);
    });
    return this.drained;
  }

  /** Sends `beat()`'s frame every second while the session runs: the peer's proof of life. */
  startHeartbeat(beat: () => FrameBody): void {
    this.heartbeat = setInterval(() => this.send(beat()), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Ends our half of the stream; the peer's end then settles `closed`. */
  end(): void {
    this.stopTimers();
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
  }

  /** Why the session failed on this side or broke (read at once: `closed` settles a turn later). */
  get failure(): Error | undefined {
    return this.failedWith;
  }

  /** Ends the session with `error`: `closed` rejects with it. */
  fail(error: Error): void {
    // Also after the peer ended the stream: what waits on this side must see that it failed.
    this.failedWith ??= error;
    if (this.settled) return;
    this.settled = true;
    this.stopTimers();
    this.rejectClosed(error);
    this.releaseDrain?.();
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.stopTimers();
    this.resolveClosed();
    this.releaseDrain?.();
  }

  private touch(): void {
    if (this.settled) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(
      () => this.fail(new PeerStalled(`no word from the peer for ${Math.round(this.idleMs / 1000)} s`)),
      this.idleMs,
    );
    this.idleTimer.unref();
  }

  private stopTimers(): void {
    clearTimeout(this.idleTimer);
    clearInterval(this.heartbeat);
  }
}
