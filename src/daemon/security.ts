/**
 * Who may reach blitd and how (docs/DECISIONS.md, "TLS and client identities"):
 * - TLS is on unless the daemon listens only on loopback; `[daemon] tls = true` turns it on there
 *   too, and `tls = false` is refused anywhere else.
 * - With TLS on, every writable module needs an `allow` list (client identities, or "*" for any
 *   TLS client); a read-only module without one is open to every TLS client. Without TLS no
 *   identity can be known, so an `allow` list is refused instead of silently ignored.
 * - Data sockets are encrypted when the control plane is, unless the daemon or the module sets
 *   `data_tls = false` (a trusted network: zero-copy again, but the bytes are readable on the wire).
 * Pure rules; the daemon's start-up and every call apply them.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { BlitError } from '../util/errors.js';
import { isLoopback } from '../util/loopback.js';
import type { DaemonConfig, ModuleConfig } from './config.js';
import type { PeerIdentities } from './peer-identities.js';
import { RpcError } from './rpc-error.js';

/** What the handlers need to decide who may do what. */
export interface DaemonAccess {
  /** TLS is on (tlsOn): every call comes over TLS, and modules' allow lists apply. */
  tls: boolean;
  identities: PeerIdentities;
}

/** Who is on the other end of a connection. */
export interface PeerIdentity {
  /** The connection is TLS. */
  tls: boolean;
  /** The fingerprint of the certificate the client presented, if it presented one. */
  id?: string;
}

export const PLAIN_PEER: PeerIdentity = { tls: false };

export function tlsOn(config: Pick<DaemonConfig, 'tls' | 'bind'>): boolean {
  return config.tls ?? !isLoopback(config.bind);
}

/** Refuses, with one line, a configuration that would expose a module it should not. */
export function checkSecurity(config: DaemonConfig): void {
  if (config.tls === false && !isLoopback(config.bind)) {
    throw new BlitError(
      `daemon.tls = false is allowed only on a loopback address, not ${config.bind} (anyone on the network could read and write the modules)`,
    );
  }
  const tls = tlsOn(config);
  for (const module of config.modules) {
    if (tls && !module.readOnly && module.allow === undefined) {
      throw new BlitError(
        `module '${module.name}' is writable but has no allow list, and blitd ${
          isLoopback(config.bind) ? 'has TLS on' : `listens on ${config.bind}`
        }: add allow = ["ID", …] (blit id prints a client's ID; "*" admits any TLS client) or read_only = true`,
      );
    }
    if (!tls && module.allow !== undefined) {
      throw new BlitError(
        `module '${module.name}' has an allow list, but TLS is off, so no client identity can be known: set tls = true in [daemon]`,
      );
    }
  }
}

/** May `peer` use `module` at all? (Writing is decided by read_only, separately.) */
export function mayUse(module: ModuleConfig, tls: boolean, peer: PeerIdentity): boolean {
  if (!tls) return true;
  if (!peer.tls) return false;
  if (module.allow === undefined || module.allow.includes('*')) return true;
  return peer.id !== undefined && module.allow.includes(peer.id);
}

/** Throws the refusal a client gets for a module it may not use. */
export function requireAccess(module: ModuleConfig, tls: boolean, peer: PeerIdentity): void {
  if (mayUse(module, tls, peer)) return;
  const who = peer.id ? `identity ${peer.id}` : 'a client without an identity';
  throw new RpcError(
    status.PERMISSION_DENIED,
    `module '${module.name}' does not admit ${who} (the daemon's operator can add it to the module's allow list)`,
  );
}

/** Whether a session on `module` gets encrypted data sockets. */
export function dataTlsFor(config: DaemonConfig, module: ModuleConfig): boolean {
  return tlsOn(config) && (module.dataTls ?? config.dataTls ?? true);
}

/**
 * Where blitd keeps its generated key: systemd's $STATE_DIRECTORY, else /var/lib/blitd for root,
 * else $XDG_STATE_HOME/blitd (or ~/.local/state/blitd).
 */
export function defaultStateDir(env: Record<string, string | undefined>, uid: number): string {
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  if (systemd) return systemd;
  if (uid === 0) return '/var/lib/blitd';
  const xdg = env.XDG_STATE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'state'), 'blitd');
}
