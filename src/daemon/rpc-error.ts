/**
 * A refusal the daemon sends back as a gRPC status: a code, one line of reason fit for the user,
 * and, when it concerns one path, that path (relative to the module) in the `blit-path` trailer so
 * the client can name it the way the user writes it.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { pathTrailer } from '../protocol/path-trailer.js';
import { clip } from '../protocol/peer-text.js';
import { codeOf, reasonOf } from '../util/errors.js';

export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /** The module-relative path concerned, if any. */
    readonly path?: string,
  ) {
    // Refusals quote what the peer sent (a module name, a path): never more than a bounded line,
    // neither in the reply nor in the log.
    super(clip(message));
    this.name = 'RpcError';
  }

  /** The status object grpc-js sends. */
  toStatus(): { code: status; details: string; metadata: Metadata } {
    const metadata = this.path === undefined ? new Metadata() : pathTrailer(this.path);
    return { code: this.code, details: this.message, metadata };
  }
}

const STATUS_OF_ERRNO: Record<string, status> = {
  ENOENT: status.NOT_FOUND,
  ENOTDIR: status.NOT_FOUND,
  ELOOP: status.FAILED_PRECONDITION,
  EACCES: status.PERMISSION_DENIED,
  EPERM: status.PERMISSION_DENIED,
  EROFS: status.PERMISSION_DENIED,
  ENOSPC: status.RESOURCE_EXHAUSTED,
  EDQUOT: status.RESOURCE_EXHAUSTED,
};

/** A file-system error about `path` (relative to the module). */
export function fileSystemRpcError(error: unknown, path?: string): RpcError {
  return new RpcError(STATUS_OF_ERRNO[codeOf(error) ?? ''] ?? status.INTERNAL, reasonOf(error), path);
}
