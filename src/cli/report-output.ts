/** What a finished transfer prints: a human summary, or one JSON object; failures on stderr. */
import { fidelityWarnings } from '../engine/fidelity.js';
import type { Action, TransferReport } from '../engine/types.js';
import { showPath } from '../util/errors.js';
import { formatBytes, formatCount, formatDuration, formatRate } from '../util/human.js';
import { err, out } from './stdio.js';

const VERBS: Record<Action['kind'], [string, string]> = {
  copy: ['copy', 'would copy'],
  link: ['link', 'would link'],
  mkdir: ['mkdir', 'would mkdir'],
  delete: ['delete', 'would delete'],
  update: ['update', 'would update'],
  'remove-source': ['remove', 'would remove'],
};

export function printActions(write: (text: string) => void, action: Action, dryRun: boolean): void {
  write(`${VERBS[action.kind][dryRun ? 1 : 0]} ${showPath(action.path)}\n`);
}

export function summaryLine(report: TransferReport): string {
  if (report.renamed) {
    return `blit move: renamed ${showPath(report.source)} to ${showPath(report.destination)} (same file system) in ${formatDuration(report.elapsedMs)}`;
  }
  const parts = [
    `${formatCount(report.copied)} copied`,
    `${formatCount(report.skipped)} unchanged`,
    ...(report.updated ? [`${formatCount(report.updated)} updated`] : []),
    ...(report.operation === 'mirror' ? [`${formatCount(report.deleted)} deleted`] : []),
    `${formatCount(report.failed)} failed`,
  ];
  const volume = `${formatBytes(report.bytes)} in ${formatDuration(report.elapsedMs)} (${formatRate(report.bytes, report.elapsedMs)})`;
  return `blit ${report.operation}${report.dryRun ? ' (dry run)' : ''}: ${parts.join(', ')}; ${volume}`;
}

export function printReport(report: TransferReport, json: boolean): void {
  for (const failure of report.failures) err(`blit: ${showPath(failure.path)}: ${failure.reason}\n`);
  for (const warning of fidelityWarnings(report.fidelity ?? {})) err(`blit: warning: ${warning}\n`);
  if (json) {
    out(`${JSON.stringify({ ...report, elapsedMs: Math.round(report.elapsedMs) })}\n`);
    return;
  }
  out(`${summaryLine(report)}\n`);
}
