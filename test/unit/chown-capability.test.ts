/** Who may give files away (fsops/owner.ts hasChownCapability): CAP_CHOWN and CAP_FOWNER, from CapEff. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasChownCapability } from '../../src/fsops/owner.js';

const status = (capEff: string) =>
  `Name:\tblit\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

test('CAP_CHOWN with CAP_FOWNER in the effective set, and nothing less, may give files away', () => {
  assert.equal(hasChownCapability(status('000001ffffffffff')), true, 'root');
  assert.equal(hasChownCapability(status('0000000000000009')), true, 'chown + fowner');
  assert.equal(hasChownCapability(status('0000000000000001')), false, 'chown alone');
  assert.equal(hasChownCapability(status('0000000000000008')), false, 'fowner alone');
  assert.equal(hasChownCapability(status('0000000000000000')), false, 'none');
  assert.equal(hasChownCapability('Name:\tblit\nCapInh:\t0000000000000009\n'), false, 'no CapEff line');
});
