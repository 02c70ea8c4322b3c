/**
 * What a client needs to speak TLS to one daemon: its own identity to present, and the daemon's
 * pinned certificate as the only trust anchor, with the key's fingerprint checked in place of a
 * host name (the certificate's names mean nothing to blit).
 */
import type { PeerCertificate } from 'node:tls';
import { fingerprintOf } from './fingerprint.js';
import type { TlsIdentity } from './key-store.js';
import type { KnownHost } from './known-hosts.js';
import { certificatePem } from './self-signed.js';

export interface PinnedPeer {
  identity: TlsIdentity;
  pinned: KnownHost;
}

/** tls.connect's options for the pinned daemon. */
export function pinnedTlsOptions(peer: PinnedPeer) {
  return {
    ca: certificatePem(peer.pinned.certificate),
    key: peer.identity.keyPem,
    cert: peer.identity.certPem,
    checkServerIdentity: pinCheck(peer.pinned.fingerprint),
    minVersion: 'TLSv1.3' as const,
  };
}

/** Accepts exactly the pinned key. */
export function pinCheck(fingerprint: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const presented = cert.raw ? fingerprintOf(cert.raw) : 'no certificate';
    return presented === fingerprint
      ? undefined
      : new Error(`the daemon presents key ${presented}, not the pinned ${fingerprint}`);
  };
}
