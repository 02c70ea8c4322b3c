/**
 * `Purge`: removes paths inside a writable module, directories with their contents. Every path is
 * checked before anything is removed; a symbolic link is removed itself, never followed. Failures
 * are collected per path and the rest goes on. The walk yields to the event loop now and then so
 * one large removal does not stall the daemon's other clients.
 */
import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { describeRawName } from '../fsops/listing.js';
import type { Failure, PurgeResponse } from '../generated/blit.js';
import { reasonOf } from '../util/errors.js';
import type { ModuleConfig } from './config.js';
import { checkWirePath, resolveInModule } from './module-path.js';
import { requireWritable } from './modules.js';
import { RpcError } from './rpc-error.js';

/** Paths one request may name. */
export const MAX_PURGE_PATHS = 10_000;
const YIELD_EVERY = 512;

interface Walk {
  removed: number;
  failures: Failure[];
  sinceYield: number;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Removes `path` (a Buffer path, so names that are not UTF-8 go too) and what it holds. */
async function removeTree(path: Buffer, label: string, walk: Walk): Promise<void> {
  if (++walk.sinceYield >= YIELD_EVERY) {
    walk.sinceYield = 0;
    await yieldToLoop();
  }
  try {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (!stats) return;
    if (stats.isDirectory()) {
      const failuresBefore = walk.failures.length;
      for (const name of readdirSync(path, { encoding: 'buffer' })) {
        await removeTree(
          Buffer.concat([path, Buffer.from('/'), name]),
          `${label}/${describeRawName(name)}`,
          walk,
        );
      }
      // What stopped a child is already reported; the directory could only fail as not empty.
      if (walk.failures.length > failuresBefore) return;
      rmdirSync(path);
    } else unlinkSync(path);
    walk.removed++;
  } catch (error) {
    walk.failures.push({ path: label, reason: reasonOf(error) });
  }
}

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
  const walk: Walk = { removed: 0, failures: [], sinceYield: 0 };
  for (const { rel, named } of targets) await removeTree(Buffer.from(named), rel, walk);
  return { removed: BigInt(walk.removed), failures: walk.failures };
}
