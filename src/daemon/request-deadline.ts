/**
 * A unary request must arrive whole soon after its call starts. A client that opens calls and
 * leaves each message a byte short made grpc-js hold up to 4 MiB per call for as long as the
 * connection lived (200 such calls took blitd to ~900 MB), and a call in flight also keeps the
 * connection from counting as idle. The Transfer stream has its own time limits (Hello and Open
 * within 10 s, 30 s of silence), so it is left alone here.
 */
import {
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';

/** How long a unary request has to arrive whole. */
export const REQUEST_MS = 10_000;

export function requestDeadline(ms = REQUEST_MS): ServerInterceptor {
  return (method, call: ServerInterceptingCallInterface) => {
    if (method.requestStream) return new ServerInterceptingCall(call);
    let timer: NodeJS.Timeout | undefined;
    const intercepted: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        timer = setTimeout(
          () =>
            intercepted.sendStatus({
              code: status.DEADLINE_EXCEEDED,
              details: `the request did not arrive whole within ${ms / 1000} s`,
            }),
          ms,
        );
        next({
          onReceiveMessage: (message, nextMessage) => {
            clearTimeout(timer);
            nextMessage(message);
          },
          onCancel: () => clearTimeout(timer),
        });
      },
      sendStatus: (sent, next) => {
        clearTimeout(timer);
        next(sent);
      },
    });
    return intercepted;
  };
}
