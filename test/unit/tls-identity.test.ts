/**
 * The pieces of TLS identity: self-signed certificates (tls/self-signed.ts), fingerprints, the key
 * store (created once, mode 0600, refused when damaged), and the known-hosts file.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fingerprintOf, isFingerprint } from '../../src/tls/fingerprint.js';
import { loadOrCreateIdentity, parseIdentity } from '../../src/tls/key-store.js';
import {
  findKnownHost,
  formatKnownHost,
  lookupKnownHost,
  parseKnownHostLine,
  saveKnownHost,
  withKnownHost,
} from '../../src/tls/known-hosts.js';
import {
  certificateDer,
  certificatePem,
  createSelfSigned,
  selfSignedDer,
} from '../../src/tls/self-signed.js';
import { BlitError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

describe('self-signed certificates', () => {
  test('OpenSSL reads them: signed by their own key, named as asked, no expiry, a CA', () => {
    const { keyPem, certPem } = createSelfSigned('blitd test');
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subject, 'CN=blitd test');
    assert.equal(cert.issuer, 'CN=blitd test');
    assert.ok(cert.verify(cert.publicKey));
    assert.ok(cert.checkIssued(cert));
    assert.ok(cert.ca);
    assert.equal(new Date(cert.validTo).getUTCFullYear(), 9999);
    assert.ok(new Date(cert.validFrom).getTime() < Date.now());
    assert.ok(parseIdentity(keyPem + certPem, 'x').fingerprint === fingerprintOf(cert));
  });

  test('dates after 2049 are GeneralizedTime, before are UTCTime (both read back)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    for (const year of [2026, 2049, 2050, 2100]) {
      const now = new Date(Date.UTC(year, 5, 1, 12, 0, 0));
      const cert = new X509Certificate(selfSignedDer(privateKey, spki, 'x', now));
      assert.equal(new Date(cert.validFrom).getUTCFullYear(), year, `${year}`);
    }
  });

  test('the fingerprint belongs to the key: a new certificate for the same key keeps it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const one = selfSignedDer(privateKey, spki, 'one', new Date());
    const two = selfSignedDer(privateKey, spki, 'two', new Date());
    assert.notDeepEqual(one, two);
    assert.equal(fingerprintOf(one), fingerprintOf(two));
    assert.notEqual(fingerprintOf(one), fingerprintOf(createSelfSigned('other').certPem));
    assert.ok(isFingerprint(fingerprintOf(one)));
    assert.match(fingerprintOf(one), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('key store', () => {
  test('created once, private, then read back: the same identity every time', (t) => {
    const dir = join(tempDir(t), 'state');
    const first = loadOrCreateIdentity(dir, 'x');
    const again = loadOrCreateIdentity(dir, 'x');
    assert.equal(again.fingerprint, first.fingerprint);
    assert.equal(statSync(join(dir, 'identity.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  test('a damaged identity is refused with its path, never replaced', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'identity.pem'), 'garbage\n', { mode: 0o600 });
    assert.throws(
      () => loadOrCreateIdentity(dir, 'x'),
      (error: unknown) => error instanceof BlitError && error.message.includes(join(dir, 'identity.pem')),
    );
    assert.equal(readFileSync(join(dir, 'identity.pem'), 'utf8'), 'garbage\n');
    const a = createSelfSigned('a');
    const b = createSelfSigned('b');
    assert.throws(
      () => parseIdentity(a.keyPem + b.certPem, 'mixed.pem'),
      /mixed\.pem: the private key is not the certificate's/,
    );
  });
});

describe('known hosts', () => {
  const daemon = createSelfSigned('blitd');
  const der = new X509Certificate(daemon.certPem).raw;
  const entry = { target: '127.0.0.1:9031', fingerprint: fingerprintOf(der), certificate: der };

  test('a line round-trips; one whose certificate is no trust anchor (issued by another) is not an entry', () => {
    const line = formatKnownHost(entry);
    assert.deepEqual(parseKnownHostLine(line), entry);
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = certificateDer({
      spki: leaf.publicKey.export({ type: 'spki', format: 'der' }),
      subject: 'leaf',
      issuer: 'ca',
      signer: ca.privateKey,
      ca: false,
      now: new Date(),
    });
    assert.equal(
      parseKnownHostLine(`${entry.target} ${fingerprintOf(issued)} ${issued.toString('base64')}`),
      undefined,
    );
    assert.equal(parseKnownHostLine(`# ${line}`), undefined);
    assert.equal(parseKnownHostLine('garbage'), undefined);
  });

  test('trusting a target again replaces its line and keeps every other line', () => {
    const other = { ...entry, target: '[::1]:9031' };
    const text = `# mine\n${formatKnownHost(other)}\nsomething blit cannot read\n${formatKnownHost(entry)}\n`;
    const replacement = createSelfSigned('new');
    const newDer = new X509Certificate(replacement.certPem).raw;
    const updated = withKnownHost(text, {
      ...entry,
      fingerprint: fingerprintOf(newDer),
      certificate: newDer,
    });
    assert.equal(findKnownHost(updated, entry.target)?.fingerprint, fingerprintOf(newDer));
    assert.equal(findKnownHost(updated, other.target)?.fingerprint, entry.fingerprint);
    assert.match(updated, /^# mine\n/);
    assert.match(updated, /something blit cannot read/);
    assert.equal(updated.split('\n').filter((l) => l.startsWith(entry.target)).length, 1);
  });

  test('saved under the config directory, private, found again', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t) };
    assert.equal(lookupKnownHost(entry.target, env), undefined);
    const file = saveKnownHost(entry, env);
    assert.equal(file, join(env.XDG_CONFIG_HOME, 'blit', 'known_hosts'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(lookupKnownHost(entry.target, env), entry);
    assert.equal(certificatePem(entry.certificate), new X509Certificate(der).toString());
  });
});
