/**
 * The Blit service as blitd serves it: each unary call checks its request, runs its handler, logs
 * one line, and answers either the response or a status with a one-line reason. Errors that are
 * not refusals are logged with their stack and reach the client as one line.
 */
import { type handleUnaryCall, type ServerUnaryCall, status } from '@grpc/grpc-js';
import type {
  BlitServer,
  ListModulesRequest,
  ListModulesResponse,
  ListRequest,
  ListResponse,
  PingRequest,
  PingResponse,
  PurgeRequest,
  PurgeResponse,
  SpaceRequest,
  SpaceResponse,
} from '../generated/blit.js';
import { IncompatiblePeer, localHello, negotiate } from '../protocol/handshake.js';
import type { DataAdmission } from '../transport/tcp/admission.js';
import { SharedBudget } from '../transport/tcp/byte-budget.js';
import type { ModuleConfig } from './config.js';
import { type DaemonMetrics, NO_METRICS, type UnaryRpc } from './daemon-metrics.js';
import { answerProbes } from './kind-probes.js';
import { listPath } from './list-handler.js';
import type { LiveConfig } from './live-config.js';
import type { Logger } from './logger.js';
import { isMalformed, malformedReason } from './malformed.js';
import { findModule } from './modules.js';
import { purgePaths } from './purge-handler.js';
import { RpcError } from './rpc-error.js';
import { type DaemonAccess, mayUse, requireAccess } from './security.js';
import { moduleSpace } from './space-handler.js';
import { handleTransfer } from './transfer-handler.js';

function asRpcError(error: unknown, log: Logger, rpc: string): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof IncompatiblePeer) return new RpcError(status.FAILED_PRECONDITION, error.message);
  log.error({ rpc, err: error }, 'internal error');
  const message = error instanceof Error ? error.message : String(error);
  return new RpcError(status.INTERNAL, `internal error in blitd: ${message.split('\n')[0]}`);
}

/** What the log says about a request: module and path, never file contents. */
type Describe<Req> = (request: Req) => Record<string, unknown>;

/** Client-chosen text in the log is kept short: a request may carry megabytes of it. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function unary<Req, Res>(
  rpc: UnaryRpc,
  log: Logger,
  metrics: DaemonMetrics,
  /** `peer`: grpc-js's peer string of the call's connection (peer-identities.ts). */
  handle: (request: Req, peer: string) => Res | Promise<Res>,
  describe: Describe<Req> = () => ({}),
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const started = performance.now();
    const request: unknown = call.request;
    let fields: Record<string, unknown> = { rpc, peer: call.getPeer() };
    const run = async (): Promise<Res> => {
      if (isMalformed(request)) {
        throw new RpcError(status.INVALID_ARGUMENT, `malformed ${rpc} request: ${malformedReason(request)}`);
      }
      fields = { ...fields, ...describe(request as Req) };
      return handle(request as Req, call.getPeer());
    };
    run().then(
      (response) => {
        log.info({ ...fields, code: 'OK', ms: Math.round(performance.now() - started) }, rpc);
        metrics.callAnswered(rpc, 'OK');
        callback(null, response);
      },
      (error: unknown) => {
        const refusal = asRpcError(error, log, rpc);
        log.warn(
          {
            ...fields,
            code: status[refusal.code],
            reason: refusal.message,
            ms: Math.round(performance.now() - started),
          },
          rpc,
        );
        metrics.callAnswered(rpc, status[refusal.code]);
        callback(refusal.toStatus());
      },
    );
  };
}

/**
 * `admission` issues the sessions' data-socket tokens and revokes them when a session ends;
 * `metrics` hears how each call and session went. Each call reads the configuration from `config`
 * as it starts (a reload applies to the calls after it).
 */
export function createService(
  config: LiveConfig,
  log: Logger,
  admission: DataAdmission,
  access: DaemonAccess,
  budget = new SharedBudget(),
  metrics: DaemonMetrics = NO_METRICS,
): BlitServer {
  /** The module a call names, if its caller may use it. */
  const moduleFor = (name: string, peer: string): ModuleConfig => {
    const module = findModule(config.current.modules, name);
    requireAccess(module, access.tls, access.identities.of(peer));
    return module;
  };
  const hello = localHello('blitd');
  return {
    ping: unary<PingRequest, PingResponse>(
      'ping',
      log,
      metrics,
      (request, peer) => ({
        hello,
        ...(request.hello ? { negotiated: negotiate(request.hello, hello) } : {}),
        kinds: answerProbes(request.probes, (name) => moduleFor(name, peer)),
      }),
      (request) =>
        request.probes.length > 0
          ? {
              probes: request.probes.length,
              probed: request.probes.slice(0, 8).map((p) => `${clip(p.module)}:${clip(p.path)}`),
            }
          : {},
    ),
    // A client sees only the modules it may use.
    listModules: unary<ListModulesRequest, ListModulesResponse>(
      'listModules',
      log,
      metrics,
      (_request, peer) => {
        const { modules, motd } = config.current;
        return {
          modules: modules
            .filter((m) => mayUse(m, access.tls, access.identities.of(peer)))
            .map((m) => ({ name: m.name, comment: m.comment, readOnly: m.readOnly })),
          motd,
        };
      },
    ),
    list: unary<ListRequest, ListResponse>(
      'list',
      log,
      metrics,
      (request, peer) => listPath(moduleFor(request.module, peer), request),
      (request) => ({ module: clip(request.module), path: clip(request.path) }),
    ),
    purge: unary<PurgeRequest, PurgeResponse>(
      'purge',
      log,
      metrics,
      (request, peer) => purgePaths(moduleFor(request.module, peer), request.paths),
      (request) => ({
        module: clip(request.module),
        paths: request.paths.slice(0, 10).map(clip),
        count: request.paths.length,
      }),
    ),
    // Under List's rule: a module the caller may not use is refused, whatever it asks of it.
    space: unary<SpaceRequest, SpaceResponse>(
      'space',
      log,
      metrics,
      (request, peer) => moduleSpace(moduleFor(request.module, peer)),
      (request) => ({ module: clip(request.module) }),
    ),
    transfer: (call) => handleTransfer(call, config, log, admission, access, budget, metrics),
  };
}
