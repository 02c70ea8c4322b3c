/**
 * Holes of sparse files (issue 17): which blocks the pure-JS copy writes (dataRuns), which chunks a
 * sender sends as holes (isAllZeros), which files count as sparse, and a received hole's bounds
 * (FileReceiver.hole: never past the declared size, in order for FileData, the file given its size).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PathDestinationFs } from '../../src/fsops/destination-fs.js';
import { FileReceiver, ReceiveError } from '../../src/fsops/receive-file.js';
import {
  dataRuns,
  hasHoles,
  hasHolesOnDisk,
  isAllZeros,
  SPARSE_BLOCK,
} from '../../src/fsops/sparse-blocks.js';
import { tempDir } from '../helpers.js';

describe('dataRuns', () => {
  test('whole zero blocks are skipped, everything else is written', () => {
    const buffer = Buffer.alloc(5 * SPARSE_BLOCK + 100);
    buffer[SPARSE_BLOCK + 7] = 1; // block 1
    buffer[2 * SPARSE_BLOCK] = 2; // block 2
    buffer[5 * SPARSE_BLOCK + 99] = 3; // the partial tail
    assert.deepEqual(dataRuns(buffer, buffer.length), [
      [SPARSE_BLOCK, 3 * SPARSE_BLOCK],
      [5 * SPARSE_BLOCK, 5 * SPARSE_BLOCK + 100],
    ]);
    assert.deepEqual(dataRuns(Buffer.alloc(3 * SPARSE_BLOCK + 5), 3 * SPARSE_BLOCK + 5), []);
    assert.deepEqual(dataRuns(buffer, 0), []);
  });

  test('writing only the runs over zeros gives back the buffer', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(6 * SPARSE_BLOCK - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
        fc.integer({ min: 0, max: 6 * SPARSE_BLOCK }),
        (bytes, length) => {
          const buffer = Buffer.alloc(6 * SPARSE_BLOCK);
          for (const [at, value] of bytes) buffer[at] = value;
          const copy = Buffer.alloc(length);
          let last = 0;
          for (const [start, end] of dataRuns(buffer, length)) {
            assert.ok(start >= last && end > start && end <= length, 'runs in order, within the length');
            assert.equal(start % SPARSE_BLOCK, 0, 'a run starts on a block');
            buffer.copy(copy, start, start, end);
            last = end;
          }
          assert.ok(copy.equals(buffer.subarray(0, length)));
        },
      ),
      { numRuns: 200, seed: 20261204 },
    );
  });

  test('isAllZeros', () => {
    assert.equal(isAllZeros(Buffer.alloc(0)), true);
    assert.equal(isAllZeros(Buffer.alloc(3 * SPARSE_BLOCK + 1)), true);
    const last = Buffer.alloc(3 * SPARSE_BLOCK + 1);
    last[last.length - 1] = 1;
    assert.equal(isAllZeros(last), false);
  });

  test('a file is sparse when fewer bytes are on disk than its size', () => {
    assert.equal(hasHoles({ size: 10, allocated: 4096 }), false);
    assert.equal(hasHoles({ size: 1 << 20, allocated: 4096 }), true);
    assert.equal(hasHoles({ size: 1 << 20 }), false, 'unknown: no holes assumed');
    assert.equal(hasHolesOnDisk({ size: 4096n, blocks: 8n }), false);
    assert.equal(hasHolesOnDisk({ size: 4097n, blocks: 8n }), true);
  });
});

describe('FileReceiver.hole', () => {
  function receiver(t: { after(fn: () => void): void }, size: number) {
    const root = tempDir(t, 'blit-hole-');
    return { root, file: new FileReceiver(new PathDestinationFs(root), 'f', size, 0o644) };
  }

  test('holes count toward the declared size and stay unwritten; a hole at the end sets the size', (t) => {
    const { root, file } = receiver(t, 3 << 20);
    file.write(0, Buffer.from('head'));
    file.hole(4, (3 << 20) - 4, true);
    file.finish(1_000_000_000n);
    const data = readFileSync(join(root, 'f'));
    assert.equal(data.length, 3 << 20);
    assert.equal(data.subarray(0, 4).toString(), 'head');
    assert.ok(isAllZeros(data.subarray(4)));
    assert.ok(statSync(join(root, 'f')).blocks * 512 < 1 << 20, 'the hole takes no space');
  });

  test('a hole past the declared size, empty, or out of order fails the file', (t) => {
    const { file } = receiver(t, 100);
    assert.throws(() => file.hole(0, 101, true), ReceiveError);
    assert.throws(() => file.hole(90, 11, false), ReceiveError);
    assert.throws(() => file.hole(0, 0, true), ReceiveError);
    assert.throws(() => file.hole(10, 5, true), ReceiveError, 'FileData: only where the last chunk ended');
    file.hole(0, 100, true);
    assert.throws(() => file.write(100, Buffer.from('x')), ReceiveError);
    file.abort();
  });
});

describe('FileReceiver of a sparse source', () => {
  test('zero pages that came as data land as holes, whatever the chunks; the bytes are kept', (t) => {
    const root = tempDir(t, 'blit-sparse-target-');
    const size = 2 << 20;
    const want = Buffer.alloc(size);
    want.fill(5, 300_000, 300_010); // data inside one page, amid zeros
    want.fill(6, size - 10); // and in the last page
    const file = new FileReceiver(new PathDestinationFs(root), 'f', size, 0o644, undefined, true);
    // Chunks cut anywhere (a socket's reads): pages of zeros come in pieces.
    for (let at = 0; at < size; ) {
      const end = Math.min(size, at + 65_537);
      file.writeAt(at, want.subarray(at, end));
      at = end;
    }
    file.finish(1_000_000_000n);
    assert.ok(readFileSync(join(root, 'f')).equals(want), 'same bytes');
    const blocks = statSync(join(root, 'f')).blocks;
    assert.ok(blocks <= (3 * SPARSE_BLOCK) / 512, `${blocks} blocks on disk: the zero pages are holes`);
  });
});
