import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runDiagnosticsPerf } from '../../src/cli/diagnostics-command.js';
import { defaultPlan } from '../../src/engine/execution-plan.js';
import { emptySessionStats } from '../../src/engine/session-stats.js';
import { historyPath } from '../../src/perf/config-paths.js';
import { HistoryStore } from '../../src/perf/history-store.js';
import { serializeRecord } from '../../src/perf/record.js';
import { buildRecord, segmentNeedles, startPerfRun } from '../../src/perf/run-recorder.js';
import { historyEnabled } from '../../src/perf/settings.js';
import { BlitError } from '../../src/util/errors.js';
import { perfRecord } from '../fixtures/perf-records.js';
import { tempDir } from '../helpers.js';

function diagnostics(flags: Parameters<typeof runDiagnosticsPerf>[0], env: Record<string, string>) {
  let text = '';
  const out = {
    write(chunk: string) {
      text += chunk;
      return true;
    },
  } as NodeJS.WritableStream;
  const status = runDiagnosticsPerf(flags, env, out);
  return { status, text };
}

function withHistory(t: { after(fn: () => void): void }, runs: number) {
  const env = { XDG_CONFIG_HOME: tempDir(t) };
  const store = new HistoryStore(historyPath(env));
  for (let i = 0; i < runs; i++)
    store.append(perfRecord({ files: 100 + i, fastPath: i % 2 ? 'pool' : 'inline' }));
  return { env, store };
}

describe('blit diagnostics perf', () => {
  test('an empty history says where it would be and that it stays local', (t) => {
    const { text, status } = diagnostics({}, { XDG_CONFIG_HOME: tempDir(t) });
    assert.equal(status, 0);
    assert.match(
      text,
      /perf history: .*perf_local\.jsonl \(kept on this machine only, never sent anywhere\)/,
    );
    assert.match(text, /recording: on; 0 run\(s\)/);
  });

  test('lists recent runs (--limit), the predictor per segment and the next plan', (t) => {
    const { env } = withHistory(t, 30);
    const { text } = diagnostics({ limit: '3' }, env);
    assert.match(text, /recording: on; 30 run\(s\)/);
    assert.match(text, /last 3 run\(s\), newest last:/);
    assert.equal(text.match(/ext4>ext4 {2}(pool|inline) /g)?.length, 3, 'three run rows');
    assert.match(text, /ext4>ext4 copy inline default +15 /);
    assert.match(text, /ext4>ext4 copy pool default +15 /);
    assert.match(text, /next plan:\n {2}ext4>ext4 copy default: /);
  });

  test('--json: records, predictor state and error, next plans', (t) => {
    const { env } = withHistory(t, 5);
    const summary = JSON.parse(diagnostics({ json: true, limit: '2' }, env).text);
    assert.equal(summary.runs, 5);
    assert.equal(summary.enabled, true);
    assert.equal(summary.records.length, 2);
    assert.equal(summary.records[1].copied.files, 104);
    assert.equal(summary.predictor.length, 2);
    assert.ok('scanError' in summary.predictor[0]);
    assert.equal(summary.nextPlans[0].group, 'ext4>ext4 copy default');
    assert.equal(summary.nextPlans[0].plan.fromHistory, true);
  });

  test('--disable and --enable persist; --clear erases', (t) => {
    const { env, store } = withHistory(t, 2);
    assert.match(diagnostics({ disable: true }, env).text, /recording off/);
    assert.equal(historyEnabled(env), false);
    assert.match(diagnostics({}, env).text, /recording: off/);
    const off = startPerfRun(
      { source: '/', destination: '/', operation: 'copy', compare: 'default', dryRun: false },
      env,
    );
    off.onStats(emptySessionStats());
    off.finish('ok');
    assert.equal(store.read().records.length, 2, 'nothing recorded while off');

    assert.match(diagnostics({ enable: true }, env).text, /recording on/);
    assert.equal(historyEnabled(env), true);
    assert.match(diagnostics({ clear: true }, env).text, /cleared .* \(2 runs\)/);
    assert.equal(existsSync(store.path), false);
  });

  test('--enable under BLIT_DISABLE_PERF_HISTORY says the variable still wins for this environment', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t), BLIT_DISABLE_PERF_HISTORY: '1' };
    assert.match(diagnostics({ enable: true }, env).text, /BLIT_DISABLE_PERF_HISTORY is set/);
  });

  test('bad flags are one-line user errors', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t) };
    assert.throws(() => diagnostics({ enable: true, disable: true }, env), BlitError);
    assert.throws(() => diagnostics({ clear: true, disable: true }, env), /choose one of/);
    assert.throws(() => diagnostics({ limit: 'x' }, env), /--limit "x": not a whole number/);
    assert.throws(() => diagnostics({ limit: '-1' }, env), BlitError);
  });
});

describe('perf run recorder', () => {
  const run = {
    source: '/',
    destination: '/',
    operation: 'copy',
    compare: 'default',
    dryRun: false,
  } as const;

  test('records one line per run, with the plan and what was predicted', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t) };
    const first = startPerfRun(run, env);
    assert.equal(first.plan.inlineFiles, 8, 'no history: defaults');
    first.onStats({
      ...emptySessionStats(),
      executor: 'pool',
      workers: 2,
      jobs: 200,
      jobBytes: 800_000,
      copyMs: 90,
      executorStartMs: 80,
      scanMs: 2,
      entries: 201,
    });
    first.finish('ok');
    const second = startPerfRun(run, env);
    assert.ok(second.plan.inlineFiles > 200, `history moves the limit: ${second.plan.inlineFiles}`);
    second.onStats({
      ...emptySessionStats(),
      executor: 'inline',
      workers: 1,
      jobs: 200,
      jobBytes: 800_000,
      copyMs: 15,
      scanMs: 2,
      entries: 201,
    });
    second.finish('partial');
    const [a, b] = new HistoryStore(historyPath(env)).read().records;
    assert.equal(a!.predicted, null);
    assert.equal(a!.plan.fromHistory, false);
    assert.equal(a!.bytesPerSec, Math.round(800_000 / 0.09));
    assert.equal(b!.fastPath, 'inline');
    assert.equal(b!.outcome, 'partial');
    assert.equal(b!.plan.fromHistory, true);
    assert.equal(b!.predicted, null, 'no inline run yet to predict from');
    assert.equal(b!.stalls, 0);
    assert.notEqual(b!.fs.source, '');
  });

  test("a recorded line contains its segment's needles, and another segment's do not match it", () => {
    const fs = { source: 'ext4', destination: 'tmpfs' };
    const stats = { ...emptySessionStats(), executor: 'inline' as const };
    const line = serializeRecord(
      buildRecord(run, fs, { ...defaultPlan(), fromHistory: false }, stats, 'ok', {}),
    );
    for (const needle of segmentNeedles(run, fs)) assert.ok(line.includes(needle), needle);
    const other = segmentNeedles({ ...run, compare: 'checksum' }, fs);
    assert.ok(!other.every((needle) => line.includes(needle)));
    const swapped = segmentNeedles(run, { source: 'tmpfs', destination: 'ext4' });
    assert.ok(!swapped.every((needle) => line.includes(needle)));
  });

  test('a run the stall detector ended counts one stall event; other fatal errors none', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t) };
    for (const error of [
      Object.assign(new Error('stalled: no progress'), { name: 'StallError' }),
      new Error('disk full'),
    ]) {
      const perf = startPerfRun(run, env);
      perf.onStats(emptySessionStats());
      perf.finish('fatal', error);
    }
    const records = new HistoryStore(historyPath(env)).read().records;
    assert.deepEqual(
      records.map((r) => [r.outcome, r.stalls]),
      [
        ['fatal', 1],
        ['fatal', 0],
      ],
    );
  });

  test('a run that never reported stats records nothing; an unwritable history never fails the run', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t) };
    const perf = startPerfRun(run, env);
    perf.finish('fatal');
    assert.equal(existsSync(historyPath(env)), false);
    const notADirectory = join(tempDir(t), 'a-file');
    writeFileSync(notADirectory, '');
    const blocked = startPerfRun(run, { XDG_CONFIG_HOME: notADirectory });
    blocked.onStats(emptySessionStats());
    assert.doesNotThrow(() => blocked.finish('ok'));
  });

  test('BLIT_DISABLE_PERF_HISTORY=1: default plan, nothing read or written', (t) => {
    const { env, store } = withHistory(t, 4);
    const perf = startPerfRun(run, { ...env, BLIT_DISABLE_PERF_HISTORY: '1' });
    assert.equal(perf.plan.inlineFiles, 8);
    perf.onStats(emptySessionStats());
    perf.finish('ok');
    assert.equal(store.read().records.length, 4);
  });
});
