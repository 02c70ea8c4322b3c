/** Addresses only this machine can reach: where blit and blitd need no TLS set-up (docs/DECISIONS.md). */
import { ipFamily } from './ip-family.js';

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const family = ipFamily(host);
  if (family === 4) return host.startsWith('127.');
  if (family === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}
