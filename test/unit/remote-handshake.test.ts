/** The capability handshake: what the responder picks from what both peers offer. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { HashAlgorithm, type Hello, Transport } from '../../src/generated/blit.js';
import {
  IncompatiblePeer,
  localHello,
  MAX_MESSAGE_BYTES,
  negotiate,
  PROTOCOL_VERSION,
  rdmaInfo,
} from '../../src/protocol/handshake.js';

function hello(
  overrides: Partial<NonNullable<Hello['capabilities']>> = {},
  protocolVersion = PROTOCOL_VERSION,
): Hello {
  return {
    protocolVersion,
    softwareVersion: 'test',
    capabilities: {
      transports: [Transport.TRANSPORT_TCP, Transport.TRANSPORT_GRPC_STREAM],
      zeroCopy: false,
      hashAlgorithms: [HashAlgorithm.HASH_ALGORITHM_BLAKE3],
      maxMessageBytes: MAX_MESSAGE_BYTES,
      ...overrides,
    },
  };
}

test('two builds of this version agree on TCP, BLAKE3, and zero-copy exactly when the addon is loaded', () => {
  assert.deepEqual(negotiate(localHello('blit'), localHello('blitd')), {
    transport: Transport.TRANSPORT_TCP,
    hashAlgorithm: HashAlgorithm.HASH_ALGORITHM_BLAKE3,
    zeroCopy: nativeAddon() !== undefined,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  });
});

test("the initiator's preference wins among transports both support", () => {
  const initiator = hello({ transports: [Transport.TRANSPORT_GRPC_STREAM, Transport.TRANSPORT_TCP] });
  assert.equal(negotiate(initiator, hello()).transport, Transport.TRANSPORT_GRPC_STREAM);
  const tcpOnly = hello({ transports: [Transport.TRANSPORT_TCP] });
  assert.equal(negotiate(initiator, tcpOnly).transport, Transport.TRANSPORT_TCP);
});

test('RDMA is reserved: never chosen, even when both offer it', () => {
  const rdmaFirst = hello({ transports: [Transport.TRANSPORT_RDMA, Transport.TRANSPORT_GRPC_STREAM] });
  assert.equal(negotiate(rdmaFirst, rdmaFirst).transport, Transport.TRANSPORT_GRPC_STREAM);
  const rdmaOnly = hello({ transports: [Transport.TRANSPORT_RDMA] });
  assert.equal(negotiate(rdmaOnly, rdmaOnly).transport, Transport.TRANSPORT_UNSPECIFIED);
});

test('zero-copy only when both can; the smaller message limit; nothing in common is unspecified', () => {
  assert.equal(negotiate(hello({ zeroCopy: true }), hello({ zeroCopy: true })).zeroCopy, true);
  assert.equal(negotiate(hello({ zeroCopy: true }), hello()).zeroCopy, false);
  assert.equal(negotiate(hello({ maxMessageBytes: 1000 }), hello()).maxMessageBytes, 1000);
  assert.equal(
    negotiate(hello({ maxMessageBytes: 0 }), hello({ maxMessageBytes: 0 })).maxMessageBytes,
    MAX_MESSAGE_BYTES,
  );
  const none = negotiate(hello({ hashAlgorithms: [] }), {
    protocolVersion: PROTOCOL_VERSION,
    softwareVersion: '',
  });
  assert.equal(none.hashAlgorithm, HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED);
  assert.equal(none.transport, Transport.TRANSPORT_UNSPECIFIED);
});

test('different protocol versions refuse each other and say which side to upgrade', () => {
  assert.throws(
    () => negotiate(hello({}, PROTOCOL_VERSION), hello({}, PROTOCOL_VERSION + 1)),
    (error: unknown) => error instanceof IncompatiblePeer && /upgrade blit$/.test(error.message),
  );
  assert.throws(
    () => negotiate(hello({}, PROTOCOL_VERSION + 1), hello({}, PROTOCOL_VERSION)),
    (error: unknown) => error instanceof IncompatiblePeer && /upgrade blitd$/.test(error.message),
  );
});

test('RDMA devices are reported from /sys/class/infiniband, never offered as a transport', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'blit-rdma-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(rdmaInfo(join(root, 'missing')), undefined, 'no such directory: no RDMA');
  assert.equal(rdmaInfo(root), undefined, 'no devices: no RDMA');
  mkdirSync(join(root, 'mlx5_1'));
  mkdirSync(join(root, 'mlx5_0'));
  const info = rdmaInfo(root);
  assert.equal(info?.supportsRdma, true);
  assert.equal(info?.deviceName, 'mlx5_0');
  assert.ok(!localHello('blit').capabilities?.transports.includes(Transport.TRANSPORT_RDMA));
});
