/**
 * The bytes of whole files and blocks arriving on data sockets, written at their offsets on the
 * addon's landing threads (fsops/land-files.ts writeRanges) while the event loop reads on. Each
 * event-loop turn's ranges go out as one job; the bytes waiting count against the session's budget
 * (byte-budget.ts). Ranges a data socket's thread receives into the file itself are counted here
 * too (`external`), so `idle` covers every write to a descriptor. The caller counts each file's writes in flight and must not close its
 * descriptor before they have all answered (a reused descriptor number would be written into).
 */
import { type RangeJob, writeRanges } from '../../fsops/land-files.js';
import type { ByteBudget } from './byte-budget.js';
import { LandingJobs } from './landing-jobs.js';
import { holdView, releaseView } from './slab-pool.js';

export interface Range<T> extends RangeJob {
  /** Whose range it is, handed back with the answer. */
  owner: T;
  /** The file's path, named by the stall detector while the range is written. */
  rel: string;
}

export interface RangeCallbacks<T> {
  /** A range was written (error undefined) or could not be. */
  written(owner: T, offset: number, length: number, error: unknown): void;
}

export class RangeWriter<T> {
  private queued: Range<T>[] = [];
  private scheduled = false;
  /** Ranges added and not answered yet. */
  private unanswered = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly budget: ByteBudget,
    private readonly on: RangeCallbacks<T>,
    /** The session's jobs on the landing threads, as its stall detector sees them. */
    private readonly jobs = new LandingJobs(),
  ) {}

  /** Resolves once no range is queued or being written (every descriptor is free to close). */
  idle(): Promise<void> {
    if (this.unanswered === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  add(range: Range<T>): void {
    this.queued.push(range);
    this.unanswered++;
    this.budget.take(range.data.length);
    // A view of a socket's read buffer: not read into again before it is written (slab-pool.ts).
    holdView(range.data);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * A range the caller writes itself (the data socket's thread receives it into the file): counted
   * as unanswered until the returned function is called, answered as any other range.
   */
  external(owner: T, offset: number, length: number): (error: unknown) => void {
    this.unanswered++;
    let answered = false;
    return (error) => {
      if (answered) return;
      answered = true;
      this.answerOne(owner, offset, length, error);
    };
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queued.splice(0);
    if (group.length === 0) return;
    this.jobs
      .run('write', group, 'range(s)', () => writeRanges(group))
      .then(
        (errors) => this.answer(group, errors),
        (error: unknown) =>
          this.answer(
            group,
            group.map(() => error),
          ),
      );
  }

  private answer(group: Range<T>[], errors: unknown[]): void {
    group.forEach((range, i) => {
      this.budget.give(range.data.length);
      releaseView(range.data);
      this.answerOne(range.owner, range.offset, range.data.length, errors[i]);
    });
  }

  private answerOne(owner: T, offset: number, length: number, error: unknown): void {
    this.unanswered--;
    try {
      this.on.written(owner, offset, length, error);
    } finally {
      if (this.unanswered === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }
}
