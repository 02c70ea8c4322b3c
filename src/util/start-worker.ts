/**
 * Starts one of blit's worker threads: the bundled `NAME.js` beside the calling module in dist/,
 * or, when blit runs from its TypeScript sources (tests under tsx), `NAME.ts` with tsx's loader
 * registered inside the worker (on Node 20 `execArgv: ['--import', 'tsx']` does not reach workers),
 * or, in a single executable (src/sea/setup.ts), the code it embeds: a binary has no files beside it.
 */
import { createRequire } from 'node:module';
import type { Worker, WorkerOptions } from 'node:worker_threads';

// Loaded on first use: with the native addon no worker thread is ever started, and node:worker_threads
// is not worth its start-up cost to every run.
const requireBuiltin = createRequire(import.meta.url);

let embeddedCode: ((name: string) => string) | undefined;

/** Workers run `code(NAME)` (one CommonJS script each) instead of files: see src/sea/setup.ts. */
export function useEmbeddedWorkers(code: (name: string) => string): void {
  embeddedCode = code;
}

export function startWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  const { Worker } = requireBuiltin('node:worker_threads') as typeof import('node:worker_threads');
  if (embeddedCode) return new Worker(embeddedCode(name), { ...options, eval: true });
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const script = JSON.stringify(new URL(`./${name}.ts`, callerUrl).href);
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${script}); });`;
  return new Worker(code, { ...options, eval: true });
}
