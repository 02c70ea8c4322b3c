import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TransferFlags } from '../../src/cli/program.js';
import { compareModeOf, readFilesFrom } from '../../src/cli/transfer-command.js';
import { BlitError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

function flags(over: Partial<TransferFlags> = {}): TransferFlags {
  return { include: [], exclude: [], ...over };
}

describe('compareModeOf', () => {
  test('no compare flag is the default (size and mtime)', () => {
    assert.equal(compareModeOf(flags()), 'default');
    assert.equal(compareModeOf(flags({ checksum: false, sizeOnly: false })), 'default');
  });

  test('each flag selects its mode', () => {
    assert.equal(compareModeOf(flags({ checksum: true })), 'checksum');
    assert.equal(compareModeOf(flags({ sizeOnly: true })), 'size-only');
    assert.equal(compareModeOf(flags({ ignoreTimes: true })), 'ignore-times');
    assert.equal(compareModeOf(flags({ ignoreExisting: true })), 'ignore-existing');
  });

  test('unrelated flags do not change the mode', () => {
    assert.equal(compareModeOf(flags({ dryRun: true, yes: true, json: true })), 'default');
  });

  test('two compare flags are refused with a user error', () => {
    const pairs: Partial<TransferFlags>[] = [
      { checksum: true, sizeOnly: true },
      { checksum: true, ignoreTimes: true },
      { sizeOnly: true, ignoreExisting: true },
      { ignoreTimes: true, ignoreExisting: true },
      { checksum: true, sizeOnly: true, ignoreTimes: true, ignoreExisting: true },
    ];
    for (const pair of pairs) {
      assert.throws(
        () => compareModeOf(flags(pair)),
        (error: unknown) =>
          error instanceof BlitError && /choose one of --checksum, --size-only/.test(error.message),
        JSON.stringify(pair),
      );
    }
  });
});

describe('readFilesFrom', () => {
  function listFile(t: { after(fn: () => void): void }, text: string | Buffer): string {
    const path = join(tempDir(t), 'list.txt');
    writeFileSync(path, text);
    return path;
  }

  test('one relative path per line, in order', (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, 'a.txt\ndir/b.txt\ndir\n')), ['a.txt', 'dir/b.txt', 'dir']);
  });

  test('a last line without a newline counts', (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, 'a\nb')), ['a', 'b']);
  });

  test('blank lines, whitespace-only lines and # comments are skipped', (t) => {
    const text = '# files to copy\n\na\n   \n\t\n#b\nc\n\n';
    assert.deepEqual(readFilesFrom(listFile(t, text)), ['a', 'c']);
  });

  test('an empty file lists nothing', (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, '')), []);
  });

  test("a leading './' (repeated) is stripped", (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, './a\n././b/c\n')), ['a', 'b/c']);
  });

  test("leading and trailing '/' are stripped", (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, '/a/b\ndir/\n//c//\n')), ['a/b', 'dir', 'c']);
  });

  test('CRLF line ends are accepted', (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, 'a\r\nb/c\r\n\r\n')), ['a', 'b/c']);
  });

  test('names keep their spaces, backslashes and non-ASCII characters', (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, 'my file.txt\na\\b\nü/é ñ\n')), [
      'my file.txt',
      'a\\b',
      'ü/é ñ',
    ]);
  });

  test('a leading byte-order mark is not part of the first path', (t) => {
    assert.deepEqual(readFilesFrom(listFile(t, '\uFEFFa.txt\nb\n')), ['a.txt', 'b']);
  });

  test('a list that is not UTF-8 is refused, not silently mangled', (t) => {
    const path = listFile(t, Buffer.from([0x61, 0x0a, 0x66, 0xff, 0x0a]));
    assert.throws(
      () => readFilesFrom(path),
      (error: unknown) => error instanceof BlitError && /not valid UTF-8/.test(error.message),
    );
  });

  for (const bad of ['..', '../etc/passwd', 'a/../../b', 'a/..', './..', 'a/./b', 'a\0b']) {
    test(`${JSON.stringify(bad)} is refused with the file, line number and line`, (t) => {
      const path = listFile(t, `ok\n# comment\n${bad}\n`);
      assert.throws(
        () => readFilesFrom(path),
        (error: unknown) => {
          assert.ok(error instanceof BlitError, String(error));
          assert.ok(error.message.includes(`:3: ${JSON.stringify(bad)}`), error.message);
          assert.match(error.message, /is not a relative path inside the source/);
          return true;
        },
      );
    });
  }

  test("a line naming the root itself ('/' or './') is refused", (t) => {
    assert.throws(() => readFilesFrom(listFile(t, '/\n')), BlitError);
    assert.throws(() => readFilesFrom(listFile(t, './\n')), BlitError);
  });

  test('a missing list file is a user error naming it', (t) => {
    const path = join(tempDir(t), 'missing.txt');
    assert.throws(
      () => readFilesFrom(path),
      (error: unknown) =>
        error instanceof BlitError && error.message === `${path}: no such file or directory`,
    );
  });

  test('a directory given as the list file is a user error', (t) => {
    const dir = tempDir(t);
    assert.throws(
      () => readFilesFrom(dir),
      (error: unknown) => error instanceof BlitError && error.message.startsWith(`${dir}: `),
    );
  });
});
