/** transport/tcp/admission.ts: data-socket tokens are single-use, expire, die with their session, are capped. */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import {
  DataAdmission,
  type DeliverSocket,
  MAX_TOKENS_PER_SESSION,
  TOKEN_BYTES,
} from '../../src/transport/tcp/admission.js';

/** An admission on a clock the test moves by hand. */
function fakeClock(options: { maxPerSession?: number; maxTotal?: number } = {}) {
  const clock = { ms: 1000 };
  const admission = new DataAdmission({ ...options, now: () => clock.ms });
  return { clock, admission };
}

/** A distinct callback per use, so a test can tell which session a token leads to. */
const deliverer = (): DeliverSocket => (_socket: Socket) => {};

describe('DataAdmission', () => {
  test('a token is 32 random bytes that leads to the session it was issued to', () => {
    const { admission } = fakeClock();
    const a = deliverer();
    const b = deliverer();
    const forA = admission.issue('a', a);
    const forB = admission.issue('b', b);
    assert.equal(forA.length, TOKEN_BYTES);
    assert.notDeepEqual(forA, forB);
    assert.equal(admission.held(), 2);
    assert.equal(admission.redeem(forB), b);
    assert.equal(admission.redeem(forA), a);
    assert.equal(admission.held(), 0);
  });

  test('a token admits one socket only', () => {
    const { admission } = fakeClock();
    const deliver = deliverer();
    const token = admission.issue('s', deliver);
    assert.equal(admission.redeem(token), deliver);
    assert.equal(admission.redeem(token), undefined);
    assert.equal(admission.redeem(Buffer.from(token)), undefined);
  });

  test('a token expires after its lifetime, and an expired one is used up', () => {
    const { clock, admission } = fakeClock();
    const deliver = deliverer();
    const early = admission.issue('s', deliver, 100);
    const late = admission.issue('s', deliver, 100);
    clock.ms += 99;
    assert.equal(admission.redeem(early), deliver);
    clock.ms += 1;
    assert.equal(admission.redeem(late), undefined);
    assert.equal(admission.held('s'), 0);
  });

  test('expired tokens are swept, so they hold no place in the caps', () => {
    const { clock, admission } = fakeClock({ maxPerSession: 2, maxTotal: 3 });
    admission.issue('s', deliverer(), 50);
    admission.issue('s', deliverer(), 50);
    admission.issue('t', deliverer(), 500);
    assert.throws(() => admission.issue('s', deliverer()), /session s already holds 2/);
    clock.ms += 50;
    admission.issue('s', deliverer());
    assert.equal(admission.held('s'), 1);
    assert.equal(admission.held(), 2);
  });

  test('revoking a session drops all its tokens and no other', () => {
    const { admission } = fakeClock();
    const mine = [admission.issue('ended', deliverer()), admission.issue('ended', deliverer())];
    const other = deliverer();
    const theirs = admission.issue('running', other);
    admission.revoke('ended');
    for (const token of mine) assert.equal(admission.redeem(token), undefined);
    assert.equal(admission.held('ended'), 0);
    assert.equal(admission.redeem(theirs), other);
    admission.revoke('never-issued');
  });

  test('a session holds at most 32 tokens; redeeming one makes room', () => {
    const { admission } = fakeClock();
    const tokens = Array.from({ length: MAX_TOKENS_PER_SESSION }, () => admission.issue('s', deliverer()));
    assert.throws(
      () => admission.issue('s', deliverer()),
      new Error(
        'session s already holds 32 data-socket tokens (the limit); redeem or revoke some before issuing more',
      ),
    );
    admission.issue('other', deliverer());
    assert.ok(admission.redeem(tokens[0]!));
    admission.issue('s', deliverer());
  });

  test('the daemon holds a bounded number of tokens in all', () => {
    const { admission } = fakeClock({ maxTotal: 3 });
    admission.issue('a', deliverer());
    admission.issue('b', deliverer());
    admission.issue('c', deliverer());
    assert.throws(
      () => admission.issue('d', deliverer()),
      new Error('blitd already holds 3 data-socket tokens (the limit)'),
    );
    admission.revoke('a');
    admission.issue('d', deliverer());
  });

  test('a token that differs in any one byte, or in length, is refused and leaves the real one good', () => {
    const { admission } = fakeClock();
    const deliver = deliverer();
    const token = admission.issue('s', deliver);
    for (let i = 0; i < TOKEN_BYTES; i++) {
      const forged = Buffer.from(token);
      forged[i]! ^= 0x01;
      assert.equal(admission.redeem(forged), undefined, `byte ${i} changed`);
    }
    assert.equal(admission.redeem(token.subarray(0, TOKEN_BYTES - 1)), undefined);
    assert.equal(admission.redeem(Buffer.concat([token, Buffer.of(0)])), undefined);
    assert.equal(admission.redeem(Buffer.alloc(TOKEN_BYTES)), undefined);
    assert.equal(admission.redeem(token), deliver);
  });

  test('the caller gets its own copy of the token: changing it changes nothing in the table', () => {
    const { admission } = fakeClock();
    const deliver = deliverer();
    const token = admission.issue('s', deliver);
    const sent = Buffer.from(token);
    token.fill(0);
    assert.equal(admission.redeem(sent), deliver);
  });

  test('a token needs a positive, finite lifetime', () => {
    const { admission } = fakeClock();
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => admission.issue('s', deliverer(), ttl), RangeError);
    }
    assert.equal(admission.held(), 0);
  });
});

describe('DataAdmission: tokens bound to who the session is', () => {
  test('a token of an encrypted session admits only a TLS socket of the same identity', () => {
    const { admission } = fakeClock();
    const deliver = deliverer();
    const binding = { tls: true, id: 'SHA256:alice' };
    assert.equal(admission.redeem(admission.issue('s', deliver, 10_000, binding), { tls: false }), undefined);
    assert.equal(
      admission.redeem(admission.issue('s', deliver, 10_000, binding), { tls: true, id: 'SHA256:mallory' }),
      undefined,
    );
    assert.equal(admission.redeem(admission.issue('s', deliver, 10_000, binding), { tls: true }), undefined);
    // A session of a client without an identity (a module open to "*"): still TLS only.
    const anonymous = { tls: true };
    assert.equal(
      admission.redeem(admission.issue('s', deliver, 10_000, anonymous), { tls: false }),
      undefined,
    );
    assert.equal(admission.redeem(admission.issue('s', deliver, 10_000, anonymous), { tls: true }), deliver);
    assert.equal(
      admission.redeem(admission.issue('s', deliver, 10_000, binding), { tls: true, id: 'SHA256:alice' }),
      deliver,
    );
    // A refused socket used its token up: the right one cannot come after it with the same token.
    const token = admission.issue('s', deliver, 10_000, binding);
    assert.equal(admission.redeem(token, { tls: false }), undefined);
    assert.equal(admission.redeem(token, { tls: true, id: 'SHA256:alice' }), undefined);
  });

  test('a token of a plain session (loopback, or data_tls = false) admits a plain socket', () => {
    const { admission } = fakeClock();
    const deliver = deliverer();
    assert.equal(admission.redeem(admission.issue('s', deliver), { tls: false }), deliver);
    assert.equal(
      admission.redeem(admission.issue('s', deliver, 10_000, { tls: false }), { tls: false }),
      deliver,
    );
  });
});
