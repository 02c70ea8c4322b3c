/** Turns an error that ended a command into one line on stderr and exit code 1. */
import { BlitError } from '../util/errors.js';

export function reportFatal(error: unknown): number {
  if (error instanceof Error && error.name === 'StallError') {
    // A stalled thread may never return from its system call: exit now rather than wait for it.
    process.stderr.write(`blit: ${error.message}\n`, () => process.exit(1));
    return 1;
  }
  if (error instanceof BlitError) {
    process.stderr.write(`blit: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`blit: internal error: ${message}\n`);
  if (process.env.BLIT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
