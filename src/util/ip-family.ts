/**
 * net.isIP's answer without its regular expressions where it can: V8 compiles Node's IPv6 pattern
 * on its first use, ~7 ms of every remote command (the IPv4 one ~1.7 ms), and grpc-js asks for
 * each address it connects to (docs/DECISIONS.md). Dotted quads are parsed here by the rule of
 * Node's pattern; only text with a colon, which an IPv6 address always has, goes to net.isIPv6.
 */
import { isIPv6 } from 'node:net';

/** 4, 6 or 0, as net.isIP(host) answers. */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (isDottedQuad(host)) return 4;
  return host.includes(':') && isIPv6(host) ? 6 : 0;
}

/**
 * net.isIP, net.isIPv4 and net.isIPv6 as ipFamily answers them, for grpc-js's `net`
 * (scripts/grpc-net.mjs). Like Node's, they read their argument as a string.
 */
export const netChecks = {
  isIP: (host: unknown): 0 | 4 | 6 => ipFamily(String(host)),
  isIPv4: (host: unknown): boolean => ipFamily(String(host)) === 4,
  isIPv6: (host: unknown): boolean => ipFamily(String(host)) === 6,
};

/** Four decimal numbers 0-255 joined by dots, none with a leading zero (Node's IPv4 pattern). */
function isDottedQuad(host: string): boolean {
  let parts = 0;
  let start = 0;
  for (let i = 0; i <= host.length; i++) {
    if (i < host.length && host.charCodeAt(i) !== 0x2e) continue;
    if (++parts > 4 || !isOctet(host, start, i)) return false;
    start = i + 1;
  }
  return parts === 4;
}

/** host[start, end) is 0-255 in decimal without a leading zero. */
function isOctet(host: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > 3) return false;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = host.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return false;
    value = value * 10 + digit;
  }
  return value <= 255 && (length === 1 || host.charCodeAt(start) !== 0x30);
}
