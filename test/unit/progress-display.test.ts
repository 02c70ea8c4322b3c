import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { etaSeconds, nextRate, progressStyle, progressText } from '../../src/cli/progress-display.js';
import { newProgress, type Progress } from '../../src/engine/progress.js';

function progress(over: Partial<Progress> = {}): Progress {
  return { ...newProgress(), ...over };
}

describe('progress display', () => {
  test('the rate is an exponential moving average of byte deltas', () => {
    const first = nextRate(undefined, { at: 0, bytesDone: 0 }, { at: 1000, bytesDone: 1000 });
    assert.equal(first, 1000);
    const second = nextRate(first, { at: 1000, bytesDone: 1000 }, { at: 2000, bytesDone: 3000 });
    // 30 % of the way from 1000 to the new 2000 B/s.
    assert.equal(second, 1300);
    assert.equal(
      nextRate(second, { at: 2000, bytesDone: 3000 }, { at: 2000, bytesDone: 3000 }),
      1300,
      'no time passed',
    );
  });

  test('an ETA only once the scan is complete and bytes are moving', () => {
    assert.equal(etaSeconds(progress({ bytesNeeded: 1000, bytesDone: 0 }), 100), undefined);
    assert.equal(
      etaSeconds(progress({ scanComplete: true, bytesNeeded: 1000, bytesDone: 200 }), 0),
      undefined,
    );
    assert.equal(etaSeconds(progress({ scanComplete: true, bytesNeeded: 1000, bytesDone: 200 }), 100), 8);
  });

  test('the line shows entries, bytes, rate, and totals and ETA only when known', () => {
    const scanning = progressText(
      progress({ entriesFound: 20200, entriesDone: 1500, bytesDone: 2048 }),
      1024,
      0,
    );
    assert.match(scanning, /scan {2}1,500\/20,200\+ entries {2}2\.0 KiB {2}1\.0 KiB\/s$/);
    const done = progressText(
      progress({
        phase: 'copy',
        scanComplete: true,
        entriesFound: 10,
        entriesDone: 5,
        bytesNeeded: 4096,
        bytesDone: 2048,
      }),
      1024,
      1,
    );
    assert.match(done, /copy {2}5\/10 entries {2}2\.0 KiB of 4\.0 KiB {2}1\.0 KiB\/s {2}ETA 2\.00 s$/);
  });

  test('bytes written by copies still in flight move the line before the file lands', () => {
    const inFlight = progress({
      scanComplete: true,
      bytesNeeded: 4096,
      bytesDone: 0,
      bytesWritten: () => 1024,
    });
    assert.match(progressText(inFlight, 1024, 0), /1\.0 KiB of 4\.0 KiB .*ETA 3\.00 s$/);
    // Landed files count when the live counter lags behind them (the inline copier keeps none).
    const landed = progress({
      scanComplete: true,
      bytesNeeded: 4096,
      bytesDone: 2048,
      bytesWritten: () => 0,
    });
    assert.match(progressText(landed, 1024, 0), /2\.0 KiB of 4\.0 KiB .*ETA 2\.00 s$/);
  });

  test('directory jobs still running count with what they listed; totals once every directory is listed', () => {
    const inJobs = { listed: 30, done: 10, bytes: 3072, unlistedDirs: 1 };
    const running = progress({
      phase: 'copy',
      walkDone: true,
      entriesFound: 5,
      entriesDone: 5,
      bytesNeeded: 1024,
      bytesDone: 1024,
      inJobs: () => inJobs,
    });
    assert.match(progressText(running, 1024, 0), /15\/35\+ entries {2}1\.0 KiB {2}1\.0 KiB\/s$/);
    assert.equal(etaSeconds(running, 1024), undefined, 'a directory is still to be listed');
    inJobs.unlistedDirs = 0;
    assert.match(
      progressText(running, 1024, 0),
      /15\/35 entries {2}1\.0 KiB of 4\.0 KiB {2}1\.0 KiB\/s {2}ETA 3\.00 s$/,
    );
    assert.equal(etaSeconds({ ...running, walkDone: false }, 1024), undefined, 'the walk is not over');
  });

  test('style: a terminal gets the line; flags override; JSON goes as events only when asked', () => {
    assert.equal(progressStyle(undefined, false, true), 'line');
    assert.equal(progressStyle(undefined, false, false), undefined);
    assert.equal(progressStyle(undefined, true, true), undefined);
    assert.equal(progressStyle(false, false, true), undefined);
    assert.equal(progressStyle(true, false, false), 'plain');
    assert.equal(progressStyle(true, true, false), 'json');
    assert.equal(progressStyle(true, false, true), 'line');
  });
});
