/**
 * The client's data plane: dials the data sockets each grant admits (the daemon's port, a token
 * each), lets the session go on in the control stream with one warning when it cannot, and dials
 * Accept's grant only once file data is asked for.
 */
import type { DataPlaneGrant } from '../generated/blit.js';
import { ProtocolError } from '../protocol/manifest-wire.js';
import type { PinnedPeer } from '../tls/pinned-peer.js';
import type { FrameChannel } from '../transport/frame-channel.js';
import { DATA_CONNECT_TIMEOUT_MS, dialData } from '../transport/tcp/dial.js';
import type { SessionSockets } from '../transport/tcp/session-sockets.js';
import { MAX_DATA_SOCKETS } from '../transport/tcp/stream-count.js';
import type { DaemonAddress } from './endpoint.js';

/**
 * The longest Accept's grant waits for a first need: half of blitd's token lifetime (10 s). A grant
 * that says its tokens live longer is still dialed by then.
 */
const MAX_DIAL_WAIT_MS = 5_000;

/** The client's data plane: dials the sockets each grant admits, and warns once if it cannot. */
export interface DataPlaneDialer {
  sockets: SessionSockets;
  dial(grant: DataPlaneGrant): void;
  /**
   * Dials Accept's grant once file data is asked for (the first need, sent or received), or half
   * its tokens' lifetime on, whichever comes first: a session that copies nothing (a mirror with
   * nothing changed) opens no socket, which cost it 10-40 ms here, a round trip over a network;
   * one that copies waits a round trip more for its first file (docs/DECISIONS.md). The client
   * chooses it when the latest run like this one copied nothing.
   */
  dialWhenNeeded(grant: DataPlaneGrant): void;
  /**
   * The session's outcome is known: a socket refused from now on is no news (a session with
   * nothing to send ends before its sockets connect, and the daemon then forgets its tokens).
   */
  finish(): void;
}

export function dataPlaneDialer(
  remote: DaemonAddress,
  sockets: SessionSockets,
  channel: FrameChannel,
  /** The control connection's TLS, which TLS data sockets speak too. */
  tls: PinnedPeer | undefined,
  /** Where the one warning goes (the CLI's stderr). */
  warn: (line: string) => void,
): DataPlaneDialer {
  let warned = false;
  let finished = false;
  let waiting: NodeJS.Timeout | undefined;
  /** Tokens granted in the session so far: blitd grants MAX_DATA_SOCKETS at most, all grants together. */
  let granted = 0;
  /** Takes a grant's tokens as the session's, or throws when they pass what any daemon may grant. */
  const take = (grant: DataPlaneGrant) => {
    granted += grant.tokens.length;
    if (granted > MAX_DATA_SOCKETS)
      throw new ProtocolError(`the daemon granted ${granted} data sockets, more than ${MAX_DATA_SOCKETS}`);
  };
  const dial = (grant: DataPlaneGrant) => {
    const port = grant.port || remote.port;
    const refuse = (reason: string) => {
      if (warned || finished) return;
      warned = true;
      sockets.unavailable();
      channel.send({ $case: 'dataRequest', value: { sockets: 0, unreachable: reason } });
      // Said when file data does go through the stream: a session with nothing to send may end
      // while the refusal is on its way (the daemon forgets the tokens of a finished session),
      // and whether its Summary or the refusal arrives first is a race.
      channel.onFirstFileData(() =>
        warn(
          `blit: warning: no data connection to ${remote.host}:${port} (${reason}); file data goes through the control connection, which is slower\n`,
        ),
      );
    };
    sockets.expect(DATA_CONNECT_TIMEOUT_MS + 1_000);
    if (grant.tls && !tls) {
      refuse('the daemon asked for TLS data sockets on a plain connection');
      return;
    }
    for (const token of grant.tokens) {
      dialData(remote.host, port, Buffer.from(token), grant.tls ? tls : undefined).then(
        (socket) => sockets.add(socket),
        (error: Error) => {
          // A socket more that cannot connect leaves the session with those it has.
          if (sockets.total > 0) return;
          refuse(error.message);
        },
      );
    }
  };
  return {
    sockets,
    finish() {
      finished = true;
      clearTimeout(waiting);
    },
    dial(grant) {
      take(grant);
      dial(grant);
    },
    dialWhenNeeded(grant) {
      take(grant);
      let dialed = false;
      const dialNow = () => {
        clearTimeout(waiting);
        if (dialed || finished) return;
        dialed = true;
        dial(grant);
      };
      // A grant without a lifetime (not one blitd makes): dialed at once, as before.
      if (!(grant.expiresMs > 0)) {
        dialNow();
        return;
      }
      waiting = setTimeout(dialNow, Math.min(grant.expiresMs / 2, MAX_DIAL_WAIT_MS));
      waiting.unref();
      channel.onFirst(['needBatch'], dialNow);
    },
  };
}
