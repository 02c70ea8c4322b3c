/** Asks the person at the terminal before a mirror deletes anything. */
import { createRequire } from 'node:module';
import type { DeletionCandidate } from '../engine/local-destination.js';
import { BlitError, showPath } from '../util/errors.js';
import { countOf } from '../util/human.js';

const SHOWN = 10;

export function canAsk(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

/** Asks whether to delete `candidates`; `signal` (SIGINT, SIGTERM) ends the question as Ctrl+C does. */
export async function confirmDeletions(
  candidates: DeletionCandidate[],
  root: string,
  signal?: AbortSignal,
  /** How many in all, when `candidates` holds only the first few (a remote destination's sample). */
  total = candidates.length,
): Promise<boolean> {
  if (!canAsk()) return false;
  const lines = candidates.slice(0, SHOWN).map((c) => `  ${showPath(c.rel)}${c.kind === 'dir' ? '/' : ''}`);
  const shown = Math.min(SHOWN, candidates.length);
  if (total > shown) lines.push(`  … and ${total - shown} more`);
  process.stderr.write(
    `blit: mirror will delete ${countOf(total, 'entry', 'entries')} from ${showPath(root)}:\n${lines.join('\n')}\n`,
  );
  // Loaded only when someone is asked: readline is not worth its start-up cost to every run. require,
  // not import(): the CLI bundle runs as a vm.Script (bin/blit.js), which has no import().
  const { createInterface } = createRequire(import.meta.url)(
    'node:readline/promises',
  ) as typeof import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('Delete them? [y/N] ', { signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch (error) {
    // Ctrl+C at the prompt (readline turns it into an AbortError on a terminal), or a signal.
    if (error instanceof Error && error.name === 'AbortError') {
      process.stderr.write('\n');
      const name = String(signal?.reason ?? 'SIGINT');
      throw new BlitError(
        `interrupted (${name}) at the prompt: nothing was deleted`,
        name === 'SIGTERM' ? 143 : 130,
      );
    }
    throw error;
  } finally {
    rl.close();
  }
}
