/** Perf history through the real CLI: one record per run, `blit diagnostics perf`, the switches. */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { blit, isOneLineError, tempDir, testConfigHome, writeFile } from '../helpers.js';

function setup(t: { after(fn: () => void): void }, files = 20, { flat = false } = {}) {
  const root = tempDir(t);
  const src = join(root, 'src');
  for (let i = 0; i < files; i++) {
    writeFile(join(src, flat ? '' : `d${i % 3}`, `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
  }
  const env = { XDG_CONFIG_HOME: join(root, 'config') };
  const history = join(root, 'config', 'blit', 'perf_local.jsonl');
  const records = () =>
    existsSync(history)
      ? readFileSync(history, 'utf8')
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line))
      : [];
  return { root, src, env, history, records };
}

describe('perf history (CLI)', () => {
  test('every run appends one record; diagnostics perf --json lists it', (t) => {
    const s = setup(t);
    const copy = blit(['copy', `${s.src}/`, join(s.root, 'dst')], { env: s.env });
    assert.equal(copy.status, 0, copy.stderr);
    let records = s.records();
    assert.equal(records.length, 1);
    const [first] = records;
    assert.equal(first.v, 1);
    assert.equal(first.operation, 'copy');
    assert.equal(first.compare, 'default');
    assert.equal(first.workload.files, 20);
    assert.equal(first.workload.entries, 23);
    assert.equal(first.copied.files, 20);
    assert.equal(
      first.workload.sizeHistogram.reduce((a: number, b: number) => a + b, 0),
      20,
    );
    assert.equal(first.outcome, 'ok');
    assert.equal(first.stalls, 0);
    assert.ok(['inline', 'pool'].includes(first.fastPath));
    assert.equal(typeof first.fs.source, 'string');
    assert.ok(first.timing.totalMs > 0);
    assert.equal(first.predicted, null);

    const mirror = blit(['mirror', '--checksum', `${s.src}/`, join(s.root, 'dst')], { env: s.env });
    assert.equal(mirror.status, 0, mirror.stderr);
    records = s.records();
    assert.equal(records.length, 2);
    assert.equal(records[1].operation, 'mirror');
    assert.equal(records[1].compare, 'checksum');
    assert.equal(records[1].copied.files, 20, 'same sizes: every file is hashed');

    const shown = blit(['diagnostics', 'perf', '--json'], { env: s.env });
    assert.equal(shown.status, 0, shown.stderr);
    const summary = JSON.parse(shown.stdout);
    assert.equal(summary.path, s.history);
    assert.equal(summary.runs, 2);
    assert.deepEqual(summary.records, records);
    assert.ok(summary.predictor.length >= 1);

    const human = blit(['diagnostics', 'perf'], { env: s.env });
    assert.equal(human.status, 0);
    assert.match(human.stdout, /never sent anywhere/);
    assert.match(human.stdout, /last 2 run\(s\)/);
  });

  test('a second run of the same workload uses the history: predicted values and the plan it chose', (t) => {
    // Flat: a new subdirectory would go whole to the copy threads (engine/fresh-dirs.ts), where the
    // plan's inline limit does not apply.
    const s = setup(t, 60, { flat: true });
    for (let i = 0; i < 3; i++) {
      const r = blit(['copy', `${s.src}/`, join(s.root, `dst${i}`)], { env: s.env });
      assert.equal(r.status, 0, r.stderr);
    }
    const [a, b, c] = s.records();
    assert.equal(a.plan.fromHistory, false);
    assert.equal(a.fastPath, 'pool', 'without history 60 files start the worker pool');
    assert.equal(a.plan.inlineFiles, 8);
    assert.equal(b.plan.fromHistory, true);
    assert.ok(b.plan.inlineFiles >= 60, `history sends 60 small files inline: ${JSON.stringify(b.plan)}`);
    assert.equal(b.fastPath, 'inline');
    assert.notEqual(c.predicted, null, 'the third run had an inline segment to predict from');
  });

  test('BLIT_DISABLE_PERF_HISTORY=1 records nothing; --disable/--enable persist; --clear erases', (t) => {
    const s = setup(t, 3);
    const run = (env: Record<string, string> = {}) =>
      blit(['copy', `${s.src}/`, join(s.root, 'dst'), '--ignore-times'], { env: { ...s.env, ...env } });
    assert.equal(run().status, 0);
    assert.equal(run({ BLIT_DISABLE_PERF_HISTORY: '1' }).status, 0);
    assert.equal(s.records().length, 1);

    assert.match(blit(['diagnostics', 'perf', '--disable'], { env: s.env }).stdout, /recording off/);
    assert.equal(run().status, 0);
    assert.equal(s.records().length, 1);
    assert.match(blit(['diagnostics', 'perf'], { env: s.env }).stdout, /recording: off/);

    assert.match(blit(['diagnostics', 'perf', '--enable'], { env: s.env }).stdout, /recording on/);
    assert.equal(run().status, 0);
    assert.equal(s.records().length, 2);

    assert.match(blit(['diagnostics', 'perf', '--clear'], { env: s.env }).stdout, /cleared .*\(2 runs\)/);
    assert.equal(existsSync(s.history), false);
  });

  test('a corrupt history never breaks a run; the run still records', (t) => {
    const s = setup(t, 3);
    assert.equal(blit(['copy', `${s.src}/`, join(s.root, 'dst')], { env: s.env }).status, 0);
    appendFileSync(s.history, '{"v":1,"trunc');
    const r = blit(['copy', `${s.src}/`, join(s.root, 'dst2')], { env: s.env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const shown = JSON.parse(blit(['diagnostics', 'perf', '--json'], { env: s.env }).stdout);
    assert.equal(shown.runs, 1, 'the record appended after the torn line is lost with it, nothing more');
    assert.equal(shown.skippedLines, 1);
  });

  test('a run ended by the stall detector is recorded as fatal with one stall event', (t) => {
    // A copy hung in a worker: the main thread hears of the stall and ends the run (a hung scan on
    // the main thread is ended by the watchdog alone, and then nothing is recorded).
    const s = setup(t, 20);
    writeFile(join(s.src, 'hung dir', 'g'), 'g');
    const r = blit(['copy', `${s.src}/`, join(s.root, 'dst')], {
      env: { ...s.env, BLIT_STALL_TIMEOUT_MS: '1000', BLIT_TEST_HANG: 'copy:hung dir/g' },
    });
    assert.equal(r.status, 1, r.stderr);
    const [record] = s.records();
    assert.equal(record.outcome, 'fatal');
    assert.equal(record.stalls, 1);
  });

  test('bad diagnostics flags: one-line error, exit 1', (t) => {
    const s = setup(t, 1);
    for (const args of [
      ['diagnostics', 'perf', '--limit', 'x'],
      ['diagnostics', 'perf', '--enable', '--disable'],
    ]) {
      const r = blit(args, { env: s.env });
      assert.equal(r.status, 1);
      assert.ok(isOneLineError(r.stderr), r.stderr);
    }
  });

  test("test runs write into a temp config directory, never the user's ~/.config", (t) => {
    const s = setup(t, 2);
    const home = join(s.root, 'home');
    const r = blit(['copy', `${s.src}/`, join(s.root, 'dst')], { env: { HOME: home } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(join(home, '.config')), false);
    assert.ok(existsSync(join(testConfigHome(), 'blit', 'perf_local.jsonl')));
  });
});
