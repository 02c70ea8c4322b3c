/**
 * Local path arguments that are written like remote ones. `foo:/bar` is remote syntax (host foo,
 * module bar); when `foo:` is a local directory the user most likely means that directory, so it
 * stays local, with a warning saying how to write it unambiguously. Otherwise it is a remote path.
 */
import { statSync } from 'node:fs';
import { looksRemote } from '../remote/endpoint.js';
import { showPath } from '../util/errors.js';
import { err } from './stdio.js';

/** True when `path` is a directory on this machine. */
export type IsLocalDirectory = (path: string) => boolean;

const localDirectory: IsLocalDirectory = (path) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

export interface ArgumentReading {
  remote: boolean;
  /** Set when a remote-looking argument is taken as the local directory it names. */
  warning?: string;
}

/** Whether a path argument of copy, mirror or move is remote, with a warning for a lookalike. */
export function readPathArgument(
  arg: string,
  isDirectory: IsLocalDirectory = localDirectory,
): ArgumentReading {
  if (!looksRemote(arg)) return { remote: false };
  const firstComponent = arg.slice(0, arg.indexOf(':/') + 1);
  if (isDirectory(firstComponent)) {
    return {
      remote: false,
      warning:
        `warning: ${showPath(arg)} looks like a remote path (HOST:/MODULE/PATH), but ${showPath(firstComponent)} ` +
        `is a local directory, so it is used as a local path; write ./${showPath(arg)} to say so`,
    };
  }
  return { remote: true };
}

/** Reads the path arguments of a copy, mirror or move, printing warnings on stderr. */
export function readPathArguments(...args: string[]): boolean[] {
  return args.map((arg) => {
    const reading = readPathArgument(arg);
    if (reading.warning) err(`blit: ${reading.warning}\n`);
    return reading.remote;
  });
}
