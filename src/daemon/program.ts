/**
 * What `blitd` accepts, built as a commander program without parsing: main.ts parses with it and
 * supplies what runs, and scripts/gen-docs.ts walks it to write blitd(8) and docs/CLI.md, so the
 * daemon's --help and its manual cannot disagree.
 */
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { version } from '../cli/version.js';
import { LOG_LEVELS, type LogLevel } from './config.js';
import type { DaemonOptions } from './load-config.js';

export interface DaemonFlags extends DaemonOptions {
  logLevel?: LogLevel;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535 (0 picks a free port)');
  }
  return Number(text);
}

function parseLevel(text: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return text as LogLevel;
}

/** The `blitd` program, unparsed; `serve` runs with the parsed options. */
export function blitdProgram(serve: (flags: DaemonFlags) => Promise<void>): Command {
  const program = new Command('blitd')
    .description('blit daemon: serves modules (named directories) to blit on other machines')
    .version(`blitd ${version}`, '-V, --version')
    .option('--config <file>', 'TOML configuration (default /etc/blit/config.toml unless --root is given)')
    .option('--root <dir>', "export DIR as module 'default' (quick start; no config file needed)")
    .option('--bind <address>', 'listen on this address (default 127.0.0.1, or [daemon] bind)')
    .option(
      '--port <port>',
      'listen on this port (default 9031, or [daemon] port; 0 picks a free one)',
      parsePort,
    )
    .option(
      '--state-dir <dir>',
      'keep the generated TLS key here (default [daemon] state_dir, else $STATE_DIRECTORY, /var/lib/blitd for root, ~/.local/state/blitd for others)',
    )
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`, parseLevel)
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'blitd: ')) })
    .action((flags) => serve(flags));
  return program as unknown as Command;
}
