/**
 * Starts one of blit's worker threads: the bundled `NAME.js` beside the calling module in dist/,
 * or, when blit runs from its TypeScript sources (tests under tsx), `NAME.ts` with tsx's loader
 * registered inside the worker (on Node 20 `execArgv: ['--import', 'tsx']` does not reach workers).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const script = JSON.stringify(new URL(`./${name}.ts`, callerUrl).href);
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${script}); });`;
  return new Worker(code, { ...options, eval: true });
}
