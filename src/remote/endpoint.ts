/**
 * Remote endpoints as the user writes them, parsed without touching the network or the disk:
 * - a daemon: `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT`;
 * - a path on it: `HOST:/MODULE/PATH`, `HOST:PORT:/MODULE/PATH`, `[IPV6]:PORT:/MODULE/PATH`
 *   (and `[IPV6]:/MODULE/PATH`).
 * A path argument is remote when a ':' followed by '/' comes before any other '/'; `./foo:/bar`
 * is always local.
 */
import { BlitError, showPath } from '../util/errors.js';

export const DEFAULT_PORT = 9031;

export interface DaemonAddress {
  /** Host name or address, without brackets. */
  host: string;
  port: number;
}

export interface RemotePath extends DaemonAddress {
  module: string;
  /** Relative path inside the module ('' for the module root), '/'-separated, as written. */
  path: string;
  /** The path was written with a trailing '/'. */
  trailingSlash: boolean;
  /** The argument as the user wrote it, for messages. */
  spec: string;
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
// Hex groups and ':' (with an optional embedded IPv4 tail and %zone).
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._-]+)?$/;
const PATH_FORMS = 'HOST:/MODULE/PATH, HOST:PORT:/MODULE/PATH or [IPV6]:PORT:/MODULE/PATH';
const ADDRESS_FORMS = 'HOST, HOST:PORT or [IPV6]:PORT';

/** True when `arg` is written as a remote path (HOST…:/…) rather than a local one. */
export function looksRemote(arg: string): boolean {
  const colonSlash = arg.indexOf(':/');
  if (colonSlash <= 0) return false;
  const slash = arg.indexOf('/');
  return slash === colonSlash + 1;
}

function parsePort(text: string, spec: string, forms: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new BlitError(
      `${showPath(spec)}: port ${JSON.stringify(text)} is not a number from 1 to 65535 (${forms})`,
    );
  }
  return Number(text);
}

/** Splits `HOST[:PORT]` or `[IPV6][:PORT]` (the part before `:/` of a remote path). */
function parseHostPort(text: string, spec: string, forms: string): DaemonAddress {
  let host: string;
  /** The port text, undefined when no ':' follows the host. */
  let rest: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new BlitError(`${showPath(spec)}: missing ']' after the IPv6 address (${forms})`);
    host = text.slice(1, close);
    rest = text.slice(close + 1);
    if (!IPV6.test(host))
      throw new BlitError(`${showPath(spec)}: ${JSON.stringify(host)} is not an IPv6 address`);
    if (rest !== '' && !rest.startsWith(':')) throw new BlitError(`${showPath(spec)}: expected ${forms}`);
    rest = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? undefined : text.slice(colon + 1);
    if (rest?.includes(':')) {
      throw new BlitError(`${showPath(spec)}: write IPv6 addresses in brackets, e.g. [::1]:${DEFAULT_PORT}`);
    }
    if (!HOSTNAME.test(host))
      throw new BlitError(`${showPath(spec)}: ${JSON.stringify(host)} is not a host name`);
  }
  const port = rest === undefined ? DEFAULT_PORT : parsePort(rest, spec, forms);
  return { host, port };
}

/** Parses a daemon address: `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT`. */
export function parseDaemonAddress(spec: string): DaemonAddress {
  if (spec === '') throw new BlitError(`daemon address is empty (${ADDRESS_FORMS})`);
  if (spec.includes('/')) throw new BlitError(`${showPath(spec)}: expected ${ADDRESS_FORMS}`);
  return parseHostPort(spec, spec, ADDRESS_FORMS);
}

/** Parses `HOST[:PORT]:/MODULE[/PATH]`; the path's components are kept as written ('.' and empty ones dropped). */
export function parseRemotePath(spec: string): RemotePath {
  if (!looksRemote(spec)) throw new BlitError(`${showPath(spec)}: not a remote path (${PATH_FORMS})`);
  // The host part ends at the ':/' that starts the path; a bracketed IPv6 address holds ':' but no '/'.
  const split = spec.indexOf(':/');
  const address = parseHostPort(spec.slice(0, split), spec, PATH_FORMS);
  const components = spec
    .slice(split + 1)
    .split('/')
    .filter((part) => part !== '' && part !== '.');
  const module = components.shift();
  if (module === undefined) {
    throw new BlitError(`${showPath(spec)}: no module named (${PATH_FORMS}); blit list-modules lists them`);
  }
  if (module === '..') throw new BlitError(`${showPath(spec)}: '..' is not a module name`);
  return {
    ...address,
    module,
    path: components.join('/'),
    trailingSlash: spec.endsWith('/'),
    spec,
  };
}

/** The address as gRPC dials it: `host:port`, `[v6]:port`. */
export function dialTarget(address: DaemonAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** A module path written back in the canonical form: `host:port:/module/path`. */
export function formatRemotePath(address: DaemonAddress, module: string, path: string): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}:/${module}${path === '' ? '' : `/${path}`}`;
}
