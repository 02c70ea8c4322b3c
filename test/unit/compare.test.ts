import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, sameMetadata, sameMtime } from '../../src/engine/compare.js';
import type { CompareMode, Entry } from '../../src/engine/types.js';

const T = 1_700_000_000_123_456_789n;
const MODES: CompareMode[] = ['default', 'checksum', 'size-only', 'ignore-times', 'ignore-existing'];

function file(over: Partial<Entry> = {}): Entry {
  return { name: 'f', kind: 'file', size: 100, mtimeNs: T, mode: 0o644, ...over };
}
function dir(over: Partial<Entry> = {}): Entry {
  return { name: 'd', kind: 'dir', size: 4096, mtimeNs: T, mode: 0o755, ...over };
}
function link(target: string, over: Partial<Entry> = {}): Entry {
  return {
    name: 'l',
    kind: 'symlink',
    size: target.length,
    mtimeNs: T,
    mode: 0o777,
    linkTarget: target,
    ...over,
  };
}
function other(over: Partial<Entry> = {}): Entry {
  return { name: 'p', kind: 'other', size: 0, mtimeNs: T, mode: 0o644, ...over };
}

describe('sameMtime', () => {
  test('equal and within 2 µs either way are the same', () => {
    assert.equal(sameMtime(T, T), true);
    assert.equal(sameMtime(T, T + 1999n), true);
    assert.equal(sameMtime(T + 1999n, T), true);
    assert.equal(sameMtime(T, T - 1999n), true);
  });

  test('2 µs apart or more differ', () => {
    assert.equal(sameMtime(T, T + 2000n), false);
    assert.equal(sameMtime(T + 2000n, T), false);
    assert.equal(sameMtime(T, T - 1_000_000_000n), false);
  });

  test('microsecond rounding of a nanosecond time stays the same', () => {
    const rounded = (T / 1000n) * 1000n;
    assert.equal(sameMtime(T, rounded), true);
  });
});

describe('sameMetadata', () => {
  test('compares permission bits only, not the file-type bits', () => {
    assert.equal(sameMetadata(file({ mode: 0o100644 }), file({ mode: 0o644 })), true);
    assert.equal(sameMetadata(file({ mode: 0o644 }), file({ mode: 0o600 })), false);
    assert.equal(sameMetadata(file({ mode: 0o4755 }), file({ mode: 0o755 })), false);
  });

  test('needs the same mtime too', () => {
    assert.equal(sameMetadata(file(), file({ mtimeNs: T + 5000n })), false);
  });
});

describe('decide', () => {
  test('a missing destination entry is transferred in every mode and kind', () => {
    for (const mode of MODES) {
      for (const entry of [file(), dir(), link('x'), other()]) {
        assert.equal(decide(entry, undefined, mode), 'transfer', `${mode} ${entry.kind}`);
      }
    }
  });

  test('a kind mismatch is a conflict in every mode but --ignore-existing', () => {
    for (const mode of MODES.filter((m) => m !== 'ignore-existing')) {
      assert.equal(decide(file(), dir(), mode), 'conflict', mode);
      assert.equal(decide(dir(), file(), mode), 'conflict', mode);
      assert.equal(decide(link('x'), file(), mode), 'conflict', mode);
      assert.equal(decide(file(), link('x'), mode), 'conflict', mode);
    }
  });

  test('--ignore-existing leaves an existing entry of another kind alone, as rsync does', () => {
    assert.equal(decide(file(), dir(), 'ignore-existing'), 'skip');
    assert.equal(decide(dir(), file(), 'ignore-existing'), 'skip');
    assert.equal(decide(link('x'), file(), 'ignore-existing'), 'skip');
  });

  describe('default mode (size and mtime)', () => {
    test('identical files are skipped', () => {
      assert.equal(decide(file(), file(), 'default'), 'skip');
    });
    test('mtimes within tolerance are identical', () => {
      assert.equal(decide(file(), file({ mtimeNs: T + 1500n }), 'default'), 'skip');
    });
    test('a different size transfers', () => {
      assert.equal(decide(file(), file({ size: 101 }), 'default'), 'transfer');
    });
    test('a different mtime transfers', () => {
      assert.equal(decide(file(), file({ mtimeNs: T + 2000n }), 'default'), 'transfer');
      assert.equal(decide(file(), file({ mtimeNs: T - 1_000_000n }), 'default'), 'transfer');
    });
    test('only the mode differs: update metadata', () => {
      assert.equal(decide(file(), file({ mode: 0o600 }), 'default'), 'update');
    });
  });

  describe('checksum mode', () => {
    test('equal sizes are hashed, whatever the mtimes', () => {
      assert.equal(decide(file(), file(), 'checksum'), 'hash');
      assert.equal(decide(file(), file({ mtimeNs: T + 10_000_000n }), 'checksum'), 'hash');
      assert.equal(decide(file(), file({ mode: 0o600 }), 'checksum'), 'hash');
    });
    test('different sizes transfer without hashing', () => {
      assert.equal(decide(file(), file({ size: 99 }), 'checksum'), 'transfer');
    });
  });

  describe('size-only mode', () => {
    test('equal sizes and metadata skip', () => {
      assert.equal(decide(file(), file(), 'size-only'), 'skip');
    });
    test('equal sizes with another mtime do not transfer, only update metadata', () => {
      assert.equal(decide(file(), file({ mtimeNs: T + 10_000_000n }), 'size-only'), 'update');
      assert.equal(decide(file(), file({ mode: 0o600 }), 'size-only'), 'update');
    });
    test('different sizes transfer', () => {
      assert.equal(decide(file(), file({ size: 0 }), 'size-only'), 'transfer');
    });
  });

  describe('ignore-times mode', () => {
    test('identical files and links transfer anyway', () => {
      assert.equal(decide(file(), file(), 'ignore-times'), 'transfer');
      assert.equal(decide(link('x'), link('x'), 'ignore-times'), 'transfer');
    });
    test('directories are not rewritten', () => {
      assert.equal(decide(dir(), dir({ mtimeNs: 0n }), 'ignore-times'), 'skip');
    });
  });

  describe('ignore-existing mode', () => {
    test('an existing entry of the same kind is skipped however it differs', () => {
      assert.equal(decide(file(), file({ size: 1, mtimeNs: 0n, mode: 0o600 }), 'ignore-existing'), 'skip');
      assert.equal(decide(link('a'), link('b'), 'ignore-existing'), 'skip');
      assert.equal(decide(dir(), dir({ mode: 0o700 }), 'ignore-existing'), 'skip');
    });
  });

  test('directories are always skipped (their metadata is set after their contents)', () => {
    for (const mode of MODES)
      assert.equal(decide(dir(), dir({ mtimeNs: 0n, mode: 0o700 }), mode), 'skip', mode);
  });

  test("'other' entries present on both sides are skipped", () => {
    for (const mode of MODES) assert.equal(decide(other(), other({ mtimeNs: 0n }), mode), 'skip', mode);
  });

  describe('symlinks', () => {
    test('same target and mtime skip', () => {
      for (const mode of ['default', 'checksum', 'size-only'] as const) {
        assert.equal(decide(link('a/b'), link('a/b'), mode), 'skip', mode);
      }
    });
    test('another target transfers, even with equal sizes', () => {
      for (const mode of ['default', 'checksum', 'size-only'] as const) {
        assert.equal(decide(link('aaa'), link('bbb'), mode), 'transfer', mode);
      }
    });
    test('same target but another mtime transfers (a link keeps its own mtime)', () => {
      assert.equal(decide(link('a'), link('a', { mtimeNs: T + 5000n }), 'default'), 'transfer');
      assert.equal(decide(link('a'), link('a', { mtimeNs: T + 1000n }), 'default'), 'skip');
    });
  });
});
