/**
 * Containment: every path the daemon touches lies inside its module. A wire path is relative
 * ('/'-separated, no '..', no '.', no empty component, no NUL, not absolute), and resolving it
 * never leaves the module's real directory, whichever symbolic links lie on the way.
 *
 * With the native addon the module is opened once per request (`openModuleRoot`) and every path
 * is resolved beneath that descriptor (fsops/beneath.ts): the handlers then work relative to the
 * descriptors they get, so a local writer who swaps a checked directory for a link to the outside
 * gains nothing. A link that leaves the module and comes back into it is refused there (the
 * kernel's RESOLVE_BENEATH rule: the outside is not checked).
 *
 * Without the addon (`resolveInModule`), the known limit: between this check and the operation
 * that follows, a process on the daemon's machine could swap a checked directory for a link (Node
 * has no openat/RESOLVE_BENEATH). A push does create the symbolic links it carries (never
 * following them), so a client that may push could in principle take that writer's part, one
 * session's link racing another session's path (docs/ARCHITECTURE.md, "Security model").
 */
import { type BigIntStats, lstatSync, realpathSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { status } from '@grpc/grpc-js';
import { type BeneathDir, BeneathError, BeneathRoot, type EntryStats } from '../fsops/beneath.js';
import { baseRel, localPath, parentRel } from '../fsops/rel-path.js';
import { codeOf } from '../util/errors.js';
import type { ModuleConfig } from './config.js';
import { fileSystemRpcError, RpcError } from './rpc-error.js';

export const MAX_WIRE_PATH_BYTES = 4096;

/** Validates a wire path and returns it as a relative path ('' for the module root). */
export function checkWirePath(path: string): string {
  if (Buffer.byteLength(path) > MAX_WIRE_PATH_BYTES) {
    throw new RpcError(status.INVALID_ARGUMENT, `path is longer than ${MAX_WIRE_PATH_BYTES} bytes`);
  }
  if (path.includes('\0')) throw new RpcError(status.INVALID_ARGUMENT, 'path contains a NUL byte');
  if (path.startsWith('/')) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      'absolute paths are not allowed: paths are relative to the module',
    );
  }
  if (path === '') return '';
  const parts = path.split('/');
  if (parts.includes('..'))
    throw new RpcError(status.INVALID_ARGUMENT, "'..' is not allowed in a module path");
  if (parts.some((part) => part === '' || part === '.')) {
    throw new RpcError(status.INVALID_ARGUMENT, "empty and '.' path components are not allowed");
  }
  return path;
}

/** True when the real path `real` is `root` or lies below it. */
export function isWithin(real: string, root: string): boolean {
  if (real === root) return true;
  return real.startsWith(root.endsWith(sep) ? root : root + sep);
}

export interface ResolvedPath {
  /** The path that names the entry: its parent resolved, its own name kept. */
  named: string;
  /** Where it leads: `named`, or the target of a symbolic link that stays inside the module. */
  real: string;
  /** lstat of `named`. */
  stats: BigIntStats;
}

function unavailable(module: ModuleConfig, error: unknown): RpcError {
  return new RpcError(
    status.FAILED_PRECONDITION,
    `module '${module.name}' is unavailable: ${fileSystemRpcError(error).message}`,
  );
}

/** The module's directory with its symbolic links resolved. */
export function moduleRoot(module: ModuleConfig): string {
  try {
    return realpathSync(module.path);
  } catch (error) {
    throw unavailable(module, error);
  }
}

/** The module's directory, open, for resolving beneath it; undefined without the addon. */
export function openModuleRoot(module: ModuleConfig): BeneathRoot | undefined {
  try {
    return BeneathRoot.open(module.path);
  } catch (error) {
    throw unavailable(module, error);
  }
}

/**
 * The refusal for a failure to resolve `rel` beneath the module, naming the component concerned
 * as the path-string resolution does.
 */
export function beneathRpcError(error: unknown, rel: string): RpcError {
  if (!(error instanceof BeneathError)) return fileSystemRpcError(error, rel);
  const prefix = rel
    .split('/')
    .slice(0, error.depth + 1)
    .join('/');
  if (error.code === 'EXDEV') {
    return new RpcError(status.PERMISSION_DENIED, 'symbolic link leads outside the module', prefix);
  }
  if (error.code === 'ENOTDIR') return new RpcError(status.NOT_FOUND, 'not a directory', prefix);
  return fileSystemRpcError(error, prefix);
}

/** The directory `rel` beneath the module, links followed while they stay inside. */
export function openDirInModule(root: BeneathRoot, rel: string): BeneathDir {
  try {
    return root.openDir(rel, true);
  } catch (error) {
    throw beneathRpcError(error, rel);
  }
}

export interface EntryInModule {
  /** The directory that holds the entry, open (the caller closes it). */
  parent: BeneathDir;
  name: string;
  /** lstat of the entry itself. */
  stats: EntryStats;
}

/**
 * The entry `rel` (not the root): its directory resolved beneath the module, the entry itself
 * described, not followed. Throws NOT_FOUND when there is none.
 */
export function entryInModule(root: BeneathRoot, rel: string): EntryInModule {
  const parent = openDirInModule(root, parentRel(rel));
  const name = baseRel(rel);
  try {
    const stats = parent.lstatOne(name);
    if (!stats) throw new RpcError(status.NOT_FOUND, 'no such file or directory', rel);
    return { parent, name, stats };
  } catch (error) {
    parent.close();
    throw error instanceof RpcError ? error : fileSystemRpcError(error, rel);
  }
}

function lstatOrThrow(path: string, rel: string): BigIntStats {
  let stats: BigIntStats | undefined;
  try {
    stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    throw fileSystemRpcError(error, rel);
  }
  if (!stats) throw new RpcError(status.NOT_FOUND, 'no such file or directory', rel);
  return stats;
}

/**
 * Resolves `rel` (already checked) inside `module`, one component at a time. Symbolic links on the
 * way are followed only while they stay inside the module; the last component is followed when
 * `followLast` (a listing) and kept as a link otherwise (a removal removes the link itself).
 */
export function resolveInModule(module: ModuleConfig, rel: string, followLast: boolean): ResolvedPath {
  const root = moduleRoot(module);
  if (rel === '') return { named: root, real: root, stats: lstatOrThrow(root, '') };
  const parts = rel.split('/');
  let current = root;
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const prefix = parts.slice(0, i + 1).join('/');
    const named = localPath(current, parts[i]!);
    const stats = lstatOrThrow(named, prefix);
    let real = named;
    if (stats.isSymbolicLink() && (!last || followLast)) {
      try {
        real = realpathSync(named);
      } catch (error) {
        // A dangling link at the end is still an entry that can be described.
        if (last && codeOf(error) === 'ENOENT') return { named, real: named, stats };
        throw fileSystemRpcError(error, prefix);
      }
      if (!isWithin(real, root)) {
        throw new RpcError(status.PERMISSION_DENIED, 'symbolic link leads outside the module', prefix);
      }
    }
    if (last) return { named, real, stats };
    if (!stats.isDirectory() && !stats.isSymbolicLink()) {
      throw new RpcError(status.NOT_FOUND, 'not a directory', prefix);
    }
    current = real;
  }
  throw new Error('unreachable');
}

/**
 * Where a path the daemon will write lands: the part that exists resolved as for a listing (links
 * followed only while they stay inside the module), the missing rest appended as written (made
 * later, under the resolved part).
 */
export function resolveForWrite(module: ModuleConfig, rel: string): string {
  const missing: string[] = [];
  let existing = rel;
  for (;;) {
    try {
      const resolved = resolveInModule(module, existing, true);
      if (missing.length > 0 && !statSync(resolved.real).isDirectory()) {
        throw new RpcError(status.FAILED_PRECONDITION, 'not a directory', existing);
      }
      return missing.length === 0 ? resolved.real : localPath(resolved.real, missing.join('/'));
    } catch (error) {
      const absent =
        error instanceof RpcError &&
        error.code === status.NOT_FOUND &&
        error.message === 'no such file or directory';
      if (!absent || existing === '') throw error;
      missing.unshift(baseRel(existing));
      existing = parentRel(existing);
    }
  }
}
