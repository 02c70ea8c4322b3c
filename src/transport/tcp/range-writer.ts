/**
 * The bytes of whole files and blocks arriving on data sockets, written at their offsets on the
 * addon's landing threads (fsops/land-files.ts writeRanges) while the event loop reads on. Each
 * event-loop turn's ranges go out as one job; the bytes waiting count against the session's budget
 * (byte-budget.ts). Ranges a data socket's thread receives into the file itself are counted here
 * too (`external`), so `idle` covers every write to a descriptor. The caller counts each file's writes in flight and must not close its
 * descriptor before they have all answered (a reused descriptor number would be written into).
 */
import { nextLandingJob, type RangeJob, writeRanges } from '../../fsops/land-files.js';
import { showPath } from '../../util/errors.js';
import { faults } from '../../util/faults.js';
import type { OwnWork } from '../own-work.js';
import type { ByteBudget } from './byte-budget.js';

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
  /** This writer's jobs with the landing threads, by their number there (fsops/land-files.ts). */
  private readonly withPool = new Set<number>();

  constructor(
    private readonly budget: ByteBudget,
    private readonly on: RangeCallbacks<T>,
    /** The stall detector's count of this side's work: each job is in flight until it answers. */
    private readonly work?: OwnWork,
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

  /** The oldest of this writer's jobs still with the landing threads (their number there), if any. */
  oldestWithPool(): number | undefined {
    let oldest: number | undefined;
    for (const job of this.withPool) if (oldest === undefined || job < oldest) oldest = job;
    return oldest;
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queued.splice(0);
    if (group.length === 0) return;
    const more = group.length > 1 ? ` and ${group.length - 1} more range(s)` : '';
    const done = this.work?.start(`write: ${showPath(group[0]!.rel)}${more}`);
    // A test may hold a group back, as a hung disk would.
    const held = faults.pause('land', group[0]!.rel);
    const write = () => {
      const job = nextLandingJob();
      const written = writeRanges(group);
      this.withPool.add(job);
      return written.finally(() => this.withPool.delete(job));
    };
    (held ? held.then(write) : write()).then(
      (errors) => {
        done?.();
        this.answer(group, errors);
      },
      (error: unknown) => {
        done?.();
        this.answer(
          group,
          group.map(() => error),
        );
      },
    );
  }

  private answer(group: Range<T>[], errors: unknown[]): void {
    group.forEach((range, i) => {
      this.budget.give(range.data.length);
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
