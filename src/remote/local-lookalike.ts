/**
 * Local path arguments that are written like remote ones. `foo:/bar` is remote syntax (host foo,
 * module bar); when `foo:` is a local directory the user most likely means that directory, so it
 * stays local, with a warning saying how to write it unambiguously. Otherwise it is a remote path,
 * and copy, mirror and move cannot reach remote paths yet.
 */
import { statSync } from 'node:fs';
import { err } from '../cli/stdio.js';
import { BlitError, showPath } from '../util/errors.js';
import { looksRemote } from './endpoint.js';

/** True when `path` is a directory on this machine. */
export type IsLocalDirectory = (path: string) => boolean;

const localDirectory: IsLocalDirectory = (path) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** The warning for a remote-looking local path, or undefined; throws for a remote path. */
export function checkLocalArgument(
  arg: string,
  isDirectory: IsLocalDirectory = localDirectory,
): string | undefined {
  if (!looksRemote(arg)) return undefined;
  const firstComponent = arg.slice(0, arg.indexOf(':/') + 1);
  if (isDirectory(firstComponent)) {
    return (
      `warning: ${showPath(arg)} looks like a remote path (HOST:/MODULE/PATH), but ${showPath(firstComponent)} ` +
      `is a local directory, so it is used as a local path; write ./${showPath(arg)} to say so`
    );
  }
  throw new BlitError(
    `${showPath(arg)}: copy, mirror and move to or from a blitd are not available yet ` +
      `(blit ls, rm and list-modules are); for a local path write ./${showPath(arg)}`,
  );
}

/** Checks the path arguments of a local copy, mirror or move, printing warnings on stderr. */
export function warnOfRemoteLookalikes(...args: string[]): void {
  for (const arg of args) {
    const warning = checkLocalArgument(arg);
    if (warning) err(`blit: ${warning}\n`);
  }
}
