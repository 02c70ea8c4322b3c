/**
 * Who may open a data-plane socket: the daemon issues a session a random 32-byte token for each
 * socket it expects, and a socket that presents one (see daemon/shared-port.ts) is handed to that
 * session. A token is good once, for a short time, and only while its session lives; the table is
 * bounded so that no peer can make the daemon hold tokens without end.
 *
 * A token is bound to who its session is: a socket must come over TLS when the session's data
 * plane is encrypted, and from the same client identity (certificate fingerprint) as the control
 * connection that was granted it.
 *
 * Redeeming compares the whole token in constant time. The table is indexed by the token's first
 * 8 bytes (a Map lookup is not constant-time); timing can at best reveal those, which leaves 192
 * bits still to guess.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { nowMs } from '../../util/clock.js';

import { TOKEN_BYTES } from './records.js';

export { TOKEN_BYTES };

/** The part of a token its table entry is found by. */
const KEY_BYTES = 8;
/** How long an issued token stays good unless the caller asks otherwise. */
export const DEFAULT_TOKEN_TTL_MS = 10_000;
/** Tokens one session may hold at once (sockets it is still waiting for). */
export const MAX_TOKENS_PER_SESSION = 32;
/** Tokens the daemon holds at once, all sessions together. */
export const MAX_TOKENS = 4096;

/** Takes an admitted data socket (paused, positioned just after the token). */
export type DeliverSocket = (socket: Socket) => void;

/** Who a socket comes from (daemon/security.ts's PeerIdentity). */
export interface SocketPeer {
  tls: boolean;
  id?: string;
}

/** What a socket presenting a token must be. */
export interface TokenBinding {
  /** The socket must be TLS. */
  tls: boolean;
  /** Its client must present this identity (undefined: none is asked for). */
  id?: string;
}

const UNBOUND: TokenBinding = { tls: false };

export interface AdmissionOptions {
  /** Milliseconds on a monotonic clock; injected by tests. */
  now?: () => number;
  maxPerSession?: number;
  maxTotal?: number;
}

interface Outstanding {
  token: Buffer;
  sessionId: string;
  deliver: DeliverSocket;
  expiresAt: number;
  binding: TokenBinding;
}

export class DataAdmission {
  private readonly now: () => number;
  private readonly maxPerSession: number;
  private readonly maxTotal: number;
  /** Outstanding tokens by the hex of their first KEY_BYTES. */
  private readonly byKey = new Map<string, Outstanding>();
  /** The keys each session holds. */
  private readonly bySession = new Map<string, Set<string>>();

  constructor(options: AdmissionOptions = {}) {
    this.now = options.now ?? nowMs;
    this.maxPerSession = options.maxPerSession ?? MAX_TOKENS_PER_SESSION;
    this.maxTotal = options.maxTotal ?? MAX_TOKENS;
  }

  /** A fresh single-use token admitting one socket to `deliver`, good for `ttlMs`. */
  issue(
    sessionId: string,
    deliver: DeliverSocket,
    ttlMs = DEFAULT_TOKEN_TTL_MS,
    binding: TokenBinding = UNBOUND,
  ): Buffer {
    if (!(ttlMs > 0 && Number.isFinite(ttlMs))) {
      throw new RangeError(`a data-socket token needs a positive lifetime, not ${ttlMs} ms`);
    }
    this.sweep();
    const held = this.bySession.get(sessionId)?.size ?? 0;
    if (held >= this.maxPerSession) {
      throw new Error(
        `session ${sessionId} already holds ${held} data-socket tokens (the limit); ` +
          'redeem or revoke some before issuing more',
      );
    }
    if (this.byKey.size >= this.maxTotal) {
      throw new Error(`blitd already holds ${this.byKey.size} data-socket tokens (the limit)`);
    }
    let token: Buffer;
    let key: string;
    do {
      token = randomBytes(TOKEN_BYTES);
      key = keyOf(token);
    } while (this.byKey.has(key));
    this.byKey.set(key, { token, sessionId, deliver, expiresAt: this.now() + ttlMs, binding });
    let keys = this.bySession.get(sessionId);
    if (!keys) {
      keys = new Set();
      this.bySession.set(sessionId, keys);
    }
    keys.add(key);
    // The caller sends it to the peer; the table keeps its own copy.
    return Buffer.from(token);
  }

  /**
   * Who the socket presenting `token` goes to, or undefined for a token that is unknown, already
   * used, expired or revoked, or presented by a socket its binding does not admit. A token that
   * matches is used up, whether or not it was still good.
   */
  redeem(token: Buffer, peer: SocketPeer = { tls: false }): DeliverSocket | undefined {
    if (token.length !== TOKEN_BYTES) return undefined;
    const key = keyOf(token);
    const entry = this.byKey.get(key);
    if (!entry || !timingSafeEqual(entry.token, token)) return undefined;
    this.remove(key, entry.sessionId);
    if (entry.expiresAt <= this.now()) return undefined;
    const { binding } = entry;
    if (binding.tls && !peer.tls) return undefined;
    if (binding.id !== undefined && binding.id !== peer.id) return undefined;
    return entry.deliver;
  }

  /** Drops every token `sessionId` holds (its control stream has ended). */
  revoke(sessionId: string): void {
    const keys = this.bySession.get(sessionId);
    if (!keys) return;
    for (const key of keys) this.byKey.delete(key);
    this.bySession.delete(sessionId);
  }

  /** Tokens still outstanding: for `sessionId`, or in all. Expired ones count until swept. */
  held(sessionId?: string): number {
    return sessionId === undefined ? this.byKey.size : (this.bySession.get(sessionId)?.size ?? 0);
  }

  /** Forgets expired tokens (done before each issue, so the caps count only live ones). */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.byKey) {
      if (entry.expiresAt <= now) this.remove(key, entry.sessionId);
    }
  }

  private remove(key: string, sessionId: string): void {
    this.byKey.delete(key);
    const keys = this.bySession.get(sessionId);
    keys?.delete(key);
    if (keys?.size === 0) this.bySession.delete(sessionId);
  }
}

function keyOf(token: Buffer): string {
  return token.subarray(0, KEY_BYTES).toString('hex');
}
