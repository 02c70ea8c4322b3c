/**
 * Tells systemd how blitd is doing (sd_notify, the unit's Type=notify): READY=1 once it listens,
 * RELOADING=1 then READY=1 around a reload, STOPPING=1 when it stops, each with a STATUS= line
 * that `systemctl status` shows. Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
 *
 * Node cannot send an AF_UNIX datagram, so the message goes through the native addon (sdNotify,
 * sent by blitd's own PID, the unit's main process), or else, without the addon, through a
 * `systemd-notify` child, run synchronously so the messages keep their order. systemd accepts the
 * child's message only with NotifyAccess=all (packaging/systemd/blitd.service sets it); the child
 * waits (BARRIER=1) until systemd has read it, so it is not dropped for having exited first
 * (docs/DECISIONS.md, "blitd under systemd").
 */
import { spawnSync } from 'node:child_process';
import { nativeAddon } from '../fsops/native.js';
import { reasonOf } from '../util/errors.js';
import type { Logger } from './logger.js';

export interface Readiness {
  /** Sends `fields` (READY=1, STATUS=…) as one notification; failures are logged once, never thrown. */
  notify(fields: Record<string, string>): void;
}

/** Sends one message (newline-separated KEY=VALUE lines) to the notify socket; throws on failure. */
export type NotifySender = (socketPath: string, message: string) => void;

/** The native addon's sender when it is there, else the `systemd-notify` command's. */
function defaultSender(): NotifySender {
  const addon = nativeAddon();
  if (addon) return (socketPath, message) => addon.sdNotify(socketPath, message);
  return (socketPath, message) => {
    const result = spawnSync('systemd-notify', message.split('\n'), {
      env: { ...process.env, NOTIFY_SOCKET: socketPath },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: 5000,
    });
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(`systemd-notify exited with ${result.status}: ${result.stderr.trim().split('\n')[0]}`);
    }
  };
}

/** The monotonic clock in microseconds, as systemd's RELOADING=1 wants it (MONOTONIC_USEC). */
export function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

/** The message systemd reads: one KEY=VALUE per line (a value's own newlines become spaces). */
export function notifyMessage(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`)
    .join('\n');
}

export function systemdReadiness(
  env: Record<string, string | undefined>,
  log: Logger,
  send: NotifySender = defaultSender(),
): Readiness {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return { notify() {} };
  let warned = false;
  return {
    notify(fields) {
      try {
        send(socketPath, notifyMessage(fields));
      } catch (error) {
        if (warned) return;
        warned = true;
        log.warn(
          { notifySocket: socketPath, reason: reasonOf(error) },
          `cannot notify systemd through ${socketPath}: ${reasonOf(error)}`,
        );
      }
    },
  };
}
