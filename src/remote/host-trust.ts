/**
 * Deciding to trust a daemon's key (ssh's known-hosts model): a key already pinned for the
 * daemon's address is the only one accepted; an unknown daemon's key is shown to the person at the
 * terminal (`ask`), or, without one, refused with a line naming the fingerprint and the command
 * that pins it. A changed key is refused loudly, and so is a pinned daemon that stops speaking TLS.
 */
import { type KnownHost, knownHostsPath, saveKnownHost } from '../tls/known-hosts.js';
import { NOT_TLS, probeDaemonKey } from '../tls/probe.js';
import { BlitError, showPath } from '../util/errors.js';
import { type DaemonAddress, dialTarget } from './endpoint.js';

/** Asks whether to trust `target`'s key; resolves false when nobody can be asked. */
export type AskToTrust = (target: string, fingerprint: string) => Promise<boolean>;

export const refuseUnknown: AskToTrust = async () => false;

/** The command that pins `fingerprint` for `target`. */
export function trustCommand(target: string, fingerprint: string): string {
  return `blit trust ${target} --fingerprint ${fingerprint}`;
}

/** First contact: reads the daemon's key, asks (or refuses), and pins it. */
export async function trustFirstContact(address: DaemonAddress, ask: AskToTrust): Promise<KnownHost> {
  const target = dialTarget(address);
  const presented = await probeDaemonKey(address.host, address.port).catch((error: Error) => {
    throw new BlitError(`cannot reach blitd at ${target} over TLS: ${error.message}`);
  });
  if (!(await ask(target, presented.fingerprint))) {
    throw new BlitError(
      `blitd at ${target} is not a known host; its key fingerprint is ${presented.fingerprint}. ` +
        `If that is the daemon's (blitd logs it when it starts), trust it with: ${trustCommand(target, presented.fingerprint)}`,
    );
  }
  const entry = { target, ...presented };
  saveKnownHost(entry);
  return entry;
}

/**
 * Why a TLS connection to a pinned daemon failed, when the reason is the key or TLS itself: the
 * refusal to report instead of the connection error, or undefined when the daemon still presents
 * the pinned key (the failure was something else).
 */
export async function pinnedKeyProblem(
  address: DaemonAddress,
  pinned: KnownHost,
): Promise<BlitError | undefined> {
  const target = dialTarget(address);
  const file = showPath(knownHostsPath());
  let presented: string;
  try {
    presented = (await probeDaemonKey(address.host, address.port)).fingerprint;
  } catch (error) {
    const reason = (error as Error).message;
    if (reason !== NOT_TLS) return undefined;
    return new BlitError(
      `REFUSED: blitd at ${target} no longer speaks TLS, but ${file} pins key ${pinned.fingerprint} for it; ` +
        `blit will not fall back to a plain connection (if TLS was turned off on purpose, remove its line from ${file})`,
    );
  }
  if (presented === pinned.fingerprint) return undefined;
  return new BlitError(
    `REFUSED: blitd at ${target} presents key ${presented}, but ${file} pins ${pinned.fingerprint} for it: ` +
      `someone may be intercepting the connection, or the daemon's key was replaced (if so on purpose, run: ${trustCommand(target, presented)})`,
  );
}
