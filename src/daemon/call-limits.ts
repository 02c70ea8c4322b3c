/**
 * Limits on every gRPC call, checked when it starts (a server interceptor, before grpc-js buffers
 * its request):
 * - calls in flight: at most MAX_CALLS in all and MAX_CALLS_PER_PEER from one address; more are
 *   refused at once with RESOURCE_EXHAUSTED. Each call may hold up to one 4 MiB message while it
 *   arrives, so this bounds what clients can make the daemon hold (200 calls each left a byte short
 *   took it to ~900 MB; one address can now hold at most 64 × 4 MiB, all of them 256 × 4 MiB);
 * - a unary request must arrive whole within REQUEST_MS of its call starting, or the call is ended
 *   with DEADLINE_EXCEEDED (a call in flight also keeps its connection from counting as idle). The
 *   Transfer stream has its own time limits (Hello and Open within 10 s, 30 s of silence).
 */
import {
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';

/** How long a unary request has to arrive whole. */
export const REQUEST_MS = 10_000;
/** Calls in flight at once, all clients together (a session is one call). */
export const MAX_CALLS = 256;
/** Calls in flight at once from one address (room for the 50-session soak from one host). */
export const MAX_CALLS_PER_PEER = 64;

export interface CallLimits {
  requestMs?: number;
  maxCalls?: number;
  maxCallsPerPeer?: number;
}

/** The address part of grpc-js's peer string ("127.0.0.1:5000", "[::1]:5000"). */
function addressOf(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon > 0 ? peer.slice(0, colon) : peer;
}

export function callLimits(limits: CallLimits = {}): ServerInterceptor {
  const requestMs = limits.requestMs ?? REQUEST_MS;
  const maxCalls = limits.maxCalls ?? MAX_CALLS;
  const maxPerPeer = limits.maxCallsPerPeer ?? MAX_CALLS_PER_PEER;
  let inFlight = 0;
  const byPeer = new Map<string, number>();

  return (method, call: ServerInterceptingCallInterface) => {
    const peer = addressOf(call.getPeer());
    let timer: NodeJS.Timeout | undefined;
    let counted = false;
    const release = () => {
      clearTimeout(timer);
      if (!counted) return;
      counted = false;
      inFlight--;
      const left = (byPeer.get(peer) ?? 1) - 1;
      if (left > 0) byPeer.set(peer, left);
      else byPeer.delete(peer);
    };
    const intercepted: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        const mine = byPeer.get(peer) ?? 0;
        if (inFlight >= maxCalls || mine >= maxPerPeer) {
          next({});
          const what = inFlight >= maxCalls ? `${maxCalls} calls in all` : `${maxPerPeer} calls from ${peer}`;
          intercepted.sendStatus({
            code: status.RESOURCE_EXHAUSTED,
            details: `blitd is busy: ${what} already`,
          });
          return;
        }
        counted = true;
        inFlight++;
        byPeer.set(peer, mine + 1);
        if (!method.requestStream) {
          timer = setTimeout(
            () =>
              intercepted.sendStatus({
                code: status.DEADLINE_EXCEEDED,
                details: `the request did not arrive whole within ${requestMs / 1000} s`,
              }),
            requestMs,
          );
        }
        next({
          onReceiveMessage: (message, nextMessage) => {
            if (!method.requestStream) clearTimeout(timer);
            nextMessage(message);
          },
          onCancel: release,
        });
      },
      sendStatus: (sent, next) => {
        release();
        next(sent);
      },
    });
    return intercepted;
  };
}
