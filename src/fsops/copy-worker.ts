/** Worker thread entry: copies batches of files with synchronous calls, one message per batch. */
import { parentPort, workerData } from 'node:worker_threads';
import { ActivityBoard } from '../util/activity-board.js';
import { hangIfInjected } from '../util/test-hang.js';
import { type CopyJob, copyBatch, createCopyContext } from './copy-file.js';
import { loadBlake3 } from './hash.js';

export interface BatchRequest {
  id: number;
  jobs: CopyJob[];
}

export interface CopyWorkerData {
  /** The stall detector's board, and this worker's slot on it. */
  board?: SharedArrayBuffer;
  slot: number;
}

const port = parentPort;
if (port) {
  const data = workerData as CopyWorkerData | undefined;
  const board = data?.board ? new ActivityBoard(data.board) : undefined;
  const slot = data?.slot ?? 0;
  const ready = loadBlake3()
    .then(createCopyContext, () => createCopyContext())
    .then((ctx) => ({ ...ctx, beat: board?.ints }));
  port.on('message', (request: BatchRequest) => {
    void ready.then((ctx) => {
      const first = request.jobs[0];
      if (board && first) {
        const more = request.jobs.length > 1 ? ` (+${request.jobs.length - 1} more)` : '';
        board.set(slot, `copy: ${first.rel}${more}`);
      }
      for (const job of request.jobs) hangIfInjected('copy', job.rel);
      const outcomes = copyBatch(request.jobs, ctx);
      board?.set(slot, '');
      board?.beat();
      port.postMessage({ id: request.id, outcomes });
    });
  });
}
