/**
 * `Purge`: removes paths inside a writable module, directories with their contents. Every path is
 * checked before anything is removed; a symbolic link is removed itself, never followed. Failures
 * are collected per path and the rest goes on. The walk yields to the event loop now and then so
 * one large removal does not stall the daemon's other clients.
 */
import { status } from '@grpc/grpc-js';
import { type RemovalFailure, removeTree } from '../fsops/remove-tree.js';
import type { PurgeResponse } from '../generated/blit.js';
import { yieldToLoop } from '../util/clock.js';
import type { ModuleConfig } from './config.js';
import { checkWirePath, resolveInModule } from './module-path.js';
import { requireWritable } from './modules.js';
import { RpcError } from './rpc-error.js';

/** Paths one request may name. */
export const MAX_PURGE_PATHS = 10_000;
const YIELD_EVERY = 512;

export async function purgePaths(module: ModuleConfig, wirePaths: string[]): Promise<PurgeResponse> {
  requireWritable(module);
  if (wirePaths.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'no paths to remove');
  if (wirePaths.length > MAX_PURGE_PATHS) {
    throw new RpcError(status.INVALID_ARGUMENT, `more than ${MAX_PURGE_PATHS} paths in one request`);
  }
  const targets = wirePaths.map((wirePath) => {
    const rel = checkWirePath(wirePath);
    if (rel === '') throw new RpcError(status.INVALID_ARGUMENT, 'the module root itself cannot be removed');
    return { rel, named: resolveInModule(module, rel, false).named };
  });
  const failures: RemovalFailure[] = [];
  let removed = 0;
  let sinceYield = 0;
  const step = () => {
    if (++sinceYield < YIELD_EVERY) return undefined;
    sinceYield = 0;
    return yieldToLoop();
  };
  for (const { rel, named } of targets) removed += await removeTree(named, rel, failures, step);
  return { removed: BigInt(removed), failures };
}
