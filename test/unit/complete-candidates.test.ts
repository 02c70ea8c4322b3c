/** What the shell completions offer, decided from the real program's definitions (cli/program.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command } from '@commander-js/extra-typings';
import {
  completionFor,
  entryCandidates,
  moduleCandidates,
  pathCompletion,
} from '../../src/cli/complete-candidates.js';
import { blitProgram } from '../../src/cli/program.js';

const program = blitProgram();
const words = (...typed: string[]) => {
  const completion = completionFor(program, typed);
  assert.equal(completion.kind, 'words', JSON.stringify(completion));
  return completion.kind === 'words' ? completion.words : [];
};

describe('completionFor', () => {
  test('the first word: the visible verbs, never the hidden __complete', () => {
    const verbs = words('');
    for (const verb of ['copy', 'mirror', 'move', 'diagnostics', 'list-modules', 'ls', 'rm', 'trust', 'id'])
      assert.ok(verbs.includes(verb), verb);
    assert.ok(verbs.includes('completions'));
    assert.ok(!verbs.includes('__complete'));
    assert.deepEqual(words('co'), ['copy', 'completions']);
    assert.deepEqual(words('m'), ['mirror', 'move']);
  });

  test("a verb's own flags, without hidden ones", () => {
    const mirror = words('mirror', '--');
    assert.ok(
      mirror.includes('--yes') && mirror.includes('--delete-excluded') && mirror.includes('--checksum'),
    );
    assert.ok(!mirror.includes('--ludicrous-speed'));
    const copy = words('copy', '-');
    assert.ok(copy.includes('-c') && copy.includes('--checksum') && copy.includes('-n'));
    assert.ok(!copy.includes('--yes'), 'copy has no --yes');
    assert.deepEqual(words('copy', '--ch'), ['--checksum']);
    assert.deepEqual(words('-'), ['--version', '-V', '--help', '-h']);
  });

  test('subcommands, then their flags', () => {
    assert.deepEqual(
      words('diagnostics', '').filter((w) => w !== 'help'),
      ['perf', 'dump'],
    );
    assert.ok(words('diagnostics', 'perf', '--').includes('--clear'));
  });

  test("an argument's choices", () => {
    assert.deepEqual(words('completions', ''), ['bash', 'zsh', 'fish']);
    assert.deepEqual(words('completions', 'z'), ['zsh']);
    assert.deepEqual(words('completions', 'zsh', ''), []);
  });

  test('option values: a file for --files-from, nothing to offer for a glob', () => {
    assert.deepEqual(completionFor(program, ['copy', '--files-from', '']), { kind: 'files' });
    assert.deepEqual(words('copy', '--include', ''), []);
    // The value taken, the next word is the first path again.
    assert.deepEqual(completionFor(program, ['copy', '--include', '*.c', '']), { kind: 'files' });
    assert.deepEqual(completionFor(program, ['copy', '--include=*.c', 'src/', '']), { kind: 'files' });
  });

  test('path arguments: local ones are left to the shell; two for copy, any number for rm', () => {
    assert.deepEqual(completionFor(program, ['copy', 'sr']), { kind: 'files' });
    assert.deepEqual(completionFor(program, ['copy', '-c', 'src/', 'ds']), { kind: 'files' });
    assert.deepEqual(words('copy', 'a', 'b', ''), []);
    assert.equal(completionFor(program, ['rm', 'h:/m/a', 'h:/m/b', 'h:/m/c']).kind, 'entries');
    // After '--' a word that starts with '-' is a path.
    assert.deepEqual(completionFor(program, ['copy', '--', '-odd']), { kind: 'files' });
    // A daemon address is not a path.
    assert.deepEqual(words('list-modules', 'loc'), []);
  });

  test('a command added to the program later completes by its definitions', () => {
    const extended = blitProgram();
    extended.addCommand(
      new Command('weigh')
        .argument('<path>', 'what to measure')
        .option('--json', 'JSON') as unknown as Command,
    );
    assert.ok((completionFor(extended, ['w']) as { words: string[] }).words.includes('weigh'));
    assert.deepEqual(completionFor(extended, ['weigh', '--j']), { kind: 'words', words: ['--json'] });
    assert.equal(completionFor(extended, ['weigh', 'h:/']).kind, 'modules');
  });
});

describe('pathCompletion', () => {
  test('HOST:/ and HOST:PORT:/ ask for modules', () => {
    assert.deepEqual(pathCompletion('backup:/'), {
      kind: 'modules',
      address: { host: 'backup', port: 9031 },
      prefix: 'backup:/',
      partial: '',
    });
    assert.deepEqual(pathCompletion('backup:9100:/ph'), {
      kind: 'modules',
      address: { host: 'backup', port: 9100 },
      prefix: 'backup:9100:/',
      partial: 'ph',
    });
  });

  test('HOST:/mod/dir/ asks for entries of dir', () => {
    assert.deepEqual(pathCompletion('[::1]:9100:/m/a/b'), {
      kind: 'entries',
      address: { host: '::1', port: 9100 },
      module: 'm',
      dir: 'a',
      prefix: '[::1]:9100:/m/a/',
      partial: 'b',
    });
    assert.deepEqual(pathCompletion('h:/m/'), {
      kind: 'entries',
      address: { host: 'h', port: 9031 },
      module: 'm',
      dir: '',
      prefix: 'h:/m/',
      partial: '',
    });
    // Read as every command reads a remote path: empty and '.' components dropped.
    assert.deepEqual(pathCompletion('h:/m//a/./b/c'), {
      kind: 'entries',
      address: { host: 'h', port: 9031 },
      module: 'm',
      dir: 'a/b',
      prefix: 'h:/m//a/./b/',
      partial: 'c',
    });
  });

  test('local paths, and remote-looking words that cannot be asked about', () => {
    assert.deepEqual(pathCompletion('./foo:/bar'), { kind: 'files' });
    assert.deepEqual(pathCompletion('host:'), { kind: 'files' });
    assert.deepEqual(pathCompletion('bad host:/'), { kind: 'words', words: [] });
    assert.deepEqual(pathCompletion('h:99999:/'), { kind: 'words', words: [] });
    assert.deepEqual(pathCompletion('h:/../x'), { kind: 'words', words: [] });
    assert.deepEqual(pathCompletion('h:/../'), { kind: 'words', words: [] });
  });
});

describe('candidates', () => {
  test('modules and entries after what was typed; directories end in /', () => {
    assert.deepEqual(moduleCandidates('h:/', 'p', ['photos', 'backup', 'pub']), ['h:/photos/', 'h:/pub/']);
    assert.deepEqual(
      entryCandidates('h:/m/a/', '', [
        { name: 'dir', isDirectory: true },
        { name: 'file.txt', isDirectory: false },
      ]),
      ['h:/m/a/dir/', 'h:/m/a/file.txt'],
    );
  });

  test('dot names only when asked for; names no shell line can hold are left out', () => {
    const entries = [
      { name: '.hidden', isDirectory: false },
      { name: 'two\nlines', isDirectory: false },
      { name: 'esc\u001b[31m', isDirectory: false },
      { name: 'a/b', isDirectory: false },
      { name: 'plain name', isDirectory: false },
    ];
    assert.deepEqual(entryCandidates('h:/m/', '', entries), ['h:/m/plain name']);
    assert.deepEqual(entryCandidates('h:/m/', '.', entries), ['h:/m/.hidden']);
  });
});
