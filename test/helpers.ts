/** Shared test helpers: temp trees and running the real built CLI. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Operation, TransferOptions, TransferReport } from '../src/engine/types.js';
import { SlabQuota, spareSlabs } from '../src/transport/tcp/slab-pool.js';

/** A fixed past second; files get mtimes around it so "now" never matches by accident. */
export const T = 1_500_000_000;
/** blit keeps mtimes to the microsecond without its native addon; 2 µs allows for rounding. */
export const MTIME_TOLERANCE_NS = 2000n;

/** A transfer's options with nothing but `operation` set (a test adds what it needs in `more`). */
export function transferOptions(operation: Operation, more: Partial<TransferOptions> = {}): TransferOptions {
  return {
    operation,
    compare: 'default',
    filter: { include: [], exclude: [] },
    dryRun: false,
    deleteExcluded: false,
    ...more,
  };
}

/** The perf-history file of a blit (or blitd) run with `config` as its XDG_CONFIG_HOME. */
const historyOf = (config: string) => join(config, 'blit', 'perf_local.jsonl');

/** The perf-history records under `config`, once there are `count` of them (within 5 s; a blitd writes its own after its session). */
export async function perfRecords<R = Record<string, unknown>>(config: string, count: number): Promise<R[]> {
  const path = historyOf(config);
  for (let i = 0; i < 250; i++) {
    const lines = existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n') : [];
    if (lines.length >= count) return lines.map((line) => JSON.parse(line) as R);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`no record ${count} in ${path} within 5 s`);
}

/** The first perf-history record under `config` that `which` picks, once one is written (within 5 s). */
export async function perfRecord<R>(config: string, which: (record: R) => boolean): Promise<R | undefined> {
  const path = historyOf(config);
  for (let i = 0; i < 250; i++) {
    const lines = existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n') : [];
    const found = lines.map((line) => JSON.parse(line) as R).find(which);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}

/** The usual layout of a test: ROOT/src and ROOT/dst. */
export function dirs(root: string): { root: string; src: string; dst: string } {
  return { root, src: join(root, 'src'), dst: join(root, 'dst') };
}

export const BLIT = fileURLToPath(new URL('../bin/blit.js', import.meta.url));

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

let configHome: string | undefined;

/**
 * The XDG_CONFIG_HOME every CLI run of this test process gets unless a test passes its own: blit
 * keeps its perf history there, and tests must never write into the real ~/.config.
 */
export function testConfigHome(): string {
  if (!configHome) {
    const dir = mkdtempSync(join(tmpdir(), 'blit-test-config-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    configHome = dir;
  }
  return configHome;
}

/** Runs `blit ARGS` (the bundle in dist/, built by `npm test`'s pretest) without a terminal. */
export function blit(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): RunResult {
  const result = spawnSync(process.execPath, [BLIT, ...args], {
    cwd: options.cwd,
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function tempDir(t: { after(fn: () => void): void }, prefix = 'blit-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // BLIT_TEST_KEEP=1 keeps every temp tree, to inspect a failure.
  if (process.env.BLIT_TEST_KEEP === '1') process.stderr.write(`kept: ${dir}\n`);
  else t.after(() => removeTree(dir));
  return dir;
}

/** Removes a temp tree, also when a test left unreadable directories in it (as a non-root user). */
function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    spawnSync('chmod', ['-R', 'u+rwX', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Trees on disk: building them, taking snapshots, comparing them.

export const IS_ROOT = process.getuid?.() === 0;
/** The unprivileged user (and group) the permission tests run blit as when the tests run as root. */
export const NOBODY = 65534;

/**
 * Runs blit as a user whom permission bits stop. Root reads everything, so when the tests run as
 * root, `owned` (the test's temp root) is handed to `nobody` and blit runs through `setpriv`.
 */
export function blitUnprivileged(
  args: string[],
  owned: string,
  options: { env?: Record<string, string> } = {},
): RunResult {
  if (!IS_ROOT) return blit(args, options);
  chownTreeRaw(Buffer.from(owned));
  const result = spawnSync(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BLIT, ...args],
    {
      env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...options.env },
      input: '',
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  if (result.error)
    throw new Error(`running blit through setpriv (util-linux) failed: ${result.error.message}`);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Hands a whole tree to NOBODY (links themselves, never their targets), by raw byte paths. */
function chownTreeRaw(path: Buffer): void {
  lchownSync(path, NOBODY, NOBODY);
  if (lstatSync(path).isDirectory()) {
    for (const name of readdirSync(path, { encoding: 'buffer' })) {
      chownTreeRaw(Buffer.concat([path, Buffer.from('/'), name]));
    }
  }
}

/** Sets a path's mtime (and atime) in seconds; symlinks themselves, never their targets. */
export function setMtime(path: string, seconds: number): void {
  if (lstatSync(path).isSymbolicLink()) lutimesSync(path, seconds, seconds);
  else utimesSync(path, seconds, seconds);
}

/** Writes a file (creating its parents) with an exact mode and, when given, an mtime in seconds. */
export function writeFile(
  path: string,
  content: string | Buffer,
  options: { mode?: number; mtime?: number } = {},
): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, options.mode ?? 0o644);
  if (options.mtime !== undefined) utimesSync(path, options.mtime, options.mtime);
}

export function mtimeNs(path: string): bigint {
  return lstatSync(path, { bigint: true }).mtimeNs;
}

export function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

export interface TreeNode {
  kind: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits (0o777 for symlinks, whose modes mean nothing). */
  mode: number;
  mtimeNs: bigint;
  /** sha256 of a file's contents. */
  hash?: string;
  size?: number;
  target?: string;
}

/** Every entry below `root` (and '' for root itself), keyed by relative path; nothing followed. */
export function snapshot(root: string): Map<string, TreeNode> {
  const nodes = new Map<string, TreeNode>();
  const visit = (rel: string) => {
    const path = rel === '' ? root : join(root, rel);
    const stats = lstatSync(path, { bigint: true });
    const node: TreeNode = {
      kind: stats.isFile()
        ? 'file'
        : stats.isDirectory()
          ? 'dir'
          : stats.isSymbolicLink()
            ? 'symlink'
            : 'other',
      mode: stats.isSymbolicLink() ? 0o777 : Number(stats.mode & 0o7777n),
      mtimeNs: stats.mtimeNs,
    };
    if (node.kind === 'file') {
      node.size = Number(stats.size);
      node.hash = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
    if (node.kind === 'symlink') node.target = readlinkSync(path);
    nodes.set(rel, node);
    if (node.kind === 'dir') {
      for (const name of readdirSync(path).sort()) visit(rel === '' ? name : `${rel}/${name}`);
    }
  };
  visit('');
  return nodes;
}

/**
 * The differences between two snapshots, one line each (empty when they agree). Mtimes agree
 * when they lie within `mtimeToleranceNs`, or, with `mtimeToleranceNs: 'second'`, share the second.
 */
export function diffSnapshots(
  actual: Map<string, TreeNode>,
  expected: Map<string, TreeNode>,
  options: { mtimeToleranceNs: bigint | 'second'; ignoreRootMtime?: boolean; ignoreDirMtimes?: boolean },
): string[] {
  const show = (rel: string) => JSON.stringify(rel === '' ? '.' : rel);
  const lines: string[] = [];
  for (const [rel, want] of expected) {
    const got = actual.get(rel);
    if (!got) {
      lines.push(`missing ${show(rel)} (${want.kind})`);
      continue;
    }
    if (got.kind !== want.kind) {
      lines.push(`${show(rel)}: is a ${got.kind}, expected a ${want.kind}`);
      continue;
    }
    if (got.mode !== want.mode)
      lines.push(`${show(rel)}: mode ${got.mode.toString(8)}, expected ${want.mode.toString(8)}`);
    if (got.hash !== want.hash)
      lines.push(`${show(rel)}: contents differ (${got.size} vs ${want.size} bytes)`);
    if (got.target !== want.target)
      lines.push(`${show(rel)}: link target ${got.target}, expected ${want.target}`);
    const checkMtime =
      !(rel === '' && options.ignoreRootMtime) && !(want.kind === 'dir' && options.ignoreDirMtimes);
    if (checkMtime) {
      const tolerance = options.mtimeToleranceNs;
      const same =
        tolerance === 'second'
          ? got.mtimeNs / 1_000_000_000n === want.mtimeNs / 1_000_000_000n
          : got.mtimeNs - want.mtimeNs < tolerance && want.mtimeNs - got.mtimeNs < tolerance;
      if (!same) lines.push(`${show(rel)}: mtime ${got.mtimeNs} ns, expected ${want.mtimeNs} ns`);
    }
  }
  for (const [rel, got] of actual)
    if (!expected.has(rel)) lines.push(`unexpected ${show(rel)} (${got.kind})`);
  return lines;
}

/** Asserts that `dst` holds exactly what `src` holds: kinds, contents, modes, link targets, mtimes. */
export function assertSameTree(dst: string, src: string, options: { ignoreRootMtime?: boolean } = {}): void {
  const lines = diffSnapshots(snapshot(dst), snapshot(src), {
    mtimeToleranceNs: MTIME_TOLERANCE_NS,
    ignoreRootMtime: options.ignoreRootMtime,
  });
  assert.deepEqual(lines, [], `${dst} differs from ${src}`);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same tree on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The JSON summary blit printed on stdout (its last line). */
export function jsonReport(result: RunResult): TransferReport & { [key: string]: unknown } {
  const lines = result.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1] ?? '');
  } catch {
    throw new Error(`no JSON summary on stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** Asserts that a fatal error came as exactly one `blit: …` line on stderr, without a stack trace. */
export function isOneLineError(stderr: string): boolean {
  const lines = stderr.trimEnd().split('\n');
  return lines.length === 1 && lines[0]!.startsWith('blit: ') && !/\n\s+at /.test(stderr);
}

/** A connected TCP pair on 127.0.0.1 (`server` accepted, `client` dialed), closed after the test. */
export async function loopbackPair(t: {
  after(fn: () => unknown): void;
}): Promise<{ server: Socket; client: Socket }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = once(listener, 'connection');
  const client = connect({ host: '127.0.0.1', port: (listener.address() as { port: number }).port });
  const [server] = (await accepted) as [Socket];
  t.after(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client };
}

/**
 * Takes every spare read buffer out of the process's pool (src/transport/tcp/slab-pool.ts), held by
 * a throw-away quota, so the slabs a test then counts are only its own.
 */
export function emptySpareSlabs(): void {
  const drain = new SlabQuota(Number.MAX_SAFE_INTEGER);
  while (spareSlabs() > 0) drain.take();
}
