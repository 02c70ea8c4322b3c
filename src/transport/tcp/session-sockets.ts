/**
 * The data sockets of one session, as they connect (dialed by the client, admitted by the daemon):
 * each is handed to whoever listens (the sending or receiving half), and all of them are cut when
 * the session ends, whichever way it ends — no socket outlives its control stream.
 */
import type { Socket } from 'node:net';

export class SessionSockets {
  private readonly sockets = new Set<Socket>();
  private listener: ((socket: Socket) => void) | undefined;
  private closed = false;
  /** Sockets this session has had, all told. */
  total = 0;
  private settle: (() => void) | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  /**
   * Resolves once file data can go: a first socket connected, or none is coming (never granted,
   * unreachable, not within the wait). The sending half waits on it before its first file, so a
   * session does not start a large file in the stream a moment before its socket connects.
   */
  settled: Promise<void> = Promise.resolve();

  /** Sockets were granted: `settled` waits for the first of them, at most `ms`. */
  expect(ms: number): void {
    if (this.total > 0 || this.closed || this.settle) return;
    this.settled = new Promise<void>((resolve) => {
      this.settle = () => {
        clearTimeout(this.waitTimer);
        resolve();
      };
    });
    this.waitTimer = setTimeout(() => this.settle?.(), ms);
    this.waitTimer.unref();
  }

  /** The granted sockets cannot connect: data goes in the stream, nothing waits for them. */
  unavailable(): void {
    this.settle?.();
  }

  /** A connected, admitted socket of this session. */
  add(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.total++;
    this.settle?.();
    // Its user hears of a failure through 'close' too; an error before it listens is not fatal.
    socket.on('error', () => {});
    socket.once('close', () => this.sockets.delete(socket));
    this.listener?.(socket);
  }

  /** Hands every socket, those connected already first, to `listener`. */
  onSocket(listener: (socket: Socket) => void): void {
    this.listener = listener;
    for (const socket of this.sockets) listener(socket);
  }

  get count(): number {
    return this.sockets.size;
  }

  /**
   * Waits, at most `ms`, for the peer to end every socket (its end record follows the Summary):
   * a receiver that cut them at once could reach the sender before the Summary does.
   */
  async ended(ms: number): Promise<void> {
    const open = [...this.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  /** The session is over: every socket is destroyed, and any that connects later too. */
  close(): void {
    this.closed = true;
    this.settle?.();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
