/**
 * blitd's Prometheus endpoint: GET /metrics on the address `[daemon] metrics` names, in the text
 * exposition format; anything else on that listener is 404. Plain HTTP with no authentication, so
 * the documented default is a loopback address. server.ts imports this module only when metrics
 * are configured: an unconfigured daemon never loads prom-client.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dialTarget } from '../remote/endpoint.js';
import type { DaemonMetrics } from './daemon-metrics.js';
import type { ListenAddress } from './listen-address.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';

export interface MetricsEndpoint {
  metrics: DaemonMetrics;
  /** The address bound, HOST:PORT (the port filled in when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

/** Listens on `address`; rejects with the listen error (the caller words it). */
export async function serveMetrics(
  address: ListenAddress,
  modules: readonly string[],
  log: Logger,
): Promise<MetricsEndpoint> {
  const { metrics, registry } = createMetrics(modules);
  const answer = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const text = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType }).end(text);
  };
  const server = createServer((request, response) => {
    answer(request, response).catch((error: unknown) => {
      log.error({ err: error }, 'metrics: internal error');
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  // A scraper holds a keep-alive connection; nothing else is expected here.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.listen({ host: address.host, port: address.port });
  // Rejects with the error when the address cannot be bound.
  await once(server, 'listening');
  server.on('error', (error) => log.error({ err: error }, 'metrics: listener error'));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    metrics,
    address: dialTarget({ host: address.host, port }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
