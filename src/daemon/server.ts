/** The gRPC server: binds the configured address, serves the Blit service, stops gracefully. */
import { format } from 'node:util';
import { Server, ServerCredentials, setLogger } from '@grpc/grpc-js';
import { BlitService } from '../generated/blit.js';
import { MAX_MESSAGE_BYTES } from '../protocol/handshake.js';
import { dialTarget } from '../remote/endpoint.js';
import { BlitError } from '../util/errors.js';
import type { DaemonConfig } from './config.js';
import type { Logger } from './logger.js';
import { lenientService } from './malformed.js';
import { createService } from './service.js';

/** How long a graceful stop waits for calls in flight before cutting them off. */
export const STOP_GRACE_MS = 5000;

export interface RunningServer {
  /** The address actually bound (the port is filled in when 0 was asked for). */
  address: string;
  port: number;
  stop(): Promise<void>;
}

function bindReason(error: Error): string {
  const message = error.message;
  if (/EADDRINUSE/.test(message)) return 'address already in use';
  if (/EACCES/.test(message)) return 'permission denied';
  if (/EADDRNOTAVAIL/.test(message)) return 'address not available on this machine';
  if (/ENOTFOUND|EAI_AGAIN|resolv/i.test(message)) return 'cannot resolve the address';
  return message.split('\n')[0] ?? message;
}

export async function startServer(config: DaemonConfig, log: Logger): Promise<RunningServer> {
  // grpc-js's own diagnostics go into the JSON log, never raw onto stderr.
  const relay = (...args: unknown[]) => log.debug({ source: 'grpc-js' }, format(...args));
  setLogger({ error: relay, info: relay, debug: relay });
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // Idle clients are detected (a peer that vanished without closing), never cut off for taking long.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  });
  server.addService(lenientService(BlitService), createService(config, log));
  const wanted = dialTarget({ host: config.bind, port: config.port });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(wanted, ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(new BlitError(`cannot listen on ${wanted}: ${bindReason(error)}`));
      else resolve(bound);
    });
  });
  const address = dialTarget({ host: config.bind, port });
  let stopping: Promise<void> | undefined;
  return {
    address,
    port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          log.warn({ graceMs: STOP_GRACE_MS }, 'calls still running; cutting them off');
          server.forceShutdown();
          resolve();
        }, STOP_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopping;
    },
  };
}
