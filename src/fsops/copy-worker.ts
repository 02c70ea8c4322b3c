/** Worker thread entry: copies batches of files with synchronous calls, one message per batch. */
import { parentPort, workerData } from 'node:worker_threads';
import { ActivityBoard } from '../util/activity-board.js';
import { installFaultsFromEnv } from '../util/env-faults.js';
import { boardContext, type CopyJob, copyBatch, prepareContext } from './copy-file.js';

export interface BatchRequest {
  id: number;
  jobs: CopyJob[];
}

export interface CopyWorkerData {
  /** The stall detector's board, and this worker's slot on it. */
  board?: SharedArrayBuffer;
  slot: number;
}

installFaultsFromEnv();
const port = parentPort;
if (port) {
  const data = workerData as CopyWorkerData | undefined;
  const board = data?.board ? new ActivityBoard(data.board) : undefined;
  const slot = data?.slot ?? 0;
  const ctx = boardContext(board, slot);
  // One batch at a time, in order, even when one has to wait for the hasher to load.
  let queue: Promise<unknown> = Promise.resolve();
  port.on('message', (request: BatchRequest) => {
    queue = queue.then(async () => {
      await prepareContext(ctx, request.jobs);
      const outcomes = copyBatch(request.jobs, ctx);
      board?.set(slot, '');
      board?.beat();
      port.postMessage({ id: request.id, outcomes });
    });
  });
}
