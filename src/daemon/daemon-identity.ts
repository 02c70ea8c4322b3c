/**
 * blitd's own TLS identity: the configured certificate and key, or the key and self-signed
 * certificate it created in its state directory on first start. Clients pin the key (its
 * fingerprint), so a configured certificate must be self-signed too: a chain to a CA is not what
 * they check (docs/DECISIONS.md, "TLS and client identities").
 */
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { loadConfiguredIdentity, loadOrCreateIdentity, type TlsIdentity } from '../tls/key-store.js';
import { BlitError, showPath } from '../util/errors.js';
import type { DaemonConfig } from './config.js';
import { defaultStateDir } from './security.js';

export function daemonIdentity(config: DaemonConfig): TlsIdentity {
  if (config.certFile && config.keyFile) {
    const identity = loadConfiguredIdentity(config.certFile, config.keyFile);
    const leaf = new X509Certificate(identity.certPem);
    if (!leaf.checkIssued(leaf) || !leaf.verify(leaf.publicKey)) {
      throw new BlitError(
        `${showPath(config.certFile)}: not a self-signed certificate (blit clients pin the daemon's key; a CA-signed chain is not supported yet)`,
      );
    }
    return identity;
  }
  const dir = config.stateDir ?? defaultStateDir(process.env, process.getuid?.() ?? -1);
  return loadOrCreateIdentity(dir, `blitd ${hostname()}`);
}
