/**
 * One port for both planes (docs/DECISIONS.md, "The data plane shares the daemon's port"). blitd
 * listens with a plain net.Server and tells each connection apart by the bytes it sends first:
 * - the HTTP/2 client preface → gRPC, through grpc-js's connection injector, with the bytes already
 *   read put back in front (Node's http2 session reads a socket's buffered bytes before its own);
 * - `BLITDAT1` and a 32-byte token → the data-plane session the token was issued to
 *   (transport/tcp/admission.ts), paused, with any bytes after the token put back;
 * - a TLS ClientHello (when TLS is on) → a TLS handshake that asks for the client's certificate,
 *   and then the same choice again on the decrypted bytes, with the client's identity recorded
 *   (peer-identities.ts) for the calls and data sockets that connection carries;
 * - anything else, or a token that is not good → destroyed, with nothing sent.
 * Until it is told apart a connection is held briefly and cheaply: at most PREAMBLE_BYTES
 * kept, the handshake time to complete, and no more than MAX_PENDING such connections at once.
 */
import { lookup } from 'node:dns/promises';
import { type AddressInfo, createServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { type Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { fingerprintOf } from '../tls/fingerprint.js';
import type { DataAdmission } from '../transport/tcp/admission.js';
import { ALPN_DATA, PREAMBLE_BYTES, PREAMBLE_MAGIC, parsePreamble } from '../transport/tcp/records.js';
import type { Logger } from './logger.js';
import { PeerIdentities } from './peer-identities.js';
import { type PeerIdentity, PLAIN_PEER } from './security.js';

export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** How long a new connection has to send its whole preface or preamble. */
export const HANDSHAKE_MS = 10_000;
/** Connections still being told apart, at most; more are closed at once. */
export const MAX_PENDING = 256;
/**
 * Connections open at once, of every kind, in all and from one address; more are closed at once.
 * One host's 64 sessions (the call cap) with 8 data sockets each need 576; the caps keep clients
 * from exhausting the daemon's descriptors.
 */
export const MAX_CONNECTIONS = 4096;
export const MAX_CONNECTIONS_PER_PEER = 1024;
/** TCP keep-alive probes on an idle data socket start after this long. */
const KEEPALIVE_DELAY_MS = 30_000;

export type FirstBytes = 'grpc' | 'data' | 'tls' | 'undecided' | 'refused';

/** ALPN name of gRPC (the data plane's is ALPN_DATA). */
const ALPN_GRPC = 'h2';

/**
 * What a connection is, from all the bytes it has sent so far. The whole preface is waited for
 * (not just its first byte) so that garbage that merely starts like it never reaches gRPC, which
 * would answer it.
 */
export function classify(head: Buffer): FirstBytes {
  // A TLS record: a handshake (22) of TLS 1.x (3.x).
  if (head[0] === 0x16) return head.length < 2 ? 'undecided' : head[1] === 0x03 ? 'tls' : 'refused';
  if (agrees(head, HTTP2_PREFACE)) return head.length >= HTTP2_PREFACE.length ? 'grpc' : 'undecided';
  if (agrees(head, PREAMBLE_MAGIC)) return head.length >= PREAMBLE_BYTES ? 'data' : 'undecided';
  return 'refused';
}

/** `head` and `magic` hold the same bytes as far as both go. */
function agrees(head: Buffer, magic: Buffer): boolean {
  const length = Math.min(head.length, magic.length);
  return head.subarray(0, length).equals(magic.subarray(0, length));
}

export interface SharedPortOptions {
  /** Address or host name to listen on, without brackets; a name is listened on at every address it has. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Serves the connections that open with the HTTP/2 preface (never bound by itself). */
  grpc: GrpcServer;
  admission: DataAdmission;
  log: Logger;
  /** TLS is on: the daemon's key and certificate; clients' identities are recorded in `identities`. */
  tls?: SecureContext;
  identities?: PeerIdentities;
  handshakeMs?: number;
  maxPending?: number;
  maxConnections?: number;
  maxConnectionsPerPeer?: number;
}

export interface SharedPort {
  port: number;
  /**
   * Stops accepting, drops connections not yet told apart, asks every gRPC session to finish (a
   * GOAWAY), and resolves once every connection accepted on the port has ended; those still open
   * after `graceMs` (gRPC or data) are cut off, and their number is the result.
   */
  close(graceMs: number): Promise<number>;
}

/** Listens on `host:port`; rejects with the system's error when no address could be bound. */
export async function listenShared(options: SharedPortOptions): Promise<SharedPort> {
  const { admission, log } = options;
  const identities = options.identities ?? new PeerIdentities();
  const handshakeMs = options.handshakeMs ?? HANDSHAKE_MS;
  const maxPending = options.maxPending ?? MAX_PENDING;
  const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  const maxPerPeer = options.maxConnectionsPerPeer ?? MAX_CONNECTIONS_PER_PEER;
  /** Connections open per remote address. */
  const byPeer = new Map<string, number>();
  const injector = options.grpc.createConnectionInjector(ServerCredentials.createInsecure());
  /** Every accepted connection not yet closed. */
  const open = new Set<Socket>();
  /** Those not yet told apart. */
  const pending = new Set<Socket>();

  const refuse = (socket: Socket, reason: string) => {
    log.debug({ peer: `${socket.remoteAddress}:${socket.remotePort}`, reason }, 'connection refused');
    socket.destroy();
  };

  /**
   * Reads `socket` until its first bytes say what it is. `raw` is the accepted connection (the
   * same socket, or the one under a TLS layer); `peer` who is on it, once TLS has said so.
   */
  const tellApart = (socket: Socket, raw: Socket, peer: PeerIdentity) => {
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => refuse(raw, `nothing recognisable within ${handshakeMs} ms`), handshakeMs);
    socket.once('close', () => clearTimeout(timer));
    const settle = () => {
      clearTimeout(timer);
      pending.delete(raw);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
    };
    const onEnd = () => refuse(raw, 'ended before saying what it is');
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      switch (classify(head)) {
        case 'undecided':
          return;
        case 'refused':
          return refuse(raw, 'unknown first bytes');
        case 'tls':
          if (!options.tls || socket !== raw) return refuse(raw, 'TLS, which this daemon has off');
          settle();
          socket.unshift(head);
          return startTls(raw, options.tls);
        case 'grpc':
          settle();
          socket.unshift(head);
          injector.injectConnection(socket);
          return;
        case 'data': {
          const deliver = admission.redeem(parsePreamble(head.subarray(0, PREAMBLE_BYTES))!, peer);
          if (!deliver)
            return refuse(raw, "data-socket token unknown, used, expired, revoked or not this peer's");
          settle();
          socket.setNoDelay(true);
          socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
          if (head.length > PREAMBLE_BYTES) socket.unshift(head.subarray(PREAMBLE_BYTES));
          try {
            deliver(socket);
          } catch (error) {
            log.error({ err: error }, 'a session failed to take its data socket');
            socket.destroy();
          }
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
  };

  /** The TLS handshake on `raw` (its ClientHello put back), then the choice again inside it. */
  const startTls = (raw: Socket, context: SecureContext) => {
    pending.add(raw);
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      // Any certificate is taken; what it is allowed is decided per module by its fingerprint.
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN_GRPC, ALPN_DATA],
    });
    const timer = setTimeout(() => refuse(raw, `no TLS handshake within ${handshakeMs} ms`), handshakeMs);
    secure.on('error', (error) => {
      log.debug({ peer: `${raw.remoteAddress}:${raw.remotePort}`, reason: error.message }, 'TLS failed');
      raw.destroy();
    });
    secure.once('close', () => {
      clearTimeout(timer);
      raw.destroy();
    });
    secure.once('secure', () => {
      clearTimeout(timer);
      // What tls.Server does before it emits 'secureConnection': Node's http2 session waits for a
      // 'secureConnect' (a client-side event) while this stays true, and would never start.
      (secure as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      const certificate = secure.getPeerCertificate();
      const peer: PeerIdentity = certificate?.raw
        ? { tls: true, id: fingerprintOf(certificate.raw) }
        : { tls: true };
      identities.add(raw, peer);
      tellApart(secure, raw, peer);
    });
  };

  const onConnection = (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    const fromPeer = byPeer.get(peer) ?? 0;
    // An error destroys the socket; its owner hears of it through its own listener or 'close'.
    // Without a listener of ours, one reset connection would take the daemon down.
    socket.on('error', () => {});
    if (open.size >= maxConnections) return refuse(socket, `${maxConnections} connections already open`);
    if (fromPeer >= maxPerPeer) return refuse(socket, `${maxPerPeer} connections already open from ${peer}`);
    open.add(socket);
    byPeer.set(peer, fromPeer + 1);
    socket.once('close', () => {
      open.delete(socket);
      pending.delete(socket);
      const left = (byPeer.get(peer) ?? 1) - 1;
      if (left > 0) byPeer.set(peer, left);
      else byPeer.delete(peer);
    });
    if (pending.size >= maxPending) return refuse(socket, `${maxPending} connections already pending`);
    pending.add(socket);
    tellApart(socket, socket, PLAIN_PEER);
  };

  let bound: { servers: NetServer[]; port: number };
  try {
    bound = await listenAll(options.host, options.port, onConnection, (error) =>
      log.warn({ err: error }, 'accepting a connection failed'),
    );
  } catch (error) {
    injector.destroy();
    throw error;
  }

  let closing: Promise<number> | undefined;
  return {
    port: bound.port,
    close(graceMs) {
      closing ??= (async () => {
        const ended = Promise.all(
          bound.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
        );
        for (const socket of pending) socket.destroy();
        injector.drain(graceMs);
        let cutOff = 0;
        const force = setTimeout(() => {
          cutOff = open.size;
          for (const socket of open) socket.destroy();
        }, graceMs);
        await ended;
        clearTimeout(force);
        injector.destroy();
        return cutOff;
      })();
      return closing;
    },
  };
}

/**
 * Listens on every address `host` stands for, all on one port (the first one bound picks it when
 * `port` is 0), as grpc-js's own bind did: a name like localhost has an IPv4 and an IPv6 address,
 * and an address that cannot be bound is skipped as long as one can.
 */
async function listenAll(
  host: string,
  port: number,
  onConnection: (socket: Socket) => void,
  onAcceptError: (error: Error) => void,
): Promise<{ servers: NetServer[]; port: number }> {
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  const servers: NetServer[] = [];
  let first: unknown;
  for (const address of addresses) {
    const server = createServer(onConnection);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port }, () => {
          server.off('error', reject);
          // Accepting can fail later (EMFILE, ENFILE): the server keeps listening.
          server.on('error', onAcceptError);
          resolve();
        });
      });
      servers.push(server);
      port = (server.address() as AddressInfo).port;
    } catch (error) {
      first ??= error;
    }
  }
  if (servers.length === 0) throw first;
  return { servers, port };
}
