/** daemon/security.ts: when TLS is on, which configurations start, who may use a module. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DaemonConfig, ModuleConfig } from '../../src/daemon/config.js';
import { checkSecurity, dataTlsFor, defaultStateDir, mayUse, tlsOn } from '../../src/daemon/security.js';
import { BlitError } from '../../src/util/errors.js';
import { isLoopback } from '../../src/util/loopback.js';

const ALICE = `SHA256:${'A'.repeat(43)}`;
const BOB = `SHA256:${'B'.repeat(43)}`;

function module(extra: Partial<ModuleConfig> = {}): ModuleConfig {
  return { name: 'm', path: '/srv/m', readOnly: false, comment: '', ...extra };
}

function config(bind: string, modules: ModuleConfig[], extra: Partial<DaemonConfig> = {}): DaemonConfig {
  return { bind, port: 9031, motd: '', logLevel: 'info', modules, ...extra };
}

function refused(c: DaemonConfig, pattern: RegExp) {
  assert.throws(
    () => checkSecurity(c),
    (error: unknown) =>
      error instanceof BlitError && pattern.test(error.message) && !error.message.includes('\n'),
  );
}

describe('daemon security rules', () => {
  test('loopback addresses', () => {
    for (const bind of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) {
      assert.ok(isLoopback(bind), bind);
    }
    for (const bind of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1', '::2']) {
      assert.ok(!isLoopback(bind), bind);
    }
  });

  test('TLS is on off loopback, off on loopback unless asked for, and cannot be turned off off loopback', () => {
    assert.equal(tlsOn(config('0.0.0.0', [])), true);
    assert.equal(tlsOn(config('127.0.0.1', [])), false);
    assert.equal(tlsOn(config('127.0.0.1', [], { tls: true })), true);
    refused(
      config('0.0.0.0', [], { tls: false }),
      /^daemon\.tls = false is allowed only on a loopback address, not 0\.0\.0\.0/,
    );
    checkSecurity(config('127.0.0.1', [module()], { tls: false }));
  });

  test('with TLS on, a writable module without an allow list refuses to start, naming it', () => {
    refused(
      config('0.0.0.0', [module({ name: 'backup' })]),
      /^module 'backup' is writable but has no allow list/,
    );
    refused(
      config('127.0.0.1', [module()], { tls: true }),
      /^module 'm' is writable but has no allow list, and blitd has TLS on/,
    );
    checkSecurity(config('0.0.0.0', [module({ readOnly: true })]));
    checkSecurity(config('0.0.0.0', [module({ allow: [ALICE] })]));
    checkSecurity(config('127.0.0.1', [module()]));
  });

  test('an allow list without TLS is refused, not ignored', () => {
    refused(config('127.0.0.1', [module({ allow: ['*'] })]), /^module 'm' has an allow list, but TLS is off/);
  });

  test('who may use a module', () => {
    const alice = { tls: true, id: ALICE };
    const bob = { tls: true, id: BOB };
    const anonymousTls = { tls: true };
    const plain = { tls: false };
    const listed = module({ allow: [ALICE] });
    assert.equal(mayUse(listed, true, alice), true);
    assert.equal(mayUse(listed, true, bob), false);
    assert.equal(mayUse(listed, true, anonymousTls), false);
    assert.equal(mayUse(listed, true, plain), false);
    const anyone = module({ allow: ['*'] });
    assert.equal(mayUse(anyone, true, bob), true);
    assert.equal(mayUse(anyone, true, anonymousTls), true);
    assert.equal(mayUse(anyone, true, plain), false);
    const open = module({ readOnly: true });
    assert.equal(mayUse(open, true, anonymousTls), true);
    assert.equal(mayUse(open, true, plain), false);
    // Without TLS (loopback quick start) there is no identity to check.
    assert.equal(mayUse(module(), false, plain), true);
  });

  test('data sockets are encrypted with the control plane unless the daemon or the module opts out', () => {
    const tls = config('0.0.0.0', []);
    assert.equal(dataTlsFor(tls, module()), true);
    assert.equal(dataTlsFor({ ...tls, dataTls: false }, module()), false);
    assert.equal(dataTlsFor(tls, module({ dataTls: false })), false);
    assert.equal(dataTlsFor({ ...tls, dataTls: false }, module({ dataTls: true })), true);
    assert.equal(dataTlsFor(config('127.0.0.1', []), module()), false);
  });

  test('the state directory: systemd, root, then the XDG state home', () => {
    assert.equal(defaultStateDir({ STATE_DIRECTORY: '/var/lib/blitd:/x' }, 1000), '/var/lib/blitd');
    assert.equal(defaultStateDir({}, 0), '/var/lib/blitd');
    assert.equal(defaultStateDir({ XDG_STATE_HOME: '/s', HOME: '/h' }, 1000), '/s/blitd');
    assert.equal(defaultStateDir({ HOME: '/h' }, 1000), '/h/.local/state/blitd');
    assert.equal(defaultStateDir({ XDG_STATE_HOME: 'relative', HOME: '/h' }, 1000), '/h/.local/state/blitd');
  });
});
