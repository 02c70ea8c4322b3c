/**
 * Metadata fidelity beyond mode and mtime (owners, extended attributes, ACLs, hard links, holes,
 * special files): which kinds a transfer keeps, and the tally of what it kept. A kind the
 * destination refuses (not root, a file system without xattrs) fails per entry but warns once per
 * kind, with the first reason: the report carries the counts (`--json`: `fidelity`), the human
 * summary one line per kind that failed anywhere.
 */
import type { FidelityCount } from '../generated/blit.js';

export type FidelityKind = 'owner' | 'xattrs' | 'acls' | 'hardLinks' | 'sparse' | 'special';

export const FIDELITY_KINDS: readonly FidelityKind[] = [
  'owner',
  'xattrs',
  'acls',
  'hardLinks',
  'sparse',
  'special',
];

/** What each kind means in a warning. */
const DESCRIPTIONS: Record<FidelityKind, string> = {
  owner: 'owner and group',
  xattrs: 'extended attributes',
  acls: 'ACLs',
  hardLinks: 'hard links',
  sparse: 'holes of sparse files',
  special: 'FIFOs and device files',
};

/** The kinds a transfer keeps: all by default; --no-owner, --no-xattrs, --no-acls, --no-hard-links turn one off. */
export interface PreserveOptions {
  owner: boolean;
  xattrs: boolean;
  acls: boolean;
  hardLinks: boolean;
  /** --numeric-ids: owners go by number across machines, never mapped by name. */
  numericIds: boolean;
}

export const PRESERVE_ALL: PreserveOptions = {
  owner: true,
  xattrs: true,
  acls: true,
  hardLinks: true,
  numericIds: false,
};

export interface KindCount {
  applied: number;
  failed: number;
  /** Why the first failure failed. */
  reason?: string;
}

/** Per kind that saw any entry: how many got it and how many could not. */
export type FidelityReport = Partial<Record<FidelityKind, KindCount>>;

export class FidelityTally {
  private readonly counts: FidelityReport = {};

  private count(kind: FidelityKind): KindCount {
    let count = this.counts[kind];
    if (!count) {
      count = { applied: 0, failed: 0 };
      this.counts[kind] = count;
    }
    return count;
  }

  applied(kind: FidelityKind, entries = 1): void {
    this.count(kind).applied += entries;
  }

  failed(kind: FidelityKind, reason: string): void {
    const count = this.count(kind);
    count.failed++;
    count.reason ??= reason;
  }

  /** Adds another tally's counts (a remote side's Summary, say). */
  merge(report: FidelityReport): void {
    for (const kind of FIDELITY_KINDS) {
      const other = report[kind];
      if (!other) continue;
      const count = this.count(kind);
      count.applied += other.applied;
      count.failed += other.failed;
      count.reason ??= other.reason;
    }
  }

  report(): FidelityReport {
    const copy: FidelityReport = {};
    for (const kind of FIDELITY_KINDS) if (this.counts[kind]) copy[kind] = { ...this.counts[kind] };
    return copy;
  }
}

/** One line per kind that could not be kept everywhere (the human summary's warnings). */
export function fidelityWarnings(report: FidelityReport): string[] {
  const lines: string[] = [];
  for (const kind of FIDELITY_KINDS) {
    const count = report[kind];
    if (!count || count.failed === 0) continue;
    lines.push(
      `${DESCRIPTIONS[kind]} not kept on ${count.failed} entr${count.failed === 1 ? 'y' : 'ies'}${count.reason ? `: ${count.reason}` : ''}`,
    );
  }
  return lines;
}

/** Bounds on what a peer's Summary may claim: a known kind, once; a reason of at most this length. */
const MAX_REASON = 1024;

export function toWireFidelity(report: FidelityReport): FidelityCount[] {
  const out: FidelityCount[] = [];
  for (const kind of FIDELITY_KINDS) {
    const count = report[kind];
    if (!count) continue;
    out.push({
      kind,
      applied: BigInt(count.applied),
      failed: BigInt(count.failed),
      reason: count.reason ?? '',
    });
  }
  return out;
}

/** A peer's counts; unknown kinds (a newer peer's) are left out, reasons cut to MAX_REASON. */
export function fromWireFidelity(counts: FidelityCount[]): FidelityReport {
  const report: FidelityReport = {};
  for (const count of counts) {
    const kind = FIDELITY_KINDS.find((known) => known === count.kind);
    if (!kind || report[kind]) continue;
    report[kind] = {
      applied: Number(count.applied),
      failed: Number(count.failed),
      ...(count.reason ? { reason: count.reason.slice(0, MAX_REASON) } : {}),
    };
  }
  return report;
}
