/**
 * A TLS peer's identity: `SHA256:` and the unpadded base64 of the SHA-256 of its public key (the
 * certificate's SubjectPublicKeyInfo), as ssh prints keys. Bound to the key, not the certificate,
 * so a certificate re-issued for the same key keeps its identity.
 */
import { createHash, X509Certificate } from 'node:crypto';

export const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** The fingerprint of a certificate (DER bytes, PEM text, or parsed). */
export function fingerprintOf(certificate: Buffer | string | X509Certificate): string {
  const parsed = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  const spki = parsed.publicKey.export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`;
}

export function isFingerprint(text: string): boolean {
  return FINGERPRINT.test(text);
}
