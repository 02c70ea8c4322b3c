/**
 * `Transfer`: one session on the daemon's side. The initiator's Hello and Open come first; the
 * daemon checks them (protocol version, module, writability, the path inside the module, the
 * options), answers Hello and Accept, and then plays the role Open leaves it: the destination of a
 * push, the source of a pull, on the same session halves the client runs (transport/stream/).
 * Whatever ends the session — its Summary, a fatal error, the client cancelling or vanishing —
 * the daemon drops the session's temp files and keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { relative, sep } from 'node:path';
import { type ServerDuplexStream, status } from '@grpc/grpc-js';
import type { Endpoints } from '../engine/endpoints.js';
import type { PathFilter } from '../engine/filter.js';
import { LocalDestination } from '../engine/local-destination.js';
import { LocalSource } from '../engine/local-source.js';
import { newProgress, type Progress } from '../engine/progress.js';
import type { SessionStats } from '../engine/session-stats.js';
import { StallError, StallWatch, stallTimeoutMs } from '../engine/stall-watch.js';
import type { Action, TransferOptions } from '../engine/types.js';
import type { BeneathRoot } from '../fsops/beneath.js';
import { BeneathDestinationFs } from '../fsops/beneath-destination-fs.js';
import { type HasherFactory, loadBlake3 } from '../fsops/hash.js';
import { baseRel, parentRel } from '../fsops/rel-path.js';
import {
  type DataPlaneGrant,
  Direction,
  EntryKind,
  type Hello,
  type Open,
  Role,
  type TransferFrame,
  Transport,
} from '../generated/blit.js';
import { startPerfRun } from '../perf/run-recorder.js';
import { IncompatiblePeer, localHello, negotiate } from '../protocol/handshake.js';
import { ProtocolError } from '../protocol/manifest-wire.js';
import { manifestLister } from '../protocol/native-manifest.js';
import { fromWireOpen } from '../protocol/open-wire.js';
import { clip } from '../protocol/peer-text.js';
import { type FrameBody, FrameChannel, PeerFailed, PeerGone } from '../transport/frame-channel.js';
import { runDestinationSide } from '../transport/stream/destination-side.js';
import { finished, sessionStats } from '../transport/stream/session-measure.js';
import { runSourceSide, type SourceFiles } from '../transport/stream/source-side.js';
import type { DataAdmission, TokenBinding } from '../transport/tcp/admission.js';
import type { SharedBudget } from '../transport/tcp/byte-budget.js';
import { ADMITTED } from '../transport/tcp/dial.js';
import { SessionSockets } from '../transport/tcp/session-sockets.js';
import { MAX_DATA_SOCKETS } from '../transport/tcp/stream-count.js';
import { BlitError } from '../util/errors.js';
import type { ModuleConfig } from './config.js';
import type { DaemonMetrics, EndedSession } from './daemon-metrics.js';
import type { LiveConfig } from './live-config.js';
import type { Logger } from './logger.js';
import { encodeInModule, listInModule } from './module-listing.js';
import {
  beneathRpcError,
  checkWirePath,
  openModuleRoot,
  resolveForWrite,
  resolveInModule,
} from './module-path.js';
import { findModule, requireWritable } from './modules.js';
import { RpcError } from './rpc-error.js';
import { type DaemonAccess, dataTlsFor, requireAccess } from './security.js';
import { errorCodeOf, failedSession } from './session-outcome.js';

/** The Hello and Open must arrive within this time of the call starting. */
const OPEN_TIMEOUT_MS = 10_000;
/** A data-plane token must be used within this time of its grant. */
const TOKEN_TTL_MS = 10_000;
/** How long a finished session waits for the peer to end its data sockets before cutting them. */
const SOCKETS_END_WAIT_MS = 2_000;
/** Actions sent per Actions frame (-v and --dry-run lists of a push). */
const ACTIONS_PER_FRAME = 512;

/** A refusal or failure as the TransferError frame that ends the session. */
function fatalFrame(error: unknown): FrameBody {
  const code = errorCodeOf(error);
  const path = error instanceof RpcError ? (error.path ?? '') : '';
  const message = clip(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  return { $case: 'error', value: { code, path, message, fatal: true, fileId: 0n, hasFileId: false } };
}

interface Opening {
  hello: Hello;
  open: Open;
}

/** Waits for the initiator's Hello then Open (nothing else may come first). */
function readOpening(channel: FrameChannel): Promise<Opening> {
  return new Promise<Opening>((resolve, reject) => {
    let hello: Hello | undefined;
    const timer = setTimeout(
      () => reject(new ProtocolError(`no Hello and Open within ${OPEN_TIMEOUT_MS / 1000} s`)),
      OPEN_TIMEOUT_MS,
    );
    channel.closed.then(() => reject(new PeerGone('the client left before opening the session')), reject);
    channel.onFrame((frame) => {
      const body = frame.body;
      if (!hello && body?.$case === 'hello') hello = body.value;
      else if (hello && body?.$case === 'open') {
        clearTimeout(timer);
        channel.onFrame(() => {
          throw new ProtocolError('frame before the session was accepted');
        });
        resolve({ hello, open: body.value });
      } else
        throw new ProtocolError(
          `${body?.$case ?? 'empty'} frame where ${hello ? 'Open' : 'Hello'} was expected`,
        );
    });
  });
}

/** Sends actions in frames of up to ACTIONS_PER_FRAME, at most every 100 ms and at the end. */
function actionRelay(channel: FrameChannel) {
  let queued: { kind: string; path: string }[] = [];
  const flush = () => {
    if (queued.length > 0) channel.send({ $case: 'actions', value: { actions: queued.splice(0) } });
  };
  return {
    onAction(action: Action) {
      queued.push({ kind: action.kind, path: action.path });
      if (queued.length >= ACTIONS_PER_FRAME) flush();
    },
    flush,
    drop() {
      queued = [];
    },
  };
}

/** A session's share of the data plane: its sockets, and grants of more (within the cap). */
function sessionDataPlane(admission: DataAdmission, sessionId: string, metrics: DaemonMetrics) {
  const sockets = new SessionSockets();
  let granted = 0;
  /** A socket whose token was good: told so (the dialer uses it only then), and joined to the session. */
  const admit = (socket: Socket) => {
    metrics.dataSocketOpened();
    socket.once('close', () => metrics.dataSocketClosed());
    socket.write(Buffer.of(ADMITTED));
    sockets.add(socket);
  };
  return {
    sockets,
    /** A grant of up to `count` more sockets, or undefined when there is no data plane or the cap is reached. */
    /** Who the session's sockets must come from; until set, none is admitted. */
    binding: { tls: true, id: '' } as TokenBinding,
    grant(count: number): DataPlaneGrant | undefined {
      const n = Math.min(count, MAX_DATA_SOCKETS - granted);
      if (n <= 0) return undefined;
      granted += n;
      sockets.expect(TOKEN_TTL_MS);
      const tokens = Array.from({ length: n }, () =>
        admission.issue(sessionId, (socket: Socket) => admit(socket), TOKEN_TTL_MS, this.binding),
      );
      // Port 0: the data plane shares the daemon's port.
      return { port: 0, tokens, expiresMs: TOKEN_TTL_MS, tls: this.binding.tls };
    },
    async close(succeeded: boolean) {
      admission.revoke(sessionId);
      if (succeeded) await sockets.ended(SOCKETS_END_WAIT_MS);
      sockets.close();
    },
  };
}

export function handleTransfer(
  call: ServerDuplexStream<TransferFrame, TransferFrame>,
  live: LiveConfig,
  log: Logger,
  admission: DataAdmission,
  access: DaemonAccess,
  budget: SharedBudget,
  metrics: DaemonMetrics,
): void {
  const started = performance.now();
  metrics.sessionStarted();
  const who = access.identities.of(call.getPeer());
  const channel = new FrameChannel(call, Role.ROLE_UNSPECIFIED);
  // The id Accept names; the session's data-socket tokens are issued under it.
  const sessionId = randomBytes(8).toString('hex');
  const dataPlane = sessionDataPlane(admission, sessionId, metrics);
  /** What metrics hear when the session ends, filled in as it goes. */
  const ended: Omit<EndedSession, 'outcome' | 'seconds'> = {
    verb: 'unknown',
    direction: 'unknown',
    files: 0,
    bytes: 0,
  };
  let accepted = false;
  /** Files and their bytes landed here (push) or read and sent (pull), so far: a failure counts them too. */
  let moved = () => ({ files: 0, bytes: 0 });
  call.on('cancelled', () => channel.fail(new PeerGone('the client cancelled the session')));
  const fields: Record<string, unknown> = { rpc: 'transfer', peer: call.getPeer() };
  const run = async () => {
    const { hello, open } = await readOpening(channel);
    const ours = localHello('blitd');
    const negotiated = negotiate(hello, ours);
    // Read once Open has arrived, when the session begins (up to OPEN_TIMEOUT_MS after the call):
    // a module or an identity a reload removed meanwhile is refused. The session keeps this snapshot.
    const config = live.current;
    const module = findModule(config.modules, open.module);
    requireAccess(module, access.tls, who);
    const rel = checkWirePath(open.path);
    const { options, filter } = fromWireOpen(open);
    const push = open.direction === Direction.DIRECTION_PUSH;
    if (!push && open.direction !== Direction.DIRECTION_PULL)
      throw new ProtocolError('Open without a direction');
    Object.assign(fields, {
      module: module.name,
      path: rel.slice(0, 200),
      operation: options.operation,
      direction: push ? 'push' : 'pull',
    });
    Object.assign(ended, { verb: options.operation, direction: push ? 'push' : 'pull', module: module.name });
    if (push || options.operation === 'move') requireWritable(module);
    const hasher = options.compare === 'checksum' ? await loadBlake3() : undefined;
    channel.role = push ? Role.ROLE_DESTINATION : Role.ROLE_SOURCE;
    channel.send({ $case: 'hello', value: ours });
    // Data sockets come from the same identity, over TLS unless this module's data plane opted out.
    dataPlane.binding = dataTlsFor(config, module) ? { tls: true, id: who.id } : { tls: false };
    fields.tls = who.tls;
    fields.dataTls = dataPlane.binding.tls;
    if (who.id) fields.identity = who.id;
    const accept = (pathKind: EntryKind) => {
      accepted = true;
      const grant =
        open.forceGrpcData || open.dataStreams === 0 ? undefined : dataPlane.grant(open.dataStreams);
      channel.send({
        $case: 'accept',
        value: {
          sessionId,
          responderRole: channel.role,
          negotiated: {
            ...negotiated,
            transport: grant ? Transport.TRANSPORT_TCP : Transport.TRANSPORT_GRPC_STREAM,
          },
          grant,
          pathKind,
        },
      });
    };
    const peer = call.getPeer().replace(/:\d+$/, '');
    const perf = startPerfRun({
      // The module's own path: its file system is the session's.
      source: push ? `blit ${peer}` : module.path,
      destination: push ? module.path : `blit ${peer}`,
      ...options,
      peer: { side: push ? 'source' : 'destination', name: `blit ${peer}` },
    });
    const stats = sessionStats();
    const progress = newProgress();
    const landed = { files: 0 };
    moved = push
      ? () => ({ files: landed.files, bytes: progress.bytesDone })
      : () => ({ files: stats.jobs, bytes: stats.jobBytes });
    const opened: Opened = {
      channel,
      module,
      rel,
      open,
      options,
      filter,
      accept,
      hasher,
      stats,
      progress,
      landed,
      dataPlane,
      budget,
    };
    const counts = push ? receivePush(opened) : sendPull(opened);
    return counts.then(
      (done) => {
        perf.onStats(finished(stats));
        perf.finish(done.failed > 0 ? 'partial' : 'ok');
        return done;
      },
      (error: unknown) => {
        perf.onStats(finished(stats));
        perf.finish('fatal', error);
        throw error;
      },
    );
  };
  const seconds = () => (performance.now() - started) / 1000;
  run().then(
    async (counts) => {
      await dataPlane.close(true);
      channel.end();
      const outcome = counts.failed > 0 ? 'partial' : 'ok';
      metrics.sessionEnded({ ...ended, ...moved(), outcome, seconds: seconds() });
      log.info(
        {
          ...fields,
          ...counts,
          dataSockets: dataPlane.sockets.total,
          code: 'OK',
          ms: Math.round(performance.now() - started),
        },
        'transfer',
      );
    },
    (error: unknown) => {
      void dataPlane.close(false);
      metrics.sessionEnded({
        ...ended,
        ...moved(),
        ...failedSession(error, accepted, call.cancelled),
        seconds: seconds(),
      });
      if (!(error instanceof PeerGone)) channel.send(fatalFrame(error));
      channel.fail(error instanceof Error ? error : new Error(String(error)));
      channel.end();
      const known =
        error instanceof RpcError ||
        error instanceof ProtocolError ||
        error instanceof PeerGone ||
        error instanceof PeerFailed ||
        error instanceof IncompatiblePeer ||
        error instanceof StallError ||
        error instanceof BlitError;
      if (!known) log.error({ ...fields, err: error }, 'internal error');
      const reason = error instanceof Error ? error.message.slice(0, 500) : String(error);
      log.warn(
        { ...fields, code: 'FAILED', reason, ms: Math.round(performance.now() - started) },
        'transfer',
      );
    },
  );
}

/** A session the daemon accepted: what its half needs to run. */
interface Opened {
  channel: FrameChannel;
  module: ModuleConfig;
  /** The module path Open named, checked. */
  rel: string;
  open: Open;
  options: TransferOptions;
  filter: PathFilter;
  /** Sends Hello's companion Accept, with what the path names. */
  accept: (kind: EntryKind) => void;
  hasher: HasherFactory | undefined;
  stats: SessionStats;
  /** A push's live counts: bytes of the files landed, and (below) how many landed (none in a dry run). */
  progress: Progress;
  landed: { files: number };
  dataPlane: ReturnType<typeof sessionDataPlane>;
  /** Bytes all of the daemon's sessions hold for landing, together. */
  budget: SharedBudget;
}

async function receivePush({
  channel,
  module,
  rel,
  open,
  options,
  filter,
  accept,
  hasher,
  stats,
  progress,
  landed,
  dataPlane,
  budget,
}: Opened) {
  if (open.singleEntry && rel === '')
    throw new ProtocolError('a single entry cannot replace the module root');
  // A single entry lands in its parent directory under its own name; a tree is the directory itself.
  const root = resolveForWrite(module, open.singleEntry ? parentRel(rel) : rel);
  accept(EntryKind.ENTRY_KIND_DIRECTORY);
  const relay = open.listActions ? actionRelay(channel) : undefined;
  const onAction = (action: Action) => {
    if (action.kind === 'copy' && !options.dryRun) landed.files++;
    relay?.onAction(action);
  };
  // With the addon, every write is made through directories opened beneath the module root.
  const moduleRoot = openModuleRoot(module);
  const pinned = moduleRoot && BeneathDestinationFs.open(moduleRoot, moduleRelative(moduleRoot, root));
  const destination = new LocalDestination(root, filter, options, onAction, pinned);
  // A client's FIFOs are made in the module, its device files never.
  destination.devicesAllowed = false;
  const flushTimer = relay ? setInterval(relay.flush, 100) : undefined;
  // A timer, not a thread: a stall ends this session, never the daemon (stall-watch.ts).
  const watch = new StallWatch(stallTimeoutMs(), 'timer');
  try {
    const outcome = await runDestinationSide(destination, channel, options, {
      watch,
      sharedBudget: budget,
      progress,
      stats,
      onAction,
      listsActions: relay !== undefined,
      onCopied: (count: number) => {
        if (!options.dryRun) landed.files += count;
      },
      // A client never makes set-user-ID or set-group-ID programs on the daemon's machine.
      stripSetId: true,
      singleName: open.singleEntry ? baseRel(rel) : undefined,
      hasher,
      beforeSummary: () => relay?.flush(),
      confirmDeletions: open.allowDeletions ? async () => true : undefined,
      sockets: dataPlane.sockets,
      onDataRequest: (count) => {
        const grant = dataPlane.grant(count);
        if (grant) channel.send({ $case: 'grant', value: grant });
      },
    });
    return {
      copied: outcome.copied,
      bytes: outcome.bytes,
      deleted: outcome.deleted,
      failed: outcome.failures.length,
    };
  } finally {
    watch.stop();
    clearInterval(flushTimer);
    relay?.drop();
    pinned?.close();
    moduleRoot?.close();
  }
}

function joinModuleRel(base: string, rel: string): string {
  return base === '' ? rel : rel === '' ? base : `${base}/${rel}`;
}

/** Where the real path `path` lies inside the module whose root is open as `root` ('' for the root). */
function moduleRelative(root: BeneathRoot, path: string): string {
  return relative(root.path, path).split(sep).join('/');
}

async function sendPull({
  channel,
  module,
  rel,
  open,
  options,
  filter,
  accept,
  hasher,
  stats,
  dataPlane,
}: Opened) {
  const resolved = resolveInModule(module, rel, open.contentsOnly);
  const isDirectory =
    resolved.real === resolved.named ? resolved.stats.isDirectory() : isDirectoryAt(resolved.real);
  if (open.singleEntry === isDirectory) {
    throw new RpcError(
      status.FAILED_PRECONDITION,
      isDirectory ? 'is a directory now' : 'is not a directory',
      rel,
    );
  }
  accept(isDirectory ? EntryKind.ENTRY_KIND_DIRECTORY : EntryKind.ENTRY_KIND_FILE);
  const path = isDirectory ? resolved.real : resolved.named;
  const endpoints: Endpoints = {
    kind: isDirectory ? 'tree' : 'single',
    source: path,
    // Only a single entry's name is read from the target, and the client names it anyway.
    target: path,
    // A pull-move never removes the module root itself.
    contentsOnly: open.contentsOnly || rel === '',
    sourceInsideTarget: false,
  };
  const root = openModuleRoot(module);
  const base = root && moduleRelative(root, path);
  const source = new LocalSource(
    endpoints,
    filter,
    root && isDirectory ? (rel) => listInModule(root, joinModuleRel(base!, rel)) : undefined,
  );
  // The addon encodes the manifest's entries as it lists, where /proc/self/fd names the
  // descriptors (Linux), as the module's pinned paths do.
  const lister = manifestLister(options.operation);
  if (root && isDirectory && lister && existsSync('/proc/self/fd')) {
    source.encoder = (rel, verdict) => encodeInModule(root, joinModuleRel(base!, rel), lister, verdict);
  }
  const watch = new StallWatch(stallTimeoutMs(), 'timer');
  try {
    const outcome = await runSourceSide(source, channel, options, {
      watch,
      single: !isDirectory,
      hasher,
      stats,
      reportKept: true,
      files: root && beneathFiles(root, base!),
      sockets: dataPlane.sockets,
      moreSockets: () => {
        const grant = dataPlane.grant(1);
        if (grant) channel.send({ $case: 'grant', value: grant });
      },
    });
    return {
      copied: Number(outcome.summary.copied),
      bytes: Number(outcome.summary.bytes),
      failed: Number(outcome.summary.failed),
      kept: outcome.failures.length,
    };
  } finally {
    watch.stop();
    root?.close();
  }
}

/**
 * Files of a pull's source, read and removed through descriptors opened beneath the module root
 * (links on the way followed only while they stay inside, a last link never): a local writer who
 * swaps a directory for a link to the outside cannot make the daemon send or remove what lies
 * outside. `base` is the source's path inside the module ('' for its root).
 */
function beneathFiles(root: BeneathRoot, base: string): SourceFiles {
  const inModule = (rel: string) => joinModuleRel(base, rel);
  // The reason as a listing would give it (a link leading outside is named as such).
  const refused = (error: unknown, rel: string) => new Error(beneathRpcError(error, inModule(rel)).message);
  return {
    openForRead(rel) {
      try {
        return root.openFileAt(inModule(rel));
      } catch (error) {
        throw refused(error, rel);
      }
    },
    remove(rel) {
      try {
        root.unlinkAt(inModule(rel));
      } catch (error) {
        throw refused(error, rel);
      }
    },
    readWholeFiles(files, into) {
      return root.readWholeFiles(
        files.map((file) => ({ path: inModule(file.path), listed: file.listed })),
        into,
      );
    },
  };
}

function isDirectoryAt(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
