/** Containment: wire paths are checked, and resolving them never leaves the module. */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import type { ModuleConfig } from '../../src/daemon/config.js';
import { beneathRpcError, checkWirePath, isWithin, resolveInModule } from '../../src/daemon/module-path.js';
import { RpcError } from '../../src/daemon/rpc-error.js';
import { BeneathError } from '../../src/fsops/beneath.js';
import { tempDir } from '../helpers.js';

function refusedWith(fn: () => unknown, code: status, message: RegExp, path?: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    if (path !== undefined) assert.equal(error.path, path);
    return true;
  });
}

describe('checkWirePath', () => {
  test('accepts relative paths and the module root', () => {
    assert.equal(checkWirePath(''), '');
    assert.equal(checkWirePath('a/b c/d\\e'), 'a/b c/d\\e');
    assert.equal(checkWirePath('...'), '...');
  });

  test("refuses absolute paths, '..', '.', empty components, NUL and overlong paths", () => {
    refusedWith(() => checkWirePath('/etc/passwd'), status.INVALID_ARGUMENT, /absolute/);
    refusedWith(() => checkWirePath('..'), status.INVALID_ARGUMENT, /'\.\.'/);
    refusedWith(() => checkWirePath('a/../../b'), status.INVALID_ARGUMENT, /'\.\.'/);
    refusedWith(() => checkWirePath('a/./b'), status.INVALID_ARGUMENT, /empty and '\.'/);
    refusedWith(() => checkWirePath('a/'), status.INVALID_ARGUMENT, /empty and '\.'/);
    refusedWith(() => checkWirePath('a\0b'), status.INVALID_ARGUMENT, /NUL/);
    refusedWith(() => checkWirePath('x'.repeat(4097)), status.INVALID_ARGUMENT, /longer than 4096/);
  });

  test('whatever it accepts has no component that climbs (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', '..', '.', '', 'b/c', '/', '\0'), { maxLength: 6 }),
        (parts) => {
          const path = parts.join('/');
          let rel: string;
          try {
            rel = checkWirePath(path);
          } catch {
            return;
          }
          assert.ok(!rel.startsWith('/'));
          assert.ok(rel === '' || rel.split('/').every((p) => p !== '' && p !== '.' && p !== '..'));
        },
      ),
    );
  });
});

test('isWithin compares whole components', () => {
  assert.equal(isWithin('/srv/data', '/srv/data'), true);
  assert.equal(isWithin('/srv/data/x', '/srv/data'), true);
  assert.equal(isWithin('/srv/database', '/srv/data'), false);
  assert.equal(isWithin('/anything', '/'), true);
});

describe('resolveInModule', () => {
  function setup(t: { after(fn: () => void): void }) {
    const root = tempDir(t);
    const dir = join(root, 'module');
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'file'), 'x');
    writeFileSync(join(root, 'outside'), 'secret');
    symlinkSync('sub', join(dir, 'inner'));
    symlinkSync('../outside', join(dir, 'out-file'));
    symlinkSync(root, join(dir, 'out-dir'));
    symlinkSync('sub/../../module/sub', join(dir, 'round-trip'));
    symlinkSync('nowhere', join(dir, 'dangling'));
    const module: ModuleConfig = { name: 'm', path: dir, readOnly: false, comment: '' };
    return { module, real: realpathSync(dir) };
  }

  test('follows links that stay inside the module', (t) => {
    const { module, real } = setup(t);
    assert.equal(resolveInModule(module, 'inner/file', true).real, join(real, 'sub', 'file'));
    assert.equal(resolveInModule(module, 'inner', true).real, join(real, 'sub'));
    assert.equal(resolveInModule(module, 'round-trip/deeper', true).real, join(real, 'sub', 'deeper'));
    assert.equal(resolveInModule(module, '', true).real, real);
  });

  test('refuses links that lead outside, wherever they sit on the path', (t) => {
    const { module } = setup(t);
    refusedWith(
      () => resolveInModule(module, 'out-file', true),
      status.PERMISSION_DENIED,
      /outside the module/,
      'out-file',
    );
    refusedWith(
      () => resolveInModule(module, 'out-dir/outside', true),
      status.PERMISSION_DENIED,
      /outside/,
      'out-dir',
    );
    refusedWith(
      () => resolveInModule(module, 'out-dir/module/sub', false),
      status.PERMISSION_DENIED,
      /outside/,
      'out-dir',
    );
  });

  test('keeps the last link unfollowed when asked (a removal removes the link)', (t) => {
    const { module, real } = setup(t);
    const link = resolveInModule(module, 'out-file', false);
    assert.equal(link.named, join(real, 'out-file'));
    assert.equal(link.stats.isSymbolicLink(), true);
    assert.equal(resolveInModule(module, 'dangling', true).stats.isSymbolicLink(), true);
  });

  test('missing entries and files used as directories are NOT_FOUND, naming the component', (t) => {
    const { module } = setup(t);
    refusedWith(() => resolveInModule(module, 'nope/x', true), status.NOT_FOUND, /no such file/, 'nope');
    refusedWith(
      () => resolveInModule(module, 'sub/file/x', true),
      status.NOT_FOUND,
      /not a directory/,
      'sub/file',
    );
  });
});

test('beneathRpcError names the component a descriptor resolution failed at, as resolveInModule does', () => {
  const cases: [BeneathError | Error, status, RegExp, string][] = [
    [new BeneathError('EXDEV', 0), status.PERMISSION_DENIED, /^symbolic link leads outside the module$/, 'a'],
    [new BeneathError('EXDEV', 2), status.PERMISSION_DENIED, /outside the module/, 'a/b/c'],
    [new BeneathError('ENOENT', 1), status.NOT_FOUND, /^no such file or directory$/, 'a/b'],
    [new BeneathError('ENOTDIR', 1), status.NOT_FOUND, /^not a directory$/, 'a/b'],
    [
      new BeneathError('ELOOP', 2),
      status.FAILED_PRECONDITION,
      /^too many levels of symbolic links$/,
      'a/b/c',
    ],
    [new BeneathError('EACCES', 0), status.PERMISSION_DENIED, /^permission denied$/, 'a'],
    [new Error('boom'), status.INTERNAL, /^boom$/, 'a/b/c'],
  ];
  for (const [error, code, message, path] of cases) {
    refusedWith(
      () => {
        throw beneathRpcError(error, 'a/b/c');
      },
      code,
      message,
      path,
    );
  }
});
