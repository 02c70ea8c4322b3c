/**
 * The version and capability handshake both peers run: what this build offers, and the pure rule
 * by which the responder picks what both sides will use.
 */

import { readdirSync } from 'node:fs';
import { version } from '../cli/version.js';
import { nativeAddon } from '../fsops/native.js';
import { HashAlgorithm, type Hello, type Negotiated, RdmaInfo, Transport } from '../generated/blit.js';
import { peerText } from './peer-text.js';

/**
 * Bumped only when a peer speaking the previous version would misread this one. 2: metadata
 * fidelity (holes in FileData and data-plane blocks, which an older receiver would refuse per file;
 * owners, xattrs, link groups and special files in the manifest). 3: CHECKED data records (a file
 * sent by sendfile is checked after its bytes are out), which an older receiver would refuse. 4: the
 * manifest's window (ManifestCredit), which an older source would overrun and an older destination
 * never grant.
 */
export const PROTOCOL_VERSION = 4;

/** The largest control-plane message either side accepts. Bulk data never rides the control plane. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The most kind probes one Ping may carry (daemon/kind-probes.ts): a transfer's path rules ask at most four. */
export const MAX_KIND_PROBES = 8;

/** Where Linux lists RDMA devices (InfiniBand, RoCE, iWARP), one directory per device. */
const RDMA_DEVICES = '/sys/class/infiniband';

/**
 * The RDMA devices this machine has, as the handshake reports them. blit has no RDMA transport
 * yet: the capability is reported (so a peer and the logs can see it), never offered as a transport.
 */
export function rdmaInfo(devices = RDMA_DEVICES): RdmaInfo | undefined {
  let names: string[];
  try {
    names = readdirSync(devices).sort();
  } catch {
    return undefined;
  }
  if (names.length === 0) return undefined;
  return RdmaInfo.fromPartial({ supportsRdma: true, deviceName: names[0]! });
}

let rdma: RdmaInfo | undefined | null = null;

/** This build's Hello. RDMA devices are reported when present; RDMA is never offered as a transport. */
export function localHello(role: 'blit' | 'blitd'): Hello {
  if (rdma === null) rdma = rdmaInfo();
  return {
    protocolVersion: PROTOCOL_VERSION,
    softwareVersion: `${role} ${version}`,
    capabilities: {
      transports: [Transport.TRANSPORT_TCP, Transport.TRANSPORT_GRPC_STREAM],
      // With the addon, data sockets send by sendfile and receive by splice (transport/tcp/native-socket.ts).
      zeroCopy: nativeAddon() !== undefined,
      hashAlgorithms: [HashAlgorithm.HASH_ALGORITHM_BLAKE3],
      maxMessageBytes: MAX_MESSAGE_BYTES,
      rdma,
    },
  };
}

export class IncompatiblePeer extends Error {
  override readonly name = 'IncompatiblePeer';
}

const OFFERABLE_TRANSPORTS = new Set([Transport.TRANSPORT_TCP, Transport.TRANSPORT_GRPC_STREAM]);

/**
 * The responder's choice: the initiator's most preferred transport and hash that the responder
 * also supports (RDMA is never chosen: it is reserved), zero-copy when both can, and the smaller
 * message limit. Throws IncompatiblePeer when the protocol versions differ.
 */
export function negotiate(initiator: Hello, responder: Hello): Negotiated {
  if (initiator.protocolVersion !== responder.protocolVersion) {
    const older = initiator.protocolVersion < responder.protocolVersion ? 'blit' : 'blitd';
    throw new IncompatiblePeer(
      `protocol version ${initiator.protocolVersion} (${peerText(initiator.softwareVersion) || 'unknown'}) does not match ` +
        `protocol version ${responder.protocolVersion} (${peerText(responder.softwareVersion) || 'unknown'}); upgrade ${older}`,
    );
  }
  const offered = initiator.capabilities;
  const supported = responder.capabilities;
  const responderTransports = new Set(supported?.transports ?? []);
  const responderHashes = new Set(supported?.hashAlgorithms ?? []);
  const transport =
    offered?.transports.find((t) => OFFERABLE_TRANSPORTS.has(t) && responderTransports.has(t)) ??
    Transport.TRANSPORT_UNSPECIFIED;
  const hashAlgorithm =
    offered?.hashAlgorithms.find(
      (h) => h !== HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED && responderHashes.has(h),
    ) ?? HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED;
  const limits = [offered?.maxMessageBytes ?? 0, supported?.maxMessageBytes ?? 0].filter((n) => n > 0);
  return {
    transport,
    hashAlgorithm,
    zeroCopy: Boolean(offered?.zeroCopy && supported?.zeroCopy),
    maxMessageBytes: limits.length > 0 ? Math.min(...limits) : MAX_MESSAGE_BYTES,
  };
}

/** The refusal a plain connection gets from a daemon with TLS on; clients read it to retry with TLS. */
export const TLS_REQUIRED = 'this blitd requires TLS';
