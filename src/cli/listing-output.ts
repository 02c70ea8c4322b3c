/** How `blit ls` and `blit list-modules` print: aligned columns for people, JSON for programs. */
import type { Entry, ModuleInfo } from '../generated/blit.js';
import { peerPath, peerText } from '../protocol/peer-text.js';
import { kindName } from '../protocol/wire-entry.js';
import { showPath } from '../util/errors.js';
import { formatBytes } from '../util/human.js';

const NS_PER_MS = 1_000_000n;

/** Local time, to the second: `2024-05-01 12:00:03`. */
export function formatMtime(mtimeNs: bigint): string {
  const date = new Date(Number(mtimeNs / NS_PER_MS));
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

const KIND_LABEL = { file: 'file', dir: 'dir', symlink: 'link', other: 'other' } as const;

/** One line of `blit ls`: kind, size, mtime, name (directories end in '/', links show their target). */
export function entryLine(entry: Entry): string {
  const kind = kindName(entry.kind);
  const size = kind === 'file' ? formatBytes(Number(entry.size)) : '-';
  const name = showPath(entry.name) + (kind === 'dir' ? '/' : '');
  const target = kind === 'symlink' ? ` -> ${showPath(entry.linkTarget)}` : '';
  return `${KIND_LABEL[kind].padEnd(5)} ${size.padStart(10)}  ${formatMtime(entry.mtimeNs)}  ${name}${target}`;
}

/** One entry of `blit ls --json`. Sizes and times are exact: nanoseconds as a decimal string. */
export function entryJson(entry: Entry): Record<string, unknown> {
  const kind = kindName(entry.kind);
  return {
    name: entry.name,
    kind,
    size: Number(entry.size),
    mtime: new Date(Number(entry.mtimeNs / NS_PER_MS)).toISOString(),
    mtimeNs: entry.mtimeNs.toString(),
    mode: entry.mode,
    ...(kind === 'symlink' ? { linkTarget: entry.linkTarget } : {}),
  };
}

export function moduleLines(modules: ModuleInfo[]): string[] {
  const names = modules.map((m) => showPath(peerPath(m.name)));
  const width = Math.max(0, ...names.map((name) => name.length));
  return modules.map((m, i) =>
    `${names[i]!.padEnd(width)}  ${m.readOnly ? 'ro' : 'rw'}  ${showPath(peerText(m.comment))}`.trimEnd(),
  );
}
