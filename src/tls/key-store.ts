/**
 * A TLS identity kept on disk: one PEM file holding the private key and its self-signed
 * certificate, created on first use (mode 0600, in a directory of mode 0700) and read after that.
 * Two processes starting at once cannot end up with different keys: the file is written under a
 * temporary name and published with link(2), which fails if the other one got there first, and
 * then the loser reads the winner's.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlitError, codeOf, reasonOf, showPath } from '../util/errors.js';
import { fingerprintOf } from './fingerprint.js';
import { createSelfSigned } from './self-signed.js';

export interface TlsIdentity {
  keyPem: string;
  /** The certificate chain, leaf first. */
  certPem: string;
  /** Of the leaf's public key (fingerprint.ts). */
  fingerprint: string;
}

export const IDENTITY_FILE = 'identity.pem';

/** Reads `dir/identity.pem`, creating it (and `dir`) with a fresh key when it does not exist. */
export function loadOrCreateIdentity(dir: string, commonName: string): TlsIdentity {
  const file = join(dir, IDENTITY_FILE);
  try {
    return parseIdentity(readFileSync(file, 'utf8'), file);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw describe(error, file);
  }
  const { keyPem, certPem } = createSelfSigned(commonName);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temp, keyPem + certPem, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(temp, file);
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
    }
  } catch (error) {
    throw describe(error, file);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Never written.
    }
  }
  return loadIdentityFile(file);
}

/** Reads an existing identity file. */
export function loadIdentityFile(file: string): TlsIdentity {
  try {
    return parseIdentity(readFileSync(file, 'utf8'), file);
  } catch (error) {
    throw describe(error, file);
  }
}

/** A configured certificate (chain) and key, each in its own PEM file. */
export function loadConfiguredIdentity(certFile: string, keyFile: string): TlsIdentity {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(certFile, 'utf8');
  } catch (error) {
    throw describe(error, certFile);
  }
  try {
    keyPem = readFileSync(keyFile, 'utf8');
  } catch (error) {
    throw describe(error, keyFile);
  }
  return parseIdentity(keyPem + certPem, `${certFile} and ${keyFile}`);
}

/** Splits the PEM blocks, checks the key is the certificate's. */
export function parseIdentity(text: string, where: string): TlsIdentity {
  const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n?/g) ?? [];
  const keyPem = blocks.find((block) => /^-----BEGIN (EC |RSA )?PRIVATE KEY-----/.test(block));
  const certs = blocks.filter((block) => block.startsWith('-----BEGIN CERTIFICATE-----'));
  if (!keyPem) throw new BlitError(`${showPath(where)}: no private key (PEM) found`);
  if (certs.length === 0) throw new BlitError(`${showPath(where)}: no certificate (PEM) found`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]!);
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
      throw new BlitError(`${showPath(where)}: the private key is not the certificate's`);
    }
  } catch (error) {
    if (error instanceof BlitError) throw error;
    throw new BlitError(`${showPath(where)}: unreadable key or certificate (${reasonOf(error)})`);
  }
  return { keyPem, certPem: certs.join(''), fingerprint: fingerprintOf(leaf) };
}

function describe(error: unknown, file: string): BlitError {
  if (error instanceof BlitError) return error;
  return new BlitError(`${showPath(file)}: ${reasonOf(error)}`);
}
