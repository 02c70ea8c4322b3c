/**
 * `blit trust HOST[:PORT]`: pins a daemon's key in known_hosts. The key is read from the daemon
 * and shown; it is pinned when the user says yes at the terminal, or with `--yes`, or when it
 * equals `--fingerprint FP` (the way to pin without a terminal, with the fingerprint the operator
 * gave out). A key different from one already pinned is replaced only with `--fingerprint` or at
 * the terminal, never by `--yes` alone.
 */
import { dialTarget, parseDaemonAddress } from '../remote/endpoint.js';
import { isFingerprint } from '../tls/fingerprint.js';
import { lookupKnownHost, saveKnownHost } from '../tls/known-hosts.js';
import { probeDaemonKey } from '../tls/probe.js';
import { BlitError, showPath } from '../util/errors.js';
import { out } from './stdio.js';
import { askToTrust } from './trust-prompt.js';

export interface TrustFlags {
  yes?: boolean;
  fingerprint?: string;
}

export async function runTrust(spec: string, flags: TrustFlags): Promise<number> {
  const address = parseDaemonAddress(spec);
  const target = dialTarget(address);
  if (flags.fingerprint !== undefined && !isFingerprint(flags.fingerprint)) {
    throw new BlitError(
      `--fingerprint ${showPath(flags.fingerprint)}: not a key fingerprint (SHA256: and 43 base64 characters)`,
    );
  }
  const presented = await probeDaemonKey(address.host, address.port).catch((error: Error) => {
    throw new BlitError(`cannot reach blitd at ${target} over TLS: ${error.message}`);
  });
  const pinned = lookupKnownHost(target);
  if (pinned?.fingerprint === presented.fingerprint) {
    out(`${target} ${presented.fingerprint} (already trusted)\n`);
    return 0;
  }
  const replacing = pinned?.fingerprint;
  if (flags.fingerprint !== undefined) {
    if (flags.fingerprint !== presented.fingerprint) {
      throw new BlitError(
        `REFUSED: blitd at ${target} presents key ${presented.fingerprint}, not ${flags.fingerprint}: nothing was pinned`,
      );
    }
  } else if (!(flags.yes && !replacing)) {
    if (!(await askToTrust(target, presented.fingerprint, replacing))) {
      const why = replacing
        ? `blitd at ${target} presents key ${presented.fingerprint}, but ${replacing} is pinned for it`
        : `blitd at ${target} presents key ${presented.fingerprint}`;
      throw new BlitError(
        `${why}; nothing was pinned (to pin it without a terminal: blit trust ${target} --fingerprint ${presented.fingerprint})`,
      );
    }
  }
  const file = saveKnownHost({ target, ...presented });
  out(`${target} ${presented.fingerprint} (trusted; pinned in ${showPath(file)})\n`);
  return 0;
}
