/**
 * The CLI's side of the control plane: connects to a blitd, runs the handshake, and turns each
 * unary call into a promise. Every failure becomes one BlitError line naming what the user wrote.
 * Waits are bounded: reaching the daemon, and each call, have time limits.
 */
import {
  type ClientDuplexStream,
  type ClientUnaryCall,
  credentials,
  logVerbosity,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  setLogVerbosity,
  status,
} from '@grpc/grpc-js';
import type { PathKind } from '../engine/endpoints.js';
import {
  type BlitClient,
  BlitService,
  type Hello,
  type KindProbe,
  type ListModulesResponse,
  type ListResponse,
  type PingResponse,
  type PurgeResponse,
  type SpaceResponse,
  type TransferFrame,
} from '../generated/blit.js';
import {
  IncompatiblePeer,
  localHello,
  MAX_MESSAGE_BYTES,
  negotiate,
  TLS_REQUIRED,
} from '../protocol/handshake.js';
import { trailerPath } from '../protocol/path-trailer.js';
import { peerText } from '../protocol/peer-text.js';
import { decodeTransferFrame } from '../protocol/received-manifest.js';
import { kindName } from '../protocol/wire-entry.js';
import { clientIdentity } from '../tls/client-identity.js';
import { lookupKnownHost } from '../tls/known-hosts.js';
import { type PinnedPeer, pinCheck } from '../tls/pinned-peer.js';
import { TLS_SERVER_NAME } from '../tls/probe.js';
import { certificatePem } from '../tls/self-signed.js';
import { passEncoded } from '../transport/frame-channel.js';
import { BlitError, showPath } from '../util/errors.js';
import { isLoopback } from '../util/loopback.js';
import { type DaemonAddress, dialTarget, formatRemotePath } from './endpoint.js';
import { type AskToTrust, pinnedKeyProblem, refuseUnknown, trustFirstContact } from './host-trust.js';

// Failures reach the user as one line each (below); grpc-js's own stderr diagnostics would add more.
setLogVerbosity(logVerbosity.NONE);

/** The generated client, except that a Transfer frame already encoded goes out as it is (a push's manifest). */
const PassingClient = makeGenericClientConstructor(
  {
    ...BlitService,
    transfer: {
      ...BlitService.transfer,
      requestSerialize: passEncoded(BlitService.transfer.requestSerialize),
      // A pull's manifest entries stay as they came until the session asks (received-manifest.ts).
      responseDeserialize: decodeTransferFrame,
    },
  },
  'blit.v1.Blit',
) as unknown as typeof BlitClient;

/** Reaching the daemon and the handshake. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A listing page or the module list. */
export const CALL_TIMEOUT_MS = 60_000;
/** Removing a tree can take a while on a slow disk. */
export const PURGE_TIMEOUT_MS = 30 * 60_000;

/** What a failed call was about, to name it in the message. */
export interface CallSubject {
  /** The argument as the user wrote it. */
  spec: string;
  module?: string;
}

const CONNECT_REASONS: [RegExp, string][] = [
  [/ECONNREFUSED/, 'connection refused'],
  [/ENOTFOUND|EAI_AGAIN|Name resolution failed|DNS resolution failed/i, 'unknown host'],
  [/EHOSTUNREACH/, 'host unreachable'],
  [/ENETUNREACH/, 'network unreachable'],
  [/ETIMEDOUT/, 'connection timed out'],
  [/ECONNRESET|Connection dropped|socket hang up/i, 'connection reset'],
];

function connectReason(details: string): string {
  for (const [pattern, reason] of CONNECT_REASONS) if (pattern.test(details)) return reason;
  return details.split('\n')[0] || 'unavailable';
}

function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}

/** A refused or failed call: one line for the user, and the gRPC status it came with. */
export class CallFailed extends BlitError {
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
}

/** Words for a stream that broke mid-session, as for a failed call. */
export function sessionBreak(
  target: string,
  error: { code?: number; details?: string; message: string },
): string {
  const details = peerText((error.details ?? error.message).split('\n')[0] ?? '');
  if (error.code === status.UNAVAILABLE) return `lost blitd at ${target}: ${connectReason(details)}`;
  if (error.code === status.CANCELLED) return `blitd at ${target} cancelled the session`;
  return `blitd at ${target}: ${details}`;
}

/** Where kindOf finds a kind the handshake's probes answered. */
function probeKey(module: string, path: string, follow: boolean): string {
  return `${follow ? 1 : 0}:${module}/${path}`;
}

export class RemoteClient {
  /** Kinds answered with the handshake (connect's `probes`), by probeKey. */
  private readonly probed = new Map<string, PathKind>();

  private constructor(
    private readonly grpc: BlitClient,
    readonly address: DaemonAddress,
    /** The daemon's Hello from the handshake. */
    readonly daemon: Hello,
    /** Set when the connection is TLS: what the data sockets need to speak it too. */
    readonly tls?: PinnedPeer,
  ) {}

  /**
   * Connects and runs the handshake; refuses a daemon that speaks another protocol version.
   * TLS unless the daemon is on loopback, not pinned, and speaks plain (the quick start): a daemon
   * pinned in known_hosts is only ever spoken to over TLS with its pinned key, and one not yet
   * pinned is trusted only through `ask` (host-trust.ts). `probes`: paths whose kinds kindOf will be
   * asked, answered with the handshake (a daemon that does not answers none: kindOf asks List).
   */
  static async connect(
    address: DaemonAddress,
    subject: CallSubject,
    ask: AskToTrust = refuseUnknown,
    probes: KindProbe[] = [],
  ): Promise<RemoteClient> {
    const known = lookupKnownHost(dialTarget(address));
    if (!known && isLoopback(address.host)) {
      try {
        return await RemoteClient.open(address, subject, probes);
      } catch (error) {
        const tlsRequired =
          error instanceof CallFailed &&
          error.code === status.UNAUTHENTICATED &&
          error.message.includes(TLS_REQUIRED);
        if (!tlsRequired) throw error;
      }
    }
    const pinned = known ?? (await trustFirstContact(address, ask));
    const tls: PinnedPeer = { pinned, identity: clientIdentity() };
    try {
      return await RemoteClient.open(address, subject, probes, tls);
    } catch (error) {
      if (error instanceof CallFailed && error.code === status.UNAVAILABLE) {
        throw (await pinnedKeyProblem(address, pinned)) ?? error;
      }
      throw error;
    }
  }

  private static async open(
    address: DaemonAddress,
    subject: CallSubject,
    probes: KindProbe[],
    tls?: PinnedPeer,
  ): Promise<RemoteClient> {
    const channelCredentials = tls
      ? credentials.createSsl(
          Buffer.from(certificatePem(tls.pinned.certificate)),
          Buffer.from(tls.identity.keyPem),
          Buffer.from(tls.identity.certPem),
          { checkServerIdentity: pinCheck(tls.pinned.fingerprint) },
        )
      : credentials.createInsecure();
    const grpc = new PassingClient(dialTarget(address), channelCredentials, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // The name sent in the handshake: an IP address there is not allowed, and the key, not a
      // name, is what is checked.
      ...(tls ? { 'grpc.ssl_target_name_override': TLS_SERVER_NAME } : {}),
    });
    const client = new RemoteClient(grpc, address, { protocolVersion: 0, softwareVersion: '' }, tls);
    const hello = localHello('blit');
    try {
      const response = await client.call<PingResponse>(
        subject,
        CONNECT_TIMEOUT_MS,
        (metadata, options, callback) => grpc.ping({ hello, probes }, metadata, options, callback),
      );
      if (!response.hello)
        throw new BlitError(`${client.target}: the daemon sent no handshake; is this blitd?`);
      negotiate(hello, response.hello);
      const connected = new RemoteClient(grpc, address, response.hello, tls);
      // Answers beyond the probes, or for none, are not ours to believe.
      if (response.kinds.length === probes.length) {
        probes.forEach((probe, i) => {
          const answer = response.kinds[i]!;
          if (!answer.known) return;
          connected.probed.set(
            probeKey(probe.module, probe.path, probe.follow),
            answer.missing ? 'missing' : kindName(answer.kind),
          );
        });
      }
      return connected;
    } catch (error) {
      grpc.close();
      if (error instanceof IncompatiblePeer) throw new BlitError(`${client.target}: ${error.message}`);
      throw error;
    }
  }

  get target(): string {
    return dialTarget(this.address);
  }

  listModules(subject: CallSubject): Promise<ListModulesResponse> {
    return this.call(subject, CALL_TIMEOUT_MS, (metadata, options, callback) =>
      this.grpc.listModules({}, metadata, options, callback),
    );
  }

  list(
    subject: CallSubject & { module: string },
    path: string,
    startAfter: string,
    noFollow = false,
  ): Promise<ListResponse> {
    return this.call(subject, CALL_TIMEOUT_MS, (metadata, options, callback) =>
      this.grpc.list(
        { module: subject.module, path, startAfter, limit: 0, noFollow },
        metadata,
        options,
        callback,
      ),
    );
  }

  purge(subject: CallSubject & { module: string }, paths: string[]): Promise<PurgeResponse> {
    return this.call(subject, PURGE_TIMEOUT_MS, (metadata, options, callback) =>
      this.grpc.purge({ module: subject.module, paths }, metadata, options, callback),
    );
  }

  /** The size, use and free space of the file system holding the module. */
  space(subject: CallSubject & { module: string }): Promise<SpaceResponse> {
    return this.call(subject, CALL_TIMEOUT_MS, (metadata, options, callback) =>
      this.grpc.space({ module: subject.module }, metadata, options, callback),
    );
  }

  /**
   * What a module path names, as a local lstat or stat would say (`follow`): 'missing' when it
   * does not exist. Refusals (a link leading outside the module, an unknown module) throw.
   */
  async kindOf(subject: CallSubject & { module: string }, path: string, follow: boolean): Promise<PathKind> {
    const probed = this.probed.get(probeKey(subject.module, path, follow));
    if (probed) return probed;
    try {
      const response = await this.call<ListResponse>(
        subject,
        CALL_TIMEOUT_MS,
        (metadata, options, callback) =>
          this.grpc.list(
            { module: subject.module, path, startAfter: '', limit: 1, noFollow: !follow },
            metadata,
            options,
            callback,
          ),
      );
      if (response.isDirectory) return 'dir';
      const entry = response.entries[0];
      return entry ? kindName(entry.kind) : 'missing';
    } catch (error) {
      if (error instanceof CallFailed && error.code === status.NOT_FOUND) return 'missing';
      throw error;
    }
  }

  /** Opens a `Transfer` stream (no deadline: sessions end by idle time-outs, never a total one). */
  /** A Transfer call; its frames may also go already encoded (FrameChannel.sendEncoded). */
  openTransfer(): ClientDuplexStream<TransferFrame | Uint8Array, TransferFrame> {
    return this.grpc.transfer() as ClientDuplexStream<TransferFrame | Uint8Array, TransferFrame>;
  }

  close(): void {
    this.grpc.close();
  }

  private call<Res>(
    subject: CallSubject,
    timeoutMs: number,
    invoke: (
      metadata: Metadata,
      options: { deadline: Date },
      callback: (error: ServiceError | null, response: Res) => void,
    ) => ClientUnaryCall,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      invoke(new Metadata(), { deadline: deadline(timeoutMs) }, (error, response) => {
        if (error) reject(this.describe(error, subject, timeoutMs));
        else resolve(response);
      });
    });
  }

  /** One line for a failed call: connection problems name the daemon, refusals name the path. */
  private describe(error: ServiceError, subject: CallSubject, timeoutMs: number): CallFailed {
    return new CallFailed(this.describeText(error, subject, timeoutMs), error.code);
  }

  private describeText(error: ServiceError, subject: CallSubject, timeoutMs: number): string {
    // The daemon's words, bounded and with its control characters shown, never sent to the terminal raw.
    const details = peerText((error.details ?? '').split('\n')[0] ?? '');
    switch (error.code) {
      case status.UNAVAILABLE:
        return `cannot reach blitd at ${this.target}: ${connectReason(details)}`;
      case status.DEADLINE_EXCEEDED:
        return `no answer from blitd at ${this.target} within ${Math.round(timeoutMs / 1000)} s`;
      case status.RESOURCE_EXHAUSTED:
        if (/message larger than max/i.test(details)) {
          return `${showPath(subject.spec)}: request or answer too large for the control plane`;
        }
        break;
    }
    const trailer = trailerPath(error.metadata);
    if (trailer !== undefined && subject.module !== undefined) {
      const path = formatRemotePath(this.address, subject.module, trailer);
      return `${showPath(path)}: ${details}`;
    }
    return `${showPath(subject.spec)}: ${details || status[error.code]}`;
  }
}
