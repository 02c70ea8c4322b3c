/**
 * Seeded trees for the fidelity differential test (blit against `rsync -aHAXS --numeric-ids
 * --delete`): the random tree of trees.ts, given several owners and groups, extended attributes
 * and ACLs, plus a fixed-shape part every seed has — hard-link groups, sparse files, a FIFO and
 * devices, setuid and sticky bits, names that are not UTF-8 — and a "drifted" destination that
 * differs from the source in each of these kinds, mostly in metadata only.
 *
 * Needs root (chown, trusted.* and security.* xattrs, mknod) and a file system with xattrs and
 * ACLs (ext4, xfs, btrfs; not every tmpfs). Xattrs and ACLs are written through one
 * `setfattr --restore` (Debian package attr); ACL values are built here in the kernel's format.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { T } from './helpers.js';
import {
  cpA,
  generateSource,
  int,
  mutateDestination,
  pick,
  type Rand,
  randomContent,
  randomMtime,
} from './trees.js';

export const UIDS = [0, 1000, 1001, 1002, 1003] as const;
export const GIDS = [0, 2000, 2001, 2002] as const;

/** A relative path as bytes (names need not be UTF-8). */
type Rel = string | Buffer;

function bytesOf(rel: Rel): Buffer {
  return typeof rel === 'string' ? Buffer.from(rel) : rel;
}

export function at(root: string, rel: Rel): Buffer {
  return Buffer.concat([Buffer.from(`${root}/`), bytesOf(rel)]);
}

/** One xattr to set: path, name, value (null: remove it). */
interface XattrOp {
  rel: Rel;
  name: string;
  value: Buffer | null;
}

/** Writes (or removes) many xattrs in one `setfattr -h --restore` (names escaped as getfattr does). */
export function applyXattrs(root: string, ops: XattrOp[]): void {
  if (ops.length === 0) return;
  const removals = ops.filter((op) => op.value === null);
  for (const op of removals) {
    const result = spawnSync('setfattr', ['-h', '-x', op.name, at(root, op.rel).toString()], {
      encoding: 'utf8',
    });
    // Removals only name UTF-8 paths (an argument is a string); sets go through the restore file.
    assert.equal(
      result.status,
      0,
      `setfattr -x ${op.name} on ${bytesOf(op.rel).toString()}: ${result.stderr}`,
    );
  }
  const lines: string[] = [];
  for (const op of ops) {
    if (op.value === null) continue;
    lines.push(
      `# file: ${escapeForAttr(at(root, op.rel))}`,
      `${op.name}=0s${op.value.toString('base64')}`,
      '',
    );
  }
  if (lines.length === 0) return;
  const result = spawnSync('setfattr', ['-h', '--restore=-'], {
    input: `${lines.join('\n')}\n`,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `setfattr --restore failed: ${result.stderr}`);
}

/** A path as getfattr writes it: octal escapes for anything but printable ASCII, and for `\`. */
function escapeForAttr(path: Buffer): string {
  let out = '';
  for (const b of path) {
    out +=
      b > 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** An ACL entry: tag ('user', 'group' with an id; 'user_obj', 'group_obj', 'mask', 'other'), perms 0–7. */
type AclEntry = [
  tag: 'user_obj' | 'user' | 'group_obj' | 'group' | 'mask' | 'other',
  perm: number,
  id?: number,
];

const TAG: Record<AclEntry[0], number> = {
  user_obj: 1,
  user: 2,
  group_obj: 4,
  group: 8,
  mask: 16,
  other: 32,
};

/** An ACL in the kernel's xattr format (version 2; entries sorted by tag then id, as the kernel wants). */
export function encodeAcl(entries: AclEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => TAG[a[0]] - TAG[b[0]] || (a[2] ?? 0) - (b[2] ?? 0));
  const out = Buffer.alloc(4 + 8 * sorted.length);
  out.writeUInt32LE(2, 0);
  sorted.forEach(([tag, perm, id], i) => {
    out.writeUInt16LE(TAG[tag], 4 + i * 8);
    out.writeUInt16LE(perm, 6 + i * 8);
    out.writeUInt32LE(tag === 'user' || tag === 'group' ? id! : 0xffffffff, 8 + i * 8);
  });
  return out;
}

/** A random extended ACL: owner, group, other bits plus one or two named entries and a mask. */
function randomAcl(rand: Rand): Buffer {
  const entries: AclEntry[] = [
    ['user_obj', pick(rand, [7, 6])],
    ['group_obj', pick(rand, [5, 4, 0])],
    ['other', pick(rand, [5, 4, 0])],
    ['user', pick(rand, [4, 6, 7]), pick(rand, [1001, 1002, 1003])],
    ['mask', 7],
  ];
  if (rand() < 0.5) entries.push(['group', pick(rand, [4, 5]), pick(rand, [2001, 2002])]);
  return encodeAcl(entries);
}

/** A random xattr value: empty, tiny text, or binary of up to ~1.5 KiB (ext4 keeps ≤ 4 KiB per inode). */
function randomValue(rand: Rand): Buffer {
  const r = rand();
  if (r < 0.15) return Buffer.alloc(0);
  if (r < 0.5) return Buffer.from(`value ${int(rand, 0, 999)}`);
  const value = Buffer.alloc(int(rand, 1, 1500));
  for (let i = 0; i < value.length; i++) value[i] = Math.floor(rand() * 256);
  return value;
}

/** A valid VFS_CAP_REVISION_2 value (cap_net_raw+ep): chown clears it, so its order matters. */
export const CAPABILITY = Buffer.from('0000000201200000000000000000000000000000', 'hex');

export interface FidelityTree {
  /** Hard-link groups of the fixed part, each a list of relative paths. */
  linkGroups: Rel[][];
  /** Names that are not UTF-8. */
  nonUtf8: Buffer[];
  /** Sparse files of the fixed part. */
  sparse: string[];
  /** Base (random) entries, for drift. */
  entries: { rel: string; kind: 'file' | 'dir' | 'symlink' }[];
}

const BLOCK = 4096;

/** Writes a file of `size` bytes with data only in `ranges` ([start, end), block-aligned), holes elsewhere. */
function writeSparse(path: string, rand: Rand, size: number, ranges: [number, number][]): void {
  const fd = openSync(path, 'w', 0o644);
  try {
    for (const [start, end] of ranges)
      writeSync(fd, nonZeroContent(rand, end - start), 0, end - start, start);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** Random bytes without a single zero byte: no block of it can look like a hole to rsync -S. */
export function nonZeroContent(rand: Rand, size: number): Buffer {
  const content = randomContent(rand, size);
  for (let i = 0; i < content.length; i++) if (content[i] === 0) content[i] = 1 + (i % 255);
  return content;
}

function mknod(path: string, type: 'c' | 'b' | 'p', major?: number, minor?: number): void {
  const args = type === 'p' ? [path, 'p'] : [path, type, String(major), String(minor)];
  const result = spawnSync('mknod', args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `mknod ${args.join(' ')}: ${result.stderr}`);
}

/**
 * A source tree under `root` (which must not exist): the random tree of trees.ts with random
 * owners, xattrs and ACLs, plus the fixed part below `fidelity/`.
 */
export function generateFidelitySource(root: string, rand: Rand): FidelityTree {
  // Base files without zero bytes: rsync -S would make a hole of any all-zero block.
  const base = generateSource(root, rand);
  for (const e of base.entries) {
    if (e.kind !== 'file') continue;
    const path = join(root, e.rel);
    const stats = lstatSync(path);
    writeFileSync(path, nonZeroContent(rand, stats.size));
    utimesSync(path, stats.atime, stats.mtime);
  }
  // Links get a past mtime: one made in the second the test runs was, once in four cases, copied by
  // rsync with the time it made the link, and rsync's second run then disagreed with its first.
  for (const e of base.entries) {
    if (e.kind === 'symlink') lutimesSync(join(root, e.rel), T, T - int(rand, 10, 100_000));
  }
  const tree: FidelityTree = {
    linkGroups: [],
    nonUtf8: [],
    sparse: [],

    entries: base.entries,
  };
  const xattrs: XattrOp[] = [];
  const owners: [Rel, number, number][] = [];
  const F = join(root, 'fidelity');
  const files = (rel: string, size = int(rand, 1, 3000)) => {
    writeFileSync(join(root, rel), nonZeroContent(rand, size));
    chmodSync(join(root, rel), 0o644);
  };
  mkdirSync(F);
  for (const dir of [
    'links',
    'links/a',
    'links/b',
    'sparse',
    'special',
    'owners',
    'acl',
    'acl/inherit',
    'names',
  ])
    mkdirSync(join(F, dir));

  // Hard links: in one directory, across directories, with odd names, an empty file's, and a
  // group whose inode carries xattrs and an owner.
  const group = (paths: Rel[], size?: number) => {
    const first = at(root, paths[0]!);
    writeFileSync(first, nonZeroContent(rand, size ?? int(rand, 1, 20_000)));
    chmodSync(first, pick(rand, [0o644, 0o600, 0o755]));
    for (const other of paths.slice(1)) linkSync(first, at(root, other));
    tree.linkGroups.push(paths);
  };
  group(['fidelity/links/one', 'fidelity/links/two', 'fidelity/links/three']);
  group(['fidelity/links/a/across', 'fidelity/links/b/across', 'fidelity/across at top']);
  group(['fidelity/links/a/with space', 'fidelity/links/b/line\nbreak']);
  group(['fidelity/links/empty one', 'fidelity/links/empty two'], 0);
  group(['fidelity/links/a/decorated', 'fidelity/links/decorated too']);
  group(['fidelity/links/a/pair x', 'fidelity/links/b/pair y']);
  group(['fidelity/links/b/big one', 'fidelity/links/big two'], 300_000 + int(rand, 0, 9999));
  owners.push(['fidelity/links/a/decorated', 1002, 2001]);
  xattrs.push({ rel: 'fidelity/links/a/decorated', name: 'user.shared', value: Buffer.from('one inode') });

  // Sparse files: holes at the start, in the middle, at the end; all hole; a large one mostly hole.
  const sparse = (rel: string, size: number, ranges: [number, number][]) => {
    writeSparse(join(root, rel), rand, size, ranges);
    tree.sparse.push(rel);
  };
  sparse('fidelity/sparse/hole first', 256 * 1024 + 1000, [[192 * 1024, 256 * 1024 + 1000]]);
  sparse('fidelity/sparse/hole middle', 512 * 1024, [
    [0, 64 * 1024],
    [448 * 1024, 512 * 1024],
  ]);
  sparse('fidelity/sparse/hole last', 1 << 20, [[0, 16 * BLOCK]]);
  sparse('fidelity/sparse/all hole', (1 << 20) + 123, []);
  sparse('fidelity/sparse/mostly hole', 8 << 20, [
    [1 << 20, (1 << 20) + 3 * BLOCK],
    [(5 << 20) + BLOCK, (5 << 20) + 2 * BLOCK],
    [(8 << 20) - BLOCK, 8 << 20],
  ]);
  tree.sparse.push('fidelity/sparse/dense'); // a file of the same size without holes, for contrast
  writeFileSync(join(root, 'fidelity/sparse/dense'), nonZeroContent(rand, 512 * 1024));
  xattrs.push({ rel: 'fidelity/sparse/hole middle', name: 'user.sparse', value: Buffer.from('yes') });
  owners.push(['fidelity/sparse/hole last', 1003, 2002]);

  // Specials: a FIFO, a character device (1:3, what /dev/null is), a block device number.
  mknod(join(F, 'special/fifo'), 'p');
  mknod(join(F, 'special/null-like'), 'c', 1, 3);
  mknod(join(F, 'special/block-like'), 'b', 7, 200);
  owners.push(['fidelity/special/fifo', 1001, 2000], ['fidelity/special/null-like', 1000, 2002]);
  chmodSync(join(F, 'special/fifo'), 0o620);
  chmodSync(join(F, 'special/null-like'), 0o666);

  // Owners: others' files, directories and symlinks; setuid/setgid bits chown would clear;
  // a sticky directory; a capability chown would clear.
  files('fidelity/owners/setuid');
  owners.push(['fidelity/owners/setuid', 1001, 2001]);
  files('fidelity/owners/setgid');
  owners.push(['fidelity/owners/setgid', 1002, 2002]);
  mkdirSync(join(F, 'owners/setgid dir'));
  owners.push(['fidelity/owners/setgid dir', 1003, 2000]);
  mkdirSync(join(F, 'owners/sticky'));
  files('fidelity/owners/sticky/inside');
  owners.push(['fidelity/owners/sticky', 1000, 2000], ['fidelity/owners/sticky/inside', 1003, 2001]);
  symlinkSync('setuid', join(F, 'owners/link of 1002'));
  owners.push(['fidelity/owners/link of 1002', 1002, 2002]);
  files('fidelity/owners/capable');
  owners.push(['fidelity/owners/capable', 1002, 2000]);
  xattrs.push({ rel: 'fidelity/owners/capable', name: 'security.capability', value: CAPABILITY });

  // ACLs: access only; access and default on a directory; default only; a file created in a
  // directory with a default ACL after it was set (inherits one), another before (has none).
  files('fidelity/acl/access');
  xattrs.push({ rel: 'fidelity/acl/access', name: 'system.posix_acl_access', value: randomAcl(rand) });
  mkdirSync(join(F, 'acl/both'));
  files('fidelity/acl/both/plain');
  xattrs.push(
    { rel: 'fidelity/acl/both', name: 'system.posix_acl_access', value: randomAcl(rand) },
    { rel: 'fidelity/acl/both', name: 'system.posix_acl_default', value: randomAcl(rand) },
  );
  xattrs.push({ rel: 'fidelity/acl/inherit', name: 'system.posix_acl_default', value: randomAcl(rand) });
  files('fidelity/acl/inherit/without'); // before the default ACL (applied below): none of its own
  owners.push(['fidelity/acl/access', 1001, 2002]);

  // Names that are not UTF-8, with an xattr and an owner (blit refuses them per file, see the test;
  // never in a link group, whose other names blit would then keep apart).
  const latin1 = Buffer.from('fidelity/names/caf\xe9', 'latin1');
  writeFileSync(at(root, latin1), nonZeroContent(rand, 100));
  const invalid = Buffer.concat([Buffer.from('fidelity/names/bad '), Buffer.from([0xff, 0xfe, 0x0a, 0x80])]);
  writeFileSync(at(root, invalid), nonZeroContent(rand, 10));
  tree.nonUtf8.push(latin1, invalid);
  owners.push([latin1, 1003, 2000]);
  xattrs.push({ rel: latin1, name: 'user.latin1', value: Buffer.from([0xe9]) });
  xattrs.push({ rel: invalid, name: 'trusted.bytes', value: Buffer.from([0, 1, 2, 0xff]) });

  // The random part: owners on about half, xattrs on a third (symlinks: trusted.* only, the
  // kernel allows no user.* there), an ACL on some files and directories.
  for (const e of base.entries) {
    if (rand() < 0.5) owners.push([e.rel, pick(rand, UIDS), pick(rand, GIDS)]);
    if (rand() < 0.35) {
      const names =
        e.kind === 'symlink'
          ? ['trusted.link']
          : ['user.a', 'user.long name', 'trusted.t', 'security.blit-test', 'user.empty'];
      for (const name of names) if (rand() < 0.5) xattrs.push({ rel: e.rel, name, value: randomValue(rand) });
    }
    if (e.kind !== 'symlink' && rand() < 0.15)
      xattrs.push({ rel: e.rel, name: 'system.posix_acl_access', value: randomAcl(rand) });
    if (e.kind === 'dir' && rand() < 0.15)
      xattrs.push({ rel: e.rel, name: 'system.posix_acl_default', value: randomAcl(rand) });
  }

  // Owners first (chown clears setuid bits and capabilities), then xattrs and ACLs, then modes.
  for (const [rel, uid, gid] of owners) lchownSync(at(root, rel), uid, gid);
  applyXattrs(root, xattrs);
  files('fidelity/acl/inherit/with'); // inherits the directory's default ACL
  chmodSync(join(F, 'owners/setuid'), 0o4755);
  chmodSync(join(F, 'owners/setgid'), 0o2750);
  chmodSync(join(F, 'owners/setgid dir'), 0o2775);
  chmodSync(join(F, 'owners/sticky'), 0o1777);

  // Mtimes last, leaves before their directories; the root's too.
  stampTree(root, 'fidelity', rand);
  utimesSync(root, T, randomMtime(rand));
  return tree;
}

/** Gives every entry below `root/rel` (leaves first, then the directory) a random mtime. */
function stampTree(root: string, rel: string, rand: Rand): void {
  const script = `
import os, sys, json
root = os.fsencode(sys.argv[1]); times = json.loads(sys.argv[2]); i = 0
def visit(path):
    global i
    if os.path.isdir(path) and not os.path.islink(path):
        for name in sorted(os.listdir(path)):
            visit(path + b'/' + name)
    t = times[i % len(times)]; i += 1
    os.utime(path, ns=(t, t), follow_symlinks=False)
visit(root)
`;
  const times = Array.from(
    { length: 97 },
    () => BigInt(Math.round(randomMtime(rand) * 1e6)) * 1000n + BigInt(int(rand, 0, 999)),
  );
  const result = spawnSync('python3', ['-c', script, join(root, rel), `[${times.join(',')}]`], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `stamping mtimes: ${result.stderr}`);
}

/** A copy of `src` at `dst` keeping everything (cp -a: owners, modes, xattrs, ACLs, hard links, holes). */
export function copyExactly(src: string, dst: string): void {
  cpA(src, dst);
}

export interface Drift {
  /** What was changed, one line per change (for a failure's message). */
  changes: string[];
  /**
   * Files made dense (zeros where the source has holes) with size and mtime unchanged: rsync's
   * quick check leaves them, so their expected data map is the source's (see the test).
   */
  quietDense: string[];
  /** Files of other contents with the source's size and mtime (trees.ts): every quick check leaves them. */
  quiet: string[];
}

/**
 * Turns `dst` (an exact copy of the source) into a destination that differs in each kind:
 * wrong owners, extra/missing/changed xattrs, missing and extra ACLs, hard links broken, partly
 * missing or joining the wrong files, holes filled with zeros, specials of the wrong kind or
 * number, plus the random drift of trees.ts (missing, stale, extra entries).
 */
export function driftDestination(dst: string, tree: FidelityTree, rand: Rand): Drift {
  const drift: Drift = { changes: [], quietDense: [], quiet: [] };
  const note = (line: string) => drift.changes.push(line);
  const F = 'fidelity';
  const keepMtime = (rel: Rel, change: () => void) => {
    const path = at(dst, rel);
    const stats = lstatSync(path, { bigint: true });
    change();
    const result = spawnSync('touch', [
      '-h',
      '-d',
      `@${stats.mtimeNs / 1_000_000_000n}.${String(stats.mtimeNs % 1_000_000_000n).padStart(9, '0')}`,
      path.toString(),
    ]);
    assert.equal(result.status, 0, `touch ${path.toString()}`);
  };

  // Owners: a file, a directory, a symlink, a device.
  for (const rel of [
    `${F}/owners/setuid`,
    `${F}/owners/sticky`,
    `${F}/owners/link of 1002`,
    `${F}/special/null-like`,
  ]) {
    lchownSync(at(dst, rel), 1003, 2002);
    note(`owner of ${rel}`);
  }
  chmodSync(join(dst, `${F}/owners/setuid`), 0o4755); // chown cleared it: only the owner drifts

  // Xattrs: extra, missing, changed value, on a link group's inode, a capability lost.
  const ops: XattrOp[] = [
    { rel: `${F}/links/one`, name: 'user.extra', value: Buffer.from('not in the source') },
    { rel: `${F}/owners/sticky`, name: 'trusted.extra', value: Buffer.from([1, 2, 3]) },
    { rel: `${F}/links/a/decorated`, name: 'user.shared', value: Buffer.from('another value') },
    { rel: `${F}/sparse/hole middle`, name: 'user.sparse', value: null },
    { rel: `${F}/owners/capable`, name: 'security.capability', value: null },
    // ACLs: one missing, a default one missing, one the source does not have.
    { rel: `${F}/acl/access`, name: 'system.posix_acl_access', value: null },
    { rel: `${F}/acl/both`, name: 'system.posix_acl_default', value: null },
    {
      rel: `${F}/acl/both/plain`,
      name: 'system.posix_acl_access',
      value: encodeAcl([
        ['user_obj', 6],
        ['user', 4, 1003],
        ['group_obj', 4],
        ['mask', 4],
        ['other', 4],
      ]),
    },
  ];
  applyXattrs(dst, ops);
  for (const op of ops)
    note(`${op.value === null ? 'removed' : 'set'} ${op.name} on ${bytesOf(op.rel).toString()}`);

  // Hard links: a group split into separate files (same contents and mtime), a member missing,
  // two members of different groups joined, an extra name linked to a kept file.
  const split = (rel: string) =>
    keepMtime(rel, () => {
      const path = join(dst, rel);
      const content = readFileSync(path);
      const { mode, uid, gid } = lstatSync(path);
      unlinkSync(path);
      writeFileSync(path, content);
      lchownSync(path, uid, gid);
      chmodSync(path, mode & 0o7777);
    });
  split(`${F}/links/three`);
  note('split links/three from its group');
  split(`${F}/links/b/across`);
  note('split links/b/across from its group');
  rmSync(join(dst, `${F}/across at top`));
  note('removed "across at top" (a group member)');
  keepMtime(`${F}/links/b/pair y`, () => {
    unlinkSync(join(dst, `${F}/links/b/pair y`));
    linkSync(join(dst, `${F}/links/one`), join(dst, `${F}/links/b/pair y`));
  });
  note('linked links/b/pair y to links/one');
  linkSync(join(dst, `${F}/links/two`), join(dst, `${F}/links/extra link`));
  note('extra name links/extra link in the links/one group');

  // Sparse: holes filled with zeros, mtime kept (quiet) and changed.
  const densify = (rel: string) => {
    const path = join(dst, rel);
    const content = readFileSync(path);
    const temp = `${path}.dense`;
    writeFileSync(temp, content);
    chmodSync(temp, lstatSync(path).mode & 0o7777);
    const stats = lstatSync(path);
    lchownSync(temp, stats.uid, stats.gid);
    renameSync(temp, path);
  };
  keepMtime(`${F}/sparse/hole first`, () => densify(`${F}/sparse/hole first`));
  drift.quietDense.push(`${F}/sparse/hole first`);
  note('filled the holes of sparse/hole first (same size and mtime)');
  densify(`${F}/sparse/all hole`);
  utimesSync(join(dst, `${F}/sparse/all hole`), T, T + 12345);
  note('filled sparse/all hole with zeros, other mtime');

  // Specials: a FIFO that is a file, a device with another number (same mtime).
  rmSync(join(dst, `${F}/special/fifo`));
  writeFileSync(join(dst, `${F}/special/fifo`), 'not a fifo');
  note('special/fifo is a regular file');
  keepMtime(`${F}/special/block-like`, () => {
    rmSync(join(dst, `${F}/special/block-like`));
    mknod(join(dst, `${F}/special/block-like`), 'b', 7, 201);
  });
  note('special/block-like is 7:201');

  // The random part: owners and xattrs drift on some entries, then trees.ts's drift.
  const more: XattrOp[] = [];
  for (const e of tree.entries) {
    const r = rand();
    if (r < 0.1) {
      try {
        lchownSync(join(dst, e.rel), pick(rand, UIDS), pick(rand, GIDS));
        note(`owner of ${e.rel}`);
      } catch {}
    } else if (r < 0.15 && e.kind !== 'symlink') {
      more.push({ rel: e.rel, name: 'user.drift', value: randomValue(rand) });
    }
  }
  applyXattrs(dst, more);
  for (const op of more) note(`set ${op.name} on ${bytesOf(op.rel).toString()}`);
  drift.quiet = mutateDestination(dst, { entries: tree.entries }, rand, { typeConflicts: false }).quiet;
  return drift;
}
