/** Worker thread entry: copies batches of files with synchronous calls, one message per batch. */
import { parentPort } from 'node:worker_threads';
import { type CopyJob, copyBatch, createCopyContext } from './copy-file.js';
import { loadBlake3 } from './hash.js';

export interface BatchRequest {
  id: number;
  jobs: CopyJob[];
}

const port = parentPort;
if (port) {
  const ready = loadBlake3().then(createCopyContext, () => createCopyContext());
  port.on('message', (request: BatchRequest) => {
    void ready.then((ctx) => port.postMessage({ id: request.id, outcomes: copyBatch(request.jobs, ctx) }));
  });
}
