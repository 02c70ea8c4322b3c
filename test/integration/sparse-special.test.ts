/**
 * Sparse files keep their holes (issue 17): a 64 MiB file with 1 MiB of data in the middle and a
 * short tail lands with the same bytes and few blocks on disk, copied and mirrored locally (addon,
 * whole-directory jobs, per-file batches, pure JS) and pushed and pulled (TCP data plane, and
 * FileData frames with --force-grpc-data). Every run counts the file as fidelity 'sparse'.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blit, jsonReport, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/** Blocks on disk (st_blocks, 512 bytes) a copy may have: the 1 MiB of data and the tail, with room
 * for a data-plane block of 4 MiB written whole around it; a dense copy has 131072. */
const MAX_BLOCKS = (8 * MiB) / 512;

function allocatedBlocks(path: string): number {
  const out = spawnSync('stat', ['-c', '%b', path], { encoding: 'utf8' });
  return Number(out.stdout.trim());
}

/** src/big: holes, 1 MiB of data at 31 MiB, a hole, and a tail; src/sub/also: the same, smaller. */
function makeSparseTree(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  for (const [path, size] of [
    [join(src, 'big'), SIZE],
    [join(src, 'sub', 'also'), 16 * MiB],
  ] as const) {
    const fd = openSync(path, 'w');
    const data = Buffer.alloc(MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 1) % 251;
    writeSync(fd, data, 0, data.length, size / 2 - MiB);
    writeSync(fd, Buffer.from('tail'), 0, 4, size - 4);
    closeSync(fd);
  }
  writeFileSync(join(src, 'dense-small'), 'dense\n');
  return src;
}

function assertSparseCopy(dst: string, src: string): void {
  for (const rel of ['big', join('sub', 'also')]) {
    assert.ok(readFileSync(join(dst, rel)).equals(readFileSync(join(src, rel))), `${rel}: same bytes`);
    const blocks = allocatedBlocks(join(dst, rel));
    assert.ok(blocks <= MAX_BLOCKS, `${rel}: ${blocks} blocks on disk (holes kept: at most ${MAX_BLOCKS})`);
  }
}

function sparseCount(report: ReturnType<typeof jsonReport>): number {
  return (report.fidelity as { sparse?: { applied: number } } | undefined)?.sparse?.applied ?? 0;
}

const LOCAL_WAYS: [string, Record<string, string>][] = [
  ['addon, whole-directory jobs', {}],
  ['addon, per-file batches', { BLIT_NO_WHOLE_DIRS: '1' }],
  ['pure JS', { BLIT_NO_NATIVE: '1' }],
];

for (const [way, env] of LOCAL_WAYS) {
  test(`a local mirror keeps holes (${way}), and a second mirror changes nothing`, (t) => {
    const root = tempDir(t, 'blit-sparse-');
    const src = makeSparseTree(root);
    assert.ok(allocatedBlocks(join(src, 'big')) <= MAX_BLOCKS, 'the test file system keeps holes');
    const dst = join(root, 'dst');
    const first = blit(['mirror', '--json', `${src}/`, `${dst}/`], { env });
    assert.equal(first.status, 0, first.stderr);
    assertSparseCopy(dst, src);
    assert.equal(sparseCount(jsonReport(first)), 2);
    const second = blit(['mirror', '--json', `${src}/`, `${dst}/`], { env });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(jsonReport(second).copied, 0);
    assertSparseCopy(dst, src);
  });
}

for (const grpc of [false, true]) {
  const how = grpc ? 'FileData frames (--force-grpc-data)' : 'the TCP data plane';
  test(`push and pull keep holes over ${how}`, async (t) => {
    const root = tempDir(t, 'blit-sparse-remote-');
    const src = makeSparseTree(root);
    const module = join(root, 'module');
    mkdirSync(module);
    const daemon = await startDaemon(t, ['--root', module]);
    const flags = grpc ? ['--force-grpc-data'] : [];
    const push = await runBlit([
      'mirror',
      '--json',
      ...flags,
      `${src}/`,
      `127.0.0.1:${daemon.port}:/default/dst/`,
    ]);
    assert.equal(push.status, 0, push.stderr);
    assertSparseCopy(join(module, 'dst'), src);
    assert.equal(sparseCount(jsonReport(push)), 2, push.stdout);
    const back = join(root, 'back');
    const pull = await runBlit([
      'mirror',
      '--json',
      ...flags,
      `127.0.0.1:${daemon.port}:/default/dst/`,
      `${back}/`,
    ]);
    assert.equal(pull.status, 0, pull.stderr);
    assertSparseCopy(back, src);
    assert.equal(sparseCount(jsonReport(pull)), 2, pull.stdout);
    const again = await runBlit([
      'mirror',
      '--json',
      ...flags,
      `127.0.0.1:${daemon.port}:/default/dst/`,
      `${back}/`,
    ]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(jsonReport(again).copied, 0);
  });
}
