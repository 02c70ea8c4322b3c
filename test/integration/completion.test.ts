/**
 * `blit completions` and `blit __complete` through the real CLI: module and path candidates from a
 * real blitd on 127.0.0.1, silence within the time-out from a port that accepts and never answers,
 * and the bash script itself (syntax, and a completion run in bash that must survive bash cutting
 * words at ':'). zsh and fish are checked only where they are installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { REMOTE_COMPLETION_TIMEOUT_MS } from '../../src/cli/complete-command.js';
import { CONNECT_TIMEOUT_MS } from '../../src/remote/client.js';
import { tempDir, testConfigHome } from '../helpers.js';
import { BLIT, runBlit, startDaemon } from './daemon-harness.js';

const complete = (...words: string[]) => runBlit(['__complete', '--', ...words]);
const lines = (stdout: string) => stdout.split('\n').filter((line) => line !== '');

function hasShell(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

describe('completion candidates from a real blitd', () => {
  test('module names, then the entries of a remote directory', async (t) => {
    const root = tempDir(t);
    mkdirSync(join(root, 'photos', '2024'), { recursive: true });
    writeFileSync(join(root, 'photos', 'cat.jpg'), 'meow');
    writeFileSync(join(root, 'photos', '.hidden'), '');
    writeFileSync(join(root, 'photos', '2024', 'dog.jpg'), 'woof');
    const daemon = await startDaemon(t, ['--root', root]);
    const host = `127.0.0.1:${daemon.port}`;

    const modules = await complete('ls', `${host}:/`);
    assert.equal(modules.status, 0, modules.stderr);
    assert.deepEqual(lines(modules.stdout), [`${host}:/default/`]);
    assert.deepEqual(lines((await complete('copy', `${host}:/def`)).stdout), [`${host}:/default/`]);
    assert.deepEqual(lines((await complete('copy', `${host}:/x`)).stdout), []);

    const top = await complete('copy', `${host}:/default/`);
    assert.deepEqual(lines(top.stdout).sort(), [`${host}:/default/photos/`]);
    const photos = await complete('mirror', `${host}:/default/photos/`);
    assert.deepEqual(lines(photos.stdout).sort(), [
      `${host}:/default/photos/2024/`,
      `${host}:/default/photos/cat.jpg`,
    ]);
    const partial = await complete('rm', `${host}:/default/photos/c`);
    assert.deepEqual(lines(partial.stdout), [`${host}:/default/photos/cat.jpg`]);
    const dot = await complete('ls', `${host}:/default/photos/.`);
    assert.deepEqual(lines(dot.stdout), [`${host}:/default/photos/.hidden`]);
    // A missing directory or module: nothing, silently.
    const missing = await complete('ls', `${host}:/nope/photos/`);
    assert.deepEqual([missing.status, missing.stdout, missing.stderr], [0, '', '']);
  });

  test('a port that accepts and never answers: nothing, within the completion time-out', async (t) => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    // Bounded below the client's own connect time-out: a completion that waited for that (the
    // 2 s bound broken) is killed and fails here.
    assert.ok(REMOTE_COMPLETION_TIMEOUT_MS * 3 < CONNECT_TIMEOUT_MS);
    // Spawned asynchronously: this process must keep accepting while the completion waits.
    const child = spawn(process.execPath, [BLIT, '__complete', '--', 'ls', `127.0.0.1:${port}:/`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: testConfigHome() },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), CONNECT_TIMEOUT_MS - 1000);
    const [code, signal] = await once(child, 'close');
    clearTimeout(killer);
    assert.equal(signal, null, 'killed: the completion did not give up on its own');
    assert.deepEqual([code, stdout, stderr], [0, '', '']);
    assert.ok(sockets.length > 0, 'the completion did connect');
  });
});

/**
 * COMP_WORDS as bash makes them from `line`: blanks outside quotes separate words, quotes keep a
 * word together, and ':' (in COMP_WORDBREAKS) outside quotes is a word of its own.
 */
function bashCompWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let started = false;
  const end = () => {
    if (started) words.push(word);
    word = '';
    started = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote) {
      word += c;
      if (c === quote) quote = '';
    } else if (c === '\\') {
      word += c + (line[i + 1] ?? '');
      i++;
      started = true;
    } else if (/\s/.test(c)) {
      end();
    } else if (c === ':') {
      end();
      words.push(':');
    } else {
      if (c === "'" || c === '"') quote = c;
      word += c;
      started = true;
    }
  }
  end();
  if (line === '' || /\s$/.test(line)) words.push('');
  return words;
}

/** A bash with the generated script loaded, `blit` on its PATH and cwd in a temp dir. */
async function bashCompleter(t: TestContext) {
  const dir = tempDir(t);
  const script = join(dir, 'blit.bash');
  const generated = await runBlit(['completions', 'bash']);
  assert.equal(generated.status, 0, generated.stderr);
  writeFileSync(script, generated.stdout);
  const syntax = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // `blit` on the PATH, as the script calls it by the name typed.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(BLIT, join(bin, 'blit'));
  const work = join(dir, 'work');
  mkdirSync(work);
  const bash = (program: string) => {
    const result = spawnSync('bash', ['-c', program], {
      encoding: 'utf8',
      cwd: work,
      timeout: 30_000,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, XDG_CONFIG_HOME: testConfigHome() },
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };
  /** COMPREPLY for `line` (the cursor at its end), one entry a line. */
  const reply = (line: string) => {
    const compWords = bashCompWords(line);
    const program = [
      `source ${JSON.stringify(script)}`,
      `COMP_LINE=${shellQuote(line)}; COMP_POINT=\${#COMP_LINE}`,
      `COMP_WORDS=(${compWords.map(shellQuote).join(' ')}); COMP_CWORD=${compWords.length - 1}`,
      '_blit',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's syntax
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    return lines(bash(program));
  };
  return { work, reply, bash };
}

/** `text` in single quotes, for bash. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

describe('completion scripts', () => {
  test('the bash script parses, and completes verbs, flags, files and remote modules in bash', async (t) => {
    const { work, reply } = await bashCompleter(t);
    mkdirSync(join(work, 'sources'));
    const root = tempDir(t);
    mkdirSync(join(root, 'data'));
    const daemon = await startDaemon(t, ['--root', root]);

    assert.deepEqual(reply('blit mi'), ['mirror']);
    assert.deepEqual(reply('blit copy --dry'), ['--dry-run']);
    assert.deepEqual(reply('blit copy so'), ['sources']);
    // A quoted word is one word, as bash counts it: the verb is recognised.
    assert.deepEqual(reply("blit 'completions' "), ['bash', 'zsh', 'fish']);
    // bash replaces only what follows the last ':' of the word: candidates are trimmed to that.
    assert.deepEqual(reply(`blit ls 127.0.0.1:${daemon.port}:/de`), ['/default/']);
    assert.deepEqual(reply(`blit ls 127.0.0.1:${daemon.port}:/default/`), ['/default/data/']);
  });

  test('bash: remote names with shell syntax are inserted as one literal word each, never run', async (t) => {
    const { work, reply, bash } = await bashCompleter(t);
    const root = tempDir(t);
    const files = ['$(touch PWNED)', 'a b', 'x;id', "q'uote", 'star*', '`touch PWNED`'];
    for (const name of files) writeFileSync(join(root, name), '');
    mkdirSync(join(root, 'sub dir'));
    writeFileSync(join(root, 'sub dir', 'in"side'), '');
    const daemon = await startDaemon(t, ['--root', root]);
    const host = `127.0.0.1:${daemon.port}`;
    const pwned = join(work, 'PWNED');
    // A local file the remote name `star*` would match if a candidate were glob-expanded.
    mkdirSync(join(work, `${host}:`, 'default'), { recursive: true });
    writeFileSync(join(work, `${host}:`, 'default', 'starry'), '');

    // [typed after HOST:/default/, the path the completed word must stand for]
    const cases: [string, string][] = [
      ['$', '$(touch PWNED)'],
      ['a', 'a b'],
      ['x', 'x;id'],
      ['q', "q'uote"],
      ['st', 'star*'],
      ['`', '`touch PWNED`'],
      ['su', 'sub dir/'],
      // The typed part already quoted: it is taken off before asking the daemon.
      ['sub\\ dir/', 'sub dir/in"side'],
    ];
    for (const [typed, name] of cases) {
      const line = `blit ls ${host}:/default/${typed}`;
      const entries = reply(line);
      assert.equal(entries.length, 1, `${typed}: ${JSON.stringify(entries)}`);
      // The word on the line after <TAB>: what precedes the last ':' stays, the entry replaces the rest.
      const word = `${host}:${entries[0]}`;
      // The shell reads it as exactly one word, standing for the path itself.
      const read = bash(`eval "set -- $(printf '%s' ${shellQuote(word)})"; printf '%s\\n' "$#" "$1"`);
      assert.equal(read, `1\n${host}:/default/${name}\n`, `${typed}: inserted as ${word}`);
      assert.ok(!existsSync(pwned), `${typed}: the name ran as a command`);
    }
  });

  test('fish: a typed word is unescaped before the daemon is asked (where fish is installed)', async (t) => {
    if (!hasShell('fish')) {
      t.diagnostic('fish is not installed: its completion is not run');
      return;
    }
    const dir = tempDir(t);
    const script = join(dir, 'blit.fish');
    writeFileSync(script, (await runBlit(['completions', 'fish'])).stdout);
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(BLIT, join(bin, 'blit'));
    const root = tempDir(t);
    mkdirSync(join(root, 'sub dir'));
    writeFileSync(join(root, '$(touch PWNED)'), '');
    const daemon = await startDaemon(t, ['--root', root]);
    const host = `127.0.0.1:${daemon.port}`;
    const complete = (line: string) => {
      const result = spawnSync(
        'fish',
        ['-c', `source ${shellQuote(script)}; complete -C ${shellQuote(line)}`],
        {
          encoding: 'utf8',
          cwd: dir,
          timeout: 30_000,
          env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, XDG_CONFIG_HOME: testConfigHome() },
        },
      );
      assert.equal(result.status, 0, result.stderr);
      return lines(result.stdout);
    };
    assert.deepEqual(complete(`blit ls ${host}:/default/sub\\ `), [`${host}:/default/sub dir/`]);
    assert.deepEqual(complete(`blit ls '${host}:/default/sub `), [`${host}:/default/sub dir/`]);
    assert.deepEqual(complete(`blit ls ${host}:/default/\\$`), [`${host}:/default/$(touch PWNED)`]);
    assert.ok(!existsSync(join(dir, 'PWNED')));
  });

  test('zsh and fish scripts parse (where those shells are installed)', async (t) => {
    for (const [shell, check] of [
      ['zsh', ['-n']],
      ['fish', ['--no-execute']],
    ] as const) {
      if (!hasShell(shell)) {
        t.diagnostic(`${shell} is not installed: its script's syntax is not checked`);
        continue;
      }
      const generated = await runBlit(['completions', shell]);
      const file = join(tempDir(t), `blit.${shell}`);
      writeFileSync(file, generated.stdout);
      const result = spawnSync(shell, [...check, file], { encoding: 'utf8' });
      assert.equal(result.status, 0, `${shell}: ${result.stderr}`);
    }
  });

  test('an unknown shell is refused in one line', async () => {
    const result = await runBlit(['completions', 'tcsh']);
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^blit: command-argument value 'tcsh' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish\.\n$/,
    );
  });
});
