/**
 * Ends the process as soon as a transfer has said everything, without the runtime's teardown
 * (freeing the V8 heap, joining its platform threads): ~8 ms of every run here, which a one-file
 * copy or a re-sync that changes nothing feels (docs/DECISIONS.md). The performance history is
 * appended synchronously before this, and 'exit' listeners still run. Only when nothing is left
 * that Node's own exit would finish:
 * - the addon is loaded and none of its copy pools owes an answer (a batch still running may have
 *   a temp file to remove);
 * - all output went through cli/stdio.ts's plain fd writes, so none is queued; or, where the addon
 *   can set Node's stdio descriptors back as Node's exit does (their O_NONBLOCK, a terminal's mode:
 *   stdioResettable; it does so then, and only then), every Node stdout or stderr stream made
 *   holds nothing still to write, and no stdin stream was made. A stream may hold writes for a full pipe (the progress line, `--json`
 *   events to a slow reader), and a stream on a pipe leaves the pipe non-blocking, which the next
 *   command sharing it would otherwise inherit. A remote run makes Node's stderr stream without
 *   writing to it (Node's net module compares each socket it closes with it).
 * - Node runs without flags of its own and without coverage: a CPU or heap profile, or V8
 *   coverage, is written by Node's exit.
 * Otherwise the process ends as usual.
 */
import { nativeAddon } from '../fsops/native.js';
import { err, onlyPlainWrites, streamsFlushed } from './stdio.js';

export function exitNow(code: number): void {
  process.exitCode = code;
  const addon = nativeAddon();
  if (instrumented() || !addon?.poolsIdle()) return;
  if (!(onlyPlainWrites() || (addon.stdioResettable && streamsFlushed()))) return;
  process.emit('exit', code);
  // Tests (test/integration/exit-now.test.ts): which way a run ended.
  if (process.env.BLIT_DEBUG_EXIT === '1') err("blit: ended without the runtime's teardown\n");
  addon.exitProcess(code, !onlyPlainWrites());
}

function instrumented(): boolean {
  return (
    process.execArgv.length > 0 || Boolean(process.env.NODE_OPTIONS) || Boolean(process.env.NODE_V8_COVERAGE)
  );
}
