/**
 * The performance history file: one JSON record per line, capped at about 1 MB.
 *
 * Appends are one write() of one whole line on an O_APPEND descriptor, so concurrent runs never
 * interleave bytes. When the file outgrows the cap, the newest lines are written to a temp file
 * that is renamed over it, under a lock file; lines appended meanwhile are carried over just
 * before the rename. Corrupt or truncated lines are skipped by readers and dropped by rotation.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { acquireLock } from './file-lock.js';
import { type PerfRecord, parseRecord, serializeRecord } from './record.js';

export const HISTORY_CAP_BYTES = 1_000_000;
/** Rotation keeps the newest lines up to this share of the cap, so it happens once per many runs. */
const KEEP_SHARE = 0.75;

export interface HistoryContents {
  records: PerfRecord[];
  /** Lines that were corrupt, truncated or of an unknown schema. */
  skipped: number;
  bytes: number;
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/** Complete lines that hold a JSON object (of any schema version: a newer blit may share the file). */
function keepableLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line still being written
  return lines.filter((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    } catch {
      return false;
    }
  });
}

function newestWithin(lines: string[], budget: number): string[] {
  let bytes = 0;
  let first = lines.length;
  while (first > 0) {
    const size = Buffer.byteLength(lines[first - 1]!) + 1;
    if (bytes + size > budget) break;
    bytes += size;
    first--;
  }
  return lines.slice(first);
}

export class HistoryStore {
  constructor(
    readonly path: string,
    readonly capBytes = HISTORY_CAP_BYTES,
  ) {}

  private get lockPath(): string {
    return `${this.path}.lock`;
  }

  /** Appends one record; rotates the file when it has grown past the cap. */
  append(record: PerfRecord): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const line = Buffer.from(serializeRecord(record));
    const fd = openSync(this.path, 'a', 0o600);
    let size: number;
    try {
      writeSync(fd, line);
      size = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
    if (size > this.capBytes) this.rotate();
  }

  /**
   * Every readable record, oldest first; a missing file is an empty history. With `tailBytes`, only
   * the records in the file's last `tailBytes` bytes (the predictor needs no more, and a run's start
   * should not pay for parsing a whole megabyte). With `only`, lines without all of those texts are
   * passed over unparsed (and not counted as skipped); with `newest`, only that many lines are parsed.
   */
  read(options: { tailBytes?: number; only?: string[]; newest?: number } = {}): HistoryContents {
    let text: string;
    try {
      text =
        options.tailBytes === undefined ? readFileSync(this.path, 'utf8') : this.readTail(options.tailBytes);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return { records: [], skipped: 0, bytes: 0 };
      throw error;
    }
    const records: PerfRecord[] = [];
    let skipped = 0;
    const only = options.only ?? [];
    const lines = text
      .split('\n')
      .filter((line) => line !== '' && only.every((needle) => line.includes(needle)));
    for (const line of options.newest === undefined ? lines : lines.slice(-options.newest)) {
      const record = parseRecord(line);
      if (record) records.push(record);
      else skipped++;
    }
    return { records, skipped, bytes: Buffer.byteLength(text) };
  }

  /** The last `tailBytes` bytes of the file, from the first whole line among them. */
  private readTail(tailBytes: number): string {
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      const from = Math.max(0, size - tailBytes);
      const buffer = Buffer.alloc(size - from);
      const read = readSync(fd, buffer, 0, buffer.length, from);
      const text = buffer.subarray(0, read).toString('utf8');
      return from === 0 ? text : text.slice(text.indexOf('\n') + 1);
    } finally {
      closeSync(fd);
    }
  }

  /** Keeps the newest lines within the cap; skipped (the next append retries) when the lock is busy. */
  rotate(): void {
    const release = acquireLock(this.lockPath);
    if (!release) return;
    const temp = `${this.path}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`;
    try {
      const fd = openSync(this.path, 'r');
      let text: string;
      try {
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
      const readBytes = Buffer.byteLength(text);
      if (readBytes <= this.capBytes) return; // another run rotated it already
      const kept = newestWithin(keepableLines(text), this.capBytes * KEEP_SHARE);
      writeFileSync(temp, kept.length > 0 ? `${kept.join('\n')}\n` : '', { mode: 0o600 });
      this.carryOver(readBytes, text.endsWith('\n'), temp);
      renameSync(temp, this.path);
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {}
      if (!isCode(error, 'ENOENT')) throw error;
    } finally {
      release();
    }
  }

  /** Copies lines appended after the first `from` bytes were read into the rotated file. */
  private carryOver(from: number, endedWithNewline: boolean, temp: string): void {
    const size = statSync(this.path).size;
    if (size <= from) return;
    const extra = Buffer.alloc(size - from);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, extra, 0, extra.length, from);
    } finally {
      closeSync(fd);
    }
    // When the read ended inside a line, that line's rest is not a line of its own.
    let text = extra.toString('utf8');
    if (!endedWithNewline) {
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      text = text.slice(newline + 1);
    }
    const lines = keepableLines(text);
    if (lines.length > 0) writeFileSync(temp, `${lines.join('\n')}\n`, { flag: 'a' });
  }

  /** Erases the history. */
  clear(): void {
    const release = acquireLock(this.lockPath);
    try {
      unlinkSync(this.path);
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    } finally {
      release?.();
    }
  }
}
