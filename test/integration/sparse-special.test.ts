/**
 * Sparse files keep their holes (issue 17): a 64 MiB file with 1 MiB of data in the middle and a
 * short tail lands with the same bytes and few blocks on disk, copied and mirrored locally (addon,
 * whole-directory jobs, per-file batches, pure JS) and pushed and pulled (TCP data plane, and
 * FileData frames with --force-grpc-data). Every run counts the file as fidelity 'sparse'.
 * FIFOs and (as root) a character device are recreated locally and by pull with type, device
 * number, mode and mtime, converge, and a device pushed to blitd is refused (its FIFOs are made).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { blit, IS_ROOT, jsonReport, tempDir } from '../helpers.js';
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

/**
 * Holes finer than the transport's pieces: src/head (260 KiB, a 192 KiB hole then data: a file
 * sent whole), src/small (48 KiB, a hole, 4 KiB of data, a hole, its last 4 KiB: landed in a batch
 * of small files) and src/spots (8 MiB, 4 KiB of data at 1 MiB and at 5 MiB and its last 4 KiB: blocks
 * and chunks partly zero). The receiver turns the zero pages it got back into holes.
 */
const KiB = 1024;
const FINE_FILES: [string, number, number[]][] = [
  ['head', 260 * KiB, [192 * KiB, 224 * KiB, 256 * KiB]],
  ['small', 48 * KiB, [32 * KiB, 44 * KiB]],
  ['spots', 8 * MiB, [MiB, 5 * MiB, 8 * MiB - 4 * KiB]],
];

function makeFineTree(root: string): string {
  const src = join(root, 'src');
  mkdirSync(src, { recursive: true });
  for (const [name, size, at] of FINE_FILES) {
    const fd = openSync(join(src, name), 'w');
    const data = Buffer.alloc(name === 'head' ? 32 * KiB : 4 * KiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 5) % 251;
    for (const offset of at) writeSync(fd, data, 0, Math.min(data.length, size - offset), offset);
    closeSync(fd);
  }
  return src;
}

/** Same bytes, and no more blocks on disk than the source's and a little slack. */
function assertFineCopy(dst: string, src: string): void {
  for (const [name] of FINE_FILES) {
    assert.ok(readFileSync(join(dst, name)).equals(readFileSync(join(src, name))), `${name}: same bytes`);
    const want = allocatedBlocks(join(src, name));
    const blocks = allocatedBlocks(join(dst, name));
    assert.ok(blocks <= want + 16, `${name}: ${blocks} blocks on disk (the source has ${want})`);
  }
}

for (const [way, flags, env] of [
  ['the TCP data plane', [], {}],
  ['FileData frames (--force-grpc-data)', ['--force-grpc-data'], {}],
  ['the TCP data plane, no addon', [], { BLIT_NO_NATIVE: '1' }],
  ['FileData frames, no addon', ['--force-grpc-data'], { BLIT_NO_NATIVE: '1' }],
] as [string, string[], Record<string, string>][]) {
  test(`push and pull keep 4 KiB holes over ${way}`, async (t) => {
    const root = tempDir(t, 'blit-sparse-fine-');
    const src = makeFineTree(root);
    for (const [name, size] of FINE_FILES) {
      const blocks = allocatedBlocks(join(src, name));
      if (blocks * 512 >= size) return t.skip('the test file system keeps no holes');
    }
    const module = join(root, 'module');
    mkdirSync(module);
    const daemon = await startDaemon(t, ['--root', module], env);
    const push = await runBlit(['mirror', ...flags, `${src}/`, `127.0.0.1:${daemon.port}:/default/dst/`], {
      env,
    });
    assert.equal(push.status, 0, push.stderr);
    assertFineCopy(join(module, 'dst'), src);
    const back = join(root, 'back');
    const pull = await runBlit(['mirror', ...flags, `127.0.0.1:${daemon.port}:/default/dst/`, `${back}/`], {
      env,
    });
    assert.equal(pull.status, 0, pull.stderr);
    assertFineCopy(back, src);
  });
}

// ---- special files ------------------------------------------------------------------------------

/** src/fifo (mode 640, an old mtime), src/d/fifo, and as root src/null (char 1:3, like /dev/null). */
function makeSpecialTree(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'd', 'plain'), 'plain\n');
  assert.equal(spawnSync('mkfifo', ['-m', '640', join(src, 'fifo')]).status, 0);
  assert.equal(spawnSync('mkfifo', [join(src, 'd', 'fifo')]).status, 0);
  assert.equal(
    spawnSync('touch', ['-h', '-d', '2020-01-02 03:04:05.123456789', join(src, 'fifo')]).status,
    0,
  );
  if (IS_ROOT) assert.equal(spawnSync('mknod', [join(src, 'null'), 'c', '1', '3']).status, 0);
  return src;
}

function assertSameNode(dst: string, src: string, rel: string): void {
  const a = lstatSync(join(src, rel), { bigint: true });
  const b = lstatSync(join(dst, rel), { bigint: true });
  assert.ok(
    b.isFIFO() === a.isFIFO() && b.isCharacterDevice() === a.isCharacterDevice(),
    `${rel}: same type`,
  );
  assert.equal(b.rdev, a.rdev, `${rel}: same device number`);
  assert.equal(b.mode, a.mode, `${rel}: same mode`);
  assert.equal(b.mtimeNs, a.mtimeNs, `${rel}: same mtime`);
}

const SPECIALS = IS_ROOT ? ['fifo', join('d', 'fifo'), 'null'] : ['fifo', join('d', 'fifo')];

function specialCount(report: ReturnType<typeof jsonReport>): number {
  return (report.fidelity as { special?: { applied: number } } | undefined)?.special?.applied ?? 0;
}

for (const [way, env] of LOCAL_WAYS.filter(([, env]) => env.BLIT_NO_NATIVE !== '1')) {
  test(`a local mirror recreates FIFOs and devices (${way}), replaces another node, and converges`, (t) => {
    const root = tempDir(t, 'blit-special-');
    const src = makeSpecialTree(root);
    const dst = join(root, 'dst');
    const first = blit(['mirror', '--json', `${src}/`, `${dst}/`], { env });
    assert.equal(first.status, 0, first.stderr);
    for (const rel of SPECIALS) assertSameNode(dst, src, rel);
    assert.equal(specialCount(jsonReport(first)), SPECIALS.length);
    const again = blit(['mirror', '--json', `${src}/`, `${dst}/`], { env });
    assert.equal(jsonReport(again).copied, 0, 'a FIFO beside the same FIFO is unchanged');
    if (IS_ROOT) {
      // Another device number under the same name: replaced.
      rmSync(join(dst, 'null'));
      assert.equal(spawnSync('mknod', [join(dst, 'null'), 'c', '1', '5']).status, 0);
      const fix = blit(['mirror', '--json', `${src}/`, `${dst}/`], { env });
      assert.equal(jsonReport(fix).copied, 1, fix.stdout);
      assertSameNode(dst, src, 'null');
    }
  });
}

test('without the addon, FIFOs are counted as not kept, with the reason', (t) => {
  const root = tempDir(t, 'blit-special-js-');
  const src = makeSpecialTree(root);
  const result = blit(['mirror', '--json', `${src}/`, `${join(root, 'dst')}/`], {
    env: { BLIT_NO_NATIVE: '1' },
  });
  assert.equal(result.status, 0, result.stderr);
  const special = (jsonReport(result).fidelity as { special?: { failed: number; reason?: string } }).special;
  assert.equal(special?.failed, SPECIALS.length);
  assert.match(special?.reason ?? '', /native addon/);
});

test('pull recreates FIFOs and devices; a push of a device to blitd is refused, its FIFOs made', async (t) => {
  const root = tempDir(t, 'blit-special-remote-');
  const src = makeSpecialTree(root);
  const module = join(root, 'module');
  mkdirSync(module);
  const daemon = await startDaemon(t, ['--root', module]);
  const push = await runBlit(['mirror', '--json', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst/`]);
  assertSameNode(join(module, 'dst'), src, 'fifo');
  assertSameNode(join(module, 'dst'), src, join('d', 'fifo'));
  if (IS_ROOT) {
    assert.notEqual(push.status, 0, 'the device is a failure');
    assert.match(push.stderr + push.stdout, /null.*device files are never made in a daemon module/);
    assert.throws(() => lstatSync(join(module, 'dst', 'null')), /ENOENT/);
  } else assert.equal(push.status, 0, push.stderr);
  // The daemon's own tree: a pull brings every node back.
  const served = join(root, 'served');
  mkdirSync(join(module, 'all'));
  const local = blit(['mirror', `${src}/`, `${join(module, 'all')}/`]);
  assert.equal(local.status, 0, local.stderr);
  const pull = await runBlit(['mirror', '--json', `127.0.0.1:${daemon.port}:/default/all/`, `${served}/`]);
  assert.equal(pull.status, 0, pull.stderr);
  for (const rel of SPECIALS) assertSameNode(served, src, rel);
  assert.equal(specialCount(jsonReport(pull)), SPECIALS.length);
  const again = await runBlit(['mirror', '--json', `127.0.0.1:${daemon.port}:/default/all/`, `${served}/`]);
  assert.equal(jsonReport(again).copied, 0);
});
