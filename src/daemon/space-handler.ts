/**
 * `Space`: the file system holding a module's root (`blit df HOST:/MODULE`), as statfs(2) sees
 * it. The root is the operator's own configured path, resolved as every call resolves it; nothing
 * a client sends names a path here, only the module.
 */
import { spaceOf } from '../fsops/fs-space.js';
import type { SpaceResponse } from '../generated/blit.js';
import { fsTypeOf } from '../perf/fs-type.js';
import type { ModuleConfig } from './config.js';
import { moduleRoot } from './module-path.js';
import { fileSystemRpcError } from './rpc-error.js';

export function moduleSpace(module: ModuleConfig): SpaceResponse {
  const root = moduleRoot(module);
  try {
    return { ...spaceOf(root), fsType: fsTypeOf(root) };
  } catch (error) {
    throw fileSystemRpcError(error, '');
  }
}
