import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EMA_ALPHA,
  lastCopiedFiles,
  MIN_FILES_FOR_RATE,
  Predictor,
  perFileMs,
  predictionOf,
} from '../../src/perf/predictor.js';
import { perfRecord } from '../fixtures/perf-records.js';

const close = (actual: number, expected: number, message?: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ''} ${actual} ≠ ${expected}`);

describe('Predictor: EMA updates', () => {
  test('the first run sets the state; later runs move it by alpha', () => {
    const p = new Predictor();
    p.update(perfRecord({ scanMs: 10, copyMs: 100, files: 100, startMs: 50 }));
    const key = { fsPair: 'ext4>ext4', operation: 'copy', fastPath: 'pool', compare: 'default' } as const;
    let s = p.get(key)!;
    assert.equal(s.runs, 1);
    assert.equal(s.scanMs, 10);
    assert.equal(perFileMs(s), 1);
    assert.equal(s.rateStartMs, 50);
    assert.equal(s.scanError, undefined, 'no prediction to judge before the first run');

    p.update(perfRecord({ scanMs: 20, copyMs: 300, files: 100, startMs: 50 }));
    s = p.get(key)!;
    assert.equal(s.runs, 2);
    close(s.scanMs, 10 + EMA_ALPHA * 10);
    close(s.rateCopyMs, 100 + EMA_ALPHA * 200);
    close(s.scanError!, 0.5, 'predicted 10 ms, took 20 ms');
    close(s.copyError!, 2 / 3, 'predicted 100 ms, took 300 ms');
    close(predictionOf(s).perFileMs!, (100 + EMA_ALPHA * 200) / 100);
  });

  test('a stable workload drives the error towards zero and the prediction to the truth', () => {
    const p = new Predictor();
    p.update(perfRecord({ scanMs: 100, copyMs: 1000 }));
    for (let i = 0; i < 30; i++) p.update(perfRecord({ scanMs: 10, copyMs: 50 }));
    const [s] = p.states();
    assert.ok(Math.abs(s!.scanMs - 10) < 0.01, `scan ${s!.scanMs}`);
    assert.ok(s!.scanError! < 0.01, `error ${s!.scanError}`);
    assert.ok(Math.abs(perFileMs(s!)! - 50 / 200) < 0.001);
  });

  test('small runs teach no copy rate (they measure fixed costs), but do count as runs', () => {
    const p = new Predictor();
    p.update(perfRecord({ fastPath: 'inline', files: MIN_FILES_FOR_RATE - 1, copyMs: 30 }));
    const [s] = p.states();
    assert.equal(s!.runs, 1);
    assert.equal(perFileMs(s!), undefined);
    p.update(perfRecord({ fastPath: 'inline', files: MIN_FILES_FOR_RATE, copyMs: MIN_FILES_FOR_RATE }));
    assert.equal(perFileMs(p.states()[0]!), 1);
  });

  test('dry runs and fatal runs teach nothing', () => {
    const p = Predictor.fromRecords([perfRecord({ dryRun: true }), perfRecord({ outcome: 'fatal' })]);
    assert.deepEqual(p.states(), []);
    p.update(perfRecord({ outcome: 'partial' }));
    assert.equal(p.states().length, 1);
  });
});

describe('Predictor: segmentation', () => {
  test('file-system pair, operation, fast path and compare mode each make a segment of their own', () => {
    const p = Predictor.fromRecords([
      perfRecord({ scanMs: 1 }),
      perfRecord({ scanMs: 2, fs: ['ext4', 'tmpfs'] }),
      perfRecord({ scanMs: 3, operation: 'mirror' }),
      perfRecord({ scanMs: 4, fastPath: 'inline' }),
      perfRecord({ scanMs: 5, compare: 'checksum' }),
      perfRecord({ scanMs: 6 }),
    ]);
    const states = p.states();
    assert.equal(states.length, 5);
    const scan = (fsPair: string, operation: string, fastPath: string, compare: string) =>
      states.find(
        (s) =>
          s.fsPair === fsPair &&
          s.operation === operation &&
          s.fastPath === fastPath &&
          s.compare === compare,
      )?.scanMs;
    close(scan('ext4>ext4', 'copy', 'pool', 'default')!, 1 + EMA_ALPHA * 5);
    assert.equal(scan('ext4>tmpfs', 'copy', 'pool', 'default'), 2);
    assert.equal(scan('ext4>ext4', 'mirror', 'pool', 'default'), 3);
    assert.equal(scan('ext4>ext4', 'copy', 'inline', 'default'), 4);
    assert.equal(scan('ext4>ext4', 'copy', 'pool', 'checksum'), 5);
  });

  test('lookup returns one segment per fast path for a pair, operation and compare mode', () => {
    const p = Predictor.fromRecords([
      perfRecord({ fastPath: 'inline', scanMs: 1 }),
      perfRecord({ fastPath: 'pool', scanMs: 2 }),
      perfRecord({ fastPath: 'pool', scanMs: 9, fs: ['tmpfs', 'tmpfs'] }),
    ]);
    const h = p.lookup('ext4>ext4', 'copy', 'default');
    assert.equal(h.inline?.scanMs, 1);
    assert.equal(h.pool?.scanMs, 2);
    assert.equal(h.none, undefined);
    assert.deepEqual(p.lookup('xfs>xfs', 'copy', 'default'), {
      inline: undefined,
      pool: undefined,
      none: undefined,
    });
  });

  test('states come most recently used first', () => {
    const p = Predictor.fromRecords([
      perfRecord({ operation: 'move' }),
      perfRecord({ operation: 'mirror' }),
      perfRecord({ operation: 'copy' }),
      perfRecord({ operation: 'move' }),
    ]);
    assert.deepEqual(
      p.states().map((s) => s.operation),
      ['move', 'copy', 'mirror'],
    );
  });
});

describe('Predictor: what the latest run copied', () => {
  test('the latest run of the segments asked for, whichever fast path it took; none without history', () => {
    const p = new Predictor();
    const lookup = () => p.lookup('ext4>ext4', 'copy', 'default');
    assert.equal(lastCopiedFiles(lookup()), undefined);
    p.update(perfRecord({ fastPath: 'pool', files: 300, time: '2026-12-05T10:00:00.000Z' }));
    assert.equal(lastCopiedFiles(lookup()), 300);
    p.update(perfRecord({ fastPath: 'inline', files: 0, time: '2026-12-05T10:01:00.000Z' }));
    assert.equal(lastCopiedFiles(lookup()), 0, 'the newer run, on another fast path');
    p.update(perfRecord({ fastPath: 'pool', files: 7, time: '2026-12-05T10:02:00.000Z' }));
    assert.equal(lastCopiedFiles(lookup()), 7);
    // Another operation is another history.
    assert.equal(lastCopiedFiles(p.lookup('ext4>ext4', 'mirror', 'default')), undefined);
  });

  test('states() lists the segments most recently used first', () => {
    const p = new Predictor();
    p.update(perfRecord({ fastPath: 'inline', time: '2026-12-05T09:59:59.999Z' }));
    p.update(perfRecord({ fastPath: 'none', time: '2026-12-05T10:00:00.000Z' }));
    p.update(perfRecord({ fastPath: 'pool', time: '2026-12-04T23:00:00.000Z' }));
    p.update(perfRecord({ fastPath: 'inline', operation: 'mirror', time: '2026-12-05T10:00:00.001Z' }));
    assert.deepEqual(
      p.states().map((s) => `${s.operation}/${s.fastPath}`),
      ['mirror/inline', 'copy/none', 'copy/inline', 'copy/pool'],
    );
  });
});
