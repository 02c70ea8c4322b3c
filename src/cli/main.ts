/**
 * `blit` entry point: parses the command line with the program program.ts defines; each verb
 * loads its modules only when it runs, so `blit --version` starts without the transfer engine.
 */
import type { Command } from '@commander-js/extra-typings';
import { installFaultsFromEnv } from '../util/env-faults.js';
import { blitProgram } from './program.js';
import { err, out } from './stdio.js';
import { failIfUnfinished } from './unfinished.js';

// Tests inject faults through the environment (util/faults.ts); nothing is installed otherwise.
installFaultsFromEnv();
const program = blitProgram();

// Usage errors read like every other blit error, in subcommands too (addCommand does not inherit output settings).
// Written with plain fd writes (stdio.ts): `--version` needs no stream modules (help still asks
// process.stdout for its width and colours).
const usageErrors = {
  writeOut: out,
  writeErr: err,
  outputError: (text: string, write: (text: string) => void) => write(text.replace(/^error: /, 'blit: ')),
};
const withUsageErrors = (command: Command): void => {
  command.configureOutput(usageErrors);
  for (const sub of command.commands as Command[]) withUsageErrors(sub);
};
withUsageErrors(program);

const run = program.parseAsync(process.argv).catch(async (error: unknown) => {
  const { reportFatal } = await import('./fatal.js');
  process.exitCode = reportFatal(error);
});
failIfUnfinished(run, err);
