/**
 * The receiving half of the data plane (pure-JS path): each data socket's bytes are decoded into
 * records (records.ts, bounded) and handed to the session's sink range by range. The sink decides
 * whether a range fits a file it asked for; a range it refuses, or a socket that closes before its
 * end record, fails the session. Bytes of a file that failed already are dropped.
 */
import type { Socket } from 'node:net';
import { ProtocolError } from '../../protocol/manifest-wire.js';
import { reasonOf } from '../../util/errors.js';
import { DataPlaneFailed } from './data-failure.js';
import { RecordDecoder } from './records.js';

/** Where received ranges go: the destination half of the session. */
export interface RangeSink {
  /**
   * A range of file `fileId` begins. False: the file failed already, its bytes are dropped. Throws
   * ProtocolError when the file was not asked for or the range does not fit it.
   */
  begin(fileId: bigint, offset: number, length: number, whole: boolean): boolean;
  data(fileId: bigint, offset: number, data: Buffer): void;
  /** The range is complete; `final`: the source read the whole file and found it unchanged. */
  done(fileId: bigint, final: boolean): void;
  fail(fileId: bigint, reason: string): void;
}

/** A record begun and not continued for this long fails the session (idle between records is fine). */
export const RECORD_IDLE_MS = 30_000;

/**
 * Reads records from `socket` into `sink` until its end record. `onError` hears of the first
 * failure (a malformed record, a refused range, a lost socket, a record left half-sent for
 * `idleMs`); the socket is destroyed then.
 */
export function receiveRecords(
  socket: Socket,
  sink: RangeSink,
  onError: (error: Error) => void,
  idleMs = RECORD_IDLE_MS,
): void {
  const decoder = new RecordDecoder();
  let ended = false;
  let broken = false;
  /** The range being received: its file, whether it is kept, and whether it is final. */
  let current: { fileId: bigint; keep: boolean; final: boolean } | undefined;
  const fail = (error: Error) => {
    if (broken) return;
    broken = true;
    socket.destroy();
    onError(error);
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    if (broken) return;
    try {
      for (const event of decoder.push(chunk)) {
        switch (event.kind) {
          case 'start':
            current = {
              fileId: event.fileId,
              keep: sink.begin(event.fileId, event.offset, event.length, event.whole),
              final: event.final,
            };
            break;
          case 'data':
            if (current?.keep) sink.data(event.fileId, event.offset, event.data);
            break;
          case 'done':
            if (current?.keep) sink.done(event.fileId, current.final);
            current = undefined;
            break;
          case 'fail':
            sink.fail(event.fileId, event.reason);
            break;
          case 'end':
            ended = true;
            break;
        }
      }
    } catch (error) {
      fail(error instanceof Error ? error : new ProtocolError(String(error)));
    }
  });
  socket.on('error', (error) => fail(new DataPlaneFailed(`data connection failed: ${reasonOf(error)}`)));
  // Silence between records is normal (the source may be scanning); inside one it is a stall. A
  // socket this side paused (too much waiting to land) is not the peer's silence.
  socket.setTimeout(idleMs);
  socket.on('timeout', () => {
    const midRecord = current !== undefined || decoder.bufferedBytes > 0;
    if (midRecord && !socket.isPaused())
      fail(
        new DataPlaneFailed(
          `data connection stalled in the middle of a record for ${Math.round(idleMs / 1000)} s`,
        ),
      );
  });
  socket.on('close', () => {
    if (!ended) fail(new DataPlaneFailed('data connection closed before its end record'));
  });
  socket.resume();
}
