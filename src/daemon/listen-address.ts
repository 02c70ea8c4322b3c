/**
 * An address blitd listens on besides its own port, written `HOST:PORT` or `[IPV6]:PORT` (the
 * metrics endpoint). The port is required, 0 picks a free one. Parsed without touching the
 * network: whether the host can be bound is found out when it is.
 */
import { isIPv6 } from 'node:net';

export interface ListenAddress {
  /** Host name or address, without brackets. */
  host: string;
  port: number;
}

const HOST = /^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const FORMS = 'expected HOST:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9100';

/** The address, or the reason `text` is not one. */
export function parseListenAddress(text: string): ListenAddress | string {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  const plain = bracketed ? undefined : /^([^:[\]]*):([^:]*)$/.exec(text);
  const [, host, port] = bracketed ?? plain ?? [];
  if (host === undefined || port === undefined) {
    return text.split(':').length > 2 ? `${FORMS} (IPv6 addresses in brackets)` : FORMS;
  }
  if (bracketed ? !isIPv6(host) : !HOST.test(host)) {
    return `${JSON.stringify(host)} is not ${bracketed ? 'an IPv6 address' : 'a host name or address'}`;
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    return `port ${JSON.stringify(port)} is not a number from 0 to 65535`;
  }
  return { host, port: Number(port) };
}
