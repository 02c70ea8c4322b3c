/** `blit find`'s tests: size and time parsing, and the predicate they make (find-predicates.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findPredicate, parseSizeTest, parseWhen } from '../../src/cli/find-predicates.js';
import type { Entry } from '../../src/fsops/entry.js';
import { BlitError } from '../../src/util/errors.js';

// Local time is not UTC here, so a date read in the wrong zone shows (Node reads TZ when it changes).
process.env.TZ = 'Asia/Kolkata';

const NOW = Date.UTC(2024, 4, 10, 12, 0, 0);
const entry = (name: string, kind: Entry['kind'], size = 0, mtimeMs = NOW): Entry => ({
  name,
  kind,
  size,
  mtimeNs: BigInt(mtimeMs) * 1_000_000n,
  mode: 0o644,
});

describe('find predicates', () => {
  test('--size: +N more than, -N less than, N exactly, in bytes with binary multiples', () => {
    assert.deepEqual(parseSizeTest('+10M'), { compare: 'more', bytes: 10 * 1024 * 1024 });
    assert.deepEqual(parseSizeTest('-1K'), { compare: 'less', bytes: 1024 });
    assert.deepEqual(parseSizeTest('512'), { compare: 'equal', bytes: 512 });
    assert.deepEqual(parseSizeTest('+1.5k'), { compare: 'more', bytes: 1536 });
    for (const bad of ['', '+', '10X', '--1', '+-1', ' 5', 'M']) {
      assert.throws(() => parseSizeTest(bad), BlitError, bad);
    }
  });

  test('--size compares bytes, not rounded units, and selects regular files only', () => {
    const under = findPredicate({ size: '-1M' }, NOW);
    // find(1)'s -size -1M would match only empty files; 1000 bytes is less than 1 MiB.
    assert.equal(under(entry('f', 'file', 1000)), true);
    assert.equal(under(entry('f', 'file', 1024 * 1024)), false);
    assert.equal(under(entry('d', 'dir', 4096)), false);
    assert.equal(under(entry('l', 'symlink', 3)), false);
    const over = findPredicate({ size: '+1K' }, NOW);
    assert.equal(over(entry('f', 'file', 1024)), false);
    assert.equal(over(entry('f', 'file', 1025)), true);
    const exact = findPredicate({ size: '1K' }, NOW);
    assert.equal(exact(entry('f', 'file', 1024)), true);
    assert.equal(exact(entry('f', 'file', 1023)), false);
  });

  test('--newer: durations back from now', () => {
    assert.equal(parseWhen('30m', NOW), NOW - 30 * 60_000);
    assert.equal(parseWhen('2h', NOW), NOW - 2 * 3_600_000);
    assert.equal(parseWhen('7d', NOW), NOW - 7 * 86_400_000);
    assert.equal(parseWhen('1w', NOW), NOW - 7 * 86_400_000);
    assert.equal(parseWhen('90s', NOW), NOW - 90_000);
    assert.equal(parseWhen('1.5h', NOW), NOW - 5_400_000);
  });

  test('--newer: dates are local time unless they carry Z or an offset', () => {
    assert.equal(parseWhen('2024-05-01', NOW), new Date(2024, 4, 1).getTime());
    assert.equal(parseWhen('2024-05-01T12:30', NOW), new Date(2024, 4, 1, 12, 30).getTime());
    assert.equal(parseWhen('2024-05-01 12:30:15', NOW), new Date(2024, 4, 1, 12, 30, 15).getTime());
    assert.equal(parseWhen('2024-05-01T12:30', NOW), Date.UTC(2024, 4, 1, 7, 0), 'Kolkata is UTC+05:30');
    assert.equal(parseWhen('2024-05-01T12:30:00Z', NOW), Date.UTC(2024, 4, 1, 12, 30));
    assert.equal(parseWhen('2024-05-01T12:30:00.250Z', NOW), Date.UTC(2024, 4, 1, 12, 30, 0, 250));
    assert.equal(parseWhen('2024-05-01T12:30+02:00', NOW), Date.UTC(2024, 4, 1, 10, 30));
    assert.equal(parseWhen('2024-05-01T12:30-0130', NOW), Date.UTC(2024, 4, 1, 14, 0));
    // The extremes in use: Kiribati (+14:00) and Baker Island (-12:00).
    assert.equal(parseWhen('2024-05-01T12:30+14:00', NOW), Date.UTC(2024, 4, 0, 22, 30));
    assert.equal(parseWhen('2024-05-01T12:30-12:00', NOW), Date.UTC(2024, 4, 2, 0, 30));
  });

  test('--newer: malformed and out-of-range values are refused in one line', () => {
    for (const bad of [
      '',
      'yesterday',
      '5',
      '5y',
      '-5m',
      '2024-02-30',
      '2024-13-01',
      '2024-05-01T24:00',
      '2024-05-01T12:60',
      '2024-5-1',
      // Offsets past the real world's ±14:00, or with 60 minutes or more.
      '2024-05-01T23:00+25:00',
      '2024-05-01T23:00+14:01',
      '2024-05-01T23:00-15:00',
      '2024-05-01T23:00+02:60',
      '2024-05-01T23:00+0299',
    ]) {
      assert.throws(
        () => parseWhen(bad, NOW),
        (error: Error) => error instanceof BlitError && error.message.startsWith('--newer'),
        bad,
      );
    }
  });

  test('--newer means strictly after, for every kind of entry', () => {
    const newer = findPredicate({ newer: '1h' }, NOW);
    assert.equal(newer(entry('f', 'file', 0, NOW - 3_600_000)), false);
    assert.equal(newer(entry('f', 'file', 0, NOW - 3_599_999)), true);
    assert.equal(newer(entry('d', 'dir', 0, NOW)), true);
  });

  test('--name matches the name with picomatch, dot files included; a pattern with / is refused', () => {
    const logs = findPredicate({ name: '*.log' }, NOW);
    assert.equal(logs(entry('a.log', 'file')), true);
    assert.equal(logs(entry('.hidden.log', 'file')), true);
    assert.equal(logs(entry('a.log.1', 'file')), false);
    const braces = findPredicate({ name: '{a,b}[0-9]' }, NOW);
    assert.equal(braces(entry('b7', 'dir')), true);
    assert.equal(braces(entry('c7', 'dir')), false);
    assert.throws(() => findPredicate({ name: 'dir/*.log' }, NOW), /--name "dir\/\*\.log"/);
    assert.throws(() => findPredicate({ name: '' }, NOW), /--name/);
  });

  test('--type f|d|l, and every test given must hold', () => {
    const dirs = findPredicate({ type: 'd' }, NOW);
    assert.equal(dirs(entry('x', 'dir')), true);
    assert.equal(dirs(entry('x', 'file')), false);
    assert.equal(findPredicate({ type: 'l' }, NOW)(entry('x', 'symlink')), true);
    assert.throws(() => findPredicate({ type: 'x' }, NOW), /--type "x"/);
    const both = findPredicate({ type: 'f', name: '*.txt', size: '+10' }, NOW);
    assert.equal(both(entry('a.txt', 'file', 11)), true);
    assert.equal(both(entry('a.txt', 'file', 10)), false);
    assert.equal(both(entry('a.md', 'file', 11)), false);
    assert.equal(findPredicate({}, NOW)(entry('any', 'other')), true);
  });
});
