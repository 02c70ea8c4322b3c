/**
 * blitd's own TLS identity: the configured certificate chain and key, or the key and self-signed
 * certificate it created in its state directory on first start. Clients pin the key (its
 * fingerprint) and take the top of the chain as their trust anchor, so a configured chain must
 * end in the certificate that issued itself (its root): blitd sends the whole file.
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
    const chain =
      identity.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    const top = new X509Certificate(chain.at(-1)!);
    if (!top.checkIssued(top)) {
      throw new BlitError(
        `${showPath(config.certFile)}: the chain does not end in its root (a certificate that issued itself); put the whole chain in the file, the daemon's own certificate first`,
      );
    }
    return identity;
  }
  const dir = config.stateDir ?? defaultStateDir(process.env, process.getuid?.() ?? -1);
  return loadOrCreateIdentity(dir, `blitd ${hostname()}`);
}
