/**
 * The daemon's Transfer stream under a hostile client (a fake written here, speaking raw frames):
 * frames out of role and order, listings of directories never announced, names that try to leave
 * the module, data for files never asked for and more data than declared, writes to read-only
 * modules. Each ends in a TransferError (or fails the one file), nothing is written outside the
 * module or under a final name half-done, no temp file stays, and the daemon keeps serving.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import {
  BlitClient,
  Direction,
  EntryKind,
  ErrorCode,
  Operation,
  Role,
  TransferFrame,
} from '../../src/generated/blit.js';
import { localHello } from '../../src/protocol/handshake.js';
import {
  BATCH_ENTRIES,
  MANIFEST_CREDIT_BYTES,
  MANIFEST_WINDOW_BYTES,
} from '../../src/protocol/manifest-wire.js';
import { MAX_TABLE_FILES } from '../../src/transport/stream/fresh-files.js';
import { MAX_FILES_ASKED, MAX_TABLE_ROWS } from '../../src/transport/stream/peer-data.js';
import { ASKED_BEYOND_LISTED, MAX_NEEDS_QUEUED } from '../../src/transport/stream/source-side.js';
import { dialData } from '../../src/transport/tcp/dial.js';
import {
  batchHeader,
  blockHeader,
  checkedRecord,
  endRecord,
  failRecord,
  fileHeader,
} from '../../src/transport/tcp/records.js';
import { snapshot, tempDir } from '../helpers.js';
import { type Daemon, startDaemon } from './daemon-harness.js';
import { type Body, batch, entry, need, open, summary } from './frames.js';

/** A raw session: frames out as given, frames in queued; bounded waits. */
function rawSession(client: BlitClient) {
  const stream = client.transfer();
  const inbox: TransferFrame[] = [];
  let waiter: (() => void) | undefined;
  let ended: string | undefined;
  stream.on('data', (frame: TransferFrame) => {
    inbox.push(frame);
    waiter?.();
  });
  stream.on('error', (error: Error) => {
    ended = error.message;
    waiter?.();
  });
  stream.on('end', () => {
    ended ??= 'end';
    waiter?.();
  });
  const next = async (): Promise<TransferFrame | undefined> => {
    const deadline = Date.now() + 15_000;
    while (inbox.length === 0 && ended === undefined) {
      if (Date.now() > deadline) throw new Error('no frame from the daemon within 15 s');
      await new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, 200);
      });
    }
    return inbox.shift();
  };
  const send = (body: Body, role = Role.ROLE_SOURCE) => stream.write({ role, body });
  return {
    send,
    next,
    /** The next frame other than a heartbeat. */
    async nextReal(): Promise<TransferFrame | undefined> {
      for (;;) {
        const frame = await next();
        if (frame?.body?.$case !== 'progress') return frame;
      }
    },
    /** The source's walk is over: ManifestComplete (its entries and bytes), then SourceDone. */
    sourceComplete(entries: number, bytes: number) {
      send({
        $case: 'manifestComplete',
        value: { scanComplete: true, entries: BigInt(entries), bytes: BigInt(bytes) },
      });
      send({ $case: 'sourceDone', value: { scanComplete: true, failures: [] } });
    },
    /** Frames until the Summary (or the end); returns it. */
    async summary(): Promise<TransferFrame | undefined> {
      for (;;) {
        const frame = await next();
        if (!frame || frame.body?.$case === 'summary') return frame;
      }
    },
    /** Frames until the fatal error (or the end); returns the error frame. */
    async fatal() {
      for (;;) {
        const frame = await next();
        if (!frame) return undefined;
        if (frame.body?.$case === 'error' && frame.body.value.fatal) return frame.body.value;
      }
    },
    close: () => stream.cancel(),
  };
}

const hello: Body = { $case: 'hello', value: localHello('blit') };

/** `size` bytes, zero but for one byte in every `step`, each a different value. */
function patterned(size: number, step: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += step) data[i] = (i / step) % 251;
  return data;
}

/** A frame's length on the wire, as a source's: what the manifest's window counts. */
const frameBytes = (body: Body) => TransferFrame.encode({ role: Role.ROLE_SOURCE, body }).finish().length;

describe('Transfer under a hostile client', () => {
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
  let daemon: Daemon;
  let client: BlitClient;
  let root: string;
  let module: string;
  let outside: string;

  before(async () => {
    const t = suite;
    root = tempDir(t, 'blit-transfer-protocol-');
    module = join(root, 'module');
    outside = join(root, 'outside');
    mkdirSync(module);
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'outside');
    const readOnly = join(root, 'ro');
    mkdirSync(readOnly);
    writeFileSync(join(readOnly, 'file'), 'ro');
    const config = join(root, 'blitd.toml');
    writeFileSync(
      config,
      `[[module]]\nname = "data"\npath = ${JSON.stringify(module)}\n\n[[module]]\nname = "ro"\npath = ${JSON.stringify(readOnly)}\nread_only = true\n`,
    );
    // Its perf history apart from the user's: a test reads what a session took from a table.
    daemon = await startDaemon(t, ['--config', config], { XDG_CONFIG_HOME: join(root, 'daemon-config') });
    client = new BlitClient(`127.0.0.1:${daemon.port}`, credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    for (const fn of cleanups.reverse()) await fn();
  });

  /** The module holds exactly these paths (links not followed), no temp file among them. */
  const moduleHolds = (expected: string[]) => {
    assert.deepEqual([...snapshot(module).keys()].filter((rel) => rel !== '').sort(), expected.sort());
    assert.deepEqual(readdirSync(outside), ['keep']);
  };

  const assertStillServing = async () => {
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', 'alive'));
    assert.equal((await session.nextReal())?.body?.$case, 'hello');
    assert.equal((await session.nextReal())?.body?.$case, 'accept');
    session.close();
  };

  test('anything before Hello, or before Open, ends the session with a protocol error', async () => {
    for (const first of [open('data', 'x'), batch('', [])]) {
      const session = rawSession(client);
      session.send(first);
      const error = await session.fatal();
      assert.equal(error?.code, ErrorCode.ERROR_CODE_PROTOCOL, error?.message);
    }
    const session = rawSession(client);
    session.send(hello);
    session.send(batch('', []));
    assert.equal((await session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    await assertStillServing();
  });

  test('a push to a read-only module, an unknown module or a path out of the module is refused', async () => {
    const cases: [Body, ErrorCode][] = [
      [open('ro', 'x'), ErrorCode.ERROR_CODE_PERMISSION_DENIED],
      [
        open('ro', 'file', {
          direction: Direction.DIRECTION_PULL,
          operation: Operation.OPERATION_MOVE,
          singleEntry: true,
        }),
        ErrorCode.ERROR_CODE_PERMISSION_DENIED,
      ],
      [open('nope', 'x'), ErrorCode.ERROR_CODE_NOT_FOUND],
      [open('data', '../outside'), ErrorCode.ERROR_CODE_PATH_OUTSIDE_MODULE],
      [open('data', '/etc'), ErrorCode.ERROR_CODE_PATH_OUTSIDE_MODULE],
    ];
    for (const [frame, code] of cases) {
      const session = rawSession(client);
      session.send(hello);
      session.send(frame);
      const error = await session.fatal();
      assert.equal(error?.code, code, `${JSON.stringify(frame.value)}: ${error?.message}`);
    }
    // Nothing at all: a destination root is made only once its first listing is in.
    moduleHolds([]);
  });

  test('names that leave the directory, and listings of directories never announced, are protocol errors', async () => {
    const hostile: Body[][] = [
      [batch('', [entry('../escape', EntryKind.ENTRY_KIND_FILE, 1)])],
      [batch('', [entry('/abs', EntryKind.ENTRY_KIND_FILE, 1)])],
      [batch('', [entry('a/b', EntryKind.ENTRY_KIND_FILE, 1)])],
      [batch('', [entry('..', EntryKind.ENTRY_KIND_DIRECTORY)])],
      [
        batch('', [
          entry('twice', EntryKind.ENTRY_KIND_FILE, 1),
          entry('twice', EntryKind.ENTRY_KIND_FILE, 1),
        ]),
      ],
      // A link, then a listing "through" it.
      [
        batch('', [entry('link', EntryKind.ENTRY_KIND_SYMLINK, 0, outside)]),
        batch('link', [entry('f', EntryKind.ENTRY_KIND_FILE, 1)]),
      ],
      // A directory never announced.
      [batch('', []), batch('ghost', [entry('f', EntryKind.ENTRY_KIND_FILE, 1)])],
      [batch('', []), batch('../outside', [entry('f', EntryKind.ENTRY_KIND_FILE, 1)])],
    ];
    for (const frames of hostile) {
      const session = rawSession(client);
      session.send(hello);
      session.send(open('data', 'hostile'));
      for (const frame of frames) session.send(frame);
      const error = await session.fatal();
      assert.equal(
        error?.code,
        ErrorCode.ERROR_CODE_PROTOCOL,
        `${frames.map((f) => f.$case).join(', ')}: ${error?.message}`,
      );
    }
    assert.equal(existsSync(join(outside, 'f')), false);
    assert.equal(existsSync(join(root, 'escape')), false);
    await assertStillServing();
  });

  test('data for a file never asked for ends the session; more data than declared fails the file', async () => {
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', 'sized'));
    await session.nextReal(); // hello
    await session.nextReal(); // accept
    session.send(
      batch('', [entry('small', EntryKind.ENTRY_KIND_FILE, 4), entry('ok', EntryKind.ENTRY_KIND_FILE, 2)]),
    );
    const needs = await session.nextReal();
    assert.equal(needs?.body?.$case, 'needBatch');
    const byPath = new Map(needs.body.value.needs.map((n) => [n.path, n.fileId]));
    // Eight bytes for a file declared as four: the file fails, nothing lands under its name.
    session.send({
      $case: 'fileData',
      value: {
        fileId: byPath.get('small')!,
        offset: 0n,
        data: Buffer.from('12345678'),
        last: true,
        holeLength: 0n,
      },
    });
    session.send({
      $case: 'fileData',
      value: { fileId: byPath.get('ok')!, offset: 0n, data: Buffer.from('ok'), last: true, holeLength: 0n },
    });
    session.sourceComplete(2, 6);
    const summary = await session.summary();
    assert.equal(summary?.body?.$case, 'summary');
    assert.equal(summary.body.value.copied, 1n);
    assert.equal(summary.body.value.failed, 1n);
    assert.match(summary.body.value.failures[0]?.reason ?? '', /more than the 4 bytes it declared/);
    session.close();
    // The link arrived as a link (data, never followed); nothing went through it.
    moduleHolds(['hostile', 'hostile/link', 'sized', 'sized/ok']);

    const stray = rawSession(client);
    stray.send(hello);
    stray.send(open('data', 'stray'));
    await stray.nextReal();
    await stray.nextReal();
    stray.send({
      $case: 'fileData',
      value: { fileId: 7n, offset: 0n, data: Buffer.from('x'), last: true, holeLength: 0n },
    });
    assert.equal((await stray.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    await assertStillServing();
  });

  /**
   * Waits (15 s at most, failing with `what`) until `dir` holds a temp file that `done` takes: the
   * daemon has begun writing a record there.
   */
  async function untilTemp(dir: string, what: string, done: (path: string) => boolean = () => true) {
    for (let waited = 0; ; waited += 20) {
      const temps = readdirSync(dir).filter((name) => name.endsWith('.tmp'));
      if (temps.some((name) => done(join(dir, name)))) return;
      assert.ok(waited < 15_000, what);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** A push session granted one data socket: the socket, admitted, and the needs for `entries`. */
  async function dataSession(path: string, entries: ReturnType<typeof entry>[], streams = 1) {
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', path, { forceGrpcData: false, dataStreams: streams }));
    await session.nextReal(); // hello
    const accept = await session.nextReal();
    assert.equal(accept?.body?.$case, 'accept');
    const tokens = accept.body.value.grant!.tokens.map((t) => Buffer.from(t));
    assert.equal(tokens.length, streams);
    const token = tokens[0]!;
    const socket = await dialData('127.0.0.1', daemon.port, token);
    const more = await Promise.all(tokens.slice(1).map((t) => dialData('127.0.0.1', daemon.port, t)));
    // Read to its end, so that the daemon's close is seen (it may come before its fatal frame).
    socket.resume();
    const closed = once(socket, 'close');
    session.send(batch('', entries));
    // Asked for in one NeedBatch or several (small files of a directory made here come in their own).
    const files = entries.filter((e) => e.entry?.kind === EntryKind.ENTRY_KIND_FILE).length;
    const ids = new Map<string, bigint>();
    while (ids.size < files) {
      const needs = await session.nextReal();
      assert.equal(needs?.body?.$case, 'needBatch');
      for (const need of needs.body.value.needs) ids.set(need.path, need.fileId);
    }
    return { session, socket, ids, closed, token, more };
  }

  test('data records: more bytes than declared end the session; nothing lands; tokens are single use', async () => {
    const { session, socket, ids, closed } = await dataSession('records', [
      entry('four', EntryKind.ENTRY_KIND_FILE, 4),
    ]);
    // A whole-file record declaring eight bytes for a file of four.
    socket.write(Buffer.concat([fileHeader(ids.get('four')!, 8), Buffer.from('12345678')]));
    assert.equal((await session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    await closed;
    session.close();
    assert.deepEqual(
      readdirSync(join(module, 'records')).filter((name) => !name.startsWith('.')),
      [],
      'nothing under a final name',
    );

    // A batch member longer than its file, and a block where the file has none: each cut off the same way.
    for (const record of [
      (id: bigint) => Buffer.concat([batchHeader([{ fileId: id, length: 5 }]), Buffer.from('12345')]),
      (id: bigint) => Buffer.concat([blockHeader(id, 0, 4, true), Buffer.from('1234')]),
    ]) {
      const again = await dataSession('records2', [entry('four', EntryKind.ENTRY_KIND_FILE, 4)]);
      again.socket.write(record(again.ids.get('four')!));
      assert.equal((await again.session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL);
      again.session.close();
    }

    // A good record lands the file; a second socket with the same token is refused without a word.
    const good = await dataSession('records3', [entry('four', EntryKind.ENTRY_KIND_FILE, 4)]);
    await assert.rejects(
      dialData('127.0.0.1', daemon.port, good.token),
      /did not admit|closed the connection/,
    );
    good.socket.write(Buffer.concat([fileHeader(good.ids.get('four')!, 4), Buffer.from('1234')]));
    good.session.sourceComplete(1, 4);
    const summary = await good.session.summary();
    assert.equal(summary?.body?.$case, 'summary');
    assert.equal(summary.body.value.copied, 1n);
    good.socket.end(endRecord());
    good.session.close();
    assert.equal(readFileSync(join(module, 'records3', 'four'), 'utf8'), '1234');
    await assertStillServing();
  });

  test('data records: a file whose record has begun on a data socket, then sent in the stream, ends the session; nothing installs', async () => {
    // Large enough to go as one whole-file record written by the socket's own thread, not gathered.
    const size = 1 << 20;
    const data = patterned(size, 4093);
    const { session, socket, ids, closed } = await dataSession('both', [
      entry('x', EntryKind.ENTRY_KIND_FILE, size),
    ]);
    const id = ids.get('x')!;
    socket.write(Buffer.concat([fileHeader(id, size), data.subarray(0, 1)]));
    // The record has begun once its temp file is there (the socket's thread then writes into it).
    const dir = join(module, 'both');
    await untilTemp(dir, 'no temp file for the record within 15 s');
    // The same file whole in the stream: installing it would close the descriptor the thread writes to.
    session.send({ $case: 'fileData', value: { fileId: id, offset: 0n, data, last: true, holeLength: 0n } });
    const fatal = await session.fatal();
    assert.equal(fatal?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.match(fatal.message, /sent over both data paths/);
    await closed;
    session.close();
    assert.deepEqual(readdirSync(dir), [], 'nothing installed, no temp file left');

    // Its CHECKED first (the source vouching for blocks still to come), then the file in the stream.
    const mid = 100 * 1024;
    const checked = await dataSession('both-checked', [entry('y', EntryKind.ENTRY_KIND_FILE, mid)]);
    const checkedId = checked.ids.get('y')!;
    checked.socket.end(Buffer.concat([checkedRecord(checkedId), endRecord()]));
    // The daemon closes that socket once it has read its end: the check is in.
    await checked.closed;
    checked.session.send({
      $case: 'fileData',
      value: { fileId: checkedId, offset: 0n, data: patterned(mid, 997), last: true, holeLength: 0n },
    });
    const refused = await checked.session.fatal();
    assert.equal(refused?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.match(refused.message, /sent over both data paths/);
    checked.session.close();
    assert.deepEqual(readdirSync(join(module, 'both-checked')), [], 'nothing installed');
    await assertStillServing();
  });

  /**
   * A push session granted one data socket whose listing makes directory `sub` here, then lists
   * `entries` in it: its small files are taken from a table (transport/stream/fresh-files.ts).
   */
  async function freshSession(path: string, entries: ReturnType<typeof entry>[]) {
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', path, { forceGrpcData: false, dataStreams: 1 }));
    await session.nextReal(); // hello
    const accept = await session.nextReal();
    assert.equal(accept?.body?.$case, 'accept');
    const socket = await dialData('127.0.0.1', daemon.port, Buffer.from(accept.body.value.grant!.tokens[0]!));
    socket.resume();
    const closed = once(socket, 'close');
    session.send(batch('', [entry('sub', EntryKind.ENTRY_KIND_DIRECTORY)]));
    session.send(batch('sub', entries));
    const needs = await session.nextReal();
    assert.equal(needs?.body?.$case, 'needBatch');
    const ids = new Map(needs.body.value.needs.map((n) => [n.path, n.fileId]));
    return { session, socket, ids, closed };
  }

  test('a directory made here: its small files land by number; failed, sent in the stream, twice, too long', async () => {
    const files = ['a', 'b', 'c', 'd'].map((name, i) => entry(name, EntryKind.ENTRY_KIND_FILE, i + 1));
    const made = await freshSession('made', files);
    const id = (name: string) => made.ids.get(`sub/${name}`)!;
    assert.deepEqual([...made.ids.keys()].sort(), ['sub/a', 'sub/b', 'sub/c', 'sub/d']);
    made.socket.write(
      Buffer.concat([
        batchHeader([
          { fileId: id('a'), length: 1 },
          { fileId: id('d'), length: 4 },
        ]),
        Buffer.from('adddd'),
      ]),
    );
    made.socket.write(failRecord(id('b'), 'vanished at the source'));
    // Sent in the gRPC stream instead: it goes the usual way, from the table's entry.
    made.session.send({
      $case: 'fileData',
      value: { fileId: id('c'), offset: 0n, data: Buffer.from('ccc'), last: true, holeLength: 0n },
    });
    made.session.sourceComplete(5, 10);
    const done = await made.session.summary();
    assert.equal(done?.body?.$case, 'summary');
    assert.equal(done.body.value.copied, 4n, 'sub and three of its files');
    assert.equal(done.body.value.failed, 1n);
    assert.match(done.body.value.failures[0]?.reason ?? '', /vanished at the source/);
    assert.equal(done.body.value.failures[0]?.path, 'sub/b');
    made.socket.end(endRecord());
    made.session.close();
    const landed = snapshot(join(module, 'made'));
    assert.deepEqual([...landed.keys()].sort(), ['', 'sub', 'sub/a', 'sub/c', 'sub/d']);
    assert.equal(readFileSync(join(module, 'made', 'sub', 'a'), 'utf8'), 'a');
    assert.equal(readFileSync(join(module, 'made', 'sub', 'c'), 'utf8'), 'ccc');
    assert.equal(readFileSync(join(module, 'made', 'sub', 'd'), 'utf8'), 'dddd');
    assert.equal(statSync(join(module, 'made', 'sub', 'd')).mode & 0o7777, 0o644);
    // a and d landed from a table (blitd's perf-history record of the session).
    const history = join(root, 'daemon-config', 'blit', 'perf_local.jsonl');
    const tabled = async () => {
      for (let i = 0; i < 250; i++) {
        const lines = existsSync(history) ? readFileSync(history, 'utf8').trim().split('\n') : [];
        if (lines.some((line) => (JSON.parse(line) as { freshFiles?: number }).freshFiles === 2)) return true;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return false;
    };
    assert.ok(await tabled(), 'the session landed two files from a table');

    // A file sent twice, and one sent longer than listed: each ends the session.
    for (const [what, records] of [
      [
        'twice',
        (x: bigint) => [
          batchHeader([{ fileId: x, length: 2 }]),
          Buffer.from('xx'),
          batchHeader([{ fileId: x, length: 2 }]),
          Buffer.from('xx'),
        ],
      ],
      ['too long', (x: bigint) => [batchHeader([{ fileId: x, length: 3 }]), Buffer.from('xxx')]],
    ] as const) {
      const again = await freshSession(`made-${what}`, [entry('x', EntryKind.ENTRY_KIND_FILE, 2)]);
      again.socket.write(Buffer.concat(records(again.ids.get('sub/x')!)));
      assert.equal((await again.session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL, what);
      await again.closed;
      again.session.close();
    }
    await assertStillServing();
  });

  test('tables of small files held at once are bounded: a third waits until the files of one have all settled', async () => {
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', 'rows', { forceGrpcData: false, dataStreams: 1 }));
    await session.nextReal(); // hello
    const accept = await session.nextReal();
    assert.equal(accept?.body?.$case, 'accept');
    const socket = await dialData('127.0.0.1', daemon.port, Buffer.from(accept.body.value.grant!.tokens[0]!));
    socket.resume();
    // Three directories made here, each with a full table of one-byte files.
    const dirs = ['r0', 'r1', 'r2'];
    session.send(
      batch(
        '',
        dirs.map((name) => entry(name, EntryKind.ENTRY_KIND_DIRECTORY)),
      ),
    );
    for (const dir of dirs) {
      for (let b = 0; b < MAX_TABLE_FILES / BATCH_ENTRIES; b++) {
        const files = Array.from({ length: BATCH_ENTRIES }, (_, i) =>
          entry(`f${b * BATCH_ENTRIES + i}`, EntryKind.ENTRY_KIND_FILE, 1),
        );
        session.send(batch(dir, files, b === MAX_TABLE_FILES / BATCH_ENTRIES - 1));
      }
    }
    const ids = new Map<string, bigint>();
    let progressDone = 0n;
    let beats = 0;
    /** Frames until `until` holds: needs recorded, heartbeats' files done noted. */
    const read = async (until: () => boolean) => {
      while (!until()) {
        const frame = await session.next();
        assert.ok(frame, 'the session goes on');
        if (frame.body?.$case === 'needBatch')
          for (const need of frame.body.value.needs) ids.set(need.path, need.fileId);
        if (frame.body?.$case === 'progress') {
          progressDone = frame.body.value.filesDone;
          beats++;
        }
      }
    };
    await read(() => ids.size >= 2 * MAX_TABLE_FILES);
    assert.equal(ids.size, MAX_TABLE_ROWS, 'two tables asked for, not the third');
    /** One-byte files of `dir` sent in batches, `from` to `to`. */
    const sendFiles = (dir: string, from: number, to: number) => {
      for (let at = from; at < to; at += 4096) {
        const members = Array.from({ length: Math.min(4096, to - at) }, (_, i) => ({
          fileId: ids.get(`${dir}/f${at + i}`)!,
          length: 1,
        }));
        socket.write(Buffer.concat([batchHeader(members), Buffer.alloc(members.length, 0x61)]));
      }
    };
    // All but the last file of each: two files asked and not in, two tables still held.
    sendFiles('r0', 0, MAX_TABLE_FILES - 1);
    sendFiles('r1', 0, MAX_TABLE_FILES - 1);
    await read(() => progressDone >= BigInt(2 * MAX_TABLE_FILES - 2));
    // Another heartbeat after the one that showed them landed: the third table is still not asked for.
    const seen = beats;
    await read(() => beats > seen || ids.size > MAX_TABLE_ROWS);
    assert.equal(ids.size, MAX_TABLE_ROWS, 'no room for a third table while two are held');
    // The last two: both tables let go, the third asked for.
    sendFiles('r0', MAX_TABLE_FILES - 1, MAX_TABLE_FILES);
    sendFiles('r1', MAX_TABLE_FILES - 1, MAX_TABLE_FILES);
    await read(() => ids.size === 3 * MAX_TABLE_FILES);
    sendFiles('r2', 0, MAX_TABLE_FILES);
    session.sourceComplete(3 + 3 * MAX_TABLE_FILES, 3 * MAX_TABLE_FILES);
    const done = await session.summary();
    assert.equal(done?.body?.$case, 'summary');
    assert.equal(done.body.value.copied, BigInt(3 + 3 * MAX_TABLE_FILES));
    assert.equal(done.body.value.failed, 0n);
    socket.end(endRecord());
    session.close();
    assert.equal(readdirSync(join(module, 'rows', 'r2')).length, MAX_TABLE_FILES);
  });

  test('data records: blocks of one file over two sockets, interleaved, land whole only when all are in', async () => {
    const block = 4 << 20;
    const size = block + 10;
    const data = patterned(size, 4093);
    const { session, socket, ids, more } = await dataSession(
      'blocks',
      [entry('big', EntryKind.ENTRY_KIND_FILE, size)],
      2,
    );
    const id = ids.get('big')!;
    // The first block starts on one socket; the second (final) comes whole on the other before
    // the first has finished: the file must wait for the rest of the first.
    socket.write(Buffer.concat([blockHeader(id, 0, block, false), data.subarray(0, 1000)]));
    more[0]!.write(Buffer.concat([blockHeader(id, block, 10, true), data.subarray(block)]));
    // The daemon has written the second block once its temp file reaches the file's size.
    const dir = join(module, 'blocks');
    await untilTemp(
      dir,
      'the second block was not written within 15 s',
      (path) => statSync(path).size === size,
    );
    assert.equal(existsSync(join(dir, 'big')), false, 'nothing under the final name yet');
    socket.write(data.subarray(1000, block));
    session.sourceComplete(1, size);
    const summary = await session.summary();
    assert.equal(summary?.body?.$case, 'summary');
    assert.equal(summary.body.value.copied, 1n, JSON.stringify(summary.body.value.failures));
    socket.end(endRecord());
    more[0]!.end(endRecord());
    session.close();
    assert.ok(readFileSync(join(module, 'blocks', 'big')).equals(data));
  });

  test('data records: CHECKED on one socket before the blocks on another completes the file once they are all in', async () => {
    // A file that would go whole, sent as one block without FINAL (as sendfile sends it), its
    // CHECKED read by the daemon on the other socket before the block has begun.
    const size = 100 * 1024;
    const data = patterned(size, 997);
    const { session, socket, ids, more } = await dataSession(
      'checked',
      [entry('mid', EntryKind.ENTRY_KIND_FILE, size)],
      2,
    );
    const id = ids.get('mid')!;
    const other = more[0]!;
    other.resume();
    const otherClosed = once(other, 'close');
    other.end(Buffer.concat([checkedRecord(id), endRecord()]));
    // The daemon closes that socket once it has read its end: the check is in.
    await otherClosed;
    assert.equal(existsSync(join(module, 'checked', 'mid')), false, 'nothing under the final name yet');
    socket.write(Buffer.concat([blockHeader(id, 0, size, false), data.subarray(0, 1000)]));
    socket.write(data.subarray(1000));
    session.sourceComplete(1, size);
    const summary = await session.summary();
    assert.equal(summary?.body?.$case, 'summary');
    assert.equal(summary.body.value.copied, 1n, JSON.stringify(summary.body.value.failures));
    socket.end(endRecord());
    session.close();
    assert.ok(readFileSync(join(module, 'checked', 'mid')).equals(data));
  });

  test('data records: blocks never checked install nothing; a misplaced CHECKED ends the session', async () => {
    const size = 100 * 1024;
    // Blocks without FINAL, all in, and no CHECKED yet: the source has not vouched for the file.
    const unchecked = await dataSession('unchecked', [entry('mid', EntryKind.ENTRY_KIND_FILE, size)], 2);
    const id = unchecked.ids.get('mid')!;
    const data = Buffer.alloc(size, 1);
    unchecked.socket.end(Buffer.concat([blockHeader(id, 0, size, false), data, endRecord()]));
    await unchecked.closed;
    unchecked.session.sourceComplete(1, size);
    // The block is in (the daemon read the socket to its end), the file not installed.
    assert.deepEqual(
      readdirSync(join(module, 'unchecked')).filter((name) => !name.startsWith('.')),
      [],
      'nothing under a final name',
    );
    // The check, on the other socket, completes it: the session had gone on (the block was taken).
    unchecked.more[0]!.end(Buffer.concat([checkedRecord(id), endRecord()]));
    const done = await unchecked.session.summary();
    assert.equal(done?.body?.$case, 'summary');
    assert.equal(done.body.value.copied, 1n, JSON.stringify(done.body.value.failures));
    unchecked.session.close();
    assert.ok(readFileSync(join(module, 'unchecked', 'mid')).equals(data));

    const misplaced: [string, (id: bigint) => Buffer[]][] = [
      ['a file never asked for', () => [checkedRecord(99n)]],
      ['a file checked twice', (id) => [checkedRecord(id), checkedRecord(id)]],
      [
        'a file sent whole after its check',
        (id) => [checkedRecord(id), fileHeader(id, size), Buffer.alloc(size, 1)],
      ],
    ];
    for (const [i, [what, records]] of misplaced.entries()) {
      // A directory of its own each, as nothing of the last one must count.
      const again = await dataSession(`checked2-${i}`, [entry('mid', EntryKind.ENTRY_KIND_FILE, size)]);
      again.socket.write(Buffer.concat(records(again.ids.get('mid')!)));
      assert.equal((await again.session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL, what);
      again.session.close();
    }
    // A check for a file whose whole record is still arriving on another socket.
    const whole = await dataSession('checked4', [entry('mid', EntryKind.ENTRY_KIND_FILE, size)], 2);
    const wholeId = whole.ids.get('mid')!;
    whole.socket.write(Buffer.concat([fileHeader(wholeId, size), Buffer.alloc(1000, 1)]));
    // Its first bytes are read once the daemon has opened the temp file for them.
    await untilTemp(join(module, 'checked4'), 'the whole record was not begun within 15 s');
    whole.more[0]!.write(checkedRecord(wholeId));
    assert.equal((await whole.session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL, 'a file sent whole');
    whole.session.close();
    // A file small enough for a batch never travels as blocks, so it is never checked either.
    const small = await dataSession('checked3', [entry('four', EntryKind.ENTRY_KIND_FILE, 4)]);
    small.socket.write(checkedRecord(small.ids.get('four')!));
    assert.equal((await small.session.fatal())?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    small.session.close();
    await assertStillServing();
  });

  test('data records: a FAIL on one socket while a block of the file still arrives on another fails the file alone', async () => {
    const block = 4 << 20;
    const size = block + 10;
    const { session, socket, ids, more } = await dataSession(
      'voided',
      [entry('big', EntryKind.ENTRY_KIND_FILE, size), entry('ok', EntryKind.ENTRY_KIND_FILE, 2)],
      2,
    );
    const id = ids.get('big')!;
    socket.write(Buffer.concat([blockHeader(id, 0, block, false), Buffer.alloc(1000, 7)]));
    // The source found the file changed: FAIL on the other socket, read by the daemon before that
    // socket's end (it closes the socket once it has read the end).
    const other = more[0]!;
    other.resume();
    const otherClosed = once(other, 'close');
    other.end(Buffer.concat([failRecord(id, 'changed while it was copied; not installed'), endRecord()]));
    await otherClosed;
    // The rest of the voided block still comes, then a good file.
    socket.write(Buffer.alloc(block - 1000, 7));
    socket.write(Buffer.concat([fileHeader(ids.get('ok')!, 2), Buffer.from('ok')]));
    session.sourceComplete(2, size + 2);
    const summary = await session.summary();
    assert.equal(summary?.body?.$case, 'summary', 'the session went on');
    assert.equal(summary.body.value.copied, 1n);
    assert.equal(summary.body.value.failed, 1n);
    assert.match(summary.body.value.failures[0]?.reason ?? '', /changed while it was copied/);
    socket.end(endRecord());
    session.close();
    assert.deepEqual(readdirSync(join(module, 'voided')), ['ok']);
  });

  test('a need for a FIFO fails that file at once; the daemon does not block', async () => {
    mkdirSync(join(module, 'pipes'));
    execFileSync('mkfifo', [join(module, 'pipes', 'fifo')]);
    const session = rawSession(client);
    session.send(hello, Role.ROLE_DESTINATION);
    session.send(open('data', 'pipes', { direction: Direction.DIRECTION_PULL }), Role.ROLE_DESTINATION);
    let frame = await session.nextReal();
    while (frame && frame.body?.$case !== 'manifestComplete') frame = await session.nextReal();
    // Asked for as a file although the listing said otherwise (or swapped for a FIFO since).
    session.send(
      {
        $case: 'needBatch',
        value: {
          needs: [need(1n, 'fifo')],
        },
      },
      Role.ROLE_DESTINATION,
    );
    for (frame = await session.nextReal(); frame?.body?.$case !== 'error'; frame = await session.nextReal()) {
      assert.ok(frame, 'the daemon answered the need');
    }
    assert.equal(frame.body.value.fatal, false);
    assert.equal(frame.body.value.fileId, 1n);
    session.close();
    await assertStillServing();
  });

  const filter = (exclude: string[]) => ({
    include: [],
    exclude,
    filesFrom: [],
    hasFilesFrom: false,
    deleteExcluded: false,
  });

  test("a pull's client gets only what the walk listed: not an excluded file, not through a link, not elsewhere", async () => {
    mkdirSync(join(module, 'guarded', 'sub'), { recursive: true });
    writeFileSync(join(module, 'guarded', 'a.txt'), 'listed');
    writeFileSync(join(module, 'guarded', 'secret.key'), 'excluded');
    writeFileSync(join(module, 'unlisted.txt'), 'not under the path asked for');
    symlinkSync(outside, join(module, 'guarded', 'up'));
    const key = statSync(join(module, 'guarded', 'secret.key'), { bigint: true });
    const session = rawSession(client);
    session.send(hello, Role.ROLE_DESTINATION);
    session.send(
      open('data', 'guarded', { direction: Direction.DIRECTION_PULL, filter: filter(['*.key']) }),
      Role.ROLE_DESTINATION,
    );
    let frame = await session.nextReal();
    while (frame && frame.body?.$case !== 'manifestComplete') frame = await session.nextReal();
    assert.ok(frame, 'the listing completes');
    session.send(
      {
        $case: 'needBatch',
        value: {
          needs: [
            need(1n, 'secret.key', key.size, key.mtimeNs),
            need(2n, 'up/keep', 7n),
            need(3n, 'elsewhere/unlisted.txt'),
            need(4n, 'a.txt', 6n, statSync(join(module, 'guarded', 'a.txt'), { bigint: true }).mtimeNs),
          ],
        },
      },
      Role.ROLE_DESTINATION,
    );
    const errors = new Map<bigint, string>();
    const data = new Set<bigint>();
    while (errors.size + data.size < 4) {
      frame = await session.nextReal();
      assert.ok(frame, 'the daemon answers every need');
      if (frame.body?.$case === 'error') errors.set(frame.body.value.fileId, frame.body.value.message);
      if (frame.body?.$case === 'fileData' && frame.body.value.last) data.add(frame.body.value.fileId);
    }
    assert.deepEqual([...data], [4n], 'only the listed file is sent');
    for (const id of [1n, 2n, 3n]) assert.match(errors.get(id) ?? '', /not a file this source listed/);
    session.close();

    // A path out of the source altogether ends the session.
    const escaping = rawSession(client);
    escaping.send(hello, Role.ROLE_DESTINATION);
    escaping.send(open('data', 'guarded', { direction: Direction.DIRECTION_PULL }), Role.ROLE_DESTINATION);
    frame = await escaping.nextReal();
    while (frame && frame.body?.$case !== 'manifestComplete') frame = await escaping.nextReal();
    escaping.send(
      { $case: 'needBatch', value: { needs: [need(1n, '../unlisted.txt')] } },
      Role.ROLE_DESTINATION,
    );
    const error = await escaping.fatal();
    assert.equal(error?.code, ErrorCode.ERROR_CODE_PROTOCOL, error?.message);
    await assertStillServing();
  });

  test("a pull's client that asks for more than it could have outstanding, or far more files than were listed, ends the session", async () => {
    mkdirSync(join(module, 'few'));
    writeFileSync(join(module, 'few', 'a'), 'a');
    writeFileSync(join(module, 'few', 'b'), 'b');
    /** A pull of `few`, its listing (two entries) taken whole; then `count` needs for files never listed. */
    const asking = async (count: number) => {
      const session = rawSession(client);
      session.send(hello, Role.ROLE_DESTINATION);
      session.send(open('data', 'few', { direction: Direction.DIRECTION_PULL }), Role.ROLE_DESTINATION);
      let frame = await session.nextReal();
      while (frame && frame.body?.$case !== 'manifestComplete') frame = await session.nextReal();
      assert.ok(frame, 'the listing completes');
      const needs = Array.from({ length: count }, (_, i) => need(BigInt(i + 1), `never-${i}`));
      session.send({ $case: 'needBatch', value: { needs } }, Role.ROLE_DESTINATION);
      return session;
    };
    // As many as the listing's two entries and the margin: each answered on its own, the session goes on.
    const within = await asking(2 + ASKED_BEYOND_LISTED);
    for (let answered = 0; answered < 2 + ASKED_BEYOND_LISTED; ) {
      const frame = await within.nextReal();
      assert.ok(frame, 'the daemon answers every need');
      if (frame.body?.$case !== 'error') continue;
      assert.equal(frame.body.value.fatal, false, frame.body.value.message);
      answered++;
    }
    within.close();
    // One more, and the ids kept for the session would outgrow the listing.
    const beyond = await asking(3 + ASKED_BEYOND_LISTED);
    const past = await beyond.fatal();
    assert.equal(past?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.match(past.message, /more files asked for than the 2 entries listed/);
    beyond.close();
    // More needs at once than an honest destination ever has outstanding.
    const flood = await asking(MAX_NEEDS_QUEUED + 1);
    const flooded = await flood.fatal();
    assert.equal(flooded?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.match(flooded.message, /too many needs outstanding/);
    flood.close();
    await assertStillServing();
  });

  test('a pull-move removes only what the walk listed, whatever the client says landed', async () => {
    mkdirSync(join(module, 'moving', 'dir'), { recursive: true });
    writeFileSync(join(module, 'moving', 'listed.txt'), 'goes');
    writeFileSync(join(module, 'moving', 'secret.key'), 'excluded: stays');
    writeFileSync(join(module, 'moving', 'dir', 'inner.txt'), 'listed, not claimed');
    writeFileSync(join(module, 'elsewhere.txt'), 'not under the path');
    const session = rawSession(client);
    session.send(hello, Role.ROLE_DESTINATION);
    session.send(
      open('data', 'moving', {
        direction: Direction.DIRECTION_PULL,
        operation: Operation.OPERATION_MOVE,
        filter: filter(['*.key']),
      }),
      Role.ROLE_DESTINATION,
    );
    let frame = await session.nextReal();
    while (frame && frame.body?.$case !== 'manifestComplete') frame = await session.nextReal();
    session.send(
      {
        $case: 'landed',
        value: { paths: ['listed.txt', 'secret.key', 'dir', 'never-listed', 'elsewhere.txt'] },
      },
      Role.ROLE_DESTINATION,
    );
    session.send(summary({ skipped: 1n }), Role.ROLE_DESTINATION);
    while (await session.next()) {
      // Until the daemon ends the session.
    }
    assert.ok(!existsSync(join(module, 'moving', 'listed.txt')), 'the listed file claimed as landed went');
    assert.ok(existsSync(join(module, 'moving', 'secret.key')), 'the excluded file stayed');
    assert.ok(
      existsSync(join(module, 'moving', 'dir', 'inner.txt')),
      'the directory (not a file) stayed whole',
    );
    assert.ok(existsSync(join(module, 'elsewhere.txt')));

    const escaping = rawSession(client);
    escaping.send(hello, Role.ROLE_DESTINATION);
    escaping.send(
      open('data', 'moving', { direction: Direction.DIRECTION_PULL, operation: Operation.OPERATION_MOVE }),
      Role.ROLE_DESTINATION,
    );
    frame = await escaping.nextReal();
    while (frame && frame.body?.$case !== 'manifestComplete') frame = await escaping.nextReal();
    escaping.send({ $case: 'landed', value: { paths: ['../elsewhere.txt'] } }, Role.ROLE_DESTINATION);
    const error = await escaping.fatal();
    assert.equal(error?.code, ErrorCode.ERROR_CODE_PROTOCOL, error?.message);
    assert.ok(existsSync(join(module, 'elsewhere.txt')));
    await assertStillServing();
  });

  test("a push mirror deletes nothing on an incomplete scan, and only what the daemon's own filters select", async () => {
    mkdirSync(join(module, 'mirrored'));
    mkdirSync(join(module, 'beside'));
    writeFileSync(join(module, 'mirrored', 'a.txt'), 'selected by the filters, lacking at the source');
    writeFileSync(join(module, 'mirrored', 'keep.bin'), 'not selected by the filters');
    writeFileSync(join(module, 'beside', 'z'), 'not under the path');
    const mirror = (scanComplete: boolean) => {
      const session = rawSession(client);
      session.send(hello);
      session.send(
        open('data', 'mirrored', {
          operation: Operation.OPERATION_MIRROR,
          allowDeletions: true,
          filter: { ...filter([]), include: ['*.txt'] },
        }),
      );
      // The root's own entry claims every filter condition met (filterMet 3): "all included".
      session.send(batch('', []));
      session.send({ $case: 'manifestComplete', value: { scanComplete, entries: 0n, bytes: 0n } });
      session.send({ $case: 'sourceDone', value: { scanComplete, failures: [] } });
      return session.summary();
    };
    const incomplete = await mirror(false);
    assert.equal(incomplete?.body?.$case, 'summary');
    assert.ok(existsSync(join(module, 'mirrored', 'a.txt')), 'nothing deleted after an incomplete scan');
    const complete = await mirror(true);
    assert.equal(complete?.body?.$case, 'summary');
    assert.deepEqual(readdirSync(join(module, 'mirrored')), ['keep.bin'], 'a.txt deleted, keep.bin spared');
    assert.deepEqual(readdirSync(join(module, 'beside')), ['z']);
    await assertStillServing();
  });

  test('a client that lists more than it sends: at most MAX_FILES_ASKED asked for, MANIFEST_WINDOW_BYTES of batches untaken, then the session ends', async () => {
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', 'window'));
    await session.nextReal(); // hello
    await session.nextReal(); // accept
    // The root lists more files than the daemon asks for at once, in batches it takes as they come
    // (long names: more than one credit's worth of them), and the directories whose listings
    // follow: each ~3.5 MB of links, more than the window together.
    const files = MAX_FILES_ASKED + BATCH_ENTRIES;
    const rootBatches = files / BATCH_ENTRIES;
    const dirs = Array.from({ length: 8 }, (_, i) => `d${i}`);
    let rootBytes = 0;
    for (let b = 0; b <= rootBatches; b++) {
      const entries =
        b < rootBatches
          ? Array.from({ length: BATCH_ENTRIES }, (_, i) =>
              entry(`${'n'.repeat(240)}${b * BATCH_ENTRIES + i}`, EntryKind.ENTRY_KIND_FILE, 1),
            )
          : dirs.map((name) => entry(name, EntryKind.ENTRY_KIND_DIRECTORY));
      const body = batch('', entries, b === rootBatches);
      rootBytes += frameBytes(body);
      session.send(body);
    }
    let asked = 0;
    let credit = 0;
    const count = (frame: TransferFrame | undefined) => {
      if (frame?.body?.$case === 'needBatch') asked += frame.body.value.needs.length;
      if (frame?.body?.$case === 'manifestCredit') credit += frame.body.value.bytes;
    };
    // No data is sent: the daemon asks for its window's worth and waits for them.
    while (asked < MAX_FILES_ASKED) {
      const frame = await session.nextReal();
      assert.ok(frame, 'the daemon asks for files');
      count(frame);
    }
    // Each listing now waits untaken; the first beyond the window ends the session.
    const target = 'x'.repeat(3900);
    for (const dir of dirs) {
      const links = Array.from({ length: 900 }, (_, i) =>
        entry(`l${i}`, EntryKind.ENTRY_KIND_SYMLINK, 0, target),
      );
      session.send(batch(dir, links));
    }
    let fatal: TransferFrame['body'] | undefined;
    for (;;) {
      const frame = await session.nextReal();
      count(frame);
      if (!frame || (frame.body?.$case === 'error' && frame.body.value.fatal)) {
        fatal = frame?.body;
        break;
      }
    }
    assert.equal(fatal?.$case, 'error');
    assert.equal(fatal.value.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.match(
      fatal.value.message,
      new RegExp(`more than ${MANIFEST_WINDOW_BYTES >> 20} MiB of manifest sent ahead of the destination`),
    );
    assert.equal(asked, MAX_FILES_ASKED, 'no file asked for beyond the window');
    // Credit for the batches it took (the root's), a step at a time; none for those waiting.
    assert.ok(credit >= MANIFEST_CREDIT_BYTES && credit <= rootBytes, `${credit} of ${rootBytes}`);
    session.close();

    // A batch of more entries than any source sends ends the session as it arrives.
    const crowded = rawSession(client);
    crowded.send(hello);
    crowded.send(open('data', 'crowded'));
    const many = Array.from({ length: BATCH_ENTRIES + 1 }, (_, i) =>
      entry(`f${i}`, EntryKind.ENTRY_KIND_FILE, 1),
    );
    crowded.send(batch('', many));
    const refused = await crowded.fatal();
    assert.equal(refused?.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.match(refused.message, new RegExp(`a manifest batch of more than ${BATCH_ENTRIES} entries`));
    await assertStillServing();
  });

  test('a Transfer that never opens (nothing, or Hello alone) is ended after 10 s with a protocol error', async () => {
    const silent = rawSession(client);
    const helloOnly = rawSession(client);
    helloOnly.send(hello);
    const [a, b] = await Promise.all([silent.fatal(), helloOnly.fatal()]);
    for (const error of [a, b]) {
      assert.equal(error?.code, ErrorCode.ERROR_CODE_PROTOCOL, error?.message);
      assert.match(error?.message ?? '', /no Hello and Open within 10 s/);
    }
    await assertStillServing();
  });

  test('lengths past their bounds are protocol errors: names, directory paths, link targets, sizes, data offsets', async () => {
    const huge = entry('huge', EntryKind.ENTRY_KIND_FILE);
    huge.entry!.size = 1n << 62n;
    const hostile: [string, Body[]][] = [
      ['a 256-byte name', [batch('', [entry('n'.repeat(256), EntryKind.ENTRY_KIND_FILE, 1)])]],
      [
        'a 4,097-byte link target',
        [batch('', [entry('l', EntryKind.ENTRY_KIND_SYMLINK, 0, 't'.repeat(4097))])],
      ],
      ['a size of 2^62', [batch('', [huge])]],
      ['a 5,000-byte directory path', [batch('', []), batch('d/'.repeat(2500).slice(0, -1), [])]],
    ];
    for (const [what, frames] of hostile) {
      const session = rawSession(client);
      session.send(hello);
      session.send(open('data', 'bounds'));
      for (const frame of frames) session.send(frame);
      const error = await session.fatal();
      assert.equal(error?.code, ErrorCode.ERROR_CODE_PROTOCOL, `${what}: ${error?.message}`);
    }

    // Data at an offset the file has not reached: a gap is never filled with whatever was there.
    const session = rawSession(client);
    session.send(hello);
    session.send(open('data', 'bounds'));
    await session.nextReal(); // hello
    await session.nextReal(); // accept
    session.send(batch('', [entry('gap', EntryKind.ENTRY_KIND_FILE, 8)]));
    const needs = await session.nextReal();
    assert.equal(needs?.body?.$case, 'needBatch');
    const id = needs.body.value.needs[0]!.fileId;
    session.send({
      $case: 'fileData',
      value: { fileId: id, offset: 4n, data: Buffer.from('5678'), last: true, holeLength: 0n },
    });
    session.sourceComplete(1, 8);
    let frame = await session.nextReal();
    while (
      frame &&
      frame.body?.$case !== 'summary' &&
      !(frame.body?.$case === 'error' && frame.body.value.fatal)
    )
      frame = await session.nextReal();
    if (frame?.body?.$case === 'summary')
      assert.equal(frame.body.value.failed, 1n, 'the file with a gap fails');
    else assert.equal(frame?.body?.$case === 'error' && frame.body.value.code, ErrorCode.ERROR_CODE_PROTOCOL);
    assert.ok(!existsSync(join(module, 'bounds', 'gap')), 'nothing lands under its name');
    session.close();
    await assertStillServing();
  });
});
