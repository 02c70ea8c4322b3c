/**
 * `blit df PATH` / `blit df HOST:/MODULE`: the size, use and free space (bytes and inodes) of the
 * file system holding a local path or a module, counted as df(1) counts (fsops/fs-space.ts; the
 * daemon's `Space` call counts the same way on its side, under List's access rule).
 */
import { type FsSpace, spaceOf } from '../fsops/fs-space.js';
import { fsTypeOf } from '../perf/fs-type.js';
import { peerText } from '../protocol/peer-text.js';
import { RemoteClient } from '../remote/client.js';
import { formatRemotePath, looksRemote, parseRemotePath } from '../remote/endpoint.js';
import { BlitError, reasonOf, showPath } from '../util/errors.js';
import { formatBytes, formatCount } from '../util/human.js';
import { out } from './stdio.js';
import { askToTrust } from './trust-prompt.js';

export interface DfFlags {
  json?: boolean;
}

export interface DfReport extends FsSpace {
  /** The local path as given, or the module as `host:port:/module`. */
  path: string;
  fsType: string;
}

/** Percent of the space a writer can reach that is used, rounded up as df(1) rounds it. */
export function usePercent(used: bigint, free: bigint): string {
  const reachable = used + free;
  if (reachable === 0n) return '-';
  return `${(used * 100n + reachable - 1n) / reachable}%`;
}

export function dfText(report: DfReport): string {
  const rows = [
    ['', 'total', 'used', 'free', 'use'],
    [
      'bytes',
      formatBytes(Number(report.totalBytes)),
      formatBytes(Number(report.usedBytes)),
      formatBytes(Number(report.freeBytes)),
      usePercent(report.usedBytes, report.freeBytes),
    ],
    [
      'inodes',
      formatCount(Number(report.totalInodes)),
      formatCount(Number(report.usedInodes)),
      formatCount(Number(report.freeInodes)),
      usePercent(report.usedInodes, report.freeInodes),
    ],
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  );
  return `${showPath(report.path)} (${showPath(report.fsType)})\n${table.join('\n')}\n`;
}

export function dfJson(report: DfReport): string {
  return `${JSON.stringify({
    path: report.path,
    fsType: report.fsType,
    totalBytes: Number(report.totalBytes),
    usedBytes: Number(report.usedBytes),
    freeBytes: Number(report.freeBytes),
    totalInodes: Number(report.totalInodes),
    usedInodes: Number(report.usedInodes),
    freeInodes: Number(report.freeInodes),
  })}\n`;
}

async function remoteReport(spec: string): Promise<DfReport> {
  const target = parseRemotePath(spec);
  if (target.path !== '') {
    throw new BlitError(
      `${showPath(spec)}: blit df reports a module's file system: name the module alone (${showPath(formatRemotePath(target, target.module, ''))})`,
    );
  }
  const subject = { spec, module: target.module };
  const client = await RemoteClient.connect(target, subject, askToTrust);
  try {
    const space = await client.space(subject);
    const { fsType, ...figures } = space;
    return {
      path: formatRemotePath(target, target.module, ''),
      fsType: peerText(fsType) || 'unknown',
      ...figures,
    };
  } finally {
    client.close();
  }
}

function localReport(spec: string): DfReport {
  try {
    return { path: spec, fsType: fsTypeOf(spec), ...spaceOf(spec) };
  } catch (error) {
    throw new BlitError(`${showPath(spec)}: ${reasonOf(error)}`);
  }
}

export async function runDf(spec: string, flags: DfFlags): Promise<number> {
  const report = looksRemote(spec) ? await remoteReport(spec) : localReport(spec);
  out(flags.json ? dfJson(report) : dfText(report));
  return 0;
}
