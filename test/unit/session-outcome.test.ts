/**
 * How a session that ended with an error is named, for the client (the TransferError's code) and
 * for metrics (outcome, code, stalled plane): refusals before Accept, cancels, stalls, failures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { RpcError } from '../../src/daemon/rpc-error.js';
import { errorCodeOf, failedSession } from '../../src/daemon/session-outcome.js';
import { ErrorCode } from '../../src/generated/blit.js';
import { IncompatiblePeer } from '../../src/protocol/handshake.js';
import { ProtocolError } from '../../src/protocol/manifest-wire.js';
import { PeerEndedEarly, PeerFailed, PeerGone, PeerStalled } from '../../src/transport/frame-channel.js';
import { DataPlaneFailed, DataPlaneStalled } from '../../src/transport/tcp/data-failure.js';

test('refusals before Accept keep the code the client has always seen', () => {
  const cases: [Error, string][] = [
    [new RpcError(status.NOT_FOUND, "unknown module 'x'"), 'NOT_FOUND'],
    [new RpcError(status.PERMISSION_DENIED, "module 'ro' is read-only"), 'PERMISSION_DENIED'],
    [new RpcError(status.INVALID_ARGUMENT, "'..' leaves the module"), 'PATH_OUTSIDE_MODULE'],
    [new RpcError(status.FAILED_PRECONDITION, 'is a directory now'), 'IO'],
    [new ProtocolError('Open without a direction'), 'PROTOCOL'],
    [new IncompatiblePeer('protocol 9 is not spoken here'), 'INCOMPATIBLE_VERSION'],
  ];
  for (const [error, code] of cases) {
    assert.deepEqual(failedSession(error, false), { outcome: 'refused', error: code }, error.message);
  }
  assert.equal(errorCodeOf(cases[1]![0]), ErrorCode.ERROR_CODE_PERMISSION_DENIED);
});

test('after Accept an error is a failure; a stall names its plane', () => {
  assert.deepEqual(failedSession(new RpcError(status.RESOURCE_EXHAUSTED, 'disk full'), true), {
    outcome: 'failed',
    error: 'NO_SPACE',
  });
  assert.deepEqual(failedSession(new PeerStalled('no word from the peer for 30 s'), true), {
    outcome: 'failed',
    error: 'STALLED',
    stall: 'control',
  });
  assert.deepEqual(failedSession(new DataPlaneStalled('data connection stalled for 30 s'), true), {
    outcome: 'failed',
    error: 'STALLED',
    stall: 'data',
  });
  assert.deepEqual(failedSession(new DataPlaneFailed('data connection closed by the peer'), true), {
    outcome: 'failed',
    error: 'DATA_PLANE',
  });
  assert.deepEqual(failedSession(new PeerFailed('no space left'), true), { outcome: 'failed', error: 'IO' });
  assert.deepEqual(failedSession(new Error('something else'), true), { outcome: 'failed', error: 'IO' });
  assert.equal(errorCodeOf(new DataPlaneStalled('x')), ErrorCode.ERROR_CODE_STALLED);
});

test('a client that cancels or leaves, before or after Accept, cancelled the session', () => {
  const cancelled = { outcome: 'cancelled', error: 'CANCELLED' };
  for (const accepted of [false, true]) {
    assert.deepEqual(failedSession(new PeerGone('the client cancelled the session'), accepted), cancelled);
  }
  assert.deepEqual(failedSession(new PeerEndedEarly('the source ended the session early'), true), cancelled);
  // A cancelled call is a cancel, whatever its half saw first (here: its data socket cut).
  assert.deepEqual(
    failedSession(new DataPlaneFailed('data connection closed by the peer'), true, true),
    cancelled,
  );
  assert.equal(errorCodeOf(new PeerEndedEarly('x')), ErrorCode.ERROR_CODE_CANCELLED);
});
