import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  baseRel,
  isName,
  isSafeRel,
  isWithinRel,
  joinRel,
  localPath,
  parentRel,
  relDepth,
} from '../../src/fsops/rel-path.js';

describe('joinRel / parentRel / baseRel / relDepth', () => {
  test('joinRel joins with one slash, the root being empty', () => {
    assert.equal(joinRel('', 'a'), 'a');
    assert.equal(joinRel('a', 'b'), 'a/b');
    assert.equal(joinRel('a/b', 'c.txt'), 'a/b/c.txt');
  });

  test('parentRel strips the last component', () => {
    assert.equal(parentRel('a/b/c'), 'a/b');
    assert.equal(parentRel('a'), '');
    assert.equal(parentRel(''), '');
  });

  test('baseRel keeps the last component', () => {
    assert.equal(baseRel('a/b/c.txt'), 'c.txt');
    assert.equal(baseRel('a'), 'a');
    assert.equal(baseRel(''), '');
  });

  test('relDepth counts components', () => {
    assert.equal(relDepth(''), 0);
    assert.equal(relDepth('a'), 1);
    assert.equal(relDepth('a/b/c'), 3);
  });

  test('a backslash is a name byte, never a separator', () => {
    assert.equal(joinRel('a\\b', 'c\\d'), 'a\\b/c\\d');
    assert.equal(parentRel('a\\b/c\\d'), 'a\\b');
    assert.equal(parentRel('a\\b'), '');
    assert.equal(baseRel('x/a\\b'), 'a\\b');
    assert.equal(relDepth('a\\b\\c'), 1);
  });
});

describe('localPath', () => {
  test('the root itself', () => {
    assert.equal(localPath('/data/root', ''), '/data/root');
  });

  test('below the root, with or without a trailing separator on the root', () => {
    assert.equal(localPath('/data/root', 'a/b'), '/data/root/a/b');
    assert.equal(localPath('/data/root/', 'a/b'), '/data/root/a/b');
    assert.equal(localPath('/', 'etc'), '/etc');
  });

  test('names are kept byte for byte', () => {
    assert.equal(localPath('/r', 'a\\b/ c ./ü'), '/r/a\\b/ c ./ü');
  });
});

describe('isSafeRel', () => {
  test('the root and ordinary paths are safe', () => {
    for (const rel of [
      '',
      'a',
      'a/b/c',
      '.hidden',
      '...',
      '..a',
      'a..',
      'a b',
      'ü/é',
      'a\\b',
      '\\',
      '..\\x',
    ]) {
      assert.equal(isSafeRel(rel), true, JSON.stringify(rel));
    }
  });

  test("'..' and '.' components are refused wherever they sit", () => {
    for (const rel of ['..', '../a', 'a/..', 'a/../b', '.', './a', 'a/.', 'a/./b']) {
      assert.equal(isSafeRel(rel), false, rel);
    }
  });

  test('absolute paths, empty components and trailing slashes are refused', () => {
    for (const rel of ['/', '/a', 'a/', 'a//b', '//']) assert.equal(isSafeRel(rel), false, rel);
  });

  test('a NUL byte is refused', () => {
    assert.equal(isSafeRel('a\0b'), false);
    assert.equal(isSafeRel('\0'), false);
  });

  test('every path of up to 6 characters from a, ., / and NUL is judged as a split into components is', () => {
    /** The rule read plainly: '' is the root; otherwise no NUL, and no component '', '.' or '..'. */
    const reference = (rel: string) =>
      rel === '' ||
      (!rel.includes('\0') && rel.split('/').every((part) => part !== '' && part !== '.' && part !== '..'));
    const alphabet = ['a', '.', '/', '\0'];
    let paths = [''];
    for (let length = 0; length <= 6; length++) {
      for (const rel of paths) assert.equal(isSafeRel(rel), reference(rel), JSON.stringify(rel));
      paths = paths.flatMap((rel) => alphabet.map((c) => rel + c));
    }
  });
});

describe('isWithinRel', () => {
  test('everything lies within the root', () => {
    assert.equal(isWithinRel('a/b', ''), true);
    assert.equal(isWithinRel('', ''), true);
  });

  test('a path is within itself and its ancestors', () => {
    assert.equal(isWithinRel('a', 'a'), true);
    assert.equal(isWithinRel('a/b/c', 'a'), true);
    assert.equal(isWithinRel('a/b/c', 'a/b'), true);
  });

  test('a sibling sharing a prefix is not within', () => {
    assert.equal(isWithinRel('ab', 'a'), false);
    assert.equal(isWithinRel('a/bc', 'a/b'), false);
    assert.equal(isWithinRel('a', 'a/b'), false);
    assert.equal(isWithinRel('', 'a'), false);
  });
});

/** A single safe path component: any characters but '/' and NUL, never '.' or '..'. */
const component = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .map((s) => s.replace(/[/\0]/g, '_'))
  .filter((s) => s !== '.' && s !== '..');
const components = fc.array(component, { minLength: 1, maxLength: 6 });

describe('rel-path properties', () => {
  test('a path joined from safe components is safe, has their depth, and splits back', () => {
    fc.assert(
      fc.property(components, (parts) => {
        const rel = parts.reduce(joinRel, '');
        assert.equal(rel, parts.join('/'));
        assert.equal(isSafeRel(rel), true);
        assert.equal(relDepth(rel), parts.length);
        assert.equal(baseRel(rel), parts.at(-1));
        assert.equal(parentRel(rel), parts.slice(0, -1).join('/'));
        assert.equal(joinRel(parentRel(rel), baseRel(rel)), rel);
      }),
    );
  });

  test('every ancestor contains the path; the path contains no proper ancestor', () => {
    fc.assert(
      fc.property(components, (parts) => {
        const rel = parts.join('/');
        for (let n = 0; n <= parts.length; n++) {
          const ancestor = parts.slice(0, n).join('/');
          assert.equal(isWithinRel(rel, ancestor), true, `${rel} within ${ancestor}`);
          if (n < parts.length) assert.equal(isWithinRel(ancestor, rel), false);
        }
      }),
    );
  });

  test('localPath of a safe path equals path.join (nothing normalised away)', () => {
    fc.assert(
      fc.property(components, fc.constantFrom('/', '/r', '/r/', '/a/b'), (parts, root) => {
        const rel = parts.join('/');
        assert.equal(localPath(root, rel), join(root, rel));
      }),
    );
  });

  test("inserting a '..' or '.' component anywhere makes a path unsafe", () => {
    fc.assert(
      fc.property(components, fc.nat(), fc.constantFrom('..', '.', ''), (parts, at, bad) => {
        const i = at % (parts.length + 1);
        const rel = [...parts.slice(0, i), bad, ...parts.slice(i)].join('/');
        assert.equal(isSafeRel(rel), false, rel);
      }),
    );
  });
});

describe('isName', () => {
  test('one component: not empty, not . or .., without a slash or a NUL byte', () => {
    for (const name of ['a', '.a', '..a', 'a.', '...', 'a b', 'a\\b', 'ü', ' '])
      assert.equal(isName(name), true, name);
    for (const name of ['', '.', '..', 'a/b', '/', 'a/', '/a', 'a\0', '\0', './a', '../'])
      assert.equal(isName(name), false, JSON.stringify(name));
  });

  test('as isSafeRel on text without a slash', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('.', 'a', '\0', '/', ' '), maxLength: 5 }),
        (name) => isName(name) === (name !== '' && !name.includes('/') && isSafeRel(name)),
      ),
      { numRuns: 5_000 },
    );
  });
});
