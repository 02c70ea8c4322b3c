import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatBytes, formatCount, formatDuration, formatRate, parseSize } from '../../src/util/human.js';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
const PiB = 1024 ** 5;

describe('parseSize', () => {
  test('plain numbers are bytes', () => {
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('123'), 123);
    assert.equal(parseSize('  42  '), 42);
  });

  test('suffixes are binary multiples, any case, with optional B / iB', () => {
    assert.equal(parseSize('10K'), 10 * KiB);
    assert.equal(parseSize('10k'), 10 * KiB);
    assert.equal(parseSize('10KB'), 10 * KiB);
    assert.equal(parseSize('10KiB'), 10 * KiB);
    assert.equal(parseSize('10kib'), 10 * KiB);
    assert.equal(parseSize('5M'), 5 * MiB);
    assert.equal(parseSize('5 MiB'), 5 * MiB);
    assert.equal(parseSize('2GiB'), 2 * GiB);
    assert.equal(parseSize('4g'), 4 * GiB);
    assert.equal(parseSize('3T'), 3 * TiB);
    assert.equal(parseSize('7B'), 7);
    assert.equal(parseSize('7b'), 7);
  });

  test('fractions are allowed and rounded down to whole bytes', () => {
    assert.equal(parseSize('1.5M'), 1.5 * MiB);
    assert.equal(parseSize('0.5K'), 512);
    assert.equal(parseSize('1.0001K'), 1024);
    assert.equal(parseSize('2.9'), 2);
  });

  test('petabytes parse, so every unit formatBytes prints reads back', () => {
    assert.equal(parseSize('1P'), PiB);
    assert.equal(parseSize('2PiB'), 2 * PiB);
  });

  test('malformed sizes are undefined', () => {
    for (const text of [
      '',
      '   ',
      'K',
      'abc',
      '-1',
      '-1K',
      '+5',
      '1.',
      '.5',
      '1e3',
      '1,000',
      '10X',
      '10KK',
      '10 K B',
      '0x10',
      '5M extra',
      'Infinity',
      'NaN',
    ]) {
      assert.equal(parseSize(text), undefined, JSON.stringify(text));
    }
  });
});

/** Sizes anywhere, and sizes just around the unit and decimal boundaries, where rounding bites. */
const sizesNearBoundaries = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom(100, 1024), fc.integer({ min: -200, max: 200 }))
    .map(([power, boundary, offset]) => Math.max(0, boundary * 1024 ** power + offset * 1024 ** (power - 1))),
);

describe('formatBytes', () => {
  test('bytes below 1 KiB are shown exactly', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1), '1 B');
    assert.equal(formatBytes(1023), '1023 B');
  });

  test('larger values get a binary unit, one decimal below 100', () => {
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(10 * MiB), '10.0 MiB');
    assert.equal(formatBytes(2.25 * GiB), '2.3 GiB');
    assert.equal(formatBytes(3 * TiB), '3.0 TiB');
    assert.equal(formatBytes(2 * PiB), '2.0 PiB');
  });

  test('no decimal from 100 up', () => {
    assert.equal(formatBytes(100 * KiB), '100 KiB');
    assert.equal(formatBytes(512 * MiB), '512 MiB');
  });

  test('PiB is the largest unit', () => {
    assert.equal(formatBytes(2048 * PiB), '2048 PiB');
  });

  // BUG: the unit is chosen before rounding, so values just under a boundary round up to a
  // number that belongs to the next unit or decimal rule: 1048575 B shows as "1024 KiB" (should
  // be "1.0 MiB") and 102348 B (99.95 KiB) as "100.0 KiB" (should be "100 KiB").
  test('rounding never shows 1024 of a unit, nor a decimal on 100 or more', () => {
    assert.equal(formatBytes(MiB - 1), '1.0 MiB');
    assert.equal(formatBytes(GiB - 1), '1.0 GiB');
    assert.equal(formatBytes(Math.round(99.96 * KiB)), '100 KiB');
  });

  test('property: a number below 1024 with at most one decimal, and no decimal from 100 up', () => {
    fc.assert(
      fc.property(sizesNearBoundaries, (bytes) => {
        const match = /^(\d+)(?:\.(\d))? (B|KiB|MiB|GiB|TiB|PiB)$/.exec(formatBytes(bytes));
        assert.ok(match, formatBytes(bytes));
        const value = Number(match[1]);
        if (match[3] !== 'PiB') assert.ok(value < 1024, `${bytes} -> ${formatBytes(bytes)}`);
        if (match[2] !== undefined) assert.ok(value < 100, `${bytes} -> ${formatBytes(bytes)}`);
      }),
    );
  });
});

describe('parseSize ∘ formatBytes', () => {
  test('property: parsing what formatBytes shows gives the size back within its rounding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PiB - 1 }), (bytes) => {
        const shown = formatBytes(bytes);
        const parsed = parseSize(shown);
        assert.notEqual(parsed, undefined, `${shown} does not parse`);
        // One decimal below 100 (error ≤ 0.05 of a unit ≥ 1), whole numbers from 100 up (≤ 0.5 of 100).
        assert.ok(Math.abs(parsed! - bytes) <= bytes * 0.05 + 1, `${bytes} -> ${shown} -> ${parsed}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: whole numbers with a suffix parse to exact multiples', () => {
    const suffixes: [string, number][] = [
      ['', 1],
      ['K', KiB],
      ['m', MiB],
      ['GiB', GiB],
      ['tb', TiB],
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(...suffixes), (n, [suffix, factor]) => {
        assert.equal(parseSize(`${n}${suffix}`), n * factor);
      }),
    );
  });
});

describe('formatDuration, formatRate, formatCount', () => {
  test('durations', () => {
    assert.equal(formatDuration(0), '0 ms');
    assert.equal(formatDuration(999.4), '999 ms');
    assert.equal(formatDuration(1500), '1.50 s');
    assert.equal(formatDuration(59_990), '59.99 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(formatDuration(150_000), '2 min 30 s');
  });

  test('rates', () => {
    assert.equal(formatRate(2 * MiB, 1000), '2.0 MiB/s');
    assert.equal(formatRate(1000, 500), '2.0 KiB/s');
    assert.equal(formatRate(1500, 1000), '1.5 KiB/s');
    assert.equal(formatRate(123, 0), '0 B/s');
  });

  test('counts use thousands separators', () => {
    assert.equal(formatCount(1234567), '1,234,567');
    assert.equal(formatCount(12), '12');
  });
});
