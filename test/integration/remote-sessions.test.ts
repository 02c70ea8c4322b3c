/**
 * Remote sessions as a user meets them: two at once on one daemon, read-only modules, progress
 * events fed by the remote side, the deletion question of a push, refusals in one line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertSameTree, isOneLineError, jsonReport, tempDir, testConfigHome } from '../helpers.js';
import { BLIT, runBlit, startDaemon } from './daemon-harness.js';

function tree(root: string, files: number): string {
  mkdirSync(join(root, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++)
    writeFileSync(join(root, i % 2 ? 'sub' : '', `f${i}`), `file ${i}\n`.repeat(i + 1));
  return root;
}

test('two sessions at once on one daemon: a push and a pull, both whole', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  const src = tree(join(root, 'src'), 200);
  tree(join(module, 'there'), 300);
  const daemon = await startDaemon(t, ['--root', module]);
  const remote = `127.0.0.1:${daemon.port}:/default`;
  const [push, pull] = await Promise.all([
    runBlit(['mirror', '--yes', `${src}/`, `${remote}/here`]),
    runBlit(['copy', `${remote}/there/`, join(root, 'back')]),
  ]);
  assert.equal(push.status, 0, push.stderr);
  assert.equal(pull.status, 0, pull.stderr);
  assertSameTree(join(module, 'here'), src);
  assertSameTree(join(root, 'back'), join(module, 'there'));
});

test('a read-only module refuses a push and a pull-move in one line, and serves a pull', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = tree(join(root, 'ro'), 4);
  const config = join(root, 'blitd.toml');
  writeFileSync(config, `[[module]]\nname = "ro"\npath = ${JSON.stringify(module)}\nread_only = true\n`);
  const daemon = await startDaemon(t, ['--config', config]);
  const remote = `127.0.0.1:${daemon.port}:/ro`;
  const push = await runBlit(['copy', tree(join(root, 'src'), 2), `${remote}/new`]);
  assert.equal(push.status, 1);
  assert.equal(push.stderr, `blit: ${remote}/new: module 'ro' is read-only\n`);
  const move = await runBlit(['move', `${remote}/`, join(root, 'moved')]);
  assert.equal(move.status, 1);
  assert.ok(isOneLineError(move.stderr), move.stderr);
  assert.match(move.stderr, /module 'ro' is read-only/);
  assert.equal(existsSync(join(module, 'f0')), true, 'the module keeps its files');
  const pull = await runBlit(['copy', `${remote}/`, join(root, 'pulled')]);
  assert.equal(pull.status, 0, pull.stderr);
  assertSameTree(join(root, 'pulled'), module);
});

test('a remote path that is not there is named as the user wrote it, in one line', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = tree(join(root, 'module'), 2);
  const daemon = await startDaemon(t, ['--root', module]);
  const remote = `127.0.0.1:${daemon.port}:/default`;
  for (const missing of [`${remote}/no such/file`, `${remote}/sub/gone/`]) {
    const pull = await runBlit(['copy', missing, join(root, 'here')]);
    assert.equal(pull.status, 1);
    assert.equal(pull.stderr, `blit: ${missing.replace(/\/$/, '')}: no such file or directory\n`);
  }
  assert.equal(existsSync(join(root, 'here')), false);
  // A local name that only looks like one of those paths is left as it is.
  const odd = join(root, '"/\\u0000remote/default/x\\q"');
  const push = await runBlit(['copy', odd, `${remote}/there`]);
  assert.equal(push.status, 1);
  assert.equal(push.stderr, `blit: ${odd}: no such file or directory\n`);
});

test('a push mirror without a terminal and without --yes deletes nothing at the daemon (exit 2)', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  mkdirSync(module);
  const src = tree(join(root, 'src'), 3);
  const daemon = await startDaemon(t, ['--root', module]);
  const remote = `127.0.0.1:${daemon.port}:/default/dst`;
  assert.equal((await runBlit(['copy', `${src}/`, remote])).status, 0);
  writeFileSync(join(module, 'dst', 'extra'), 'not in the source');
  const asked = await runBlit(['mirror', '--json', `${src}/`, remote]);
  assert.equal(asked.status, 2, asked.stderr);
  assert.match(
    asked.stderr,
    new RegExp(`not deleting 1 entry from 127\\.0\\.0\\.1:${daemon.port}:/default/dst without confirmation`),
  );
  assert.equal(jsonReport(asked).deletionsWithheld, 1);
  assert.equal(readFileSync(join(module, 'dst', 'extra'), 'utf8'), 'not in the source');
  const confirmed = await runBlit(['mirror', '--yes', '--json', `${src}/`, remote]);
  assert.equal(confirmed.status, 0, confirmed.stderr);
  assert.equal(jsonReport(confirmed).deleted, 1);
  assertSameTree(join(module, 'dst'), src);
});

/** Runs blit until a progress event satisfies `wanted` (bounded), then stops it with SIGINT. */
async function progressUntil(
  args: string[],
  env: Record<string, string>,
  wanted: (event: Record<string, unknown>) => boolean,
): Promise<{ seen: Record<string, unknown>; code: number | null }> {
  const child = spawn(process.execPath, [BLIT, ...args], {
    env: { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.resume();
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let buffered = '';
  const seen = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split('\n').slice(0, -1)) {
        if (!line.startsWith('{')) continue;
        const event = JSON.parse(line) as Record<string, unknown>;
        if (wanted(event)) resolve(event);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.on('close', () => reject(new Error(`blit ended before the progress wanted: ${buffered}`)));
  });
  child.kill('SIGINT');
  const [code] = await once(child, 'close');
  clearTimeout(killer);
  return { seen, code: code as number | null };
}

test('progress events on a push come from the daemon, on a pull from this side', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  const src = join(root, 'src');
  mkdirSync(module);
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a first'), 'small');
  writeFileSync(join(src, 'sub', 'big'), Buffer.alloc(3 << 20, 1));
  const daemon = await startDaemon(t, ['--root', module]);
  // The source pauses after the big file's first chunk: the small file, asked for with the root's
  // listing before the subdirectory's, has landed by then.
  const landed = (event: Record<string, unknown>) =>
    event.event === 'progress' && Number(event.entriesFound) >= 2 && Number(event.bytesDone) >= 5;
  const push = await progressUntil(
    ['copy', '--progress', '--json', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`],
    { BLIT_TEST_HANG: 'send:sub/big' },
    landed,
  );
  assert.equal(push.code, 130);

  mkdirSync(join(module, 'src', 'sub'), { recursive: true });
  writeFileSync(join(module, 'src', 'a first'), 'small');
  writeFileSync(join(module, 'src', 'sub', 'big'), Buffer.alloc(3 << 20, 1));
  const slow = await startDaemon(t, ['--root', module], { BLIT_TEST_HANG: 'send:sub/big' });
  const pull = await progressUntil(
    ['copy', '--progress', '--json', `127.0.0.1:${slow.port}:/default/src/`, join(root, 'back')],
    {},
    landed,
  );
  assert.equal(pull.code, 130);
});

test('perf history records a remote run on both machines, the peer standing for the far side', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  mkdirSync(module);
  const src = tree(join(root, 'src'), 6);
  const clientHome = join(root, 'client-config');
  const daemonHome = join(root, 'daemon-config');
  const daemon = await startDaemon(t, ['--root', module], { XDG_CONFIG_HOME: daemonHome });
  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`], {
    env: { XDG_CONFIG_HOME: clientHome },
  });
  assert.equal(push.status, 0, push.stderr);
  const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/dst/`, join(root, 'back')], {
    env: { XDG_CONFIG_HOME: clientHome },
  });
  assert.equal(pull.status, 0, pull.stderr);
  const records = (home: string) =>
    readFileSync(join(home, 'blit', 'perf_local.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            fs: { source: string; destination: string };
            workload: { files: number };
            copied: { files: number };
            outcome: string;
          },
      );
  const peer = `blitd 127.0.0.1:${daemon.port}`;
  const [pushed, pulled] = records(clientHome);
  assert.equal(pushed?.fs.destination, peer);
  assert.equal(pulled?.fs.source, peer);
  assert.deepEqual([pushed?.workload.files, pushed?.copied.files, pushed?.outcome], [6, 6, 'ok']);
  const served = records(daemonHome);
  assert.equal(served.length, 2);
  assert.equal(served[0]?.fs.source, 'blit 127.0.0.1');
  assert.equal(served[1]?.fs.destination, 'blit 127.0.0.1');
  assert.deepEqual([served[0]?.workload.files, served[0]?.copied.files], [6, 6]);
});

test('a single-file mirror over a directory replaces it, pushed and pulled, as locally', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  const file = join(root, 'f');
  writeFileSync(file, 'one file');
  // Each target directory holds a directory named like the file: the mirror replaces it.
  const targets = { local: join(root, 'local-x'), push: join(module, 'x'), pull: join(root, 'pulled-x') };
  for (const at of Object.values(targets)) {
    mkdirSync(join(at, 'f', 'inner'), { recursive: true });
    writeFileSync(join(at, 'f', 'inner', 'old'), 'old');
  }
  writeFileSync(join(module, 'f'), 'one file');
  const daemon = await startDaemon(t, ['--root', module]);
  const runs = {
    local: await runBlit(['mirror', '--yes', '--json', file, targets.local]),
    push: await runBlit(['mirror', '--yes', '--json', file, `127.0.0.1:${daemon.port}:/default/x`]),
    pull: await runBlit(['mirror', '--yes', '--json', `127.0.0.1:${daemon.port}:/default/f`, targets.pull]),
  };
  for (const name of ['local', 'push', 'pull'] as const) {
    const run = runs[name];
    assert.equal(run.status, 0, `${name}: ${run.stderr}`);
    assert.deepEqual([jsonReport(run).copied, jsonReport(run).deleted], [1, 1], name);
    assert.equal(readFileSync(join(targets[name], 'f'), 'utf8'), 'one file', name);
  }
});

test('a rerun that copies nothing still reports what the source could not read (exit 2), as locally', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  const src = tree(join(root, 'src'), 2);
  tree(join(module, 'src'), 2);
  // A name that is not UTF-8, on both sources: refused per file, every run.
  for (const dir of [src, join(module, 'src')]) writeFileSync(Buffer.from(`${dir}/bad-\xff`, 'latin1'), 'x');
  const daemon = await startDaemon(t, ['--root', module]);
  for (let run = 1; run <= 2; run++) {
    const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`]);
    const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/src/`, join(root, 'back')]);
    for (const result of [push, pull]) {
      assert.equal(result.status, 2, `run ${run}: ${result.stderr}`);
      assert.match(result.stderr, /not valid UTF-8/);
    }
  }
});

test('a push never makes set-user-ID or set-group-ID files on the daemon', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  mkdirSync(module);
  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'tool'), '#!/bin/sh\n');
  chmodSync(join(src, 'tool'), 0o6755);
  const daemon = await startDaemon(t, ['--root', module]);
  const push = await runBlit(['copy', `${src}/`, `127.0.0.1:${daemon.port}:/default/dst`]);
  assert.equal(push.status, 0, push.stderr);
  assert.equal(statSync(join(module, 'dst', 'tool')).mode & 0o7777, 0o755);
});

test('a pull-move reports the sources the daemon had to keep (exit 2), as a local move does', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  const src = tree(join(module, 'src'), 3);
  // Immutable: root cannot remove it either (chattr +i on ext4, where the tests run). Made
  // mutable again before the test ends, or its temp directory could not be removed.
  const stuck = join(src, 'f0');
  const immutable = spawnSync('chattr', ['+i', stuck]);
  if (immutable.status !== 0)
    assert.fail(`chattr +i: ${immutable.stderr} (the tests need ext4 and chattr, e2fsprogs)`);
  try {
    const daemon = await startDaemon(t, ['--root', module]);
    const pull = await runBlit([
      'move',
      '--json',
      `127.0.0.1:${daemon.port}:/default/src/`,
      join(root, 'moved'),
    ]);
    assert.equal(pull.status, 2, pull.stderr);
    assert.match(
      pull.stderr,
      /^blit: f0: copied, but the source could not be removed: operation not permitted$/m,
    );
    assert.equal(jsonReport(pull).failed, 1);
    assert.equal(existsSync(stuck), true);
    assert.equal(existsSync(join(src, 'sub', 'f1')), false, 'the other sources went');
  } finally {
    spawnSync('chattr', ['-i', stuck]);
  }
});

test('a mirror whose destination has a link where the source has a directory replaces the link and writes nothing through it (push and pull)', async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  const outside = join(root, 'outside');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'kept'), 'outside\n');
  const src = join(root, 'src');
  mkdirSync(join(src, 'x', 'deeper'), { recursive: true });
  writeFileSync(join(src, 'x', 'f'), 'in x\n');
  writeFileSync(join(src, 'x', 'deeper', 'g'), 'deeper\n');
  writeFileSync(join(src, 'top'), 'top\n');
  mkdirSync(join(module, 'pushed'), { recursive: true });
  symlinkSync(outside, join(module, 'pushed', 'x'));
  mkdirSync(join(module, 'served'), { recursive: true });
  cpSync(src, join(module, 'served'), { recursive: true });
  const pulled = join(root, 'pulled');
  mkdirSync(pulled);
  symlinkSync(outside, join(pulled, 'x'));
  const daemon = await startDaemon(t, ['--root', module]);
  const remote = `127.0.0.1:${daemon.port}:/default`;
  const pull = await runBlit(['mirror', '--yes', `${remote}/served/`, pulled]);
  assert.equal(pull.status, 0, pull.stderr);
  assert.deepEqual(readdirSync(outside), ['kept'], 'nothing was written through the link');
  const push = await runBlit(['mirror', '--yes', `${src}/`, `${remote}/pushed`]);
  assert.equal(push.status, 0, push.stderr);
  assert.deepEqual(readdirSync(outside), ['kept'], 'nothing was written through the link');
  assertSameTree(join(module, 'pushed'), src);
  assertSameTree(pulled, join(module, 'served'));
});

test('a pulled file that cannot be written here fails alone: the session ends (exit 2), it does not wait for it', {
  timeout: 120_000,
}, async (t) => {
  const root = tempDir(t, 'blit-sessions-');
  const module = join(root, 'module');
  mkdirSync(join(module, 'sub'), { recursive: true });
  // Over the small-file size: it lands through a temp file of its own, on the data plane. The only
  // file: its failure is the last thing the session hears of its data.
  writeFileSync(join(module, 'sub', 'big'), Buffer.alloc(1 << 20, 3));
  const dst = join(root, 'dst');
  mkdirSync(join(dst, 'sub'), { recursive: true });
  // Not even root may create a file in an immutable directory (EPERM: not a full disk).
  if (spawnSync('chattr', ['+i', join(dst, 'sub')]).status !== 0) {
    t.skip('chattr +i is not available here (needs root on ext4); CI has both');
    return;
  }
  try {
    const daemon = await startDaemon(t, ['--root', module]);
    const pull = await runBlit(['copy', `127.0.0.1:${daemon.port}:/default/`, `${dst}/`]);
    assert.equal(pull.status, 2, pull.stderr);
    assert.match(pull.stderr, /sub\/big: cannot write: .*(operation not permitted|EPERM)/i);
    assert.deepEqual(readdirSync(join(dst, 'sub')), []);
  } finally {
    // Before the temp directory's removal.
    spawnSync('chattr', ['-i', join(dst, 'sub')]);
  }
});
