/**
 * A tree's full metadata as one canonical structure, for the fidelity differential test (blit
 * against `rsync -aHAXS --numeric-ids`): per path its type, permission bits (setuid/setgid/sticky
 * included), mtime in ns, owner, contents, link target, device numbers, every extended attribute
 * of every namespace (POSIX ACLs decoded to text), which other paths share its inode, and where
 * its data lies (SEEK_DATA/SEEK_HOLE).
 *
 * Node reads neither xattrs nor SEEK_DATA, so one python3 process (in CI already: node-gyp needs
 * it) walks the tree by raw byte names and prints it as JSON; everything else happens here.
 *
 * Sparse files: each regular file's data ranges as SEEK_DATA/SEEK_HOLE report them, rounded out
 * to whole 4 KiB blocks. Compared exactly: the generator writes holes block-aligned and no
 * literal zero blocks, where rsync -S would make a hole blit (which keeps the source's holes,
 * not the zeros) need not — so on these trees both tools must leave the source's map exactly.
 */
import { spawnSync } from 'node:child_process';
import { FIDELITY_KINDS, type FidelityKind } from '../src/engine/fidelity.js';

export type MetaType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

export interface MetaNode {
  type: MetaType;
  /** Permission bits with setuid, setgid and sticky (0 for symlinks, whose modes mean nothing). */
  mode: number;
  mtimeNs: bigint;
  uid: number;
  gid: number;
  size?: number;
  /** sha256 of a regular file's contents. */
  hash?: string;
  /** A symlink's target, its bytes escaped as in keys. */
  target?: string;
  /** 'major:minor' of a device. */
  rdev?: string;
  /** Every xattr but the ACLs, name → hex value (sorted by name). */
  xattrs: Record<string, string>;
  /** POSIX ACLs as getfacl-like text (`user::rw-,user:1001:r--,…`); absent when none. */
  acl?: string;
  defaultAcl?: string;
  /** The other paths in the tree sharing this inode (sorted); absent when none do. */
  linkedWith?: string[];
  /** A regular file's data ranges ("0-4096,65536-131072"), whole 4 KiB blocks; '' when all hole. */
  data?: string;
}

export type MetaSnapshot = Map<string, MetaNode>;

/** Which slice of issue 17 keeps each kind of difference (so a failure points at its owner). */
export type DiffKind =
  | 'entries' // missing, unexpected, type
  | 'mode'
  | 'mtime'
  | 'content' // size, hash, link target
  | FidelityKind; // owner, xattrs, acls, hardLinks, sparse, special (device numbers)

export const DIFF_KINDS: readonly DiffKind[] = ['entries', 'mode', 'mtime', 'content', ...FIDELITY_KINDS];

export interface Difference {
  path: string;
  kind: DiffKind;
  detail: string;
}

const WALK = `
import os, sys, json, stat, hashlib
BLOCK = 4096
def data_map(path, size):
    ranges = []
    fd = os.open(path, os.O_RDONLY)
    try:
        at = 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append([start // BLOCK * BLOCK, min(-(-end // BLOCK) * BLOCK, -(-size // BLOCK) * BLOCK)])
            at = end
    finally:
        os.close(fd)
    return ranges
def visit(root, out, rel):
    path = root if rel == b'' else root + b'/' + rel
    st = os.lstat(path)
    node = {'p': rel.hex(), 'm': st.st_mode, 'ns': str(st.st_mtime_ns), 'u': st.st_uid, 'g': st.st_gid,
            'n': st.st_nlink, 'i': '%d:%d' % (st.st_dev, st.st_ino)}
    x = {}
    for name in os.listxattr(path, follow_symlinks=False):
        x[name] = os.getxattr(path, name, follow_symlinks=False).hex()
    node['x'] = x
    if stat.S_ISREG(st.st_mode):
        node['s'] = st.st_size
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        node['h'] = h.hexdigest()
        node['d'] = data_map(path, st.st_size)
    elif stat.S_ISLNK(st.st_mode):
        node['t'] = os.readlink(path).hex()
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        node['r'] = '%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))
    out.append(node)
    if stat.S_ISDIR(st.st_mode):
        for name in sorted(os.listdir(path)):
            visit(root, out, name if rel == b'' else rel + b'/' + name)
trees = []
for root in sys.argv[1:]:
    out = []
    visit(os.fsencode(root), out, b'')
    trees.append(out)
json.dump(trees, sys.stdout)
`;

interface RawNode {
  p: string;
  m: number;
  ns: string;
  u: number;
  g: number;
  n: number;
  i: string;
  x: Record<string, string>;
  s?: number;
  h?: string;
  d?: [number, number][];
  t?: string;
  r?: string;
}

/**
 * A path's bytes as a key: printable ASCII and valid UTF-8 as they are, a backslash as `\\`,
 * a line break as `\n`, any other control or invalid byte as `\xNN` — unambiguous and readable.
 */
export function showBytes(bytes: Buffer): string {
  let out = '';
  let at = 0;
  while (at < bytes.length) {
    const b = bytes[at]!;
    const width = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
    if (width === 1) {
      out +=
        b === 0x5c
          ? '\\\\'
          : b === 0x0a
            ? '\\n'
            : b < 0x20 || b === 0x7f
              ? hexByte(b)
              : String.fromCharCode(b);
      at += 1;
      continue;
    }
    const chunk = width > 0 ? bytes.subarray(at, at + width) : undefined;
    const text = chunk && chunk.length === width ? decodeStrict(chunk) : undefined;
    if (text !== undefined) {
      out += text;
      at += width;
    } else {
      out += hexByte(b);
      at += 1;
    }
  }
  return out;
}

function hexByte(b: number): string {
  return `\\x${b.toString(16).padStart(2, '0')}`;
}

const STRICT = new TextDecoder('utf-8', { fatal: true });
function decodeStrict(chunk: Buffer): string | undefined {
  try {
    return STRICT.decode(chunk);
  } catch {
    return undefined;
  }
}

function typeOf(mode: number): MetaType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    case 0o010000:
      return 'fifo';
    case 0o020000:
      return 'char';
    case 0o060000:
      return 'block';
    default:
      return 'socket';
  }
}

const ACL_TAGS: Record<number, string> = {
  1: 'user:',
  2: 'user',
  4: 'group:',
  8: 'group',
  16: 'mask:',
  32: 'other:',
};

/** An ACL xattr value as getfacl-like text; raw hex (marked) when it does not parse. */
export function decodeAcl(hex: string): string {
  const value = Buffer.from(hex, 'hex');
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== 2) return `raw:${hex}`;
  const entries: string[] = [];
  for (let at = 4; at < value.length; at += 8) {
    const tag = value.readUInt16LE(at);
    const perm = value.readUInt16LE(at + 2);
    const id = value.readUInt32LE(at + 4);
    const name = ACL_TAGS[tag];
    if (name === undefined) return `raw:${hex}`;
    const bits = `${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}${perm & 1 ? 'x' : '-'}`;
    entries.push(tag === 2 || tag === 8 ? `${name}:${id}:${bits}` : `${name}:${bits}`);
  }
  return entries.join(',');
}

/** Every entry below `root` (and '' for root itself), keyed by escaped relative path; nothing followed. */
export function metaSnapshot(root: string): MetaSnapshot {
  return metaSnapshots([root])[0]!;
}

/** Snapshots of several trees, read by one python3 process (its start-up is most of a small tree's cost). */
export function metaSnapshots(roots: string[]): MetaSnapshot[] {
  const result = spawnSync('python3', ['-c', WALK, ...roots], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0)
    throw new Error(`metadata snapshot of ${roots.join(', ')} failed: ${result.stderr || result.error}`);
  return (JSON.parse(result.stdout) as RawNode[][]).map(fromRaw);
}

function fromRaw(raw: RawNode[]): MetaSnapshot {
  const byInode = new Map<string, string[]>();
  const nodes: MetaSnapshot = new Map();
  for (const r of raw) {
    const rel = showBytes(Buffer.from(r.p, 'hex'));
    const type = typeOf(r.m);
    const xattrs: Record<string, string> = {};
    const node: MetaNode = {
      type,
      mode: type === 'symlink' ? 0 : r.m & 0o7777,
      mtimeNs: BigInt(r.ns),
      uid: r.u,
      gid: r.g,
      xattrs,
    };
    for (const name of Object.keys(r.x).sort()) {
      if (name === 'system.posix_acl_access') node.acl = decodeAcl(r.x[name]!);
      else if (name === 'system.posix_acl_default') node.defaultAcl = decodeAcl(r.x[name]!);
      else xattrs[name] = r.x[name]!;
    }
    if (type === 'file') {
      node.size = r.s;
      node.hash = r.h;
      node.data = (r.d ?? []).map(([a, b]) => `${a}-${b}`).join(',');
    }
    if (r.t !== undefined) node.target = showBytes(Buffer.from(r.t, 'hex'));
    if (r.r !== undefined) node.rdev = r.r;
    if (type !== 'dir' && r.n > 1) byInode.set(r.i, [...(byInode.get(r.i) ?? []), rel]);
    nodes.set(rel, node);
  }
  for (const group of byInode.values()) {
    if (group.length < 2) continue;
    for (const rel of group) nodes.get(rel)!.linkedWith = group.filter((other) => other !== rel).sort();
  }
  return nodes;
}

export interface DiffOptions {
  /** Mtimes agree when they lie closer than this (default 1: exactly). */
  mtimeToleranceNs?: bigint;
}

/**
 * The differences between two snapshots, each naming its path and kind (empty when they agree),
 * in path order. `actual` is the tree under test, `expected` the reference.
 */
export function diffMeta(
  actual: MetaSnapshot,
  expected: MetaSnapshot,
  options: DiffOptions = {},
): Difference[] {
  const out: Difference[] = [];
  const add = (path: string, kind: DiffKind, detail: string) => out.push({ path, kind, detail });
  const paths = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  for (const path of paths) {
    const want = expected.get(path);
    const got = actual.get(path);
    // A special file missing, extra or of another type is the specials' slice; others are entries.
    const entryKind = (node: MetaNode | undefined): DiffKind =>
      node && SPECIAL.has(node.type) ? 'special' : 'entries';
    if (!want) {
      add(path, entryKind(got), `unexpected ${got!.type}`);
      continue;
    }
    if (!got) {
      add(path, entryKind(want), `missing (expected a ${want.type})`);
      continue;
    }
    if (got.type !== want.type) {
      add(
        path,
        SPECIAL.has(got.type) ? 'special' : entryKind(want),
        `is a ${got.type}, expected a ${want.type}`,
      );
      continue;
    }
    if (got.mode !== want.mode)
      add(path, 'mode', `mode ${got.mode.toString(8)}, expected ${want.mode.toString(8)}`);
    const apart = got.mtimeNs > want.mtimeNs ? got.mtimeNs - want.mtimeNs : want.mtimeNs - got.mtimeNs;
    if (apart >= (options.mtimeToleranceNs ?? 1n))
      add(path, 'mtime', `mtime ${got.mtimeNs} ns, expected ${want.mtimeNs} ns`);
    if (got.size !== want.size || got.hash !== want.hash)
      add(path, 'content', `contents differ (${got.size} vs ${want.size} bytes)`);
    if (got.target !== want.target)
      add(path, 'content', `link target ${got.target}, expected ${want.target}`);
    if (got.uid !== want.uid || got.gid !== want.gid)
      add(path, 'owner', `owner ${got.uid}:${got.gid}, expected ${want.uid}:${want.gid}`);
    for (const name of [...new Set([...Object.keys(want.xattrs), ...Object.keys(got.xattrs)])].sort()) {
      const a = got.xattrs[name];
      const b = want.xattrs[name];
      if (a === b) continue;
      add(
        path,
        'xattrs',
        b === undefined
          ? `extra xattr ${name}`
          : a === undefined
            ? `missing xattr ${name}`
            : `xattr ${name} = ${short(a)}, expected ${short(b)}`,
      );
    }
    if (got.acl !== want.acl)
      add(path, 'acls', `access ACL ${got.acl ?? 'none'}, expected ${want.acl ?? 'none'}`);
    if (got.defaultAcl !== want.defaultAcl)
      add(path, 'acls', `default ACL ${got.defaultAcl ?? 'none'}, expected ${want.defaultAcl ?? 'none'}`);
    const links = (n: MetaNode) => (n.linkedWith ?? []).map((p) => JSON.stringify(p)).join(', ') || 'nothing';
    if (links(got) !== links(want))
      add(path, 'hardLinks', `linked with ${links(got)}, expected ${links(want)}`);
    if (got.data !== want.data && got.hash === want.hash)
      add(path, 'sparse', `data at [${got.data}], expected [${want.data}]`);
    if (got.rdev !== want.rdev) add(path, 'special', `device ${got.rdev}, expected ${want.rdev}`);
  }
  return out;
}

const SPECIAL = new Set<MetaType>(['fifo', 'char', 'block', 'socket']);

function short(hex: string): string {
  return hex.length > 24 ? `0x${hex.slice(0, 24)}… (${hex.length / 2} bytes)` : `0x${hex}`;
}

/** Differences as readable lines, grouped by kind, at most `limit` per kind. */
export function describeDifferences(differences: Difference[], limit = 8): string {
  const lines: string[] = [];
  for (const kind of DIFF_KINDS) {
    const ofKind = differences.filter((d) => d.kind === kind);
    if (ofKind.length === 0) continue;
    lines.push(`[${kind}] ${ofKind.length} difference(s):`);
    for (const d of ofKind.slice(0, limit))
      lines.push(`  ${JSON.stringify(d.path === '' ? '.' : d.path)}: ${d.detail}`);
    if (ofKind.length > limit) lines.push(`  … ${ofKind.length - limit} more`);
  }
  return lines.join('\n');
}
