/** Shared test helpers: temp trees and running the real built CLI. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BLIT = fileURLToPath(new URL('../bin/blit.js', import.meta.url));

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `blit ARGS` (the bundle in dist/, built by `npm test`'s pretest) without a terminal. */
export function blit(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): RunResult {
  const result = spawnSync(process.execPath, [BLIT, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function tempDir(t: { after(fn: () => void): void }, prefix = 'blit-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
