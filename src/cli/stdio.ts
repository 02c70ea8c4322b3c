/**
 * The CLI's own stdout and stderr: plain synchronous writes to fds 1 and 2. Touching
 * process.stdout or process.stderr makes Node load its stream modules (and net for a pipe or tty):
 * 4–6 ms of a one-file copy here, for a summary line (docs/DECISIONS.md). Interactive parts (the
 * progress line, the deletion prompt) still use the streams, where that cost goes unnoticed.
 */
import { fstatSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sleepSync } from '../util/clock.js';

const closed = new Set<number>();

/**
 * Which of Node's process.stdin, process.stdout and process.stderr have been made. Once one has,
 * libuv may have queued writes on a full pipe and made shared descriptors non-blocking, which
 * Node's own exit undoes and an immediate `_exit` would not by itself (cli/exit-now.ts). Every use
 * anywhere goes through these getters, so none is missed. A remote run makes stderr without writing
 * to it: Node's net module compares each socket it closes with process.stderr.
 */
const made = new Set<'stdin' | 'stdout' | 'stderr'>();
for (const name of ['stdin', 'stdout', 'stderr'] as const) {
  const descriptor = Object.getOwnPropertyDescriptor(process, name);
  const get = descriptor?.get;
  if (!descriptor || !get) continue;
  Object.defineProperty(process, name, {
    ...descriptor,
    get() {
      made.add(name);
      return get.call(process);
    },
  });
}

/** True while no Node stdio stream exists: all output so far went through out() and err(). */
export const onlyPlainWrites = (): boolean => made.size === 0;

/**
 * True when no stdin stream was made and every stdout or stderr stream made holds nothing still
 * to write: all it was given is in the kernel's hands.
 */
export function streamsFlushed(): boolean {
  return flushed(made, (name) => process[name] as NodeJS.WriteStream);
}

/** streamsFlushed's rule, over the names of the streams made and a way to reach each. */
export function flushed(
  names: Iterable<'stdin' | 'stdout' | 'stderr'>,
  stream: (name: 'stdout' | 'stderr') => { writableLength: number; writableNeedDrain: boolean },
): boolean {
  for (const name of names) {
    if (name === 'stdin') return false;
    const { writableLength, writableNeedDrain } = stream(name);
    if (writableLength > 0 || writableNeedDrain) return false;
  }
  return true;
}

/**
 * Writes all of `text` to `fd`. A reader that went away (EPIPE, as in `blit … | head -1`) ends the
 * output quietly; a non-blocking descriptor that is full (EAGAIN) is waited on; any other error is
 * thrown.
 */
function writeAll(fd: number, text: string): void {
  if (closed.has(fd)) return;
  let bytes = Buffer.from(text);
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(fd, bytes));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        closed.add(fd);
        return;
      }
      if (code !== 'EAGAIN') throw error;
      sleepSync(1);
    }
  }
}

export const out = (text: string): void => writeAll(1, text);
export const err = (text: string): void => writeAll(2, text);

/**
 * Whether `fd` is a terminal. Only character devices can be; of those, Linux's memory devices
 * (major 1: /dev/null, where hyperfine and cron send output) are answered without loading node:tty.
 */
export function isTerminal(fd: number): boolean {
  let rdev: number;
  try {
    const stat = fstatSync(fd);
    if (!stat.isCharacterDevice()) return false;
    rdev = stat.rdev;
  } catch {
    return false;
  }
  if (process.platform === 'linux' && ((rdev >> 8) & 0xfff) === 1) return false;
  // Loaded only here: node:tty brings node:net with it.
  const { isatty } = createRequire(import.meta.url)('node:tty') as typeof import('node:tty');
  return isatty(fd);
}
