/**
 * Ends the process as soon as a local transfer has said everything, without the runtime's teardown
 * (freeing the V8 heap, joining its platform threads): ~8 ms of every run here, which a one-file
 * copy or a re-sync that changes nothing feels (docs/DECISIONS.md). The performance history is
 * appended synchronously before this, and 'exit' listeners still run. Only when nothing is left
 * that Node's own exit would finish:
 * - the addon is loaded and none of its copy pools owes an answer (a batch still running may have
 *   a temp file to remove);
 * - all output went through cli/stdio.ts's plain fd writes, so none is queued. Node's stdio streams
 *   (the progress line, the deletion prompt) may hold writes for a full pipe and leave shared pipes
 *   non-blocking, which only Node's exit sets right.
 * - Node runs without flags of its own and without coverage: a CPU or heap profile, or V8
 *   coverage, is written by Node's exit.
 * Otherwise the process ends as usual.
 */
import { nativeAddon } from '../fsops/native.js';
import { onlyPlainWrites } from './stdio.js';

export function exitNow(code: number): void {
  process.exitCode = code;
  const addon = nativeAddon();
  if (!onlyPlainWrites() || instrumented() || !addon?.poolsIdle()) return;
  process.emit('exit', code);
  addon.exitProcess(code);
}

function instrumented(): boolean {
  return (
    process.execArgv.length > 0 || Boolean(process.env.NODE_OPTIONS) || Boolean(process.env.NODE_V8_COVERAGE)
  );
}
