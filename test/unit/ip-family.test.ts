import assert from 'node:assert/strict';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { ipFamily, netChecks } from '../../src/util/ip-family.js';
import { isLoopback } from '../../src/util/loopback.js';

const CASES = [
  '127.0.0.1',
  '0.0.0.0',
  '255.255.255.255',
  '256.0.0.1',
  '1.2.3',
  '1.2.3.4.5',
  '01.2.3.4',
  '1.2.3.04',
  '1.2.3.0',
  '1..3.4',
  '.1.2.3',
  '1.2.3.',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '1.2.3.4\n',
  '1000.1.1.1',
  '199.249.255.250',
  '',
  'localhost',
  'example.com',
  '::1',
  '::',
  '::ffff:127.0.0.1',
  'fe80::1%eth0',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  ':::',
  '[::1]',
  '::1.2.3.4',
  '１.２.３.４',
  '1.2.3.4:80',
  '٣.2.3.4',
];

test('ipFamily answers as net.isIP on addresses, near-misses and names', () => {
  for (const host of CASES) assert.equal(ipFamily(host), isIP(host), JSON.stringify(host));
});

test('ipFamily answers as net.isIP on any text of address characters', () => {
  const octet = fc.oneof(
    fc.integer({ min: 0, max: 300 }).map(String),
    fc.integer({ min: 0, max: 99 }).map((n) => `0${n}`),
    fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9'), maxLength: 4 }),
  );
  const quad = fc.array(octet, { minLength: 2, maxLength: 6 }).map((parts) => parts.join('.'));
  const text = fc.string({ unit: fc.constantFrom(...'0123456789.:abcdefABCDEF%x '), maxLength: 24 });
  fc.assert(
    fc.property(fc.oneof(quad, text), (host) => ipFamily(host) === isIP(host)),
    { numRuns: 20_000 },
  );
});

test("grpc-js's three checks (netChecks) answer as Node's, strings and others", () => {
  const values: unknown[] = [...CASES, undefined, null, 127, 1.5, ['1.2.3.4'], { toString: () => '::1' }];
  for (const value of values) {
    const shown = JSON.stringify(String(value));
    assert.equal(netChecks.isIP(value), isIP(value as string), shown);
    assert.equal(netChecks.isIPv4(value), isIPv4(value as string), shown);
    assert.equal(netChecks.isIPv6(value), isIPv6(value as string), shown);
  }
});

test('isLoopback: 127/8, ::1 and mapped 127/8 only', () => {
  for (const host of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1', 'localhost'])
    assert.equal(isLoopback(host), true, host);
  for (const host of ['128.0.0.1', '10.0.0.1', '::2', '::ffff:10.0.0.1', '0127.0.0.1', 'example.com'])
    assert.equal(isLoopback(host), false, host);
});
