/**
 * Shows a running session's progress: one line redrawn in place on a terminal, a plain line every
 * few seconds elsewhere, or (with --json) one JSON event per line on stderr.
 */
import { bytesMoved, bytesTotal, entriesShown, type Progress, scanDone } from '../engine/progress.js';
import { nowMs } from '../util/clock.js';
import { formatBytes, formatCount, formatDuration } from '../util/human.js';

export type ProgressStyle = 'line' | 'plain' | 'json';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const INTERVAL_MS: Record<ProgressStyle, number> = { line: 200, plain: 5000, json: 1000 };
/** Weight of the newest sample in the throughput's moving average. */
const RATE_SMOOTHING = 0.3;

export interface ProgressSample {
  at: number;
  bytesDone: number;
}

/** Exponential moving average of the byte rate (bytes per second) between two samples. */
export function nextRate(
  previousRate: number | undefined,
  last: ProgressSample,
  now: ProgressSample,
): number {
  const seconds = (now.at - last.at) / 1000;
  if (seconds <= 0) return previousRate ?? 0;
  const instant = (now.bytesDone - last.bytesDone) / seconds;
  return previousRate === undefined ? instant : previousRate + RATE_SMOOTHING * (instant - previousRate);
}

/** Seconds left, once the scan is complete and there is a rate to go by. */
export function etaSeconds(progress: Progress, rate: number): number | undefined {
  if (!scanDone(progress) || rate <= 0) return undefined;
  return Math.max(0, (bytesTotal(progress) - bytesMoved(progress)) / rate);
}

export function progressText(progress: Progress, rate: number, frame: number): string {
  const entries = entriesShown(progress);
  const complete = scanDone(progress);
  const found = `${formatCount(entries.done)}/${formatCount(entries.found)}${complete ? '' : '+'} entries`;
  const bytes = `${formatBytes(bytesMoved(progress))}${complete ? ` of ${formatBytes(bytesTotal(progress))}` : ''}`;
  const eta = etaSeconds(progress, rate);
  const parts = [
    `${SPINNER[frame % SPINNER.length]} ${progress.phase}`,
    found,
    bytes,
    `${formatBytes(Math.round(rate))}/s`,
  ];
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta * 1000)}`);
  return parts.join('  ');
}

export class ProgressDisplay {
  private timer: NodeJS.Timeout | undefined;
  private firstTick: NodeJS.Timeout | undefined;
  private frame = 0;
  private rate: number | undefined;
  private last: ProgressSample;
  private drawn = false;

  constructor(
    private readonly progress: Progress,
    private readonly style: ProgressStyle,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.last = { at: progress.startedAt, bytesDone: 0 };
  }

  start(): void {
    // Started again after a prompt: the rate is not averaged over the wait.
    this.last = { at: nowMs(), bytesDone: bytesMoved(this.progress) };
    // The first line comes quickly, so the display is up well within a second of the start.
    this.firstTick = setTimeout(() => this.tick(), Math.min(INTERVAL_MS[this.style], 300));
    this.firstTick.unref();
    this.timer = setInterval(() => this.tick(), INTERVAL_MS[this.style]);
    this.timer.unref();
  }

  private tick(): void {
    const now = { at: nowMs(), bytesDone: bytesMoved(this.progress) };
    this.rate = nextRate(this.rate, this.last, now);
    this.last = now;
    this.frame++;
    if (this.style === 'json') {
      const { found, done } = entriesShown(this.progress);
      this.stream.write(
        `${JSON.stringify({ event: 'progress', ...this.progress, entriesFound: found, entriesDone: done, bytesNeeded: bytesTotal(this.progress), scanComplete: scanDone(this.progress), bytesWritten: bytesMoved(this.progress), rate: Math.round(this.rate) })}\n`,
      );
      return;
    }
    const text = progressText(this.progress, this.rate, this.frame);
    if (this.style === 'line') {
      const width = this.stream.columns ? this.stream.columns - 1 : 100;
      this.stream.write(`\r\x1b[K${text.slice(0, width)}`);
      this.drawn = true;
    } else this.stream.write(`blit: ${text.slice(2)}\n`);
  }

  stop(): void {
    clearTimeout(this.firstTick);
    clearInterval(this.timer);
    this.firstTick = undefined;
    this.timer = undefined;
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** The style to use: --progress / --no-progress override the terminal default. */
export function progressStyle(
  flag: boolean | undefined,
  json: boolean,
  isTTY: boolean,
): ProgressStyle | undefined {
  if (flag === false) return undefined;
  if (flag === true) return json ? 'json' : isTTY ? 'line' : 'plain';
  return isTTY && !json ? 'line' : undefined;
}
