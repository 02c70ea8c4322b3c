/**
 * `blit copy|mirror|move` with one remote side: resolves the rsync path rules across the two
 * machines, opens a `Transfer` session on the daemon, and plays the role that leaves this side —
 * the source of a push, the destination of a pull — on the same session halves the daemon runs.
 * The report, exit codes, prompt, progress and Ctrl+C behave as for a local transfer.
 */
import { basename, dirname } from 'node:path';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { type Endpoints, type PathKind, type PathProbe, resolveEndpoints } from '../engine/endpoints.js';
import { fromWireFidelity } from '../engine/fidelity.js';
import { buildFilter } from '../engine/filter.js';
import { LocalDestination } from '../engine/local-destination.js';
import { LocalSource } from '../engine/local-source.js';
import type { SessionStats } from '../engine/session-stats.js';
import { StallWatch } from '../engine/stall-watch.js';
import type { Action, Failure, TransferOptions, TransferReport } from '../engine/types.js';
import { type HasherFactory, loadBlake3 } from '../fsops/hash.js';
import { localProbe } from '../fsops/path-probe.js';
import { isSafeRel } from '../fsops/rel-path.js';
import {
  type Accept,
  Direction,
  type Hello,
  type KindProbe,
  Phase,
  Role,
  type TransferFrame,
} from '../generated/blit.js';
import { startPerfRun } from '../perf/run-recorder.js';
import { localHello, MAX_KIND_PROBES } from '../protocol/handshake.js';
import { ProtocolError } from '../protocol/manifest-wire.js';
import { manifestLister } from '../protocol/native-manifest.js';
import { toWireCompare, toWireFilter, toWireOperation, toWirePreserve } from '../protocol/open-wire.js';
import { peerPath, peerText } from '../protocol/peer-text.js';
import { RemoteClient, sessionBreak } from '../remote/client.js';
import { type DataPlaneDialer, dataPlaneDialer } from '../remote/data-dialer.js';
import { formatRemotePath, parseRemotePath, type RemotePath } from '../remote/endpoint.js';
import { FrameChannel, PeerFailed, PeerGone } from '../transport/frame-channel.js';
import { runDestinationSide } from '../transport/stream/destination-side.js';
import { finished, sessionStats } from '../transport/stream/session-measure.js';
import { runSourceSide } from '../transport/stream/source-side.js';
import { DataPlaneFailed } from '../transport/tcp/data-failure.js';
import { SessionSockets } from '../transport/tcp/session-sockets.js';
import { nowMs } from '../util/clock.js';
import { BlitError, showPath } from '../util/errors.js';
import type { TransferFlags } from './program.js';
import { printActions } from './report-output.js';
import { err, out } from './stdio.js';
import { askDeletions, type CommandSession, finishReport, startCommandSession } from './transfer-command.js';
import { askToTrust } from './trust-prompt.js';

/** Failures a daemon may report after the Summary that are kept. */
const MAX_LATE_FAILURES = 10_000;
/** How long a finished session waits for the daemon to end its side of the stream. */
const PEER_END_WAIT_MS = 5_000;

/** Remote paths go through the path rules under this root: no local path holds a NUL byte. */
const VIRTUAL_ROOT = '/\0remote';

class KindNeeded extends Error {
  constructor(
    /** The module path whose kind the rules need. */
    readonly rel: string,
    readonly follow: boolean,
  ) {
    super('kind needed');
  }
}

function virtualPath(remote: RemotePath): string {
  return `${VIRTUAL_ROOT}/${remote.module}${remote.path === '' ? '' : `/${remote.path}`}${remote.trailingSlash ? '/' : ''}`;
}

/** The module path a virtual path stands for ('' for the module root). */
function moduleRel(path: string, remote: RemotePath): string {
  const prefix = `${VIRTUAL_ROOT}/${remote.module}`;
  if (path === prefix) return '';
  if (!path.startsWith(`${prefix}/`))
    throw new BlitError(`${showPath(remote.spec)}: resolves outside its module`);
  return path.slice(prefix.length + 1);
}

/**
 * A path rule's message with each virtual path it names (shown by showPath: quoted, its NUL byte
 * escaped) written as the remote path the user gave.
 */
function remoteNamed(message: string, remote: RemotePath): string {
  const prefix = `${VIRTUAL_ROOT}/${remote.module}`;
  const named = message.replace(/"\/\\u0000remote\/(?:[^"\\]|\\.)*"/g, (quoted) => {
    let path: string;
    try {
      path = (JSON.parse(quoted) as string).replace(/\/+$/, '');
    } catch {
      return quoted; // not one showPath wrote (a local name that happens to look like it)
    }
    return path === prefix || path.startsWith(`${prefix}/`)
      ? showPath(formatRemotePath(remote, remote.module, moduleRel(path, remote)))
      : quoted;
  });
  return named.replaceAll(`${VIRTUAL_ROOT}/`, `${remote.host}:${remote.port}:/`);
}

function isVirtual(path: string): boolean {
  return path === VIRTUAL_ROOT || path.startsWith(`${VIRTUAL_ROOT}/`);
}

/** The path rules' probe: local paths as they are, remote (virtual) ones through `remoteKind`. */
function acrossProbe(remote: RemotePath, remoteKind: (rel: string, follow: boolean) => PathKind): PathProbe {
  return {
    kind(path, follow) {
      if (!isVirtual(path)) return localProbe.kind(path, follow);
      if (path === VIRTUAL_ROOT) return 'dir';
      return remoteKind(moduleRel(path, remote), follow);
    },
    canonical: (path) => (isVirtual(path) ? path : localProbe.canonical(path)),
  };
}

/**
 * The remote paths whose kinds the path rules will ask, found by running the rules with the remote
 * side imagined as a directory everywhere, as nothing, and as a file everywhere (the local side as
 * it is). Asked with the handshake (RemoteClient.connect's probes), they spare the transfer a List
 * call each; a path the guess missed costs only that call.
 */
function likelyProbes(src: string, dst: string, remote: RemotePath, push: boolean): KindProbe[] {
  const probes = new Map<string, KindProbe>();
  const virtual = virtualPath(remote);
  for (const imagined of ['dir', 'missing', 'file'] as const) {
    const probe = acrossProbe(remote, (rel, follow) => {
      probes.set(`${follow}:${rel}`, { module: remote.module, path: rel, follow });
      return imagined;
    });
    try {
      resolveEndpoints(push ? src : virtual, push ? virtual : dst, probe);
    } catch {
      // A world the rules refuse: the kinds asked on the way still count.
    }
  }
  return [...probes.values()].slice(0, MAX_KIND_PROBES);
}

/**
 * The rsync path rules (engine/endpoints.ts), with the remote side's kinds asked of the daemon as
 * the rules need them.
 */
async function resolveAcross(
  src: string,
  dst: string,
  remote: RemotePath,
  push: boolean,
  client: RemoteClient,
): Promise<Endpoints> {
  const kinds = new Map<string, PathKind>();
  const probe = acrossProbe(remote, (rel, follow) => {
    const known = kinds.get(`${follow}:${rel}`);
    if (known === undefined) throw new KindNeeded(rel, follow);
    return known;
  });
  const virtual = virtualPath(remote);
  for (let asked = 0; ; asked++) {
    try {
      return resolveEndpoints(push ? src : virtual, push ? virtual : dst, probe);
    } catch (error) {
      if (!(error instanceof KindNeeded) || asked > 8) {
        if (error instanceof BlitError) throw new BlitError(remoteNamed(error.message, remote));
        throw error;
      }
      const subject = { spec: remote.spec, module: remote.module };
      kinds.set(`${error.follow}:${error.rel}`, await client.kindOf(subject, error.rel, error.follow));
    }
  }
}

/** Waits for the daemon's Hello and Accept (or its refusal). */
function readAccept(channel: FrameChannel): Promise<Accept> {
  return new Promise<Accept>((resolve, reject) => {
    let hello: Hello | undefined;
    channel.closed.then(
      () => reject(new PeerGone('the daemon ended the session before accepting it')),
      reject,
    );
    channel.onFrame((frame: TransferFrame) => {
      const body = frame.body;
      if (body?.$case === 'error' && body.value.fatal) throw new PeerFailed(peerText(body.value.message));
      if (!hello && body?.$case === 'hello') hello = body.value;
      else if (hello && body?.$case === 'accept') resolve(body.value);
      else
        throw new ProtocolError(
          `${body?.$case ?? 'empty'} frame where the daemon's ${hello ? 'Accept' : 'Hello'} was expected`,
        );
    });
  });
}

export async function runRemoteTransfer(
  src: string,
  dst: string,
  sides: { srcRemote: boolean; dstRemote: boolean },
  options: TransferOptions,
  flags: TransferFlags,
): Promise<number> {
  if (sides.srcRemote && sides.dstRemote) {
    throw new BlitError(
      'both paths are remote: blit does not relay between two daemons yet; pull to a local path, then push',
    );
  }
  const push = sides.dstRemote;
  const remote = parseRemotePath(push ? dst : src);
  if (!isSafeRel(remote.path))
    throw new BlitError(`${showPath(remote.spec)}: '..' is not allowed in a remote path`);
  const started = nowMs();
  const client = await RemoteClient.connect(
    remote,
    { spec: remote.spec, module: remote.module },
    askToTrust,
    likelyProbes(src, dst, remote, push),
  );
  let stream: ClientDuplexStream<TransferFrame | Uint8Array, TransferFrame> | undefined;
  let session: CommandSession | undefined;
  let sockets: SessionSockets | undefined;
  try {
    const endpoints = await resolveAcross(src, dst, remote, push, client);
    const single = endpoints.kind === 'single';
    const hasher = options.compare === 'checksum' ? await loadBlake3() : undefined;
    session = startCommandSession(options, flags);
    const stats = sessionStats();
    stream = client.openTransfer();
    const channel = new FrameChannel(stream, push ? Role.ROLE_SOURCE : Role.ROLE_DESTINATION);
    const interrupted = () => {
      const signal = String(session!.interruption.signal.reason ?? 'SIGINT');
      return new BlitError(
        `interrupted (${signal}): the session was cancelled; files being copied were not installed and nothing was deleted after it; run again to finish`,
        signal === 'SIGTERM' ? 143 : 130,
      );
    };
    session.interruption.signal.addEventListener('abort', () => {
      channel.fail(interrupted());
      stream?.cancel();
    });
    const forceGrpc = Boolean(flags.forceGrpcData) || process.env.BLIT_FORCE_GRPC_DATA === '1';
    channel.send({ $case: 'hello', value: localHello('blit') });
    channel.send({
      $case: 'open',
      value: {
        operation: toWireOperation(options.operation),
        direction: push ? Direction.DIRECTION_PUSH : Direction.DIRECTION_PULL,
        module: remote.module,
        path: moduleRel(push ? endpoints.target : endpoints.source, remote),
        contentsOnly: endpoints.contentsOnly,
        intoDirectory: false,
        compare: toWireCompare(options.compare),
        filter: toWireFilter(options),
        dryRun: options.dryRun,
        allowDeletions: Boolean(flags.yes),
        forceGrpcData: forceGrpc,
        dataStreams: forceGrpc ? 0 : 1,
        singleEntry: single,
        listActions: Boolean(flags.verbose || flags.dryRun),
        preserve: toWirePreserve(options),
      },
    });
    const accepted = readAccept(channel);
    accepted.catch(() => {}); // awaited below: a rejection meanwhile is not left unhandled
    // The run's history is read while the daemon answers the Open (~5 ms that were the client's
    // alone between the two round trips): once gRPC has written the frame, a turn of the event
    // loop later (its send goes through promises).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const perf = startPerfRun({
      source: push ? endpoints.source : src,
      destination: push ? dst : endpoints.target,
      ...options,
      peer: { side: push ? 'destination' : 'source', name: `blitd ${client.target}` },
    });
    const accept = await accepted;
    sockets = new SessionSockets();
    const dataPlane = dataPlaneDialer(remote, sockets, channel, client.tls, err);
    // Dialed now, to be ready for the first file, unless the latest run like this one copied
    // nothing: then only once a file is asked for (data-dialer.ts), so another run with nothing to
    // copy opens no socket.
    if (accept.grant) {
      if (perf.lastCopied === 0) dataPlane.dialWhenNeeded(accept.grant);
      else dataPlane.dial(accept.grant);
    }
    const shown = (path: string) =>
      path.startsWith(VIRTUAL_ROOT) ? formatRemotePath(remote, remote.module, moduleRel(path, remote)) : path;
    const side: ClientSide = { endpoints, channel, options, flags, session, hasher, stats, dataPlane };
    const report = await (push ? runPush(side, shown(endpoints.target)) : runPull(side))
      .catch((error: unknown) => {
        perf.onStats(finished(stats));
        perf.finish('fatal', error);
        throw error;
      })
      .finally(() => dataPlane.finish());
    // A pull-move's daemon removes its sources as they land and reports after our Summary the
    // ones it had to keep (up to its end of the stream).
    const kept: Failure[] = [];
    channel.onFrame((frame) => {
      const body = frame.body;
      if (body?.$case === 'error' && !body.value.fatal && kept.length < MAX_LATE_FAILURES) {
        kept.push({ path: peerPath(body.value.path), reason: peerText(body.value.message) });
      }
    });
    channel.end();
    const elapsedMs = nowMs() - started;
    // The daemon ends its side once it has read ours (a pull-move then tidies its source); one
    // that does not is not waited for long.
    await Promise.race([
      channel.closed.catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, PEER_END_WAIT_MS).unref()),
    ]);
    stream.cancel();
    const failures = [...report.failures, ...kept];
    perf.onStats(finished(stats));
    perf.finish(failures.length > 0 ? 'partial' : 'ok');
    return finishReport(
      { ...report, failures, failed: report.failed + kept.length, source: src, destination: dst, elapsedMs },
      flags,
    );
  } catch (error) {
    stream?.cancel();
    throw describeFailure(error, client, remote);
  } finally {
    sockets?.close();
    session?.close();
    client.close();
  }
}

/** One line for whatever ended a session early. */
function describeFailure(error: unknown, client: RemoteClient, remote: RemotePath): unknown {
  if (error instanceof BlitError) return error;
  if (error instanceof PeerFailed) return new BlitError(`${showPath(remote.spec)}: ${error.message}`);
  if (error instanceof ProtocolError)
    return new BlitError(`blitd at ${client.target}: protocol error: ${error.message}`);
  if (error instanceof PeerGone || error instanceof DataPlaneFailed)
    return new BlitError(`blitd at ${client.target}: ${error.message}`);
  if (error instanceof Error && 'code' in error && typeof error.code === 'number') {
    return new BlitError(sessionBreak(client.target, error as Error & { code: number; details?: string }));
  }
  return error;
}

type PartialReport = Omit<TransferReport, 'source' | 'destination' | 'elapsedMs'>;

/** What this side's half of a session runs with. */
interface ClientSide {
  endpoints: Endpoints;
  channel: FrameChannel;
  options: TransferOptions;
  flags: TransferFlags;
  session: CommandSession;
  hasher: HasherFactory | undefined;
  stats: SessionStats;
  dataPlane: DataPlaneDialer;
}

/** The source half of a push; `where` names the destination for the deletion question. */
async function runPush(
  { endpoints, channel, options, flags, session, hasher, stats, dataPlane }: ClientSide,
  where: string,
): Promise<PartialReport> {
  const source = new LocalSource(endpoints, buildFilter(options.filter));
  // The addon encodes the manifest's entries as it lists.
  const lister = manifestLister(options.operation);
  if (lister) source.encoder = (rel, verdict, onSlow) => lister(source.localPathOf(rel), verdict, onSlow);
  const progress = session.progress;
  const writeAction = flags.json ? err : out;
  const watch = new StallWatch();
  const { summary, failures } = await runSourceSide(source, channel, options, {
    watch,
    stats,
    sockets: dataPlane.sockets,
    onGrant: (grant) => dataPlane.dial(grant),
    moreSockets: () => channel.send({ $case: 'dataRequest', value: { sockets: 1, unreachable: '' } }),
    single: endpoints.kind === 'single',
    hasher,
    confirmDeletions: (count, sample) => {
      const candidates = sample.map((rel) =>
        rel.endsWith('/') ? { rel: rel.slice(0, -1), kind: 'dir' as const } : { rel, kind: 'file' as const },
      );
      return askDeletions(session, flags, candidates, where, count);
    },
    onProgress: (wire) => {
      progress.entriesFound = Number(wire.filesTotal);
      progress.entriesDone = Number(wire.filesDone);
      progress.bytesNeeded = Number(wire.bytesTotal);
      progress.bytesDone = Number(wire.bytesDone);
      progress.phase =
        wire.phase === Phase.PHASE_DELETE ? 'delete' : wire.phase === Phase.PHASE_SCAN ? 'scan' : 'copy';
    },
    onActions: (actions) => {
      if (!(flags.verbose || flags.dryRun)) return;
      // A slow reader of the list (`blit -v … | less`) holds the run up, but is not a stall.
      watch.board.whilePaused(() => {
        for (const action of actions.actions) {
          const kind = action.kind as Parameters<typeof printActions>[1]['kind'];
          if (!['copy', 'link', 'mkdir', 'update', 'delete', 'remove-source'].includes(kind)) continue;
          printActions(writeAction, { kind, path: peerPath(action.path) }, options.dryRun);
        }
      });
    },
  }).finally(() => watch.stop());
  const remoteFailures: Failure[] = summary.failures.map((f) => ({
    path: peerPath(f.path),
    reason: peerText(f.reason),
  }));
  const unlisted = Number(summary.failed) - summary.failures.length;
  if (unlisted > 0)
    remoteFailures.push({ path: '.', reason: `${unlisted} more failure(s) at the destination, not listed` });
  const all = [...remoteFailures, ...failures];
  return {
    operation: options.operation,
    dryRun: options.dryRun,
    copied: Number(summary.copied),
    skipped: Number(summary.skipped),
    updated: Number(summary.updated),
    deleted: Number(summary.deleted),
    failed: Number(summary.failed) + failures.length,
    bytes: Number(summary.bytes),
    scanComplete: source.scanComplete,
    deletionsWithheld: Number(summary.deletionsWithheld),
    failures: all,
    fidelity: fromWireFidelity(summary.fidelity),
  };
}

/** The destination half of a pull. */
async function runPull({
  endpoints,
  channel,
  options,
  flags,
  session,
  hasher,
  stats,
  dataPlane,
}: ClientSide): Promise<PartialReport> {
  const single = endpoints.kind === 'single';
  const onAction = (action: Action) => session.onAction?.(action);
  const destination = new LocalDestination(
    single ? dirname(endpoints.target) : endpoints.target,
    buildFilter(options.filter),
    options,
    onAction,
  );
  const watch = new StallWatch();
  const outcome = await runDestinationSide(destination, channel, options, {
    watch,
    progress: session.progress,
    stats,
    sockets: dataPlane.sockets,
    onGrant: (grant) => dataPlane.dial(grant),
    onAction,
    listsActions: session.onAction !== undefined,
    singleName: single ? basename(endpoints.target) : undefined,
    hasher,
    confirmDeletions: (candidates) => askDeletions(session, flags, candidates, endpoints.target),
  }).finally(() => watch.stop());
  return {
    operation: options.operation,
    dryRun: options.dryRun,
    copied: outcome.copied,
    skipped: outcome.skipped,
    updated: outcome.updated,
    deleted: outcome.deleted,
    failed: outcome.failures.length,
    bytes: outcome.bytes,
    scanComplete: outcome.scanComplete,
    deletionsWithheld: outcome.deletionsWithheld,
    failures: outcome.failures,
    fidelity: outcome.fidelity,
  };
}
