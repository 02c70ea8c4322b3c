/**
 * One session's jobs on the addon's landing threads (fsops/land-files.ts: groups of small files,
 * groups of ranges), as its stall detector sees them. Each job is this side's own work from the
 * moment it is queued until it answers (transport/own-work.ts). The threads are one first-in,
 * first-out pool for the whole process, so a job queued behind other sessions' is waiting, not
 * stalled: an answer to a job the pool took before this session's oldest one still with it is
 * progress for this session; once that job is being landed, only its own answer is.
 */
import { nextLandingJob, onLandingAnswer } from '../../fsops/land-files.js';
import { showPath } from '../../util/errors.js';
import { faults } from '../../util/faults.js';
import type { OwnWork } from '../own-work.js';

export class LandingJobs {
  /** This session's jobs with the landing threads, by their number there. */
  private readonly withPool = new Set<number>();
  private readonly stopHearing: () => void;

  /** Without `work` (no stall detector), jobs are only run. */
  constructor(private readonly work?: OwnWork) {
    this.stopHearing = work
      ? onLandingAnswer((job) => {
          const oldest = this.oldest();
          if (oldest !== undefined && job < oldest) work.beat();
        })
      : () => {};
  }

  /**
   * Runs `submit`, which hands one job to the landing threads: `what` it does to `rels` (counted in
   * `units`), for the stall message. A test may hold the job back first, as a hung disk would.
   */
  run<R>(
    what: string,
    rels: readonly { rel: string }[],
    units: string,
    submit: () => Promise<R>,
  ): Promise<R> {
    return this.runCounted(what, rels[0]!.rel, rels.length, units, submit);
  }

  /** run, for `count` items named by the first alone (`first`). */
  runCounted<R>(
    what: string,
    first: string,
    count: number,
    units: string,
    submit: () => Promise<R>,
  ): Promise<R> {
    const more = count > 1 ? ` and ${count - 1} more ${units}` : '';
    const done = this.work?.start(`${what}: ${showPath(first)}${more}`) ?? (() => {});
    const queue = () => {
      const job = nextLandingJob();
      const answered = submit();
      this.withPool.add(job);
      return answered.finally(() => this.withPool.delete(job));
    };
    const held = faults.pause('land', first);
    return (held ? held.then(queue) : queue()).finally(done);
  }

  /** The session is over: answers of the pool are no news to it any more. */
  close(): void {
    this.stopHearing();
  }

  private oldest(): number | undefined {
    let oldest: number | undefined;
    for (const job of this.withPool) if (oldest === undefined || job < oldest) oldest = job;
    return oldest;
  }
}
