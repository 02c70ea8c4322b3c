/**
 * blitd's configuration: a TOML file such as
 *
 *   [daemon]
 *   bind = "127.0.0.1"     # loopback unless configured
 *   port = 9031
 *   motd = "Welcome"
 *   log_level = "info"
 *   tls = true             # default: on unless bound to loopback (security.ts has the rules)
 *   data_tls = true        # false: data sockets in the clear (trusted networks only)
 *   state_dir = "/var/lib/blitd"   # where the generated key and certificate live
 *   metrics = "127.0.0.1:9100"     # Prometheus metrics at http://HOST:PORT/metrics (default: off)
 *   # cert = "cert.pem"    # or a configured certificate (self-signed) and key
 *   # key = "key.pem"
 *
 *   [[module]]
 *   name = "photos"
 *   path = "/srv/photos"   # relative paths are relative to the config file
 *   read_only = true
 *   comment = "Family photos"
 *   allow = ["SHA256:…"]   # client identities (blit id) admitted, or ["*"] for any TLS client
 *
 * Anything unknown, mistyped, missing or duplicated is refused with the file and line that hold it.
 * The keys themselves, with their types, defaults and meaning, are listed in config-keys.ts.
 */
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { FINGERPRINT } from '../tls/fingerprint.js';
import { BlitError } from '../util/errors.js';
import { keysOf } from './config-keys.js';
import { type ListenAddress, parseListenAddress } from './listen-address.js';
import { keyLines } from './toml-lines.js';

export const DEFAULT_CONFIG_PATH = '/etc/blit/config.toml';
export const DEFAULT_BIND = '127.0.0.1';
export const DEFAULT_PORT = 9031;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ModuleConfig {
  name: string;
  /** Absolute path of the exported directory. */
  path: string;
  readOnly: boolean;
  comment: string;
  /** Client identities (fingerprints) admitted, '*' for anyone speaking TLS; undefined: no list. */
  allow?: string[];
  /** False: this module's data sockets are in the clear even when the daemon's are not. */
  dataTls?: boolean;
}

export interface DaemonConfig {
  bind: string;
  /** 0 picks a free port. */
  port: number;
  motd: string;
  logLevel: LogLevel;
  /** As configured; undefined: on unless bound to loopback (security.ts). */
  tls?: boolean;
  /** Data sockets use TLS when the control plane does unless false (a trusted network opts out). */
  dataTls?: boolean;
  /** A configured certificate (chain) and key, instead of the generated ones; absolute paths. */
  certFile?: string;
  keyFile?: string;
  /** Where the generated key and certificate are kept; absolute. */
  stateDir?: string;
  /** Where GET /metrics is served (metrics-server.ts); undefined: off. */
  metrics?: ListenAddress;
  modules: ModuleConfig[];
}

export const MODULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Tells whether `path` is a directory; returns the reason when it is not. */
export type DirectoryCheck = (path: string) => string | undefined;

// The accepted keys come from one table that the generated reference (blitd.toml(5)) is made from.
const DAEMON_KEYS = keysOf('daemon');
const MODULE_KEYS = keysOf('module');

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

class Located {
  private readonly lines: Map<string, number>;
  constructor(
    private readonly file: string,
    text: string,
  ) {
    this.lines = keyLines(text);
  }

  /** An error at the line of `key` (or of the nearest enclosing table that has a line). */
  error(key: string, message: string): BlitError {
    let probe = key;
    for (;;) {
      const line = this.lines.get(probe);
      if (line !== undefined) return new BlitError(`${this.file}:${line}: ${message}`);
      const dot = probe.lastIndexOf('.');
      if (dot < 0) return new BlitError(`${this.file}: ${message}`);
      probe = probe.slice(0, dot);
    }
  }

  line(key: string): number | undefined {
    return this.lines.get(key);
  }
}

function expectString(at: Located, table: Table, key: string, path: string): string | undefined {
  const value = table[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw at.error(path, `${path.replace(/\[\d+\]/, '')} must be a string`);
  return value;
}

function expectBoolean(at: Located, table: Table, key: string, path: string): boolean | undefined {
  const value = table[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean')
    throw at.error(path, `${path.replace(/\[\d+\]/, '')} must be true or false`);
  return value;
}

/** The default configuration when no file sets anything. */
export function defaultDaemon(): Omit<DaemonConfig, 'modules'> {
  return { bind: DEFAULT_BIND, port: DEFAULT_PORT, motd: '', logLevel: 'info' };
}

function parseDaemonTable(at: Located, value: unknown, baseDir: string): Omit<DaemonConfig, 'modules'> {
  const config = defaultDaemon();
  if (value === undefined) return config;
  if (!isTable(value)) throw at.error('daemon', '[daemon] must be a table');
  for (const key of Object.keys(value)) {
    if (!DAEMON_KEYS.has(key)) {
      throw at.error(
        `daemon.${key}`,
        `unknown key '${key}' in [daemon] (known: ${[...DAEMON_KEYS].join(', ')})`,
      );
    }
  }
  const bind = expectString(at, value, 'bind', 'daemon.bind');
  if (bind !== undefined) {
    if (bind.trim() === '') throw at.error('daemon.bind', 'daemon.bind is empty');
    config.bind = bind.replace(/^\[(.*)\]$/, '$1');
  }
  if (value.port !== undefined) {
    const port = value.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw at.error('daemon.port', 'daemon.port must be an integer from 0 to 65535 (0 picks a free port)');
    }
    config.port = port;
  }
  config.motd = expectString(at, value, 'motd', 'daemon.motd') ?? '';
  const level = expectString(at, value, 'log_level', 'daemon.log_level');
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw at.error('daemon.log_level', `daemon.log_level must be one of ${LOG_LEVELS.join(', ')}`);
    }
    config.logLevel = level as LogLevel;
  }
  const tls = expectBoolean(at, value, 'tls', 'daemon.tls');
  if (tls !== undefined) config.tls = tls;
  const dataTls = expectBoolean(at, value, 'data_tls', 'daemon.data_tls');
  if (dataTls !== undefined) config.dataTls = dataTls;
  const cert = expectString(at, value, 'cert', 'daemon.cert');
  const key = expectString(at, value, 'key', 'daemon.key');
  if ((cert === undefined) !== (key === undefined)) {
    throw at.error(
      cert === undefined ? 'daemon.key' : 'daemon.cert',
      'daemon.cert and daemon.key go together',
    );
  }
  if (cert !== undefined && key !== undefined) {
    if (cert === '' || key === '')
      throw at.error('daemon.cert', 'daemon.cert and daemon.key must not be empty');
    config.certFile = resolve(baseDir, cert);
    config.keyFile = resolve(baseDir, key);
  }
  const stateDir = expectString(at, value, 'state_dir', 'daemon.state_dir');
  if (stateDir !== undefined) {
    if (stateDir === '') throw at.error('daemon.state_dir', 'daemon.state_dir is empty');
    config.stateDir = resolve(baseDir, stateDir);
  }
  const metrics = expectString(at, value, 'metrics', 'daemon.metrics');
  if (metrics !== undefined) {
    const address = parseListenAddress(metrics);
    if (typeof address === 'string') throw at.error('daemon.metrics', `daemon.metrics: ${address}`);
    config.metrics = address;
  }
  return config;
}

function parseAllow(at: Located, value: unknown, where: string, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  const problem = `module '${name}': allow must be a list of client identities (blit id prints one) or ["*"]`;
  if (!Array.isArray(value)) throw at.error(`${where}.allow`, problem);
  for (const item of value) {
    if (typeof item !== 'string' || !(item === '*' || FINGERPRINT.test(item))) {
      const shown = typeof item === 'string' ? JSON.stringify(item.slice(0, 80)) : typeof item;
      throw at.error(`${where}.allow`, `${problem}; ${shown} is neither`);
    }
  }
  return value as string[];
}

function parseModule(
  at: Located,
  value: unknown,
  index: number,
  baseDir: string,
  checkDirectory: DirectoryCheck,
): ModuleConfig {
  const where = `module[${index}]`;
  if (!isTable(value)) throw at.error(where, 'each [[module]] must be a table');
  for (const key of Object.keys(value)) {
    if (!MODULE_KEYS.has(key)) {
      throw at.error(
        `${where}.${key}`,
        `unknown key '${key}' in [[module]] (known: ${[...MODULE_KEYS].join(', ')})`,
      );
    }
  }
  const name = expectString(at, value, 'name', `${where}.name`);
  if (name === undefined) throw at.error(where, '[[module]] has no name');
  if (!MODULE_NAME.test(name)) {
    throw at.error(
      `${where}.name`,
      `module name ${JSON.stringify(name)} may hold only letters, digits, '.', '_' and '-' (not first)`,
    );
  }
  const path = expectString(at, value, 'path', `${where}.path`);
  if (path === undefined) throw at.error(where, `module '${name}' has no path`);
  if (path === '') throw at.error(`${where}.path`, `module '${name}': path is empty`);
  const absolute = resolve(baseDir, path);
  const problem = checkDirectory(absolute);
  if (problem) throw at.error(`${where}.path`, `module '${name}': ${absolute}: ${problem}`);
  const readOnly = value.read_only ?? false;
  if (typeof readOnly !== 'boolean')
    throw at.error(`${where}.read_only`, 'module.read_only must be true or false');
  const comment = expectString(at, value, 'comment', `${where}.comment`) ?? '';
  const module: ModuleConfig = { name, path: absolute, readOnly, comment };
  const allow = parseAllow(at, value.allow, where, name);
  if (allow) module.allow = allow;
  const dataTls = expectBoolean(at, value, 'data_tls', `${where}.data_tls`);
  if (dataTls !== undefined) module.dataTls = dataTls;
  return module;
}

/** Parses and validates a config file's text. `file` names it in messages and anchors relative module paths. */
export function parseConfig(text: string, file: string, checkDirectory: DirectoryCheck): DaemonConfig {
  let document: Table;
  try {
    document = parse(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new BlitError(`${file}:${error.line}:${error.column}: ${reason}`);
    }
    throw error;
  }
  const at = new Located(file, text);
  for (const key of Object.keys(document)) {
    if (key !== 'daemon' && key !== 'module') {
      throw at.error(key, `unknown key '${key}' (known: [daemon], [[module]])`);
    }
  }
  const daemon = parseDaemonTable(at, document.daemon, dirname(resolve(file)));
  const rawModules = document.module ?? [];
  if (!Array.isArray(rawModules))
    throw at.error('module', 'write each module as [[module]] (an array of tables)');
  const modules: ModuleConfig[] = [];
  const firstLine = new Map<string, number>();
  rawModules.forEach((raw, index) => {
    const module = parseModule(at, raw, index, dirname(resolve(file)), checkDirectory);
    const previous = firstLine.get(module.name);
    if (previous !== undefined) {
      throw at.error(
        `module[${index}].name`,
        `duplicate module name '${module.name}' (first defined on line ${previous})`,
      );
    }
    firstLine.set(module.name, at.line(`module[${index}].name`) ?? 0);
    modules.push(module);
  });
  return { ...daemon, modules };
}
