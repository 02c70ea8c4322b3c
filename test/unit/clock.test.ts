/** util/clock.ts: isoTime formats like Date.prototype.toISOString; loopTurns gives the loop its turns. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTime, loopTurns, sleepSync } from '../../src/util/clock.js';

test('isoTime matches toISOString on calendar edges: epoch, leap days, century years, year ends', () => {
  for (const iso of [
    '1970-01-01T00:00:00.000Z',
    '1999-12-31T23:59:59.999Z',
    '2000-02-29T12:34:56.789Z',
    '2000-03-01T00:00:00.000Z',
    '2024-02-29T23:59:59.999Z',
    '2026-11-25T04:50:00.001Z',
    '2100-02-28T23:59:59.999Z',
    '2100-03-01T00:00:00.000Z',
    '1969-12-31T23:59:59.999Z',
  ]) {
    assert.equal(isoTime(Date.parse(iso)), iso);
  }
});

test('isoTime matches toISOString on 100,000 random instants from 1900 to 2300', () => {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const from = Date.parse('1900-01-01T00:00:00Z');
  const to = Date.parse('2300-01-01T00:00:00Z');
  for (let i = 0; i < 100_000; i++) {
    const ms = Math.floor(from + random() * (to - from));
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
});

test('loopTurns gives no turn before its interval has passed, then one, then none again', async () => {
  const turn = loopTurns(30);
  assert.equal(turn(), undefined, 'nothing due at once');
  sleepSync(40);
  let ran = false;
  setImmediate(() => {
    ran = true;
  });
  const due = turn();
  assert.ok(due instanceof Promise, 'a turn once the interval has passed');
  await due;
  assert.ok(ran, 'the event loop ran what was waiting before the turn ended');
  assert.equal(turn(), undefined, 'the interval starts again after a turn');
});
