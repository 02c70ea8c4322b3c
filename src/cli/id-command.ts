/** `blit id`: prints this client's identity (creating its key on first use) for a module's allow list. */
import { clientIdentity } from '../tls/client-identity.js';
import { out } from './stdio.js';

export function runId(): number {
  out(`${clientIdentity().fingerprint}\n`);
  return 0;
}
