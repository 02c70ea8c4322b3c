/** Errors that reach the user: one line, naming the path and the reason. */

/** A fatal error whose message is already fit for the user (no stack trace is shown). */
export class BlitError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'BlitError';
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  EXDEV: 'cross-device link',
  EBUSY: 'resource busy',
  ETXTBSY: 'text file busy',
  EINVAL: 'invalid argument',
  ECANCELED: 'operation canceled',
};

/** The reason part of a file-system error, without Node's code prefix and quoted path. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && REASONS[code]) return REASONS[code];
    if (code) return `${error.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/s, '')} (${code})`;
    return error.message;
  }
  return String(error);
}

export function codeOf(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

/** An error carrying only an errno code (as the native addon reports them), for {@link reasonOf}. */
export function errnoError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(code);
  error.code = code;
  return error;
}

/** Why a move's source entry stayed behind although its copy landed. */
export function sourceKeptReason(error: unknown): string {
  return `copied, but the source could not be removed: ${reasonOf(error)}`;
}

/** Errors after which continuing would only fail again or fill the disk further. */
export function isFatalWriteError(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS';
}

/** Renders a path for a one-line message: control characters (newlines) are escaped. */
export function showPath(path: string): string {
  if (!/[\x00-\x1f\x7f-\x9f]/.test(path)) return path;
  // JSON escapes C0 controls; the C1 ones (0x9b is a one-byte CSI to some terminals) by hand.
  return JSON.stringify(path).replace(
    /[\x7f-\x9f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
