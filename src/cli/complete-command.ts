/**
 * `blit __complete -- WORDS…`, what the completion scripts (completion-scripts.ts) call on each
 * <TAB>: prints the candidates for the last word, one per line, or FILES_DIRECTIVE to let the shell
 * complete local paths. Remote candidates come from the daemon (ListModules, or one page of List)
 * with a short overall time-out; a daemon that is unreachable, unpinned, slow or refusing yields no
 * candidates and no message, since anything printed would land in the user's command line.
 */
import type { Command } from '@commander-js/extra-typings';
import { type Completion, completionFor, entryCandidates, moduleCandidates } from './complete-candidates.js';
import { FILES_DIRECTIVE } from './completion-shells.js';
import { out } from './stdio.js';

/** How long a <TAB> may wait for a daemon; the shell is blocked meanwhile. */
export const REMOTE_COMPLETION_TIMEOUT_MS = 2000;

async function remoteCandidates(completion: Completion & { kind: 'modules' | 'entries' }): Promise<string[]> {
  // Loaded only here: local completions never load gRPC.
  const { RemoteClient } = await import('../remote/client.js');
  const { kindName } = await import('../protocol/wire-entry.js');
  const subject = { spec: completion.prefix };
  // No trust prompt: an unpinned daemon off loopback is refused, silently.
  const client = await RemoteClient.connect(completion.address, subject);
  try {
    if (completion.kind === 'modules') {
      const { modules } = await client.listModules(subject);
      return moduleCandidates(
        completion.prefix,
        completion.partial,
        modules.map((m) => m.name),
      );
    }
    // One page, as `blit ls` reads its first: enough to complete from.
    const page = await client.list({ ...subject, module: completion.module }, completion.dir, '');
    if (!page.isDirectory) return [];
    const entries = page.entries.map((e) => ({ name: e.name, isDirectory: kindName(e.kind) === 'dir' }));
    return entryCandidates(completion.prefix, completion.partial, entries);
  } finally {
    client.close();
  }
}

function withinTimeout<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

export async function candidateLines(program: Command, words: readonly string[]): Promise<string[]> {
  const completion = completionFor(program, words);
  switch (completion.kind) {
    case 'words':
      return completion.words;
    case 'files':
      return [FILES_DIRECTIVE];
    default:
      return withinTimeout(remoteCandidates(completion), REMOTE_COMPLETION_TIMEOUT_MS, []);
  }
}

export async function runComplete(program: Command, words: readonly string[]): Promise<number> {
  const lines = await candidateLines(program, words);
  out(lines.map((line) => `${line}\n`).join(''));
  // A daemon that never answered still holds a connection attempt open: end now, the shell waits.
  process.exit(0);
}
