/**
 * A pull from a hostile daemon (a fake written here): whatever names, links and sizes it sends,
 * nothing is written outside the local destination, no partial file lands under a final name, no
 * temp file stays, and the client ends with one line (exit 1 for a broken protocol, 2 for a file
 * that failed).
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { nativeAddon } from '../../src/fsops/native.js';
import {
  BlitService,
  EntryKind,
  type ListRequest,
  type ListResponse,
  Role,
  type TransferFrame,
} from '../../src/generated/blit.js';
import { localHello, negotiate } from '../../src/protocol/handshake.js';
import { MANIFEST_CREDIT_BYTES, MANIFEST_WINDOW_BYTES } from '../../src/protocol/manifest-wire.js';
import { manifestLister } from '../../src/protocol/native-manifest.js';
import {
  decodeEntries,
  decodeTransferFrame,
  type ReceivedBatch,
} from '../../src/protocol/received-manifest.js';
import { ADMITTED } from '../../src/transport/tcp/dial.js';
import { fileHeader, PREAMBLE_BYTES, parsePreamble, RecordDecoder } from '../../src/transport/tcp/records.js';
import { isOneLineError, snapshot, tempDir } from '../helpers.js';
import { runBlit } from './daemon-harness.js';
import { type Body, batch, entry, need, summary } from './frames.js';

type Script = (
  send: (body: Body) => void,
  needs: () => Promise<{ fileId: bigint; path: string }[]>,
  /** The next frame of this kind from blit. */
  next: (kind: string) => Promise<Body>,
  /** Resolves, with every frame blit sent so far in order, once `done` holds of them. */
  until: (done: (sent: Body[]) => boolean) => Promise<Body[]>,
) => Promise<void>;

const complete: Body[] = [
  { $case: 'manifestComplete', value: { scanComplete: true, entries: 0n, bytes: 0n } },
  { $case: 'sourceDone', value: { scanComplete: true, failures: [] } },
];

/** One List call's answer, made by a test's fake daemon. */
type ListAnswer = (request: ListRequest) => Partial<ListResponse>;

/**
 * A daemon that answers the handshake and any listing as "a directory" (or as `list` says), then
 * plays `script` in a transfer.
 */
async function fakeDaemon(
  t: { after(fn: () => unknown): void },
  script: Script,
  grant?: { port: number; tokens: Buffer[]; expiresMs: number; tls?: boolean },
  list?: ListAnswer,
): Promise<number> {
  const server = new Server();
  const hello = localHello('blitd');
  // Frames read as blitd reads them: a manifest batch knows its length on the wire.
  server.addService(
    { ...BlitService, transfer: { ...BlitService.transfer, requestDeserialize: decodeTransferFrame } },
    {
      // Kinds for more probes than were sent, all claiming a file: the client believes none of
      // them and asks List, where each test's daemon says what it says.
      ping: (
        call: { request: { hello?: typeof hello; probes: unknown[] } },
        callback: (e: null, r: unknown) => void,
      ) =>
        callback(null, {
          hello,
          negotiated: negotiate(call.request.hello!, hello),
          kinds: [...call.request.probes, 'one more'].map(() => ({
            known: true,
            missing: false,
            kind: EntryKind.ENTRY_KIND_FILE,
          })),
        }),
      listModules: (_: unknown, callback: (e: null, r: unknown) => void) =>
        callback(null, { modules: [], motd: '' }),
      list: (call: { request: ListRequest }, callback: (e: null, r: unknown) => void) =>
        callback(null, {
          isDirectory: true,
          entries: [],
          nextStartAfter: '',
          problems: [],
          ...list?.(call.request),
        }),
      purge: (_: unknown, callback: (e: null, r: unknown) => void) =>
        callback(null, { removed: 0n, failures: [] }),
      transfer: (call: ServerDuplexStream<TransferFrame, TransferFrame>) => {
        const send = (body: Body) => call.write({ role: Role.ROLE_SOURCE, body });
        const waiting: ((frame: TransferFrame) => void)[] = [];
        const sent: Body[] = [];
        const checks: (() => void)[] = [];
        const until = (done: (sent: Body[]) => boolean) =>
          new Promise<Body[]>((resolve) => {
            const check = () => (done(sent) ? resolve(sent) : checks.push(check));
            check();
          });
        let seen = 0;
        call.on('data', (frame: TransferFrame) => {
          if (frame.body) sent.push(frame.body);
          for (const check of checks.splice(0)) check();
          seen++;
          if (seen === 2) {
            send({ $case: 'hello', value: hello });
            send({
              $case: 'accept',
              value: {
                sessionId: 'fake',
                responderRole: Role.ROLE_SOURCE,
                pathKind: EntryKind.ENTRY_KIND_DIRECTORY,
                grant: grant && { tls: false, ...grant },
              },
            });
            void script(send, needs, next, until).then(
              () => undefined,
              () => undefined,
            );
          }
          for (const w of waiting.splice(0)) w(frame);
        });
        call.on('error', () => {});
        const next = (kind: string) =>
          new Promise<Body>((resolve) => {
            const wait = (frame: TransferFrame) => {
              if (frame.body?.$case === kind) resolve(frame.body);
              else waiting.push(wait);
            };
            waiting.push(wait);
          });
        const needs = async () => {
          const body = await next('needBatch');
          return body.$case === 'needBatch' ? body.value.needs : [];
        };
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  t.after(() => server.forceShutdown());
  return port;
}

/** Pulls from a fake daemon playing `script`; returns the run and where things were. */
async function pullFrom(
  t: { after(fn: () => unknown): void },
  script: Script,
  grant?: { port: number; tokens: Buffer[]; expiresMs: number; tls?: boolean },
) {
  const root = tempDir(t, 'blit-hostile-daemon-');
  const outside = join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep'), 'mine');
  const port = await fakeDaemon(t, script, grant);
  const dst = join(root, 'dst');
  const result = await runBlit(['copy', `127.0.0.1:${port}:/m/src/`, `${dst}/`]);
  assert.deepEqual(readdirSync(outside), ['keep'], 'nothing was written outside the destination');
  assert.deepEqual(
    readdirSync(root).filter((name) => name !== 'dst'),
    ['outside'],
    'nothing beside the destination either',
  );
  const left = existsSync(dst) ? [...snapshot(dst).keys()].filter((rel) => rel !== '') : [];
  assert.equal(
    left.filter((rel) => /\.blit-\d+-[0-9a-f]+\.tmp$/.test(rel)).length,
    0,
    `no temp file: ${left}`,
  );
  return { result, left, outside, dst };
}

for (const [name, entries] of [
  ["'..'", [entry('../escape', EntryKind.ENTRY_KIND_FILE, 3)]],
  ['an absolute name', [entry('/tmp/escape', EntryKind.ENTRY_KIND_FILE, 3)]],
  ["a name holding '/'", [entry('outside/keep', EntryKind.ENTRY_KIND_FILE, 3)]],
] as const) {
  test(`a pull refuses ${name} from the daemon and writes nothing`, async (t) => {
    const { result, left } = await pullFrom(t, async (send) => {
      send(batch('', [...entries]));
      for (const body of complete) send(body);
    });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /protocol error: entry name .* is not a single path component/);
    assert.ok(isOneLineError(result.stderr), result.stderr);
    assert.deepEqual(left, []);
  });
}

test('a link, then a listing "through" it: the link lands as a link, nothing goes through it', async (t) => {
  const { result, left, outside } = await pullFrom(t, async (send) => {
    send(batch('', [entry('link', EntryKind.ENTRY_KIND_SYMLINK, 0, '../outside')]));
    send(batch('link', [entry('keep', EntryKind.ENTRY_KIND_FILE, 5)]));
    for (const body of complete) send(body);
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(
    result.stderr,
    /protocol error: listing of "link", which is not a directory announced by the source/,
  );
  assert.deepEqual(left, ['link']);
  assert.equal(readdirSync(outside).length, 1);
});

test('more bytes than declared: the file fails and nothing lands under its name', async (t) => {
  const { result, left } = await pullFrom(t, async (send, needs) => {
    send(
      batch('', [entry('small', EntryKind.ENTRY_KIND_FILE, 3), entry('fine', EntryKind.ENTRY_KIND_FILE, 2)]),
    );
    const asked = await needs();
    for (const need of asked) {
      const data = Buffer.from(need.path === 'small' ? 'far more than three bytes' : 'ok');
      send({
        $case: 'fileData',
        value: { fileId: need.fileId, offset: 0n, data, last: true, holeLength: 0n },
      });
    }
    for (const body of complete) send(body);
  });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /^blit: small: the peer sent more than the 3 bytes it declared$/m);
  assert.deepEqual(left, ['fine']);
});

test('fewer bytes than declared: the file fails and nothing lands under its name', async (t) => {
  const { result, left } = await pullFrom(t, async (send, needs) => {
    send(batch('', [entry('short', EntryKind.ENTRY_KIND_FILE, 10)]));
    const [need] = await needs();
    send({
      $case: 'fileData',
      value: { fileId: need!.fileId, offset: 0n, data: Buffer.from('abc'), last: true, holeLength: 0n },
    });
    for (const body of complete) send(body);
  });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /^blit: short: the peer sent 3 of the 10 bytes it declared$/m);
  assert.deepEqual(left, []);
});

test("a daemon's link groups link names of the transfer to each other and nothing else; their data is never asked for", async (t) => {
  const FILE = EntryKind.ENTRY_KIND_FILE;
  const grouped = (name: string, kind: EntryKind, size: number, group: bigint) => {
    const listed = entry(name, kind, size);
    listed.entry!.linkGroup = group;
    return listed;
  };
  const asked: string[][] = [];
  const { result, left, dst } = await pullFrom(t, async (send, needs) => {
    send(
      batch('', [
        grouped('f', FILE, 3, 7n),
        grouped('g', FILE, 3, 7n),
        // A directory in a group is no member of it.
        grouped('d', EntryKind.ENTRY_KIND_DIRECTORY, 0, 7n),
        grouped('h', FILE, 2, 2n ** 64n - 1n),
        grouped('bad', FILE, 3, 9n),
        grouped('bad2', FILE, 3, 9n),
      ]),
    );
    send(batch('d', [grouped('k', FILE, 3, 7n)]));
    const first = await needs();
    asked.push(first.map((need) => need.path).sort());
    for (const need of first) {
      if (need.path === 'bad') {
        send({
          $case: 'error',
          value: {
            code: 9,
            path: 'bad',
            message: 'unreadable',
            fatal: false,
            fileId: need.fileId,
            hasFileId: true,
          },
        });
        continue;
      }
      const data = Buffer.from(need.path === 'h' ? 'hh' : 'fff');
      send({
        $case: 'fileData',
        value: { fileId: need.fileId, offset: 0n, data, last: true, holeLength: 0n },
      });
    }
    for (const body of complete) send(body);
    // The first name of group 9 failed: its other name is asked for, as a file of its own.
    const second = await needs();
    asked.push(second.map((need) => need.path));
    for (const need of second)
      send({
        $case: 'fileData',
        value: { fileId: need.fileId, offset: 0n, data: Buffer.from('bbb'), last: true, holeLength: 0n },
      });
  });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /^blit: bad: unreadable$/m);
  assert.deepEqual(asked, [['bad', 'f', 'h'], ['bad2']], 'the data of linked names is never asked for');
  assert.deepEqual(left.sort(), ['bad2', 'd', 'd/k', 'f', 'g', 'h']);
  const ino = (rel: string) => statSync(join(dst, rel)).ino;
  assert.equal(ino('g'), ino('f'));
  assert.equal(ino('d/k'), ino('f'));
  assert.equal(statSync(join(dst, 'f')).nlink, 3);
  assert.equal(statSync(join(dst, 'h')).nlink, 1);
  assert.equal(statSync(join(dst, 'bad2')).nlink, 1);
});

test('a frame out of the source role ends the pull with one line', async (t) => {
  const { result, left } = await pullFrom(t, async (send) => {
    send({ $case: 'needBatch', value: { needs: [] } });
  });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /protocol error: needBatch frame from the source/);
  assert.ok(isOneLineError(result.stderr), result.stderr);
  assert.deepEqual(left, []);
});

test('a rescan answered with names not asked for ends the pull; nothing goes through them', async (t) => {
  const root = tempDir(t, 'blit-hostile-daemon-');
  const outside = join(root, 'outside');
  mkdirSync(outside);
  const dst = join(root, 'dst');
  mkdirSync(dst);
  // A file where the daemon has a directory: a mirror deletes it, then asks for the directory again.
  writeFileSync(join(dst, 'y'), 'in the way');
  const port = await fakeDaemon(t, async (send, _needs, next) => {
    send(batch('', [entry('y', EntryKind.ENTRY_KIND_DIRECTORY)]));
    for (const body of complete) send(body);
    await next('rescan');
    send({
      $case: 'manifest',
      value: {
        directory: '',
        entries: [
          entry('y', EntryKind.ENTRY_KIND_DIRECTORY),
          entry('escape', EntryKind.ENTRY_KIND_SYMLINK, 0, '../outside'),
        ],
        partial: true,
        last: true,
        unreadable: [],
      },
    });
    send(batch('escape', [entry('pwned', EntryKind.ENTRY_KIND_FILE, 3)]));
    send({ $case: 'manifestComplete', value: { scanComplete: true, entries: 0n, bytes: 0n } });
  });
  const result = await runBlit(['mirror', '--yes', `127.0.0.1:${port}:/m/src/`, `${dst}/`]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /protocol error: escape: listed again, but not asked for/);
  assert.deepEqual(readdirSync(outside), []);
  assert.equal(existsSync(join(dst, 'escape')), false);
});

test("a daemon's escape sequences reach the terminal escaped", async (t) => {
  const { result } = await pullFrom(t, async (send) => {
    send({
      $case: 'error',
      value: {
        code: 9,
        path: '',
        message: 'bad \x1b]0;owned\x07 \x1b[2J thing',
        fatal: true,
        fileId: 0n,
        hasFileId: false,
      },
    });
  });
  assert.equal(result.status, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /\x1b/);
  assert.match(result.stderr, /bad \\x1b\]0;owned\\x07 \\x1b\[2J thing/);
});

/** A source tree of `files` (name: contents) in a temp directory of its own: its path. */
function sourceWith(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const src = join(tempDir(t, 'blit-hostile-daemon-'), 'src');
  mkdirSync(src);
  for (const [name, contents] of Object.entries(files)) writeFileSync(join(src, name), contents);
  return src;
}

test('a push-move removes only what the session listed, whatever the daemon says landed', async (t) => {
  const src = sourceWith(t, { moved: 'data', 'precious.key': 'secret' });
  const port = await fakeDaemon(t, async (send, _needs, next) => {
    await next('manifestComplete');
    // 'moved' is claimed in place (no data asked), and so is the excluded key.
    send({ $case: 'landed', value: { paths: ['moved', 'precious.key', 'never-listed'] } });
    send(summary({ skipped: 1n }));
  });
  const result = await runBlit(['move', '--exclude', '*.key', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(existsSync(join(src, 'moved')), false, 'the listed file went');
  assert.equal(existsSync(join(src, 'precious.key')), true, 'the excluded file stayed');
});

/** Frames of this kind among those blit sent. */
const countOf = (sent: Body[], kind: Body['$case']) => sent.filter((body) => body.$case === kind).length;

/** The lengths on the wire of the manifest frames blit sent, in order. */
const manifestBytes = (sent: Body[]) =>
  sent.flatMap((body) => (body.$case === 'manifest' ? [(body.value as ReceivedBatch).wireBytes ?? 0] : []));

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

test("a push sends no more manifest than the daemon's window, and serves what it asks meanwhile", async (t) => {
  const src = sourceWith(t, { f: 'x' });
  // After the root's listing, directories of equal listings (~390 kB each: long link targets),
  // more than the window together.
  const target = 'x'.repeat(3900);
  const dirs = Math.ceil((1.5 * MANIFEST_WINDOW_BYTES) / (100 * target.length));
  for (let d = 0; d < dirs; d++) {
    const dir = join(src, `d${String(d).padStart(3, '0')}`);
    mkdirSync(dir);
    for (let l = 0; l < 100; l++) symlinkSync(target, join(dir, `l${String(l).padStart(3, '0')}`));
  }
  const listed = statSync(join(src, 'f'), { bigint: true });
  /** How many manifest frames a window holds: the root's, then as many directories' as fit. */
  const fits = (sizes: number[]) =>
    sizes.length < 2
      ? Number.POSITIVE_INFINITY
      : 1 + Math.floor((MANIFEST_WINDOW_BYTES - sizes[0]!) / sizes[1]!);
  let beforeData = -1;
  let expected = -1;
  let sizes: number[] = [];
  const port = await fakeDaemon(t, async (send, _needs, _next, until) => {
    await until((so) => countOf(so, 'manifest') >= fits(manifestBytes(so)));
    // No credit yet: the file asked for now comes before any further batch.
    send({
      $case: 'needBatch',
      value: {
        needs: [need(1n, 'f', 1n, listed.mtimeNs)],
      },
    });
    let sent = await until((so) => countOf(so, 'fileData') === 1);
    beforeData = countOf(
      sent.slice(
        0,
        sent.findIndex((body) => body.$case === 'fileData'),
      ),
      'manifest',
    );
    expected = fits(manifestBytes(sent));
    // Credit for what came, a step at a time, until the walk is over.
    let granted = 0;
    for (;;) {
      sent = await until(
        (so) =>
          countOf(so, 'manifestComplete') === 1 || sum(manifestBytes(so)) - granted >= MANIFEST_CREDIT_BYTES,
      );
      if (countOf(sent, 'manifestComplete') === 1) break;
      send({ $case: 'manifestCredit', value: { bytes: MANIFEST_CREDIT_BYTES } });
      granted += MANIFEST_CREDIT_BYTES;
    }
    sizes = manifestBytes(sent);
    send(summary({ skipped: BigInt(dirs * 101 + 1) }));
  });
  const result = await runBlit(['copy', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(sizes.length, dirs + 1, 'every listing came');
  assert.equal(new Set(sizes.slice(1)).size, 1, `the directories' listings are as long: ${sizes}`);
  assert.equal(beforeData, expected, 'the data came while the window was full');
});

test('a daemon that grants manifest credit for batches never sent ends the push with one line', async (t) => {
  const src = sourceWith(t, { f: 'x' });
  const port = await fakeDaemon(t, async (send) => {
    send({ $case: 'manifestCredit', value: { bytes: MANIFEST_CREDIT_BYTES } });
  });
  const result = await runBlit(['copy', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /protocol error: manifest credit for batches not sent/);
  assert.ok(isOneLineError(result.stderr), result.stderr);
});

/**
 * The fake daemon's data plane: one listening socket that admits the first connection presenting
 * its preamble (answering the one-byte ack) and hands it to the script.
 */
async function fakeDataPort(t: { after(fn: () => unknown): void }) {
  const token = Buffer.alloc(32, 7);
  let admit!: (socket: Socket) => void;
  const admitted = new Promise<Socket>((resolve) => {
    admit = resolve;
  });
  const server = createServer((socket) => {
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREAMBLE_BYTES) return;
      socket.off('data', onData);
      assert.ok(
        parsePreamble(head.subarray(0, PREAMBLE_BYTES))?.equals(token),
        'blit presents the token granted',
      );
      socket.write(Buffer.of(ADMITTED));
      admit(socket);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    void admitted.then((socket) => socket.destroy());
    server.close();
  });
  const grant = { port: (server.address() as { port: number }).port, tokens: [token], expiresMs: 10_000 };
  return { grant, admitted };
}

test('a daemon that grants more data sockets than any daemon may ends the pull with one line; blit dials no more', async (t) => {
  // A data port that admits whatever connects, and counts the connections.
  const connected: Socket[] = [];
  const server = createServer((socket) => {
    connected.push(socket);
    socket.on('error', () => {});
    socket.once('data', () => socket.write(Buffer.of(ADMITTED)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of connected) socket.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const tokens = (count: number, fill: number) => Array.from({ length: count }, () => Buffer.alloc(32, fill));
  const { result, left } = await pullFrom(
    t,
    async (send) => {
      send({ $case: 'grant', value: { port, tokens: tokens(100, 9), expiresMs: 10_000, tls: false } });
      send(batch('', [entry('a', EntryKind.ENTRY_KIND_FILE, 1)]));
      for (const body of complete) send(body);
    },
    { port, tokens: tokens(1, 8), expiresMs: 10_000 },
  );
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /protocol error: the daemon granted 101 data sockets, more than 8/);
  assert.ok(isOneLineError(result.stderr), result.stderr);
  assert.deepEqual(left, []);
  assert.ok(connected.length <= 8, `${connected.length} connections`);
});

test('data records larger than the file declared end the pull with one line; nothing lands', async (t) => {
  const data = await fakeDataPort(t);
  const { result, left } = await pullFrom(
    t,
    async (send, needs) => {
      send(batch('', [entry('small', EntryKind.ENTRY_KIND_FILE, 3)]));
      const [need] = await needs();
      const socket = await data.admitted;
      socket.write(Buffer.concat([fileHeader(need!.fileId, 25), Buffer.from('far more than three bytes')]));
      for (const body of complete) send(body);
    },
    data.grant,
  );
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /protocol error: file \d+ sent whole as 25 of its 3 bytes/);
  assert.ok(isOneLineError(result.stderr), result.stderr);
  assert.deepEqual(left, []);
});

/**
 * A push's small files are read a group at a time off blit's event loop (source-side sendGroup):
 * files still as listed go out in one batch, their bytes in order; one changed since the listing
 * or gone by then is answered on the control stream instead, each for itself, and the others of
 * its group still go.
 */
test('a push answers files changed or gone since the listing one by one; the rest of their group goes', async (t) => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  const src = sourceWith(
    t,
    Object.fromEntries(names.map((name) => [name, `contents of ${name}`.repeat(50)])),
  );
  const listed = new Map(names.map((name) => [name, statSync(join(src, name), { bigint: true })]));
  const data = await fakeDataPort(t);
  const errors: string[] = [];
  const received = new Map<bigint, string>();
  const port = await fakeDaemon(
    t,
    async (send, _needs, next) => {
      await next('manifestComplete');
      // After the listing: b goes, d changes size.
      unlinkSync(join(src, 'b'));
      writeFileSync(join(src, 'd'), 'shorter now');
      send({
        $case: 'needBatch',
        value: {
          needs: names.map((name, i) =>
            need(BigInt(i + 1), name, listed.get(name)!.size, listed.get(name)!.mtimeNs),
          ),
        },
      });
      const socket = await data.admitted;
      const decoder = new RecordDecoder();
      const landed = new Promise<void>((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          for (const event of decoder.push(chunk)) {
            if (event.kind === 'data')
              received.set(event.fileId, (received.get(event.fileId) ?? '') + event.data.toString());
          }
          if (received.size === 3 && [...received.values()].every((text) => text.length === 650)) resolve();
          // blit's end record: the socket is closed as blitd closes it.
          if (decoder.atEnd) socket.end();
        });
      });
      for (let i = 0; i < 2; i++) {
        const body = await next('error');
        if (body.$case === 'error') errors.push(`${body.value.path}: ${body.value.message}`);
      }
      await landed;
      send(summary({ failed: 2n }));
    },
    data.grant,
  );
  const result = await runBlit(['copy', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
  assert.equal(result.status, 2, result.stderr);
  assert.deepEqual(
    [...received].sort(([x], [y]) => Number(x - y)),
    [
      [1n, 'contents of a'.repeat(50)],
      [3n, 'contents of c'.repeat(50)],
      [5n, 'contents of e'.repeat(50)],
    ],
  );
  assert.deepEqual(errors.sort(), [
    'b: cannot read: no such file or directory',
    'd: changed since it was listed; not copied',
  ]);
});

test("a daemon's message of the day, module names, refusals and problems reach the terminal escaped", async (t) => {
  const evil = '\x1b]0;owned\x07\x1b[2J\x9b31m';
  const server = new Server();
  const hello = localHello('blitd');
  let listing = 0;
  server.addService(BlitService, {
    // As a daemon from before the kind probes: it answers none.
    ping: (call: { request: { hello?: typeof hello } }, callback: (e: null, r: unknown) => void) =>
      callback(null, { hello, negotiated: negotiate(call.request.hello!, hello), kinds: [] }),
    listModules: (_: unknown, callback: (e: null, r: unknown) => void) =>
      callback(null, {
        modules: [{ name: `m${evil}`, comment: `c${evil}`, readOnly: false }],
        motd: `hello ${evil}\nsecond ${evil}`,
      }),
    list: (_: unknown, callback: (e: { code: number; details: string } | null, r?: unknown) => void) => {
      // The first listing has problems; the second is refused.
      if (listing++ === 0)
        callback(null, {
          isDirectory: true,
          entries: [],
          nextStartAfter: '',
          problems: [{ path: `p${evil}`, reason: `r${evil}` }],
        });
      else callback({ code: 9, details: `refused ${evil}` });
    },
    purge: (_: unknown, callback: (e: null, r: unknown) => void) =>
      callback(null, { removed: 0n, failures: [] }),
    transfer: () => {},
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  t.after(() => server.forceShutdown());
  const modules = await runBlit(['list-modules', `127.0.0.1:${port}`]);
  const problems = await runBlit(['ls', `127.0.0.1:${port}:/m/dir`]);
  const refused = await runBlit(['ls', `127.0.0.1:${port}:/m/dir`]);
  for (const run of [modules, problems, refused]) {
    assert.doesNotMatch(run.stdout + run.stderr, /[\x1b\x07\x9b]/, JSON.stringify(run));
  }
  assert.equal(modules.status, 0, modules.stderr);
  assert.match(modules.stdout, /hello \\x1b\]0;owned\\x07/);
  assert.match(modules.stdout, /second \\x1b/);
  assert.match(problems.stderr, /r\\x1b\]0;owned/);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /refused \\x1b\]0;owned/);
});

test('a push never sends a file the filters exclude, even to a daemon that names its size and time', async (t) => {
  const src = sourceWith(t, { 'shared.txt': 'public', 'precious.key': 'secret' });
  const { mtimeNs } = statSync(join(src, 'precious.key'), { bigint: true });
  let answer: Body | undefined;
  const port = await fakeDaemon(t, async (send, _needs, next) => {
    await next('manifestComplete');
    send({
      $case: 'needBatch',
      value: {
        needs: [need(1n, 'precious.key', 6n, mtimeNs)],
      },
    });
    answer = await Promise.race([next('fileData'), next('error')]);
    send(summary({ failed: 1n }));
  });
  const result = await runBlit(['copy', '--exclude', '*.key', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
  assert.ok(answer, `the daemon got an answer (blit: ${result.stderr})`);
  assert.equal(answer.$case, 'error', 'no data of the excluded file was sent');
  assert.match(answer.$case === 'error' ? answer.value.message : '', /not a file this source listed/);
});

for (const [what, fileId] of [
  ['a small id', 1n],
  ['an id past 2^53', 2n ** 60n + 1n],
] as const) {
  test(`a daemon that asks for one file twice (${what}) ends the push with one line`, async (t) => {
    const src = sourceWith(t, { 'a.txt': 'a' });
    const { mtimeNs } = statSync(join(src, 'a.txt'), { bigint: true });
    const asked = need(fileId, 'a.txt', 1n, mtimeNs);
    const port = await fakeDaemon(t, async (send, _needs, next) => {
      await next('manifestComplete');
      send({ $case: 'needBatch', value: { needs: [asked] } });
      // The same id again, in a frame of its own.
      send({ $case: 'needBatch', value: { needs: [asked] } });
    });
    const result = await runBlit(['copy', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`protocol error: file ${fileId} asked for twice`));
    assert.ok(isOneLineError(result.stderr), result.stderr);
  });
}

test('two ids past 2^53 that one double holds are two files, each sent under its own id', async (t) => {
  const src = sourceWith(t, { 'a.txt': 'a', 'b.txt': 'b' });
  const asked = (fileId: bigint, path: string) =>
    need(fileId, path, 1n, statSync(join(src, path), { bigint: true }).mtimeNs);
  const ids = [2n ** 60n + 1n, 2n ** 60n + 2n];
  assert.equal(Number(ids[0]), Number(ids[1]));
  let sentIds: bigint[] = [];
  const port = await fakeDaemon(t, async (send, _needs, next, until) => {
    await next('manifestComplete');
    send({ $case: 'needBatch', value: { needs: [asked(ids[0]!, 'a.txt'), asked(ids[1]!, 'b.txt')] } });
    const sent = await until((frames) => frames.filter((body) => body.$case === 'fileData').length >= 2);
    sentIds = sent.flatMap((body) => (body.$case === 'fileData' ? [body.value.fileId] : []));
    send(summary());
  });
  const result = await runBlit(['copy', `${src}/`, `127.0.0.1:${port}:/m/dst`]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(sentIds, ids);
});

test('a pull mirror derives what its filters spare itself: a daemon cannot widen the deletions', async (t) => {
  const root = tempDir(t, 'blit-hostile-daemon-');
  const dst = join(root, 'dst');
  mkdirSync(dst);
  writeFileSync(join(dst, 'keep.bin'), 'not selected by the filters');
  writeFileSync(join(dst, 'a.txt'), 'selected, and the source lacks it');
  const port = await fakeDaemon(t, async (send) => {
    // The root's own entry claims every filter condition met (filterMet 3): "everything included".
    send(batch('', []));
    for (const body of complete) send(body);
  });
  const result = await runBlit([
    'mirror',
    '--yes',
    '--include',
    '*.txt',
    `127.0.0.1:${port}:/m/src/`,
    `${dst}/`,
  ]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(readdirSync(dst), ['keep.bin'], 'a.txt deleted, keep.bin spared');

  // An entry the filters leave out is refused outright, and nothing lands.
  const port2 = await fakeDaemon(t, async (send) => {
    send(batch('', [entry('evil.key', EntryKind.ENTRY_KIND_FILE, 3)]));
    for (const body of complete) send(body);
  });
  const dst2 = join(root, 'dst2');
  const refused = await runBlit(['copy', '--exclude', '*.key', `127.0.0.1:${port2}:/m/src/`, `${dst2}/`]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /protocol error: evil\.key: listed, but the filters leave it out/);
  assert.ok(!existsSync(join(dst2, 'evil.key')));
});

test('a daemon that accepts and never answers: blit gives up after its connect time, in one line', async (t) => {
  const held: Socket[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    held.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of held) socket.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const result = await runBlit(['ls', `127.0.0.1:${port}:/m/`]);
  assert.equal(result.status, 1, result.stderr);
  assert.ok(isOneLineError(result.stderr), result.stderr);
  assert.match(result.stderr, /no answer from blitd at 127\.0\.0\.1:\d+ within 10 s|cannot reach blitd/);
});

// ---- du and find: the walk reads every listing a daemon sends -----------------------------------

/** A daemon whose List answers come from `list`; nothing else is played. */
const listingDaemon = (t: { after(fn: () => unknown): void }, list: ListAnswer) =>
  fakeDaemon(t, async () => undefined, undefined, list);

const wireEntry = (name: string, kind = EntryKind.ENTRY_KIND_FILE) => entry(name, kind, 1).entry!;

test('a directory whose pages never end: du and find skip it in one line, in bounded time and output', async (t) => {
  // The root holds `endless`, whose pages go on for ever (each after the last, never the last).
  const port = await listingDaemon(t, ({ path, startAfter }) => {
    if (path === 'root') return { entries: [wireEntry('endless', EntryKind.ENTRY_KIND_DIRECTORY)] };
    const from = startAfter === '' ? 0 : Number(startAfter.slice(1)) + 1;
    const names = Array.from({ length: 1000 }, (_, i) => `n${String(from + i).padStart(12, '0')}`);
    return { entries: names.map((name) => wireEntry(name)), nextStartAfter: names.at(-1)! };
  });
  for (const verb of ['du', 'find']) {
    // runBlit kills a run after 60 s: ending with status 2 is ending in bounded time.
    const result = await runBlit([verb, `127.0.0.1:${port}:/m/root`]);
    assert.equal(result.status, 2, `${verb}: ${result.stderr}`);
    assert.ok(isOneLineError(result.stderr), result.stderr);
    assert.match(
      result.stderr,
      /m\/root\/endless: the daemon listed more than 1,000,000 entries; directory skipped/,
    );
    assert.ok(result.stdout.length < 1000, `${verb} printed ${result.stdout.length} bytes`);
  }
});

test('a directory in every directory for ever: the walk stops at 4096 bytes of path', async (t) => {
  const port = await listingDaemon(t, () => ({
    entries: [wireEntry('a', EntryKind.ENTRY_KIND_DIRECTORY)],
  }));
  const result = await runBlit(['find', `127.0.0.1:${port}:/m/root`]);
  assert.equal(result.status, 2, result.stderr);
  assert.ok(isOneLineError(result.stderr), result.stderr);
  assert.match(result.stderr, /m\/root(\/a)+: path is longer than 4096 bytes$/m);
  const lines = result.stdout.trimEnd().split('\n');
  assert.ok(lines.length < 2100, `${lines.length} lines`);
  // A directory past the bound is printed, not entered: no line is longer than 4096 bytes and a name.
  assert.ok(
    lines.every((line) => Buffer.byteLength(line) <= 4096 + 1 + 255),
    'a printed path past 4096 bytes and a name',
  );
});

for (const [what, name] of [
  ['an empty name', ''],
  ["a name holding '/'", 'a/b'],
  ["'..'", '..'],
  ["'.'", '.'],
] as const) {
  test(`du and find refuse ${what} from the daemon: one protocol-error line, exit 1`, async (t) => {
    // The bad name is a directory below the root, so a walk that trusts it loops or leaves.
    const port = await listingDaemon(t, ({ path }) =>
      path === 'root'
        ? { entries: [wireEntry('sub', EntryKind.ENTRY_KIND_DIRECTORY)] }
        : { entries: [wireEntry(name, EntryKind.ENTRY_KIND_DIRECTORY)] },
    );
    for (const verb of ['du', 'find', 'ls']) {
      const spec = `127.0.0.1:${port}:/m/root${verb === 'ls' ? '/sub' : ''}`;
      const result = await runBlit([verb, spec]);
      assert.equal(result.status, 1, `${verb}: ${result.stderr}`);
      assert.ok(isOneLineError(result.stderr), result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `^blit: blitd at 127\\.0\\.0\\.1:${port}: protocol error: .*m/root/sub: entry name .* is not a single path component`,
        ),
      );
      assert.ok(result.stdout.length < 200, `${verb} printed: ${result.stdout.slice(0, 200)}`);
    }
  });
}

test("a pull mirror's exclusions hold against a daemon whose listing equals the destination's own", {
  skip: nativeAddon() ? false : 'needs the addon',
}, async (t) => {
  const root = tempDir(t, 'blit-hostile-daemon-');
  /** A destination with a directory the filters spare, and a daemon listing its root exactly as it is. */
  const setUp = async (name: string) => {
    const dst = join(root, name);
    mkdirSync(join(dst, 'keep'), { recursive: true });
    writeFileSync(join(dst, 'keep', 'precious'), 'spared by --exclude');
    writeFileSync(join(dst, 'a.txt'), 'a');
    // The root's entries as this side lists them (every filter condition met, as its root's verdict).
    const listed = manifestLister('mirror')!(dst, { status: 'include', met: 3 });
    const entries = [...decodeEntries(Buffer.concat(listed.encoded!.chunks))];
    const port = await fakeDaemon(t, async (send) => {
      send(batch('', entries));
      send(batch('keep', []));
      for (const body of complete) send(body);
    });
    return { dst, port };
  };
  // Without filters the listing is found as it is: the daemon's empty 'keep' then empties it.
  const control = await setUp('control');
  const config = join(root, 'config');
  const found = await runBlit(['mirror', '--yes', `127.0.0.1:${control.port}:/m/src/`, `${control.dst}/`], {
    env: { XDG_CONFIG_HOME: config },
  });
  assert.equal(found.status, 0, found.stderr);
  const record = readFileSync(join(config, 'blit', 'perf_local.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .at(-1)!;
  assert.equal(
    (JSON.parse(record) as { unchangedDirs?: number }).unchangedDirs,
    1,
    'the root taken as found',
  );
  assert.ok(!existsSync(join(control.dst, 'keep', 'precious')));

  // With --exclude keep/, the same listing names what the filters leave out: refused, nothing deleted.
  const guarded = await setUp('guarded');
  const refused = await runBlit([
    'mirror',
    '--yes',
    '--exclude',
    'keep/',
    `127.0.0.1:${guarded.port}:/m/src/`,
    `${guarded.dst}/`,
  ]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /protocol error: keep: listed, but the filters leave it out/);
  assert.ok(existsSync(join(guarded.dst, 'keep', 'precious')));
});
