/**
 * Property: whatever the source and destination trees (one derived from the other by random
 * adds, modifications, deletions and type changes), `blit mirror SRC/ DST/ --yes` leaves DST equal
 * to SRC (kinds, contents, modes, link targets, mtimes within a microsecond), and a second mirror
 * finds nothing to do.
 */
import assert from 'node:assert/strict';
import { chmodSync, lutimesSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { diffSnapshots, jsonReport, type RunResult, snapshot, tempDir } from '../helpers.js';
import { runBlit, startDaemon } from './daemon-harness.js';

const T = 1_500_000_000;
/**
 * Each origin of a node draws its mtime from its own band, so a node edited on one side never
 * shares size *and* mtime with a different node on the other side (that would be invisible to
 * any size-and-mtime compare, rsync's included, and is not what this property is about).
 */
const BAND_US = 10_000_000_000_000;
const BANDS = { base: 0, source: 1, destination: 2 } as const;
type Band = keyof typeof BANDS;

interface FileNode {
  kind: 'file';
  content: Uint8Array;
  mode: number;
  mtimeUs: number;
}
interface DirNode {
  kind: 'dir';
  children: Record<string, Node>;
  mode: number;
  mtimeUs: number;
}
interface LinkNode {
  kind: 'symlink';
  target: string;
  mtimeUs: number;
}
type Node = FileNode | DirNode | LinkNode;

const NAMES = ['a', 'b', 'c d', '\u00fc', 'cafe\u0301', 'caf\u00e9', 'x\ny', '-r'];
const nameArb = fc.constantFrom(...NAMES);

function mtimeArb(band: Band): fc.Arbitrary<number> {
  const low = BANDS[band] * BAND_US;
  return fc.integer({ min: low, max: low + BAND_US - 1 });
}

function fileArb(band: Band): fc.Arbitrary<FileNode> {
  return fc.record({
    kind: fc.constant('file' as const),
    content: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1000, maxLength: 3000 })),
    mode: fc.constantFrom(0o644, 0o600, 0o755, 0o444, 0o640),
    mtimeUs: mtimeArb(band),
  });
}

function linkArb(band: Band): fc.Arbitrary<LinkNode> {
  return fc.record({
    kind: fc.constant('symlink' as const),
    target: fc.constantFrom('a', '../b', 'dangling', '/nonexistent', '.', 'c d/\u00fc'),
    mtimeUs: mtimeArb(band),
  });
}

const dirModeArb = fc.constantFrom(0o755, 0o700, 0o750);

function treeArb(band: Band, rootKeys = { minKeys: 0, maxKeys: 4 }): fc.Arbitrary<DirNode> {
  const depthIdentifier = `tree-${band}`;
  const { node } = fc.letrec<{ node: Node; dir: DirNode }>((tie) => ({
    node: fc.oneof(
      { maxDepth: 3, depthIdentifier },
      { arbitrary: fileArb(band), weight: 3 },
      { arbitrary: linkArb(band), weight: 1 },
      { arbitrary: tie('dir'), weight: 2 },
    ),
    dir: fc.record({
      kind: fc.constant('dir' as const),
      children: fc.dictionary(nameArb, tie('node'), { maxKeys: 4, depthIdentifier }),
      mode: dirModeArb,
      mtimeUs: mtimeArb(band),
    }),
  }));
  return fc.record({
    kind: fc.constant('dir' as const),
    children: fc.dictionary(nameArb, node, rootKeys),
    mode: dirModeArb,
    mtimeUs: mtimeArb(band),
  });
}

type EditOp = 'add' | 'modify' | 'delete' | 'retype';
interface Edit {
  op: EditOp;
  /** Chooses the entry (or, for an add, the directory) the edit applies to. */
  at: number;
  name: string;
  node: Node;
  mtimeUs: number;
  content: Uint8Array;
}

function editArb(band: Band): fc.Arbitrary<Edit> {
  return fc.record({
    op: fc.constantFrom<EditOp>('add', 'modify', 'delete', 'retype', 'retype'),
    at: fc.nat(),
    name: nameArb,
    node: fc.oneof(fileArb(band), linkArb(band), treeArb(band)),
    mtimeUs: mtimeArb(band),
    content: fc.uint8Array({ maxLength: 200 }),
  });
}

/** Every entry of a tree with its parent directory, parents before children. */
function entriesOf(dir: DirNode): { parent: DirNode; name: string; node: Node }[] {
  const out: { parent: DirNode; name: string; node: Node }[] = [];
  for (const [name, node] of Object.entries(dir.children)) {
    out.push({ parent: dir, name, node });
    if (node.kind === 'dir') out.push(...entriesOf(node));
  }
  return out;
}

function dirsOf(dir: DirNode): DirNode[] {
  return [dir, ...entriesOf(dir).flatMap((e) => (e.node.kind === 'dir' ? [e.node] : []))];
}

function applyEdits(tree: DirNode, edits: Edit[]): DirNode {
  const root = structuredClone(tree);
  for (const edit of edits) {
    const entries = entriesOf(root);
    if (edit.op === 'add') {
      const dirs = dirsOf(root);
      const dir = dirs[edit.at % dirs.length]!;
      if (!(edit.name in dir.children)) dir.children[edit.name] = structuredClone(edit.node);
      continue;
    }
    if (entries.length === 0) continue;
    const { parent, name, node } = entries[edit.at % entries.length]!;
    switch (edit.op) {
      case 'delete':
        delete parent.children[name];
        break;
      case 'modify':
        node.mtimeUs = edit.mtimeUs;
        if (node.kind === 'file') node.content = edit.content;
        else if (node.kind === 'symlink') node.target = `${node.target}-changed`;
        else node.mode = node.mode === 0o755 ? 0o700 : 0o755;
        break;
      case 'retype': {
        let replacement = structuredClone(edit.node);
        if (replacement.kind === node.kind) {
          replacement =
            node.kind === 'dir'
              ? { kind: 'file', content: edit.content, mode: 0o644, mtimeUs: edit.mtimeUs }
              : { kind: 'dir', children: {}, mode: 0o755, mtimeUs: edit.mtimeUs };
        }
        parent.children[name] = replacement;
        break;
      }
    }
  }
  return root;
}

function seconds(mtimeUs: number): number {
  return T + mtimeUs / 1e6;
}

function materialize(path: string, dir: DirNode): void {
  mkdirSync(path);
  for (const [name, node] of Object.entries(dir.children)) {
    const child = join(path, name);
    if (node.kind === 'file') {
      writeFileSync(child, node.content);
      chmodSync(child, node.mode);
      utimesSync(child, seconds(node.mtimeUs), seconds(node.mtimeUs));
    } else if (node.kind === 'symlink') {
      symlinkSync(node.target, child);
      lutimesSync(child, seconds(node.mtimeUs), seconds(node.mtimeUs));
    } else materialize(child, node);
  }
  chmodSync(path, dir.mode);
  utimesSync(path, seconds(dir.mtimeUs), seconds(dir.mtimeUs));
}

/** True when some path is a directory in `source` but a file or link in `destination`. */
function hasDirOverNonDir(source: DirNode, destination: DirNode): boolean {
  for (const [name, node] of Object.entries(source.children)) {
    const other = destination.children[name];
    if (!other) continue;
    if (node.kind === 'dir' && other.kind !== 'dir') return true;
    if (node.kind === 'dir' && other.kind === 'dir' && hasDirOverNonDir(node, other)) return true;
  }
  return false;
}

const scenarioArb = fc.record({
  base: treeArb('base', { minKeys: 3, maxKeys: 6 }),
  sourceEdits: fc.array(editArb('source'), { minLength: 1, maxLength: 8 }),
  destinationEdits: fc.array(editArb('destination'), { minLength: 1, maxLength: 8 }),
  destinationStartsEmpty: fc.oneof(
    { arbitrary: fc.constant(true), weight: 1 },
    { arbitrary: fc.constant(false), weight: 5 },
  ),
});

/** Where a mirror runs: on this machine, pushed to a blitd, or pulled from one. */
type Mirror = (src: string, dst: string) => Promise<RunResult>;

const localMirror: Mirror = (src, dst) => runBlit(['mirror', `${src}/`, `${dst}/`, '--yes', '--json']);

/** Through a blitd whose module `default` is `root`. */
function remoteMirror(root: string, port: number, direction: 'push' | 'pull'): Mirror {
  const remote = (path: string) => `127.0.0.1:${port}:/default/${relative(root, path)}/`;
  return (src, dst) =>
    runBlit(
      direction === 'push'
        ? ['mirror', `${src}/`, remote(dst), '--yes', '--json']
        : ['mirror', remote(src), `${dst}/`, '--yes', '--json'],
    );
}

function mirrorConverges(root: string, mirror: Mirror, options: { allowDirOverNonDir: boolean }) {
  let run = 0;
  return fc.asyncProperty(scenarioArb, async (scenario) => {
    const source = applyEdits(scenario.base, scenario.sourceEdits);
    const destination = scenario.destinationStartsEmpty
      ? { kind: 'dir' as const, children: {}, mode: 0o755, mtimeUs: BANDS.destination * BAND_US }
      : applyEdits(scenario.base, scenario.destinationEdits);
    if (!options.allowDirOverNonDir) fc.pre(!hasDirOverNonDir(source, destination));
    const dir = join(root, String(run++));
    mkdirSync(dir);
    try {
      const src = join(dir, 'src');
      const dst = join(dir, 'dst');
      materialize(src, source);
      materialize(dst, destination);

      const first = await mirror(src, dst);
      const differences = diffSnapshots(snapshot(dst), snapshot(src), { mtimeToleranceNs: 1001n });
      assert.deepEqual(
        { exit: first.status, failures: first.status === 0 ? [] : jsonReport(first).failures, differences },
        { exit: 0, failures: [], differences: [] },
        `mirror did not converge; stderr:\n${first.stderr}`,
      );

      const second = await mirror(src, dst);
      assert.equal(second.status, 0, second.stderr);
      const report = jsonReport(second);
      assert.deepEqual(
        { copied: report.copied, updated: report.updated, deleted: report.deleted, failed: report.failed },
        { copied: 0, updated: 0, deleted: 0, failed: 0 },
        'a second mirror finds nothing to do',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Each run spawns blit twice; shrinking a failure gets a time budget rather than running on. */
const RUN = { numRuns: 15, interruptAfterTimeLimit: 25_000, includeErrorInReport: true };
/** Remote runs cost a connection and a handshake more each. */
const REMOTE_RUN = { numRuns: 10, interruptAfterTimeLimit: 25_000, includeErrorInReport: true };

describe('property: mirror converges', () => {
  test('random trees and edits on both sides, every kind of type change', async (t) => {
    await fc.assert(
      mirrorConverges(tempDir(t, 'blit-property-'), localMirror, { allowDirOverNonDir: true }),
      RUN,
    );
  });

  test('random trees and edits, no source directory meeting a destination file or link', async (t) => {
    await fc.assert(
      mirrorConverges(tempDir(t, 'blit-property-'), localMirror, { allowDirOverNonDir: false }),
      RUN,
    );
  });

  for (const direction of ['push', 'pull'] as const) {
    test(`the same through a blitd: ${direction}`, async (t) => {
      const root = tempDir(t, 'blit-property-');
      const daemon = await startDaemon(t, ['--root', root]);
      await fc.assert(
        mirrorConverges(root, remoteMirror(root, daemon.port, direction), { allowDirOverNonDir: true }),
        REMOTE_RUN,
      );
    });
  }
});
