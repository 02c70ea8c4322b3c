/**
 * Running a real blitd (the built bundle) on 127.0.0.1 with a port the kernel picks, and the real
 * blit CLI against it. Every wait is bounded; every daemon is stopped when its test ends.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testConfigHome } from '../helpers.js';

export const BLIT = fileURLToPath(new URL('../../bin/blit.js', import.meta.url));
export const BLITD = fileURLToPath(new URL('../../bin/blitd.js', import.meta.url));

const START_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 60_000;

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Gathers a child's stdout and stderr as text while it runs. */
function collectOutput(child: ChildProcess): { stdout: string; stderr: string } {
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  return output;
}

export interface Daemon {
  port: number;
  process: ChildProcess;
  /** Everything the daemon logged so far (JSON lines). */
  log(): string;
  /** Sends `signal` and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

interface AfterHook {
  after(fn: () => unknown): void;
}

/**
 * Cleanups for a whole test file (a daemon and a tree its tests share, made in `before`): each
 * function given to `after` runs, the last given first, once the file's tests are done.
 */
export function fileHooks(): AfterHook {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  return { after: (fn) => cleanups.push(fn) };
}

/** Starts `blitd ARGS --port 0` (with `env` added to this process's) and waits for its "listening" line. */
export async function startDaemon(
  t: AfterHook,
  args: string[],
  env: Record<string, string> = {},
): Promise<Daemon> {
  const child = spawn(process.execPath, [BLITD, ...args, '--bind', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its perf history goes where the tests' own does, never into the real configuration.
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...env },
  });
  const output = collectOutput(child);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.after(() => stop('SIGKILL'));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(`blitd did not start within ${START_TIMEOUT_MS} ms: ${output.stderr}${output.stdout}`),
      );
    }, START_TIMEOUT_MS);
    const check = () => {
      const line = output.stdout.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`blitd exited (${code}) before listening: ${output.stderr}`));
    });
  });
  return { port, process: child, log: () => output.stdout, stop };
}

/** Runs `blit ARGS` without a terminal, asynchronously (the test process keeps reading the daemon's log). */
export async function runBlit(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return run(BLIT, args, options);
}

/** Runs `blitd ARGS` to completion (for start-up failures). */
export function runBlitdSync(args: string[]): RunResult {
  const result = spawnSync(process.execPath, [BLITD, ...args], {
    encoding: 'utf8',
    input: '',
    timeout: RUN_TIMEOUT_MS,
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function run(
  script: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> },
): Promise<RunResult> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const [code] = await once(child, 'close');
  clearTimeout(timer);
  return { status: (code as number | null) ?? -1, stdout: output.stdout, stderr: output.stderr };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** `blit ARGS` in the background, with `env` added; killed if it runs past a minute. */
export function startBlit(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BLIT, ...args], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.resume();
  const exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal }));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(killer));
  return { child: child as ChildProcess, exited, stderr: () => stderr };
}
