/**
 * Asks a daemon which key it has: a TLS handshake that trusts nothing and sends nothing, only to
 * read the certificate the daemon presents (for first contact, `blit trust`, and to tell a changed
 * key from other failures). The result is only ever compared with what the user pinned or shown to
 * the user; nothing is sent over this connection.
 */
import { connect } from 'node:tls';
import { reasonOf } from '../util/errors.js';
import { fingerprintOf } from './fingerprint.js';

/** Host name sent in the handshake (SNI): the daemon ignores it; an IP address there is not allowed. */
export const TLS_SERVER_NAME = 'blitd';
export const PROBE_TIMEOUT_MS = 10_000;
/** The reason a probe gives when the peer answered, but not with TLS (host-trust.ts tells a downgrade by it). */
export const NOT_TLS = 'it does not speak TLS';

export interface PresentedKey {
  /** Of the daemon's own (leaf) certificate's key: what is pinned. */
  fingerprint: string;
  /**
   * The top of the chain the daemon sent (DER): its self-signed certificate, or the root of a
   * configured chain. Kept as the only trust anchor of later connections.
   */
  certificate: Buffer;
}

/** What the daemon at `host`:`port` presents; rejects with a reason when no TLS handshake completes. */
export function probeDaemonKey(
  host: string,
  port: number,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<PresentedKey> {
  return new Promise<PresentedKey>((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: TLS_SERVER_NAME,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
    });
    const timer = setTimeout(() => fail(`no TLS handshake within ${timeoutMs / 1000} s`), timeoutMs);
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(reason));
    };
    socket.once('error', (error) => fail(tlsReason(error)));
    socket.once('close', () => fail('the daemon closed the connection during the TLS handshake'));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true);
      let top = leaf;
      // Up the chain as sent, to the certificate that issued itself.
      while (top.issuerCertificate?.raw && !top.issuerCertificate.raw.equals(top.raw))
        top = top.issuerCertificate;
      socket.removeAllListeners('close');
      socket.destroy();
      if (!leaf.raw) reject(new Error('the daemon presented no certificate'));
      else resolve({ fingerprint: fingerprintOf(leaf.raw), certificate: Buffer.from(top.raw) });
    });
  });
}

/** Words for a handshake that failed. */
export function tlsReason(error: Error): string {
  if (
    /disconnected before secure TLS connection|ECONNRESET|wrong version number|packet length too long/i.test(
      error.message,
    )
  )
    return NOT_TLS;
  return reasonOf(error);
}
