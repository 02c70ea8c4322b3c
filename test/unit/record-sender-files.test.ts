/**
 * RecordSender.sendFile with the addon, on real loopback sockets: a file too large for a batch goes
 * by sendfile as blocks, none FINAL, then exactly one CHECKED once they are out, and consecutive
 * files use both sockets. Decoded by the receiving side's own RecordDecoder. (That the next file's
 * blocks queue while a file waits for its check is a matter of speed, shown by the benchmark: on
 * loopback the CHECKED records alone already spread the files.) Skipped where the addon is not
 * built.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/fsops/native.js';
import { RecordSender } from '../../src/transport/tcp/record-sender.js';
import { RecordDecoder } from '../../src/transport/tcp/records.js';
import { loopbackPair } from '../helpers.js';

const skip = nativeAddon() ? false : 'the native addon is not built';

interface Received {
  /** Per file: its bytes by offset, whether a block was FINAL, how many CHECKED came. */
  files: Map<bigint, { bytes: Buffer; final: boolean; checked: number }>;
  /** The files whose records came on this socket. */
  carried: Set<bigint>;
}

/** Everything `server` receives until the sender's end record, into `into`. */
function receive(server: Socket, into: Map<bigint, { bytes: Buffer; final: boolean; checked: number }>) {
  const decoder = new RecordDecoder();
  const carried = new Set<bigint>();
  return new Promise<Received>((resolve, reject) => {
    server.on('data', (chunk: Buffer) => {
      try {
        for (const event of decoder.push(chunk)) {
          // A decoder made without `batches` never reads a batch whole.
          if (event.kind === 'end' || event.kind === 'batch') continue;
          const file = into.get(event.fileId);
          if (!file) throw new Error(`a record for file ${event.fileId}, never sent`);
          carried.add(event.fileId);
          if (event.kind === 'start') file.final ||= event.final;
          else if (event.kind === 'data') event.data.copy(file.bytes, event.offset);
          else if (event.kind === 'checked') file.checked++;
          else if (event.kind === 'fail') throw new Error(`file ${event.fileId} failed: ${event.reason}`);
        }
      } catch (error) {
        reject(error);
      }
      if (decoder.atEnd) resolve({ files: into, carried });
    });
    server.on('error', reject);
  });
}

test('files too large for a batch go by sendfile, each CHECKED, spread over the sockets', {
  skip,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blit-sender-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await loopbackPair(t);
  const second = await loopbackPair(t);
  const sizes = [100 << 10, 300 << 10, 100 << 10, (4 << 20) + 3, 200 << 10, 150 << 10];
  const expected = new Map<bigint, Buffer>();
  const into = new Map<bigint, { bytes: Buffer; final: boolean; checked: number }>();
  sizes.forEach((size, i) => {
    const data = Buffer.alloc(size);
    for (let at = 0; at < size; at += 1013) data[at] = (at / 1013 + i) % 251;
    expected.set(BigInt(i + 1), data);
    into.set(BigInt(i + 1), { bytes: Buffer.alloc(size), final: false, checked: 0 });
  });
  const received = [receive(first.server, into), receive(second.server, into)];
  const sender = new RecordSender();
  sender.attach(first.client);
  sender.attach(second.client);
  for (const [fileId, data] of expected) {
    const path = join(dir, `f${fileId}`);
    writeFileSync(path, data);
    const stats = statSync(path, { bigint: true });
    await sender.sendFile({
      fileId,
      rel: `f${fileId}`,
      path,
      fd: openSync(path, 'r'),
      size: data.length,
      listed: { size: stats.size, mtimeNs: stats.mtimeNs },
    });
  }
  // The last checks come once their blocks are out (polled, with a deadline); then the end records.
  for (let waited = 0; ![...into.values()].every((file) => file.checked > 0); waited += 5) {
    assert.ok(waited < 15_000, 'not all files checked within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  sender.end();
  const [onFirst, onSecond] = (await Promise.all(received)) as [Received, Received];
  for (const [fileId, data] of expected) {
    const file = into.get(fileId)!;
    assert.ok(file.bytes.equals(data), `file ${fileId} arrived whole`);
    assert.equal(file.final, false, `file ${fileId}: no block FINAL`);
    assert.equal(file.checked, 1, `file ${fileId}: one CHECKED`);
  }
  assert.ok(onFirst.carried.size > 0 && onSecond.carried.size > 0, 'both sockets carried files');
});
