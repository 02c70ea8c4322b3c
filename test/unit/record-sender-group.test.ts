/**
 * RecordSender.batchGroup on a real loopback socket: a group of small files read together goes out
 * as one batch of those read, their bytes squeezed together in order, and FAIL for those that
 * changed or could not be read; what the open found (not as listed, not opened) is left to the
 * caller, nothing sent for it. Decoded by the receiving side's own RecordDecoder.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { WholeRead } from '../../src/fsops/read-listed.js';
import { RecordSender } from '../../src/transport/tcp/record-sender.js';
import { RecordDecoder, type RecordEvent } from '../../src/transport/tcp/records.js';
import { loopbackPair } from '../helpers.js';

/** Everything `server` receives until the sender's end record, decoded. */
function decoded(server: Socket): Promise<string[]> {
  const decoder = new RecordDecoder();
  const events: string[] = [];
  const show = (event: RecordEvent) => {
    if (event.kind === 'start') events.push(`start ${event.fileId} ${event.length}`);
    else if (event.kind === 'data') events.push(`data ${event.fileId} ${event.data.toString()}`);
    else if (event.kind === 'done') events.push(`done ${event.fileId}`);
    else if (event.kind === 'fail') events.push(`fail ${event.fileId} ${event.reason}`);
    else events.push('end');
  };
  return new Promise((resolve, reject) => {
    server.on('data', (chunk: Buffer) => {
      try {
        for (const event of decoder.push(chunk)) show(event);
      } catch (error) {
        reject(error);
      }
      if (decoder.atEnd) resolve(events);
    });
    server.on('error', reject);
  });
}

const READ: WholeRead = { kind: 'read' };

test('a group goes out as one batch of the files read, and FAIL for those that changed or failed', async (t) => {
  const { server, client } = await loopbackPair(t);
  const received = decoded(server);
  const sender = new RecordSender();
  sender.attach(client);
  assert.ok(sender.ready);

  // Five files, each read into the buffer after the one before: the second changed, the third
  // could not be read, the fourth was not as listed when opened (the caller reports it).
  const contents = ['aaa', 'bbbb', 'ccccc', 'dd', 'eeeeee'];
  const answers: WholeRead[] = [
    READ,
    { kind: 'changed' },
    { kind: 'read-failed', error: Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }) },
    { kind: 'not-as-listed' },
    READ,
  ];
  const members = contents.map((content, i) => ({ fileId: BigInt(i + 1), length: content.length }));
  const got = await sender.batchGroup(members, async (into) => {
    let at = 0;
    for (const content of contents) at += into.write(content, at);
    return answers;
  });
  assert.deepEqual(got, answers, 'the answers go back to the caller');

  // Nothing read at all: nothing but the FAIL.
  await sender.batchGroup([{ fileId: 9n, length: 1 }], async () => [{ kind: 'changed' }]);
  // No addon to read with: nothing sent.
  assert.equal(await sender.batchGroup([{ fileId: 10n, length: 1 }], () => undefined), undefined);
  sender.end();

  const changed = 'changed while it was copied; not installed';
  assert.deepEqual(await received, [
    `fail 2 ${changed}`,
    'fail 3 cannot read: input/output error',
    'start 1 3',
    'data 1 aaa',
    'done 1',
    'start 5 6',
    'data 5 eeeeee',
    'done 5',
    `fail 9 ${changed}`,
    'end',
  ]);
});

test("a group whose read throws sends nothing and answers undefined: the caller takes each file's steps", async (t) => {
  const { server, client } = await loopbackPair(t);
  const received = decoded(server);
  const sender = new RecordSender();
  sender.attach(client);
  const throwing = async (): Promise<WholeRead[]> => {
    throw Object.assign(new Error('EMFILE: too many open files, dup'), { code: 'EMFILE' });
  };
  assert.equal(await sender.batchGroup([{ fileId: 1n, length: 1 }], throwing), undefined);
  assert.equal(
    await sender.batchGroup([{ fileId: 2n, length: 1 }], () => {
      throw new RangeError('the files do not fit');
    }),
    undefined,
  );
  sender.end();
  assert.deepEqual(await received, ['end']);
});

test('a group takes small files while they fit one batch, and nothing without a socket', async (t) => {
  const sender = new RecordSender();
  assert.equal(sender.groupTakes(0, 0, 1), false, 'no socket yet');
  const { client } = await loopbackPair(t);
  sender.attach(client);
  t.after(() => sender.destroy());
  const KiB = 1024;
  assert.equal(sender.groupTakes(0, 0, 64 * KiB), true, 'a file of 64 KiB is small');
  assert.equal(sender.groupTakes(0, 0, 64 * KiB + 1), false, 'one byte more is not');
  assert.equal(sender.groupTakes(10, 1024 * KiB - 100, 100), true, 'up to 1 MiB in all');
  assert.equal(sender.groupTakes(10, 1024 * KiB - 100, 101), false);
  assert.equal(sender.groupTakes(4095, 0, 0), true, 'up to 4096 files');
  assert.equal(sender.groupTakes(4096, 0, 0), false);
});
