import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireLock } from '../../src/perf/file-lock.js';
import { HISTORY_CAP_BYTES, HistoryStore } from '../../src/perf/history-store.js';
import { PERF_SCHEMA_VERSION, parseRecord, serializeRecord } from '../../src/perf/record.js';
import { perfRecord } from '../fixtures/perf-records.js';
import { tempDir } from '../helpers.js';

const WRITER = fileURLToPath(new URL('../fixtures/perf-writer.ts', import.meta.url));

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

describe('HistoryStore: append and read', () => {
  test('a missing file is an empty history; appends create the directory and read back in order', (t) => {
    const store = new HistoryStore(join(tempDir(t), 'a', 'b', 'perf_local.jsonl'));
    assert.deepEqual(store.read(), { records: [], skipped: 0, bytes: 0 });
    store.append(perfRecord({ files: 1 }));
    store.append(perfRecord({ files: 2 }));
    const { records, skipped } = store.read();
    assert.deepEqual(
      records.map((r) => r.copied.files),
      [1, 2],
    );
    assert.equal(skipped, 0);
    assert.equal(lines(store.path).length, 2);
    assert.equal(statSync(store.path).mode & 0o777, 0o600, 'history is private to its user');
  });

  test('corrupt, truncated, foreign-schema and non-object lines are skipped, never fatal', (t) => {
    const path = join(tempDir(t), 'perf_local.jsonl');
    const good = serializeRecord(perfRecord({ files: 7 }));
    writeFileSync(
      path,
      [
        good,
        'not json at all\n',
        '{"v":1,"time":"2026-01-01T00:00:00Z"}\n', // fields missing
        `${JSON.stringify({ ...perfRecord(), v: PERF_SCHEMA_VERSION + 1 })}\n`, // a newer blit's line
        '[1,2,3]\n',
        '\n',
        good,
        good.slice(0, 40), // a write cut short
      ].join(''),
    );
    const { records, skipped } = new HistoryStore(path).read();
    assert.equal(records.length, 2);
    assert.equal(records[0]!.copied.files, 7);
    assert.equal(skipped, 5);
  });

  test('parseRecord rejects what is not a record of this schema', () => {
    assert.equal(parseRecord(''), undefined);
    assert.equal(parseRecord('{"v":1'), undefined);
    assert.equal(parseRecord('{"v":1,"bytesPerSec":"fast"}'), undefined);
    const record = perfRecord();
    assert.deepEqual(parseRecord(serializeRecord(record).trim()), record);
    assert.equal(
      parseRecord(JSON.stringify({ ...record, timing: { ...record.timing, scanMs: null } })),
      undefined,
    );
  });
});

describe('HistoryStore: reading for the predictor', () => {
  test('tailBytes reads only the last bytes, from the first whole line among them', (t) => {
    const store = new HistoryStore(join(tempDir(t), 'perf_local.jsonl'));
    for (let i = 0; i < 50; i++) store.append(perfRecord({ files: i }));
    const line = statSync(store.path).size / 50;
    const { records, skipped } = store.read({ tailBytes: Math.floor(line * 10.5) });
    assert.equal(skipped, 0, 'the cut line is not read as a corrupt one');
    assert.deepEqual(
      records.map((r) => r.copied.files),
      [40, 41, 42, 43, 44, 45, 46, 47, 48, 49],
    );
    assert.equal(store.read({ tailBytes: 1e9 }).records.length, 50);
  });

  test('only: lines without the given texts are passed over unparsed; newest: the last N parsed', (t) => {
    const store = new HistoryStore(join(tempDir(t), 'perf_local.jsonl'));
    for (let i = 0; i < 30; i++) store.append(perfRecord({ files: i, operation: i % 3 ? 'copy' : 'move' }));
    appendFileSync(store.path, 'garbage\n');
    const moves = store.read({ only: ['"operation":"move"'] });
    assert.deepEqual(
      moves.records.map((r) => r.copied.files),
      [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
    );
    assert.equal(moves.skipped, 0);
    assert.deepEqual(
      store.read({ only: ['"operation":"move"'], newest: 2 }).records.map((r) => r.copied.files),
      [24, 27],
    );
  });
});

describe('HistoryStore: cap and rotation', () => {
  test('past the cap the oldest lines go, the newest stay, the file stays under the cap', (t) => {
    const cap = 20_000;
    const store = new HistoryStore(join(tempDir(t), 'perf_local.jsonl'), cap);
    for (let i = 0; i < 200; i++) store.append(perfRecord({ files: i }));
    const size = statSync(store.path).size;
    assert.ok(size <= cap, `size ${size}`);
    const files = store.read().records.map((r) => r.copied.files);
    assert.ok(files.length > 10, `${files.length} kept`);
    assert.equal(files.at(-1), 199, 'the newest line is kept');
    assert.deepEqual(
      files,
      files.map((_, i) => 200 - files.length + i),
      'a contiguous run of the newest lines',
    );
    assert.deepEqual(
      readdirSync(join(store.path, '..')).sort(),
      ['perf_local.jsonl'],
      'no temp or lock file left behind',
    );
  });

  test('rotation keeps about three quarters of the cap, so it does not run on every append', (t) => {
    const cap = 10_000;
    const store = new HistoryStore(join(tempDir(t), 'perf_local.jsonl'), cap);
    const line = serializeRecord(perfRecord()).length;
    let rotations = 0;
    let last = 0;
    for (let i = 0; i < 100; i++) {
      store.append(perfRecord());
      const size = statSync(store.path).size;
      if (size < last) rotations++;
      last = size;
    }
    assert.ok(rotations <= Math.ceil((100 * line) / (cap * 0.25)) + 1, `${rotations} rotations`);
    assert.ok(rotations >= 2, `${rotations} rotations`);
  });

  test('rotation drops corrupt lines and a torn last line', (t) => {
    const path = join(tempDir(t), 'perf_local.jsonl');
    const store = new HistoryStore(path, 3000);
    store.append(perfRecord({ files: 1 }));
    appendFileSync(path, 'garbage\n');
    for (let i = 2; i <= 6; i++) store.append(perfRecord({ files: i }));
    assert.ok(!readFileSync(path, 'utf8').includes('garbage'));
    assert.equal(store.read().skipped, 0);
  });

  test('the default cap is about 1 MB', () => {
    assert.equal(HISTORY_CAP_BYTES, 1_000_000);
  });

  test('lines appended while a rotation runs are carried over', (t) => {
    const path = join(tempDir(t), 'perf_local.jsonl');
    const store = new HistoryStore(path, 4000);
    for (let i = 0; i < 8; i++) writeFileSync(path, serializeRecord(perfRecord({ files: i })), { flag: 'a' });
    // Simulate a concurrent append landing between the rotation's read and its rename.
    const proto = Object.getPrototypeOf(store) as { carryOver: (...args: unknown[]) => void };
    const original = proto.carryOver;
    t.after(() => {
      proto.carryOver = original;
    });
    proto.carryOver = function (this: HistoryStore, ...args: unknown[]) {
      appendFileSync(path, serializeRecord(perfRecord({ files: 999 })));
      original.apply(this, args);
    };
    store.rotate();
    const files = store.read().records.map((r) => r.copied.files);
    assert.equal(files.at(-1), 999);
    assert.equal(files.at(-2), 7);
  });
});

describe('HistoryStore: concurrent writers', () => {
  function writer(path: string, count: number, cap: number, tag: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', WRITER, path, String(count), String(cap), tag],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? -1));
    });
  }

  test('two processes appending at once: every line parses and none is lost', async (t) => {
    const path = join(tempDir(t), 'perf_local.jsonl');
    const count = 1500;
    const codes = await Promise.all([writer(path, count, 1e9, 'A'), writer(path, count, 1e9, 'B')]);
    assert.deepEqual(codes, [0, 0]);
    const all = lines(path);
    assert.equal(all.length, 2 * count);
    for (const line of all) assert.ok(parseRecord(line), `unparsable line: ${line.slice(0, 80)}`);
    const { records } = new HistoryStore(path).read();
    for (const tag of ['A', 'B']) {
      const mine = records
        .filter((r) => r.time.startsWith(`${tag}-`))
        .map((r) => Number(r.time.split('-')[1]));
      assert.deepEqual(
        mine,
        mine.map((_, i) => i),
        `${tag}'s lines in order`,
      );
    }
  });

  test('two processes appending and rotating at once: every line parses, the newest survive', async (t) => {
    const path = join(tempDir(t), 'perf_local.jsonl');
    const cap = 30_000;
    const codes = await Promise.all([writer(path, 1500, cap, 'A'), writer(path, 1500, cap, 'B')]);
    assert.deepEqual(codes, [0, 0]);
    const all = lines(path);
    assert.ok(all.length > 0);
    for (const line of all) assert.ok(parseRecord(line), `unparsable line: ${line.slice(0, 80)}`);
    assert.ok(statSync(path).size <= cap * 1.5, `size ${statSync(path).size}`);
    const last = new HistoryStore(path).read().records.map((r) => r.time.split('-').slice(0, 2).join('-'));
    assert.ok(last.includes('A-1499') || last.includes('B-1499'), 'a final append survives');
    assert.ok(!existsSync(`${path}.lock`), 'the lock is released');
  });
});

describe('file lock', () => {
  test('exclusive while held; free again once released', (t) => {
    const lock = join(tempDir(t), 'x.lock');
    const release = acquireLock(lock);
    assert.ok(release);
    const started = Date.now();
    assert.equal(acquireLock(lock, { waitMs: 50 }), undefined, 'a held lock is not taken');
    assert.ok(Date.now() - started < 1000, 'the wait is bounded');
    release();
    const again = acquireLock(lock, { waitMs: 50 });
    assert.ok(again);
    again();
  });

  test('a lock left by a dead process, or too old, is taken over', (t) => {
    const dir = tempDir(t);
    const dead = join(dir, 'dead.lock');
    writeFileSync(dead, '999999999\n'); // no such pid
    const a = acquireLock(dead, { waitMs: 0 });
    assert.ok(a);
    a();
    const old = join(dir, 'old.lock');
    writeFileSync(old, `${process.pid}\n`); // alive, but a holder never keeps it this long
    utimesSync(old, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const b = acquireLock(old, { waitMs: 0, staleMs: 10_000 });
    assert.ok(b);
    b();
  });

  test('an empty lock (its holder is writing its pid) is not stale', (t) => {
    const lock = join(tempDir(t), 'new.lock');
    writeFileSync(lock, '');
    assert.equal(acquireLock(lock, { waitMs: 20 }), undefined);
  });
});

describe('HistoryStore: clear', () => {
  test('erases the file; clearing nothing is fine', (t) => {
    const store = new HistoryStore(join(tempDir(t), 'perf_local.jsonl'));
    store.clear();
    store.append(perfRecord());
    store.clear();
    assert.equal(existsSync(store.path), false);
    assert.deepEqual(store.read().records, []);
  });
});
