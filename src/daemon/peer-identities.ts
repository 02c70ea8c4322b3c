/**
 * The identity behind each TLS connection, for the calls it carries: shared-port.ts records it when
 * a handshake completes, and a handler finds it by grpc-js's peer string ("address:port" of the
 * connection, unique among open ones). grpc-js cannot tell us itself: its auth context is empty
 * unless the client's certificate chains to a CA, and blit's clients are self-signed keys.
 */
import type { Socket } from 'node:net';
import { type PeerIdentity, PLAIN_PEER } from './security.js';

export class PeerIdentities {
  private readonly byPeer = new Map<string, PeerIdentity>();

  /** Records `identity` for the connection `raw` until it closes. */
  add(raw: Socket, identity: PeerIdentity): void {
    const key = peerKey(raw);
    this.byPeer.set(key, identity);
    raw.once('close', () => {
      if (this.byPeer.get(key) === identity) this.byPeer.delete(key);
    });
  }

  /** Who is behind grpc-js's `call.getPeer()`; a connection never recorded is plain. */
  of(peer: string): PeerIdentity {
    return this.byPeer.get(peer) ?? PLAIN_PEER;
  }

  get size(): number {
    return this.byPeer.size;
  }
}

/** The peer string grpc-js gives the calls of the connection `socket`. */
export function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
