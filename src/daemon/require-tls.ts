/**
 * On a daemon with TLS on, a call that came over a plain connection is refused before anything
 * else (a server interceptor): a plain client learns only that TLS is required, which is how blit
 * finds out to retry with TLS on a loopback address it has not pinned.
 */
import { ServerInterceptingCall, type ServerInterceptor, status } from '@grpc/grpc-js';
import { TLS_REQUIRED } from '../protocol/handshake.js';
import type { PeerIdentities } from './peer-identities.js';

export function requireTls(identities: PeerIdentities): ServerInterceptor {
  return (_method, call) => {
    const tls = identities.of(call.getPeer()).tls;
    const refused: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        next({});
        if (!tls) refused.sendStatus({ code: status.UNAUTHENTICATED, details: TLS_REQUIRED });
      },
    });
    return refused;
  };
}
