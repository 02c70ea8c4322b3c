/** Turns an error that ended a command into one line on stderr and exit code 1. */
import { BlitError } from '../util/errors.js';
import { err } from './stdio.js';

export function reportFatal(error: unknown): number {
  if (error instanceof Error && error.name === 'StallError') {
    // A stalled thread may never return from its system call: exit now rather than wait for it.
    err(`blit: ${error.message}\n`);
    process.exit(1);
  }
  if (error instanceof BlitError) {
    err(`blit: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  err(`blit: internal error: ${message}\n`);
  if (process.env.BLIT_DEBUG && error instanceof Error) err(`${error.stack}\n`);
  return 1;
}
