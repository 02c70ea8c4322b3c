import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { describeRawName, listDirectory } from '../../src/fsops/listing.js';
import { tempDir } from '../helpers.js';

const raw = (...bytes: number[]) => Buffer.from(bytes);

describe('describeRawName', () => {
  test('valid UTF-8 is shown as it is', () => {
    assert.equal(describeRawName(Buffer.from('plain.txt')), 'plain.txt');
    assert.equal(describeRawName(Buffer.from('café ü 日本 🎉')), 'café ü 日本 🎉');
    assert.equal(describeRawName(Buffer.alloc(0)), '');
  });

  test('a stray byte is shown as \\xNN between valid characters', () => {
    assert.equal(describeRawName(raw(0x61, 0xff, 0x62)), 'a\\xffb');
    assert.equal(describeRawName(raw(0x80)), '\\x80');
    assert.equal(describeRawName(raw(0x0a)), '\n', 'control characters are valid UTF-8 and kept');
  });

  test('Latin-1 text shows its accented bytes in two lower-case hex digits', () => {
    assert.equal(describeRawName(Buffer.from('caf\xe9.txt', 'latin1')), 'caf\\xe9.txt');
    assert.equal(describeRawName(raw(0x01, 0xab)), '\u0001\\xab');
  });

  test('a truncated multi-byte sequence shows each of its bytes', () => {
    // '€' is e2 82 ac; cut after two bytes, at the end and before ASCII.
    assert.equal(describeRawName(raw(0x61, 0xe2, 0x82)), 'a\\xe2\\x82');
    assert.equal(describeRawName(raw(0xe2, 0x82, 0x61)), '\\xe2\\x82a');
    assert.equal(describeRawName(raw(0xf0, 0x9f, 0x8e, 0x61)), '\\xf0\\x9f\\x8ea');
  });

  test('a valid sequence right after an invalid byte is kept whole', () => {
    assert.equal(describeRawName(raw(0xff, 0xe2, 0x82, 0xac)), '\\xff€');
    assert.equal(describeRawName(raw(0xc3, 0xc3, 0xa9)), '\\xc3é');
  });

  test('overlong encodings and UTF-16 surrogates are not valid characters', () => {
    assert.equal(describeRawName(raw(0xc0, 0xaf)), '\\xc0\\xaf');
    assert.equal(describeRawName(raw(0xed, 0xa0, 0x80)), '\\xed\\xa0\\x80');
  });

  test('property: valid UTF-8 round-trips unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        assert.equal(describeRawName(Buffer.from(text, 'utf8')), text);
      }),
    );
  });

  test('property: the description is valid text and as long as the bytes it accounts for', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const shown = describeRawName(Buffer.from(bytes));
        // Every \xNN stands for one byte; the rest re-encodes to the valid bytes it came from.
        const escapes = shown.match(/\\x[0-9a-f]{2}/g) ?? [];
        const rest = shown.replace(/\\x[0-9a-f]{2}/g, '');
        const restBytes = Buffer.from(rest, 'utf8');
        assert.ok(isUtf8(restBytes));
        // (A literal backslash in the name could pass for an escape; count only names without one.)
        if (!bytes.includes(0x5c)) assert.equal(escapes.length + restBytes.length, bytes.length);
        if (isUtf8(Buffer.from(bytes))) assert.equal(escapes.length, 0);
      }),
    );
  });
});

describe('listDirectory', () => {
  test('lists files, directories and links with their metadata', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'f.txt'), 'hello');
    mkdirSync(join(dir, 'sub'), { mode: 0o750 });
    symlinkSync('f.txt', join(dir, 'ln'));
    const { entries, problems } = listDirectory(dir);
    assert.deepEqual(problems, []);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.deepEqual([...byName.keys()].sort(), ['f.txt', 'ln', 'sub']);
    assert.equal(byName.get('f.txt')!.kind, 'file');
    assert.equal(byName.get('f.txt')!.size, 5);
    assert.equal(typeof byName.get('f.txt')!.mtimeNs, 'bigint');
    assert.equal(byName.get('sub')!.kind, 'dir');
    assert.equal(byName.get('ln')!.kind, 'symlink');
    assert.equal(byName.get('ln')!.linkTarget, 'f.txt');
    assert.equal(byName.get('f.txt')!.linkTarget, undefined);
  });

  test('a name that is not UTF-8 becomes a problem naming it, not an entry', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'ok'), '');
    const bad = Buffer.concat([Buffer.from(`${dir}/bad-`), raw(0xff), Buffer.from('.txt')]);
    try {
      writeFileSync(bad, 'x');
    } catch {
      t.skip('this file system refuses non-UTF-8 names');
      return;
    }
    const { entries, problems } = listDirectory(dir);
    assert.deepEqual(
      entries.map((e) => e.name),
      ['ok'],
    );
    assert.deepEqual(problems, [
      { name: 'bad-\\xff.txt', reason: 'file name is not valid UTF-8; not supported' },
    ]);
  });
});
