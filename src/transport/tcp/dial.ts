/**
 * The client's data sockets: dialed to the daemon's port (the one the control plane uses, unless
 * the grant names another), opened with the preamble and one single-use token, tuned for bulk
 * transfer. Connecting has a time limit; a socket that cannot connect is reported, never waited for.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { type PinnedPeer, pinnedTlsOptions } from '../../tls/pinned-peer.js';
import { TLS_SERVER_NAME } from '../../tls/probe.js';
import { reasonOf } from '../../util/errors.js';
import { ALPN_DATA, encodePreamble } from './records.js';

/** Connecting a data socket and sending its preamble. */
export const DATA_CONNECT_TIMEOUT_MS = 10_000;
/** TCP keep-alive probes start after this much silence (a peer that vanished is found). */
const KEEPALIVE_MS = 30_000;

/** The byte the daemon answers an admitted socket with (a refused one gets nothing and is closed). */
export const ADMITTED = 0x01;

/**
 * Connects to `host`:`port`, presents `token`, and resolves once the daemon has admitted the
 * socket: a socket that is refused or cut before that is reported, never used. With `tls`, the
 * socket speaks TLS first, presenting this client's identity and accepting only the pinned key.
 */
export function dialData(host: string, port: number, token: Buffer, tls?: PinnedPeer): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const options = { host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS };
    const socket: Socket = tls
      ? connectTls({
          ...options,
          ...pinnedTlsOptions(tls),
          servername: TLS_SERVER_NAME,
          ALPNProtocols: [ALPN_DATA],
        })
      : connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${DATA_CONNECT_TIMEOUT_MS / 1000} s`));
    }, DATA_CONNECT_TIMEOUT_MS);
    const refused = (reason: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(reason));
    };
    socket.once('error', (error) => refused(reasonOf(error)));
    socket.once('close', () => refused('the daemon closed the connection without admitting it'));
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write(encodePreamble(token)));
    socket.once('readable', () => {
      const answer = socket.read(1) as Buffer | null;
      if (answer?.[0] !== ADMITTED) {
        refused('the daemon did not admit the connection');
        return;
      }
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      resolve(socket);
    });
  });
}
