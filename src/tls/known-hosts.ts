/**
 * The daemons this client trusts, in `known_hosts` under the blit config directory: one line per
 * daemon, `HOST:PORT FINGERPRINT CERTIFICATE` (the target as blit dials it, the fingerprint of the
 * daemon's key, and the base64 DER certificate that becomes the only trust anchor of later
 * connections to it: the daemon's own when self-signed, else the root of the chain it sent). Lines
 * blit cannot read are kept as they are; `#` starts a comment.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { configDir, type Env } from '../perf/config-paths.js';
import { BlitError, codeOf, reasonOf, showPath } from '../util/errors.js';
import { isFingerprint } from './fingerprint.js';

export interface KnownHost {
  /** As dialTarget() writes it: `host:port` or `[v6]:port`. */
  target: string;
  /** Of the daemon's own key: the only one accepted. */
  fingerprint: string;
  /** The trust anchor recorded when the daemon was trusted (DER). */
  certificate: Buffer;
}

export function knownHostsPath(env: Env = process.env): string {
  return join(configDir(env), 'known_hosts');
}

/** The entry of one line, or undefined for a comment, a blank or a line that does not hold one. */
export function parseKnownHostLine(line: string): KnownHost | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length !== 3 || fields[0]!.startsWith('#')) return undefined;
  const [target, fingerprint, base64] = fields as [string, string, string];
  if (!isFingerprint(fingerprint) || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return undefined;
  const certificate = Buffer.from(base64, 'base64');
  try {
    // A trust anchor issues itself.
    const anchor = new X509Certificate(certificate);
    if (!anchor.checkIssued(anchor)) return undefined;
  } catch {
    return undefined;
  }
  return { target, fingerprint, certificate };
}

export function formatKnownHost(entry: KnownHost): string {
  return `${entry.target} ${entry.fingerprint} ${entry.certificate.toString('base64')}`;
}

/** The text with `entry`'s line in place of any earlier one for its target (or added at the end). */
export function withKnownHost(text: string, entry: KnownHost): string {
  const lines = text.split('\n').filter((line, index, all) => index < all.length - 1 || line !== '');
  const kept = lines.filter((line) => parseKnownHostLine(line)?.target !== entry.target);
  return `${[...kept, formatKnownHost(entry)].join('\n')}\n`;
}

export function findKnownHost(text: string, target: string): KnownHost | undefined {
  for (const line of text.split('\n')) {
    const entry = parseKnownHostLine(line);
    if (entry?.target === target) return entry;
  }
  return undefined;
}

/** The entry for `target` in the user's file, if there is one. */
export function lookupKnownHost(target: string, env: Env = process.env): KnownHost | undefined {
  return findKnownHost(readKnownHosts(knownHostsPath(env)), target);
}

/** Records `entry` (replacing its target's line), written whole under a temporary name, then renamed. */
export function saveKnownHost(entry: KnownHost, env: Env = process.env): string {
  const file = knownHostsPath(env);
  const text = withKnownHost(readKnownHosts(file), entry);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Never written.
    }
    throw new BlitError(`${showPath(file)}: ${reasonOf(error)}`);
  }
  return file;
}

function readKnownHosts(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return '';
    throw new BlitError(`${showPath(file)}: ${reasonOf(error)}`);
  }
}
