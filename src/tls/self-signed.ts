/**
 * A self-signed X.509 certificate for an ECDSA P-256 key, encoded by hand (DER): blitd's and each
 * client's identity (certificateDer also writes one signed by another key, for tests of configured
 * chains). A TLS peer is identified by its key (see fingerprint.ts), never by the names
 * or dates in the certificate, so the certificate only needs to be one OpenSSL accepts: version 3,
 * a random serial, the common name as issuer and subject, no expiry (RFC 5280's 99991231235959Z),
 * and basicConstraints CA so that a client can use a pinned daemon certificate as its own trust
 * anchor. docs/DECISIONS.md says why this is not a library (@peculiar/x509 needs a global
 * reflect-metadata polyfill and 20 packages, 4.7 MB, for what is 80 lines here).
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

export interface KeyAndCertificate {
  /** PKCS#8 PEM. */
  keyPem: string;
  /** X.509 PEM. */
  certPem: string;
}

/** A fresh P-256 key and a self-signed certificate for it, named `commonName`. */
export function createSelfSigned(commonName: string, now = new Date()): KeyAndCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = selfSignedDer(privateKey, publicKey.export({ type: 'spki', format: 'der' }), commonName, now);
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: pem('CERTIFICATE', der),
  };
}

/** The DER certificate for `spki`, signed by `privateKey` (which must be its key). */
export function selfSignedDer(privateKey: KeyObject, spki: Buffer, commonName: string, now: Date): Buffer {
  return certificateDer({ spki, subject: commonName, issuer: commonName, signer: privateKey, ca: true, now });
}

export interface CertificateSpec {
  /** The subject's public key (SubjectPublicKeyInfo, DER). */
  spki: Buffer;
  /** Common names of the subject and of the issuer. */
  subject: string;
  issuer: string;
  /** The issuer's private key (an EC key: the signature is ecdsa-with-SHA256). */
  signer: KeyObject;
  /** basicConstraints cA: true for a trust anchor or an issuing CA. */
  ca: boolean;
  now: Date;
}

/** A version 3 certificate as spelled out in the header (no expiry, random serial). */
export function certificateDer(spec: CertificateSpec): Buffer {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // a positive INTEGER
  serial[0]! |= 0x40; // with no leading zero to strip
  const name = (cn: string) =>
    sequence(set(sequence(oid(OID_COMMON_NAME), tlv(0x0c, Buffer.from(cn, 'utf8')))));
  const notBefore = new Date(spec.now.getTime() - 24 * 3600_000);
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // [0] version: v3
    integer(serial),
    ECDSA_SHA256,
    name(spec.issuer),
    sequence(time(notBefore), tlv(0x18, Buffer.from('99991231235959Z', 'latin1'))),
    name(spec.subject),
    spec.spki,
    tlv(0xa3, sequence(spec.ca ? BASIC_CONSTRAINTS_CA : BASIC_CONSTRAINTS_LEAF)), // [3] extensions
  );
  const signature = sign('sha256', tbs, spec.signer); // DER ECDSA-Sig-Value
  return sequence(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

/** A certificate's DER bytes as PEM text. */
export function certificatePem(der: Buffer): string {
  return pem('CERTIFICATE', der);
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const OID_COMMON_NAME = '2.5.4.3';
const ECDSA_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
/** basicConstraints, critical, cA TRUE. */
const BASIC_CONSTRAINTS_CA = sequence(
  oid('2.5.29.19'),
  tlv(0x01, Buffer.from([0xff])),
  tlv(0x04, sequence(tlv(0x01, Buffer.from([0xff])))),
);
/** basicConstraints, critical, cA FALSE (the default, so an empty sequence). */
const BASIC_CONSTRAINTS_LEAF = sequence(
  oid('2.5.29.19'),
  tlv(0x01, Buffer.from([0xff])),
  tlv(0x04, sequence()),
);

function tlv(tag: number, body: Buffer): Buffer {
  const length = body.length;
  let head: Buffer;
  if (length < 0x80) head = Buffer.from([tag, length]);
  else if (length < 0x100) head = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) head = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else throw new RangeError(`DER value of ${length} bytes is too long for a certificate`);
  return Buffer.concat([head, body]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes);
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) groups.unshift((value & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-03T21:46:45.123Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'latin1'))
    : tlv(0x18, Buffer.from(digits, 'latin1'));
}
