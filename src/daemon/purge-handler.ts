/**
 * `Purge`: removes paths inside a writable module, directories with their contents. Every path is
 * checked before anything is removed; a symbolic link is removed itself, never followed. Failures
 * are collected per path and the rest goes on. The walk yields to the event loop now and then so
 * one large removal does not stall the daemon's other clients.
 *
 * With the addon each removal starts from the target's directory opened beneath the module and
 * descends through descriptors (fsops/beneath.ts): a directory swapped for a link to the outside
 * while the removal runs loses the link, nothing else. Without it, path strings (remove-tree.ts).
 */
import { status } from '@grpc/grpc-js';
import type { BeneathDir, BeneathRoot } from '../fsops/beneath.js';
import { baseRel, parentRel } from '../fsops/rel-path.js';
import { type RemovalFailure, removeTree } from '../fsops/remove-tree.js';
import type { PurgeResponse } from '../generated/blit.js';
import { yieldToLoop } from '../util/clock.js';
import type { ModuleConfig } from './config.js';
import {
  checkWirePath,
  entryInModule,
  openDirInModule,
  openModuleRoot,
  resolveInModule,
} from './module-path.js';
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
  const rels = wirePaths.map((wirePath) => {
    const rel = checkWirePath(wirePath);
    if (rel === '') throw new RpcError(status.INVALID_ARGUMENT, 'the module root itself cannot be removed');
    return rel;
  });
  const root = openModuleRoot(module);
  if (!root) return purgeByPath(module, rels);
  try {
    return await purgeBeneath(root, rels);
  } finally {
    root.close();
  }
}

async function purgeBeneath(root: BeneathRoot, rels: string[]): Promise<PurgeResponse> {
  for (const rel of rels) entryInModule(root, rel).parent.close();
  const failures: RemovalFailure[] = [];
  let removed = 0;
  for (const rel of rels) {
    // Opened again: holding one descriptor per path named would cost up to MAX_PURGE_PATHS of them.
    let parent: BeneathDir;
    try {
      parent = openDirInModule(root, parentRel(rel));
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      // Gone since the check: what the removal wanted.
      if (error.code !== status.NOT_FOUND) failures.push({ path: error.path ?? rel, reason: error.message });
      continue;
    }
    try {
      removed += await parent.removeTree(baseRel(rel), rel, failures, yieldToLoop);
    } finally {
      parent.close();
    }
  }
  return { removed: BigInt(removed), failures };
}

async function purgeByPath(module: ModuleConfig, rels: string[]): Promise<PurgeResponse> {
  const targets = rels.map((rel) => ({ rel, named: resolveInModule(module, rel, false).named }));
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
