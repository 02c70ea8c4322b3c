/** Looking up an exported module by the name a client sent. */
import { status } from '@grpc/grpc-js';
import { peerPath } from '../protocol/peer-text.js';
import { showPath } from '../util/errors.js';
import type { ModuleConfig } from './config.js';
import { RpcError } from './rpc-error.js';

export function findModule(modules: readonly ModuleConfig[], name: string): ModuleConfig {
  if (name === '') throw new RpcError(status.INVALID_ARGUMENT, 'no module named');
  const module = modules.find((m) => m.name === name);
  if (!module)
    throw new RpcError(
      status.NOT_FOUND,
      `unknown module '${showPath(peerPath(name))}' (blit list-modules shows the modules)`,
    );
  return module;
}

export function requireWritable(module: ModuleConfig): void {
  if (module.readOnly) throw new RpcError(status.PERMISSION_DENIED, `module '${module.name}' is read-only`);
}
