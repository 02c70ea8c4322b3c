/**
 * The sending half of the data plane: files the destination asked for go out as records over the
 * session's data sockets. Small files are packed into batches, files up to a block go whole,
 * larger ones as blocks spread over the sockets (each to the least loaded one). Every file is read
 * from a descriptor opened and checked by the session, and checked again once its last byte is
 * read: a file that changed meanwhile goes out as FAIL instead of its last record, so the
 * destination never installs it.
 *
 * With the addon (outlet.ts), a file too large for a batch goes by sendfile from the sockets' own
 * threads, never read into this process: as blocks, none of them FINAL (one block when it would
 * have gone whole); once every block is out, the file is checked as listed here, and CHECKED (or
 * FAIL) follows, so the destination never installs a file that changed or a block that found it
 * short. Without the addon, or for a file with holes, the bytes are read here and the last read is
 * checked before its record (FILE, or a FINAL block) goes out.
 *
 * A socket that fails fails the whole session (`failed`), and no socket outlives it (`destroy`).
 */
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { type Listed, openedAsListed, readListed, type WholeRead } from '../../fsops/read-listed.js';
import { isAllZeros } from '../../fsops/sparse-blocks.js';
import { reasonOf } from '../../util/errors.js';
import { faults } from '../../util/faults.js';
import { OwnWork } from '../own-work.js';
import { BufferPool } from './buffer-pool.js';
import { DataPlaneFailed, DataPlaneStalled } from './data-failure.js';
import { hugeBuffers } from './huge-buffers.js';
import { BATCH_TARGET_BYTES, blockCount, DATA_BLOCK_BYTES, SMALL_FILE_BYTES } from './layout.js';
import { NativeSocket, type StepOutcome } from './native-socket.js';
import { Outlet, WRITE_IDLE_MS } from './outlet.js';
import {
  batchHeader,
  blockHeader,
  checkedRecord,
  failRecord,
  fileHeader,
  MAX_BATCH_FILES,
} from './records.js';

const CHANGED = 'changed while it was copied; not installed';
/** Where an injected pause (BLIT_TEST_HANG=send:REL) stops a file's first record. */
const PAUSE_AT_BYTES = 1 << 20;
/** Bytes queued on a socket beyond which the sender waits for it to drain. */
const HIGH_WATER_BYTES = 8 << 20;
/**
 * Batch arenas kept for reuse once written: as many as a socket holds at its high-water mark, the
 * groups being read and the batch being filled, so a steady transfer fills no fresh ones.
 */
const SPARE_ARENAS = HIGH_WATER_BYTES / BATCH_TARGET_BYTES + 4;
/** Buffers of whole files and blocks read here kept for reuse once written. */
const SPARE_BLOCKS = 4;
/**
 * The process's senders share their buffers: a daemon's next session fills the memory the last
 * one faulted in, and a buffer comes back only once its socket has let go of it (Outlet.write), so
 * one session's failure never hands another a buffer still being written.
 */
const arenas = new BufferPool(BATCH_TARGET_BYTES, SPARE_ARENAS, hugeBuffers);
const blocks = new BufferPool(DATA_BLOCK_BYTES, SPARE_BLOCKS, hugeBuffers);
/**
 * Files sent by sendfile whose check waits for their blocks to be out, each holding its descriptor:
 * beyond this many, the next file waits for the oldest.
 */
const MAX_CHECKING = 16;
/** The header-less rest of a block whose first part went out before an injected pause. */
const NO_HEADER = Buffer.alloc(0);
/** The batch being filled once the sender is done (its sockets are gone): it holds nothing. */
const NO_ARENA = Buffer.alloc(0);

/** One file to send: its descriptor (the sender closes it) and how to tell it changed. */
export interface OutgoingFile {
  fileId: bigint;
  /** Its path relative to the transfer root (for the injected pause of tests). */
  rel: string;
  /** Its path on this machine (for the injected change of tests). */
  path: string;
  fd: number;
  size: number;
  /**
   * The file has holes on disk: its blocks are read here (never by sendfile) and a block of
   * zeros goes as a HOLE record, with no bytes.
   */
  sparse?: boolean;
  /** What it was listed with: checked once its last byte is read. */
  listed: Listed;
}

/** A file of a batch: its id and its length in the batch's bytes. */
interface Member {
  fileId: bigint;
  length: number;
}

export class RecordSender {
  private readonly outlets: Outlet[] = [];
  private members: Member[] = [];
  /** Batches are packed in buffers of `arenas`; whole files and blocks read into `blocks`' (a block at most). */
  private readonly arenas = arenas;
  private readonly blocks = blocks;
  /** The batch being filled. */
  private arena = this.arenas.take();
  private arenaUsed = 0;
  /** Checks of files sent by sendfile still to come (sendFromFile): each closes its file's descriptor. */
  private readonly checking = new Set<Promise<void>>();
  private failure: Error | undefined;
  private readonly failWaiters = new Set<(error: Error) => void>();
  /** Bytes handed to the sockets, for the session's measurements. */
  bytesSent = 0;

  /**
   * `work`: the stall detector's count of this side's work. Waiting for a socket to take more, or
   * for sendfile to finish a block, is waiting for the peer; reading a file is this side's own.
   */
  constructor(private readonly work = new OwnWork()) {}

  /** Adds a connected, admitted socket to those this session sends over. */
  attach(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', (error) =>
      this.fail(new DataPlaneFailed(`data connection failed: ${reasonOf(error)}`)),
    );
    const outlet = new Outlet(socket, NativeSocket.take(socket, false), {
      sent: (bytes) => {
        this.bytesSent += bytes;
      },
      failed: (error) => this.fail(error),
    });
    socket.on('close', () => {
      if (this.outlets.includes(outlet)) this.fail(new DataPlaneFailed('data connection closed by the peer'));
    });
    // Nothing is read on a sending socket but its end; a peer that sends is ignored.
    socket.resume();
    this.outlets.push(outlet);
  }

  /** True once a socket is attached: files may go this way. */
  get ready(): boolean {
    return this.outlets.length > 0 && !this.failure;
  }

  get socketCount(): number {
    return this.outlets.length;
  }

  /** The session failed elsewhere: the sockets are cut, and whatever waits on them fails now. */
  abort(error: Error): void {
    this.fail(error);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    // Sends queued on the sockets' threads answer now, not after their idle time: the files whose
    // descriptors they hold are closed once they have.
    for (const outlet of this.outlets) outlet.cut();
    for (const waiter of this.failWaiters) waiter(error);
    this.failWaiters.clear();
  }

  /** Resolves never; rejects once a socket fails (to race against other waits). */
  get failed(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.failure) reject(this.failure);
      else this.failWaiters.add(reject);
    });
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** The socket with the fewest bytes waiting (of those that send file ranges, with `sendsFiles`). */
  private leastLoaded(sendsFiles = false): Outlet {
    let best: Outlet | undefined;
    for (const outlet of this.outlets) {
      if (sendsFiles && !outlet.sendsFiles) continue;
      if (!best || outlet.load < best.load) best = outlet;
    }
    return best ?? this.outlets[0]!;
  }

  /**
   * Writes one record's parts, all on one socket (the least loaded, unless named); `released`,
   * when given, runs once the socket holds none of them any more.
   */
  private write(parts: Buffer[], outlet = this.leastLoaded(), released?: () => void): Outlet {
    const written = outlet.write(parts);
    if (released) void written.then(released);
    return outlet;
  }

  /** Waits while every socket holds more than the high-water mark. */
  async room(): Promise<void> {
    this.check();
    const outlet = this.leastLoaded();
    if (outlet.load <= HIGH_WATER_BYTES) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.work.forPeer(
        Promise.race([
          outlet.drained(),
          this.failed,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new DataPlaneStalled(`data connection stalled for ${WRITE_IDLE_MS / 1000} s`)),
              WRITE_IDLE_MS,
            );
          }),
        ]),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends one file and closes its descriptor. A file that cannot be read, or changed, goes out as
   * FAIL with the reason. Resolves when the sockets can take more.
   */
  async sendFile(file: OutgoingFile): Promise<void> {
    this.check();
    const small = file.size <= SMALL_FILE_BYTES;
    // Files go out in the order they were asked for: the batch so far first.
    if (!small) this.flush();
    // By sendfile, the descriptor goes with the file: closed once its check is done.
    if (!small && !file.sparse && this.outlets.some((outlet) => outlet.sendsFiles))
      await this.sendFromFile(file);
    else {
      try {
        if (small) this.addToBatch(file);
        else if (blockCount(file.size) === 0) await this.sendWhole(file);
        else await this.sendBlocks(file);
      } finally {
        closeSync(file.fd);
      }
    }
    await this.room();
  }

  /**
   * Fills `into` from the file at `offset`; `last`: this read ends the file, which must then still
   * be what the scan saw. False when it could not be read or changed: FAIL has gone out for it.
   */
  private readOrFail(file: OutgoingFile, into: Buffer, offset: number, last: boolean): boolean {
    try {
      // A short read: the file shrank; after the last, another size or mtime: it changed.
      if (!readListed(file.fd, into, offset, last, file.listed, () => faults.changeSource(file.path)))
        throw new Error(CHANGED);
      this.work.beat();
      return true;
    } catch (error) {
      const reason = reasonOf(error);
      this.sendFail(file.fileId, reason === CHANGED ? reason : `cannot read: ${reason}`);
      return false;
    }
  }

  private sendFail(fileId: bigint, reason: string): void {
    this.write([failRecord(fileId, reason)]);
  }

  /**
   * Whether a group (batchGroup) of `count` files of `bytes` in all can take one more file of
   * `size` bytes: a small file (at most SMALL_FILE_BYTES: sendFile's rule), the group still within
   * one batch, and a socket to send it on.
   */
  groupTakes(count: number, bytes: number, size: number): boolean {
    return (
      this.ready && size <= SMALL_FILE_BYTES && count < MAX_BATCH_FILES && bytes + size <= BATCH_TARGET_BYTES
    );
  }

  /**
   * Small files (a group groupTakes agreed to) read off the event loop into a batch of their own:
   * `read` fills the buffer it is given, file after file in the group's order (read-listed.ts
   * readWholeFiles), and answers per file. Those read go out as one batch (the bytes of the
   * others squeezed out); one that changed or could not be read goes out as FAIL. What `read`
   * answered is returned, for the caller to report what the open found (not as listed, not
   * opened) as it reports a failed open. Undefined, nothing sent: `read` could not (no addon), or
   * threw (a descriptor the job could not duplicate): the caller takes each file's own steps, which
   * report what fails. Throws only when a socket failed (the session ends).
   */
  async batchGroup(
    members: Member[],
    read: (into: Buffer) => Promise<WholeRead[] | undefined> | undefined,
  ): Promise<WholeRead[] | undefined> {
    this.check();
    const arena = this.arenas.take();
    let answers: WholeRead[] | undefined;
    try {
      answers = await read(arena);
    } catch {
      answers = undefined;
    }
    if (this.failure) {
      this.arenas.giveBack(arena);
      throw this.failure;
    }
    if (answers === undefined) {
      this.arenas.giveBack(arena);
      return undefined;
    }
    const kept: Member[] = [];
    let at = 0;
    let used = 0;
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      const answer = answers[i]!;
      if (answer.kind === 'read') {
        if (at !== used) arena.copyWithin(used, at, at + member.length);
        kept.push(member);
        used += member.length;
      } else if (answer.kind === 'changed') this.sendFail(member.fileId, CHANGED);
      else if (answer.kind === 'read-failed')
        this.sendFail(member.fileId, `cannot read: ${reasonOf(answer.error)}`);
      at += member.length;
    }
    this.work.beat();
    if (kept.length === 0) this.arenas.giveBack(arena);
    else
      this.write([batchHeader(kept), arena.subarray(0, used)], undefined, () => this.arenas.giveBack(arena));
    return answers;
  }

  /**
   * Reads a small file into the batch being filled (sent first when it has no room), which goes out
   * once it holds enough.
   */
  private addToBatch(file: OutgoingFile): void {
    const size = file.size;
    if (this.arenaUsed + size > this.arena.length || this.members.length === MAX_BATCH_FILES) this.flush();
    if (!this.readOrFail(file, this.arena.subarray(this.arenaUsed, this.arenaUsed + size), 0, true)) return;
    this.members.push({ fileId: file.fileId, length: size });
    this.arenaUsed += size;
    if (this.arenaUsed >= BATCH_TARGET_BYTES) this.flush();
  }

  /** Sends the batch being filled, if it holds anything. */
  flush(): void {
    if (this.members.length === 0 || !this.ready) return;
    // The socket holds the arena until it is written: the next batch gets another, and this one
    // is filled again once the socket has let go of it.
    const arena = this.arena;
    this.write([batchHeader(this.members), arena.subarray(0, this.arenaUsed)], undefined, () =>
      this.arenas.giveBack(arena),
    );
    this.members = [];
    this.arena = this.arenas.take();
    this.arenaUsed = 0;
  }

  /**
   * Writes a record's header and data. A test's injected pause holds back all but the data's
   * first MiB, the first time a file's data goes out, while the event loop runs on.
   */
  private async writeRecord(header: Buffer, data: Buffer, file: OutgoingFile, first: boolean): Promise<void> {
    const released = () => this.blocks.giveBack(data);
    const pause = first && data.length > PAUSE_AT_BYTES ? faults.pause('send', file.rel) : undefined;
    if (!pause) {
      this.write([header, data], undefined, released);
      return;
    }
    // Nothing else is written meanwhile: the session sends one file at a time.
    const outlet = this.leastLoaded();
    const firstPart = outlet.write([header, data.subarray(0, PAUSE_AT_BYTES)]);
    await Promise.race([pause, this.failed]).catch((error: unknown) => {
      // The socket may still hold the first part: the buffer goes back once it lets go.
      void firstPart.then(released);
      throw error;
    });
    this.write([data.subarray(PAUSE_AT_BYTES)], outlet, released);
  }

  /**
   * `length` bytes to read a file's data into (a whole file or a block): from the pool of block
   * buffers when it fills at least half of one (no more than twice the bytes are held), else its
   * own. Given back by writeRecord once written, or by the caller when it is not (a buffer of its
   * own is left to the collector).
   */
  private blockBuffer(length: number): Buffer {
    return length >= DATA_BLOCK_BYTES / 2
      ? this.blocks.take().subarray(0, length)
      : Buffer.allocUnsafe(length);
  }

  private async sendWhole(file: OutgoingFile): Promise<void> {
    const data = this.blockBuffer(file.size);
    if (!this.readOrFail(file, data, 0, true)) {
      this.blocks.giveBack(data);
      return;
    }
    await this.writeRecord(fileHeader(file.fileId, file.size), data, file, true);
  }

  /** A large file's blocks read here, the last one checked before it goes out FINAL. */
  private async sendBlocks(file: OutgoingFile): Promise<void> {
    for (let offset = 0; offset < file.size; offset += DATA_BLOCK_BYTES) {
      const length = Math.min(DATA_BLOCK_BYTES, file.size - offset);
      const last = offset + length >= file.size;
      const data = this.blockBuffer(length);
      if (!this.readOrFail(file, data, offset, last)) {
        this.blocks.giveBack(data);
        return;
      }
      if (file.sparse && isAllZeros(data)) {
        this.write([blockHeader(file.fileId, offset, length, last, true)]);
        this.blocks.giveBack(data);
      } else await this.writeRecord(blockHeader(file.fileId, offset, length, last), data, file, offset === 0);
      if (!last) await this.room();
    }
  }

  /**
   * A file's blocks queued for sendfile on the sockets' threads, none FINAL. Its check runs once
   * they are all out, while the next files' blocks queue (so files spread over the sockets and none
   * waits for the one before to drain): then CHECKED or FAIL goes out and the descriptor is closed.
   * At most MAX_CHECKING files wait for their check.
   */
  private async sendFromFile(file: OutgoingFile): Promise<void> {
    /** Blocks on their way: the descriptor stays open until they are all out. */
    const sending: Promise<StepOutcome>[] = [];
    try {
      for (let offset = 0; offset < file.size; offset += DATA_BLOCK_BYTES) {
        const length = Math.min(DATA_BLOCK_BYTES, file.size - offset);
        await this.sendBlockFromFile(this.leastLoaded(true), file, offset, length, sending);
        if (offset + length < file.size) await this.room();
      }
    } catch (error) {
      // The session is failing (a socket, or its end during an injected pause).
      await this.work.forPeer(Promise.allSettled(sending));
      closeSync(file.fd);
      throw error;
    }
    const checked = this.checkWhenSent(file, sending).finally(() => {
      closeSync(file.fd);
      this.checking.delete(checked);
    });
    this.checking.add(checked);
    while (this.checking.size >= MAX_CHECKING) await Promise.race(this.checking);
    this.check();
  }

  /**
   * Once a file's blocks are out: checked as listed (the test's injected change first), then
   * CHECKED, or FAIL when it changed, could not be checked, or a block found it short. Never
   * throws: a session that fails meanwhile sends nothing more.
   */
  private async checkWhenSent(file: OutgoingFile, sending: Promise<StepOutcome>[]): Promise<void> {
    try {
      if (!(await this.allSent(file, sending))) return;
      let asListed: boolean;
      try {
        faults.changeSource(file.path);
        asListed = openedAsListed(file.fd, file.listed) !== 'changed';
      } catch (error) {
        this.sendFail(file.fileId, `cannot read: ${reasonOf(error)}`);
        return;
      }
      this.write([asListed ? checkedRecord(file.fileId) : failRecord(file.fileId, CHANGED)]);
      this.work.beat();
    } catch {
      // The session failed (allSent's check): its sockets are cut, nothing more goes out.
    }
  }

  /**
   * A block sent by sendfile from the socket's thread (pushed to `sending`). A test's injected
   * pause holds back all but its first MiB, as writeRecord does.
   */
  private async sendBlockFromFile(
    outlet: Outlet,
    file: OutgoingFile,
    offset: number,
    length: number,
    sending: Promise<StepOutcome>[],
  ): Promise<void> {
    const header = blockHeader(file.fileId, offset, length, false);
    const pause = offset === 0 && length > PAUSE_AT_BYTES ? faults.pause('send', file.rel) : undefined;
    if (!pause) {
      sending.push(outlet.sendRange(header, file.fd, offset, length));
      return;
    }
    sending.push(outlet.sendRange(header, file.fd, offset, PAUSE_AT_BYTES));
    await Promise.race([pause, this.failed]);
    sending.push(outlet.sendRange(NO_HEADER, file.fd, offset + PAUSE_AT_BYTES, length - PAUSE_AT_BYTES));
  }

  /**
   * Waits for a file's blocks on their way by sendfile: false when one found the file short or
   * unreadable (FAIL has gone out for it: the zeros that completed that block are void).
   */
  private async allSent(file: OutgoingFile, sending: Promise<StepOutcome>[]): Promise<boolean> {
    // Every step settled before the descriptor may be closed, whatever one of them did.
    const settled = await this.work.forPeer(Promise.allSettled(sending));
    this.check();
    const outcomes = settled.map(
      (step): StepOutcome =>
        step.status === 'fulfilled' ? step.value : { bytes: 0, side: 'file', error: step.reason },
    );
    const short = outcomes.find((outcome) => outcome.side === 'file');
    if (!short) return true;
    const code = short.error?.code;
    this.sendFail(file.fileId, code === 'ENODATA' ? CHANGED : `cannot read: ${reasonOf(short.error)}`);
    return false;
  }

  /** The session is over: an end record on each socket, then each is closed once written. */
  end(): void {
    this.flush();
    for (const outlet of this.outlets.splice(0)) outlet.end();
    this.releaseArena();
  }

  /** Cuts every socket at once (the session failed). */
  destroy(): void {
    for (const outlet of this.outlets.splice(0)) outlet.destroy();
    this.releaseArena();
  }

  /** The batch being filled was never handed to a socket: it goes back for the next sender, once. */
  private releaseArena(): void {
    this.arenas.giveBack(this.arena);
    this.arena = NO_ARENA;
    this.arenaUsed = 0;
    this.members = [];
  }
}
