/**
 * `blit find`'s tests, parsed from its options into one predicate on an entry; every test given
 * must hold. Parsing is pure (the clock is passed in) and each bad value is one line naming it.
 * - `--name GLOB`: the entry's name (not its path) matched with picomatch as the filters match
 *   (engine/filter.ts): dot files included.
 * - `--type f|d|l`: regular file, directory, symbolic link.
 * - `--newer WHEN`: modified strictly after WHEN: a duration back from now (`90s`, `30m`, `2h`,
 *   `7d`, `2w`), or a date or date-time (`2024-05-01`, `2024-05-01T12:30[:00]`), local time unless
 *   it ends in `Z` or an offset (`+02:00`, at most ±14:00).
 * - `--size [+-]N[KMGTP]`: a regular file larger than (+), smaller than (-) or exactly N bytes
 *   (binary multiples). Unlike find(1), sizes are compared in bytes, not rounded up to whole units
 *   first (find's `-size -1M` matches only empty files).
 */
import picomatch from 'picomatch';
import type { Entry, EntryKind } from '../fsops/entry.js';
import { BlitError } from '../util/errors.js';
import { parseSize } from '../util/human.js';

export interface FindTests {
  name?: string;
  type?: string;
  newer?: string;
  size?: string;
}

export interface SizeTest {
  compare: 'more' | 'less' | 'equal';
  bytes: number;
}

export function parseSizeTest(text: string): SizeTest {
  const sign = text.startsWith('+') ? 'more' : text.startsWith('-') ? 'less' : 'equal';
  const bytes = parseSize(sign === 'equal' ? text : text.slice(1));
  if (bytes === undefined || /^\s/.test(text))
    throw new BlitError(
      `--size ${JSON.stringify(text)}: expected [+-]N with an optional K, M, G, T or P (e.g. +10M, -1K)`,
    );
  return { compare: sign, bytes };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** The largest UTC offset in use anywhere (Kiribati, +14:00), in minutes. */
const MAX_OFFSET_MINUTES = 14 * 60;
const DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** The time WHEN stands for, in milliseconds since the epoch. */
export function parseWhen(text: string, nowMs: number): number {
  const duration = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (duration) return nowMs - Number(duration[1]) * UNIT_MS[duration[2]!]!;
  const date = DATE.exec(text);
  const bad = () =>
    new BlitError(
      `--newer ${JSON.stringify(text)}: expected a duration (30m, 2h, 7d) or a date (2024-05-01, 2024-05-01T12:30)`,
    );
  if (!date) throw bad();
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = date;
  const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const ms = Number(frac.padEnd(3, '0'));
  let time: number;
  if (zone === undefined) {
    const local = new Date(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5], ms);
    // Out-of-range fields roll over (Feb 30 → Mar 2): refuse them instead.
    if (local.getMonth() !== fields[1] - 1 || local.getDate() !== fields[2] || local.getHours() !== fields[3])
      throw bad();
    time = local.getTime();
  } else {
    const offsetHours = zone === 'Z' ? 0 : Number(zone.slice(1, 3));
    const offsetMinutes = zone === 'Z' ? 0 : Number(zone.slice(-2));
    // Real offsets run from -12:00 to +14:00; anything past ±14:00 or 59 minutes is a typo.
    if (offsetMinutes > 59 || offsetHours * 60 + offsetMinutes > MAX_OFFSET_MINUTES) throw bad();
    const offset = (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
    time =
      Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5], ms) - offset * 60_000;
    const check = new Date(Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]));
    if (
      check.getUTCMonth() !== fields[1] - 1 ||
      check.getUTCDate() !== fields[2] ||
      check.getUTCHours() !== fields[3]
    )
      throw bad();
  }
  if (fields[4] > 59 || fields[5] > 59 || Number.isNaN(time)) throw bad();
  return time;
}

const TYPES: Record<string, EntryKind> = { f: 'file', d: 'dir', l: 'symlink' };

/** The predicate all the given tests make; throws one line for the first bad value. */
export function findPredicate(tests: FindTests, nowMs: number): (entry: Entry) => boolean {
  const checks: ((entry: Entry) => boolean)[] = [];
  if (tests.name !== undefined) {
    if (tests.name === '' || tests.name.includes('/'))
      throw new BlitError(
        `--name ${JSON.stringify(tests.name)}: a name pattern is not empty and holds no '/'`,
      );
    const match = picomatch(tests.name, { dot: true });
    checks.push((entry) => match(entry.name));
  }
  if (tests.type !== undefined) {
    const kind = TYPES[tests.type];
    if (!kind)
      throw new BlitError(
        `--type ${JSON.stringify(tests.type)}: expected f (file), d (directory) or l (link)`,
      );
    checks.push((entry) => entry.kind === kind);
  }
  if (tests.newer !== undefined) {
    const afterNs = BigInt(Math.floor(parseWhen(tests.newer, nowMs))) * 1_000_000n;
    checks.push((entry) => entry.mtimeNs > afterNs);
  }
  if (tests.size !== undefined) {
    const { compare, bytes } = parseSizeTest(tests.size);
    checks.push(
      (entry) =>
        entry.kind === 'file' &&
        (compare === 'more'
          ? entry.size > bytes
          : compare === 'less'
            ? entry.size < bytes
            : entry.size === bytes),
    );
  }
  return (entry) => checks.every((check) => check(entry));
}
