/**
 * This client's identity: a key pair and self-signed certificate kept in the blit config
 * directory (`identity.pem`), created on first use. Daemons admit it by its fingerprint (`blit id`
 * prints it; a module's `allow` list names it); the key never leaves this machine.
 */
import { hostname, userInfo } from 'node:os';
import { configDir, type Env } from '../perf/config-paths.js';
import { loadOrCreateIdentity, type TlsIdentity } from './key-store.js';

let cached: TlsIdentity | undefined;

export function clientIdentity(env: Env = process.env): TlsIdentity {
  if (env === process.env && cached) return cached;
  let user = 'blit';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): the name is only a label.
  }
  const identity = loadOrCreateIdentity(configDir(env), `blit ${user}@${hostname()}`);
  if (env === process.env) cached = identity;
  return identity;
}
