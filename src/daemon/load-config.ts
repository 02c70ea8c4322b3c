/** Assembles blitd's configuration from its command line and config file (the I/O around config.ts). */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BlitError, codeOf, reasonOf, showPath } from '../util/errors.js';
import {
  type DaemonConfig,
  DEFAULT_CONFIG_PATH,
  defaultDaemon,
  type LogLevel,
  parseConfig,
} from './config.js';
import { checkSecurity } from './security.js';

export interface DaemonOptions {
  config?: string;
  root?: string;
  bind?: string;
  port?: number;
  stateDir?: string;
  logLevel?: LogLevel;
}

/** The real file system behind config validation: the reason `path` is not a directory, if any. */
export function directoryProblem(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : 'not a directory';
  } catch (error) {
    return reasonOf(error);
  }
}

function readConfigFile(file: string, explicit: boolean): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const hint =
      !explicit && codeOf(error) === 'ENOENT'
        ? ' (pass --config FILE, or --root DIR to export one directory)'
        : '';
    throw new BlitError(`${showPath(file)}: ${reasonOf(error)}${hint}`);
  }
  return parseConfig(text, file, directoryProblem);
}

export function loadDaemonConfig(options: DaemonOptions): DaemonConfig {
  const fromFile = options.config !== undefined || options.root === undefined;
  const config: DaemonConfig = fromFile
    ? readConfigFile(options.config ?? DEFAULT_CONFIG_PATH, options.config !== undefined)
    : { ...defaultDaemon(), modules: [] };
  if (options.root !== undefined) {
    const path = resolve(options.root);
    const problem = directoryProblem(path);
    if (problem) throw new BlitError(`--root ${showPath(options.root)}: ${problem}`);
    if (config.modules.some((m) => m.name === 'default')) {
      throw new BlitError(`--root exports module 'default', which ${options.config} already defines`);
    }
    config.modules.push({ name: 'default', path, readOnly: false, comment: 'exported by blitd --root' });
  }
  if (config.modules.length === 0) {
    throw new BlitError(`${options.config ?? DEFAULT_CONFIG_PATH}: no [[module]] defined; nothing to export`);
  }
  if (options.bind !== undefined) config.bind = options.bind.replace(/^\[(.*)\]$/, '$1');
  if (options.port !== undefined) config.port = options.port;
  if (options.stateDir !== undefined) config.stateDir = resolve(options.stateDir);
  if (options.logLevel !== undefined) config.logLevel = options.logLevel;
  checkSecurity(config);
  return config;
}
