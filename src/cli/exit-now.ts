/**
 * Ends the process as soon as a local transfer has said everything, without the runtime's teardown
 * (freeing the V8 heap, joining its platform threads): ~10 ms of every run here, which a one-file
 * copy or a re-sync that changes nothing feels (docs/DECISIONS.md). All output is written by then
 * (synchronous writes to files, pipes and terminals on Linux) and the performance history is
 * appended synchronously. 'exit' listeners still run. Only with the addon, and only when none of
 * its copy pools owes an answer (a batch still running may have a temp file to remove); otherwise
 * the process ends as usual, once that work is done.
 */
import { nativeAddon } from '../fsops/native.js';

export function exitNow(code: number): void {
  process.exitCode = code;
  const addon = nativeAddon();
  if (!addon?.poolsIdle()) return;
  process.emit('exit', code);
  addon.exitProcess(code);
}
