/**
 * `blit diagnostics dump [PATH...]`: one text to paste into a bug report: versions, the machine,
 * which file-operation path and transports this blit would use, the file-system type of each PATH,
 * the open-files limit, where its configuration and state live, and the last runs from the perf
 * history. Gathered from this machine only, and nothing secret: no key material (the identity file
 * is only said to exist), no contents of known_hosts (only how many daemons it pins), no
 * environment dump (only blit's own switches); the text says so in its "left out" section.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_VERSION } from 'node:tls';
import { nativeAddon, nativeStatus } from '../fsops/native.js';
import { configDir, type Env, historyPath, settingsPath } from '../perf/config-paths.js';
import { fsTypeOf } from '../perf/fs-type.js';
import { HistoryStore } from '../perf/history-store.js';
import type { PerfRecord } from '../perf/record.js';
import { disabledByEnv, readSettings } from '../perf/settings.js';
import { PROTOCOL_VERSION, rdmaInfo } from '../protocol/handshake.js';
import { looksRemote } from '../remote/endpoint.js';
import { IDENTITY_FILE } from '../tls/key-store.js';
import { knownHostsPath, parseKnownHostLine } from '../tls/known-hosts.js';
import { BlitError, reasonOf, showPath } from '../util/errors.js';
import { formatBytes } from '../util/human.js';
import { runRows, table } from './diagnostics-command.js';
import { out } from './stdio.js';
import { version } from './version.js';

export interface DumpFlags {
  json?: boolean;
}

/** Runs from the perf history the dump shows, newest last. */
export const DUMP_RUNS = 10;

/** blit's own switches: the only environment variables the dump shows. */
export const SWITCHES = ['BLIT_NO_NATIVE', 'BLIT_FORCE_GRPC_DATA', 'BLIT_DISABLE_PERF_HISTORY'] as const;

export const LEFT_OUT = [
  'key material: the identity file is named, never read out',
  'the contents of known_hosts: only how many daemons it pins',
  'the environment: only the blit switches listed above',
  'file names and contents: only the paths given on the command line',
];

export interface Limit {
  soft: string;
  hard: string;
}

/** The "Max open files" line of /proc/self/limits (`unlimited` kept as the word). */
export function parseOpenFilesLimit(text: string): Limit | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  return match ? { soft: match[1]!, hard: match[2]! } : undefined;
}

function readOr<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch {
    return otherwise;
  }
}

function distribution(): string | undefined {
  const text = readOr(() => readFileSync('/etc/os-release', 'utf8'), '');
  const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return match?.[1];
}

interface FileState {
  path: string;
  present: boolean;
}

export interface Dump {
  blit: { version: string; protocol: number };
  node: { version: string; v8: string; openssl: string; uv: string };
  system: {
    os: string;
    kernel: string;
    arch: string;
    distribution?: string;
    cpus: number;
    cpuModel: string;
    memoryBytes: number;
    availableMemoryBytes: number;
  };
  fileOperations: string;
  transports: { control: string; data: string; tls: string; rdma: string };
  paths: { path: string; fsType: string; exists: boolean }[];
  limits: { openFiles?: Limit };
  switches: Record<string, string>;
  config: {
    dir: string;
    perfHistory: FileState & { recording: boolean; runs: number; bytes: number; problem?: string };
    perfSettings: FileState;
    identity: FileState;
    knownHosts: FileState & { daemons: number };
  };
  lastRuns: PerfRecord[];
  leftOut: string[];
}

export function gatherDump(paths: string[], env: Env = process.env): Dump {
  const native = nativeAddon() !== undefined;
  const forced = env.BLIT_FORCE_GRPC_DATA === '1';
  const rdma = rdmaInfo();
  const history = historyPath(env);
  let contents = { records: [] as PerfRecord[], bytes: 0, skipped: 0 };
  let problem: string | undefined;
  try {
    contents = new HistoryStore(history).read();
  } catch (error) {
    problem = reasonOf(error);
  }
  const identity = join(configDir(env), IDENTITY_FILE);
  const knownHosts = knownHostsPath(env);
  const knownText = readOr(() => readFileSync(knownHosts, 'utf8'), undefined);
  const switches: Record<string, string> = {};
  for (const name of SWITCHES) if (env[name] !== undefined) switches[name] = env[name]!;
  const limits = parseOpenFilesLimit(readOr(() => readFileSync('/proc/self/limits', 'utf8'), ''));
  const cpus = os.cpus();
  return {
    blit: { version, protocol: PROTOCOL_VERSION },
    node: {
      version: process.version,
      v8: process.versions.v8,
      openssl: process.versions.openssl ?? 'none',
      uv: process.versions.uv ?? 'unknown',
    },
    system: {
      os: os.type(),
      kernel: `${os.release()} ${os.version()}`,
      arch: os.arch(),
      distribution: distribution(),
      cpus: os.availableParallelism(),
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryBytes: os.totalmem(),
      availableMemoryBytes: os.freemem(),
    },
    fileOperations: nativeStatus(),
    transports: {
      control: 'gRPC over HTTP/2 on the daemon port (TLS unless the daemon is on loopback without it)',
      data: forced
        ? 'inside the control connection (BLIT_FORCE_GRPC_DATA=1)'
        : `TCP data sockets on the daemon's port, ${native ? 'zero-copy (sendfile / splice, native addon)' : 'buffered (pure JS)'}; falls back to the control connection when unreachable`,
      tls: process.versions.openssl
        ? `available: up to ${DEFAULT_MAX_VERSION}, OpenSSL ${process.versions.openssl}`
        : 'unavailable: Node without OpenSSL',
      rdma: rdma
        ? `device ${rdma.deviceName} seen (reserved: not used yet)`
        : 'no devices (reserved: not used yet)',
    },
    paths: paths.map((path) => ({ path, fsType: fsTypeOf(path), exists: existsSync(path) })),
    limits: limits ? { openFiles: limits } : {},
    switches,
    config: {
      dir: configDir(env),
      perfHistory: {
        path: history,
        present: existsSync(history),
        recording: readSettings(settingsPath(env)).enabled && !disabledByEnv(env),
        runs: contents.records.length,
        bytes: contents.bytes,
        ...(problem ? { problem } : {}),
      },
      perfSettings: { path: settingsPath(env), present: existsSync(settingsPath(env)) },
      identity: { path: identity, present: readOr(() => statSync(identity).isFile(), false) },
      knownHosts: {
        path: knownHosts,
        present: knownText !== undefined,
        daemons: (knownText ?? '').split('\n').filter((line) => parseKnownHostLine(line)).length,
      },
    },
    lastRuns: contents.records.slice(-DUMP_RUNS),
    leftOut: LEFT_OUT,
  };
}

const presence = (file: FileState) => `${showPath(file.path)} (${file.present ? 'present' : 'absent'})`;

export function dumpText(dump: Dump): string {
  const { system, config } = dump;
  const section = (title: string, rows: [string, string][]) => [
    '',
    `${title}:`,
    ...rows.map(([key, value]) => `  ${`${key}:`.padEnd(15)} ${value}`),
  ];
  const lines = [
    'blit diagnostics dump: paste it into a bug report (nothing secret is in it; see "left out")',
    ...section('versions', [
      ['blit', `${dump.blit.version} (protocol ${dump.blit.protocol})`],
      [
        'node',
        `${dump.node.version} (V8 ${dump.node.v8}, OpenSSL ${dump.node.openssl}, libuv ${dump.node.uv})`,
      ],
    ]),
    ...section('system', [
      ['os', `${system.os} ${system.arch}${system.distribution ? `, ${system.distribution}` : ''}`],
      ['kernel', system.kernel],
      ['cpus', `${system.cpus} × ${system.cpuModel}`],
      [
        'memory',
        `${formatBytes(system.memoryBytes)} total, ${formatBytes(system.availableMemoryBytes)} free`,
      ],
    ]),
    ...section('file operations', [['path', dump.fileOperations]]),
    ...section('transports', [
      ['control plane', dump.transports.control],
      ['data plane', dump.transports.data],
      ['tls', dump.transports.tls],
      ['rdma', dump.transports.rdma],
    ]),
    ...section(
      'paths',
      dump.paths.length === 0
        ? [['(none given)', 'blit diagnostics dump PATH... names the file system of each']]
        : dump.paths.map((p): [string, string] => [
            showPath(p.path),
            `${p.fsType}${p.exists ? '' : ' (does not exist)'}`,
          ]),
    ),
    ...section('limits', [
      [
        'open files',
        dump.limits.openFiles
          ? `soft ${dump.limits.openFiles.soft}, hard ${dump.limits.openFiles.hard}`
          : 'unknown (no /proc/self/limits)',
      ],
    ]),
    ...section(
      'switches',
      Object.keys(dump.switches).length === 0
        ? [['(none set)', SWITCHES.join(', ')]]
        : Object.entries(dump.switches).map(([name, value]): [string, string] => [name, showPath(value)]),
    ),
    ...section('config and state', [
      ['directory', showPath(config.dir)],
      [
        'perf history',
        `${presence(config.perfHistory)}, recording ${config.perfHistory.recording ? 'on' : 'off'}, ${config.perfHistory.runs} run(s), ${formatBytes(config.perfHistory.bytes)}${config.perfHistory.problem ? `, unreadable: ${config.perfHistory.problem}` : ''}`,
      ],
      ['perf settings', presence(config.perfSettings)],
      ['identity', presence(config.identity)],
      ['known hosts', `${presence(config.knownHosts)}, ${config.knownHosts.daemons} daemon(s) pinned`],
    ]),
    '',
    `last runs (perf history, newest last): ${dump.lastRuns.length === 0 ? 'none' : ''}`.trimEnd(),
  ];
  if (dump.lastRuns.length > 0) lines.push(table(runRows(dump.lastRuns)));
  lines.push('', 'left out:', ...dump.leftOut.map((item) => `  ${item}`));
  return `${lines.join('\n')}\n`;
}

export function runDiagnosticsDump(paths: string[], flags: DumpFlags, env: Env = process.env): number {
  // The dump describes this machine: a daemon's module is not a local path to look at.
  const remote = paths.find(looksRemote);
  if (remote !== undefined)
    throw new BlitError(
      `${showPath(remote)}: a remote path; diagnostics dump describes this machine only (give local paths)`,
    );
  const dump = gatherDump(paths, env);
  out(flags.json ? `${JSON.stringify(dump)}\n` : dumpText(dump));
  return 0;
}
