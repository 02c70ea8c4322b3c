/** Human-readable sizes, durations and rates, and the parser for size arguments such as `10M`. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  // Move up a unit when the rounded figure would read 1024 (1048575 B is 1.0 MiB, not 1024 KiB).
  while (unit < UNITS.length - 1 && (unit === 0 ? value >= 1024 : Number(value.toFixed(0)) >= 1024)) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  const digits = value >= 99.95 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return `${formatBytes(0)}/s`;
  return `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}

/** 20200 → "20,200". (toLocaleString would load ICU data: 30 ms on the first call.) */
export function formatCount(n: number): string {
  const [whole, fraction] = String(n).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

const SIZE_SUFFIX: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** "1 entry", "2 entries": a count with its noun. */
export function countOf(n: number, singular: string, plural: string): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** Parses `123`, `10K`, `1.5M`, `2GiB`, `4g` (binary multiples); returns undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) return undefined;
  const factor = SIZE_SUFFIX[(match[2] ?? '').toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.floor(Number(match[1]) * factor);
}
