/**
 * Containment under a local writer: while `blit rm` purges and while `blit ls` lists, a second
 * process keeps swapping directories of the module with symbolic links to the outside
 * (test/fixtures/swap-loop.ts). Nothing outside may be removed, and no outside name listed.
 * With the addon the daemon works through descriptors opened beneath the module; both of its
 * resolvers (openat2, and the O_NOFOLLOW walk: BLIT_NO_OPENAT2=1) are run. Every loop is bounded
 * in time and in count; the writer runs while the CLI works, never against a fixed sleep.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeAddon } from '../../src/fsops/native.js';
import { tempDir } from '../helpers.js';
import { type Daemon, runBlit, startDaemon } from './daemon-harness.js';

const SWAP_LOOP = fileURLToPath(new URL('../fixtures/swap-loop.ts', import.meta.url));
/** How long one scenario keeps trying, and at most how many CLI runs it makes. */
const SCENARIO_MS = 3000;
const MAX_RUNS = 24;
const LS_AT_ONCE = 3;
const SWAPPER_MS = 10_000;
const WAIT_MS = 15_000;

interface Swapper {
  /** Closes its stdin and waits for its exit; resolves with how many flips it made. */
  stop(): Promise<number>;
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${WAIT_MS} ms`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the swap loop on `pairs` ([directory, link target]) and waits until its links exist. */
async function startSwapper(
  t: { after(fn: () => unknown): void },
  pairs: [string, string][],
  holds: { holdLink: number; holdDir: number },
): Promise<Swapper> {
  const spec = JSON.stringify({ pairs, ...holds, maxMs: SWAPPER_MS, maxFlips: 10_000_000 });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SWAP_LOOP, spec], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = once(child, 'exit');
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const check = () => output.includes('ready\n') && resolve();
      child.stdout!.on('data', check);
      void exited.then(() => reject(new Error(`swap loop exited early: ${output}`)));
    }),
    'the swap loop to start',
  );
  return {
    async stop() {
      child.stdin!.end();
      await withTimeout(exited, 'the swap loop to stop');
      const last = output.trimEnd().split('\n').at(-1)!;
      return (JSON.parse(last) as { flips: number }).flips;
    },
  };
}

function writeConfig(root: string, module: string): string {
  const config = join(root, 'blitd.toml');
  writeFileSync(config, ['[[module]]', 'name = "data"', `path = "${module}"`, ''].join('\n'));
  return config;
}

/** Every path below `dir`, with the contents of files: what must survive untouched. */
function inventory(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return entry.isFile() ? `${path}=${readFileSync(path, 'utf8')}` : path;
    })
    .sort();
}

const RESOLVERS: { name: string; env: Record<string, string> }[] = [
  { name: 'openat2', env: {} },
  { name: 'O_NOFOLLOW walk', env: { BLIT_NO_OPENAT2: '1' } },
];

for (const resolver of RESOLVERS) {
  describe(`containment against a swapping local writer (${resolver.name})`, () => {
    test('blit rm never removes anything outside the module', async (t) => {
      assert.ok(nativeAddon(), 'npm install builds the native addon');
      const root = tempDir(t);
      const module = join(root, 'module');
      const outside = join(root, 'outside');
      mkdirSync(join(outside, 'sub'), { recursive: true });
      for (let i = 0; i < 40; i++) writeFileSync(join(outside, `precious-${i}`), `p${i}`);
      writeFileSync(join(outside, 'sub', 'deep'), 'deep');
      mkdirSync(module);
      const before = inventory(outside);
      const daemon: Daemon = await startDaemon(t, ['--config', writeConfig(root, module)], resolver.env);
      assert.match(daemon.log(), /"fileOperations":"native addon"/);
      const started = Date.now();
      let runs = 0;
      let flips = 0;
      while (runs < MAX_RUNS && Date.now() - started < SCENARIO_MS) {
        runs++;
        // Subdirectories the purge lists as directories, then enters one after another: each is
        // swapped for a link to the outside now and then.
        const tree = join(module, 't');
        rmSync(tree, { recursive: true, force: true });
        const subdirs = Array.from({ length: 24 }, (_, i) => join(tree, `d${String(i).padStart(2, '0')}`));
        for (const dir of subdirs) {
          mkdirSync(dir, { recursive: true });
          for (let f = 0; f < 20; f++) writeFileSync(join(dir, `f${f}`), 'x');
        }
        const swapper = await startSwapper(
          t,
          subdirs.map((dir) => [dir, outside]),
          // Long spells of links: a purge that follows one has time to remove through it.
          { holdLink: 50, holdDir: 50 },
        );
        const result = await runBlit(['rm', '--yes', `127.0.0.1:${daemon.port}:/data/t`]);
        flips += await swapper.stop();
        assert.deepEqual(
          inventory(outside),
          before,
          `run ${runs} (${flips} flips so far) removed files outside the module: ${result.stdout}${result.stderr}`,
        );
        assert.ok(result.status === 0 || result.status === 2, result.stderr);
      }
      t.diagnostic(`${runs} purges, ${flips} flips`);
      assert.ok(flips > 0, 'the swap loop flipped while the purges ran');
    });

    test('a pull never sends a file from outside the module', async (t) => {
      assert.ok(nativeAddon(), 'npm install builds the native addon');
      const root = tempDir(t);
      const module = join(root, 'module');
      const outside = join(root, 'outside');
      // The same names inside and outside, and some only outside: the first component flips
      // between the two.
      const inner = join(module, 'l', 'a', 'b');
      const outer = join(outside, 'b');
      mkdirSync(inner, { recursive: true });
      mkdirSync(outer, { recursive: true });
      for (let i = 0; i < 60; i++) {
        writeFileSync(join(inner, `f${i}`), 'inside');
        writeFileSync(join(outer, `f${i}`), 'SECRET');
        writeFileSync(join(outer, `secret-name-${i}`), 'SECRET');
      }
      const daemon = await startDaemon(t, ['--config', writeConfig(root, module)], resolver.env);
      const swapper = await startSwapper(t, [[join(module, 'l', 'a'), outside]], {
        holdLink: 10,
        holdDir: 10,
      });
      const started = Date.now();
      let runs = 0;
      let refusedFiles = 0;
      try {
        while (runs < MAX_RUNS && Date.now() - started < SCENARIO_MS) {
          runs++;
          const dst = join(root, `pulled-${runs}`);
          const result = await runBlit(['copy', `127.0.0.1:${daemon.port}:/data/l/`, dst]);
          assert.ok([0, 1, 2].includes(result.status), result.stderr);
          for (const line of existsSync(dst) ? inventory(dst) : []) {
            assert.doesNotMatch(
              line,
              /SECRET|secret-name/,
              `run ${runs} received a file from outside the module`,
            );
          }
          // Not even an outside name: the walk lists beneath the module too.
          assert.doesNotMatch(
            result.stderr,
            /secret-name/,
            `run ${runs} listed a directory outside the module`,
          );
          refusedFiles += result.stderr
            .split('\n')
            .filter((line) => /outside the module|symbolic link/.test(line)).length;
        }
      } finally {
        const flips = await swapper.stop();
        t.diagnostic(`${runs} pulls (${refusedFiles} files refused), ${flips} flips`);
        assert.ok(flips > 0, 'the swap loop flipped while the pulls ran');
      }
    });

    test('a push never writes outside the module', async (t) => {
      assert.ok(nativeAddon(), 'npm install builds the native addon');
      const root = tempDir(t);
      const module = join(root, 'module');
      const outside = join(root, 'outside');
      const src = join(root, 'src');
      mkdirSync(join(module, 'dst', 'a'), { recursive: true });
      mkdirSync(join(src, 'a'), { recursive: true });
      mkdirSync(outside);
      writeFileSync(join(outside, 'keep'), 'mine');
      for (let i = 0; i < 200; i++) writeFileSync(join(src, 'a', `f${i}`), 'pushed');
      const before = inventory(outside);
      const daemon = await startDaemon(t, ['--config', writeConfig(root, module)], resolver.env);
      const swapper = await startSwapper(t, [[join(module, 'dst', 'a'), outside]], {
        holdLink: 10,
        holdDir: 10,
      });
      const started = Date.now();
      let runs = 0;
      try {
        while (runs < MAX_RUNS && Date.now() - started < SCENARIO_MS) {
          runs++;
          // Every file is written on every run.
          const result = await runBlit([
            'copy',
            '--ignore-times',
            `${src}/`,
            `127.0.0.1:${daemon.port}:/data/dst`,
          ]);
          assert.ok([0, 1, 2].includes(result.status), result.stderr);
          assert.deepEqual(
            inventory(outside),
            before,
            `run ${runs} wrote outside the module: ${result.stderr}`,
          );
        }
      } finally {
        const flips = await swapper.stop();
        t.diagnostic(`${runs} pushes, ${flips} flips`);
        assert.ok(flips > 0, 'the swap loop flipped while the pushes ran');
      }
    });

    /**
     * Runs `command` (a push mirror or a pull-move that removes in t/dNN) again and again while each
     * t/dNN is swapped for a link to the outside now and then; nothing outside may go.
     */
    async function removalsStayInside(
      t: { after(fn: () => unknown): void; diagnostic(message: string): void },
      command: (root: string, port: number) => string[],
      prepare: (root: string, subdirs: string[]) => void,
    ) {
      assert.ok(nativeAddon(), 'npm install builds the native addon');
      const root = tempDir(t);
      const module = join(root, 'module');
      const outside = join(root, 'outside');
      mkdirSync(outside, { recursive: true });
      for (let i = 0; i < 20; i++) writeFileSync(join(outside, `f${i}`), `precious ${i}`);
      mkdirSync(module);
      const before = inventory(outside);
      const daemon = await startDaemon(t, ['--config', writeConfig(root, module)], resolver.env);
      const started = Date.now();
      let runs = 0;
      let flips = 0;
      while (runs < MAX_RUNS && Date.now() - started < SCENARIO_MS) {
        runs++;
        const tree = join(module, 't');
        rmSync(tree, { recursive: true, force: true });
        // The same names as outside: a removal that goes through a link finds them there.
        const subdirs = Array.from({ length: 12 }, (_, i) => join(tree, `d${String(i).padStart(2, '0')}`));
        for (const dir of subdirs) {
          mkdirSync(dir, { recursive: true });
          for (let f = 0; f < 20; f++) writeFileSync(join(dir, `f${f}`), 'x');
        }
        prepare(root, subdirs);
        const swapper = await startSwapper(
          t,
          subdirs.map((dir) => [dir, outside]),
          { holdLink: 20, holdDir: 20 },
        );
        const result = await runBlit(command(root, daemon.port));
        flips += await swapper.stop();
        assert.ok([0, 1, 2].includes(result.status), result.stderr);
        assert.deepEqual(
          inventory(outside),
          before,
          `run ${runs} (${flips} flips so far) removed files outside the module: ${result.stderr}`,
        );
      }
      t.diagnostic(`${runs} runs, ${flips} flips`);
      assert.ok(flips > 0, 'the swap loop flipped while the CLI ran');
    }

    test("a push mirror's deletions never remove anything outside the module", async (t) => {
      await removalsStayInside(
        t,
        (root, port) => ['mirror', '--yes', `${join(root, 'src')}/`, `127.0.0.1:${port}:/data/t`],
        // The source holds the same directories, empty: the mirror deletes every file in them.
        (root, subdirs) => {
          rmSync(join(root, 'src'), { recursive: true, force: true });
          for (const dir of subdirs)
            mkdirSync(join(root, 'src', dir.slice(dir.lastIndexOf('/') + 1)), { recursive: true });
        },
      );
    });

    test('a pull-move never removes anything outside the module', async (t) => {
      await removalsStayInside(
        t,
        (root, port) => ['move', `127.0.0.1:${port}:/data/t/`, `${join(root, 'moved')}/`],
        (root) => rmSync(join(root, 'moved'), { recursive: true, force: true }),
      );
    });

    test('blit ls never lists an outside directory', async (t) => {
      assert.ok(nativeAddon(), 'npm install builds the native addon');
      const root = tempDir(t);
      const module = join(root, 'module');
      const outside = join(root, 'outside');
      // The same shape inside and outside: the first component flips between the two.
      const inner = join(module, 'l', 'a', 'b', 'sub');
      const outer = join(outside, 'b', 'sub');
      mkdirSync(inner, { recursive: true });
      mkdirSync(outer, { recursive: true });
      // More than a page (1000): each page is a List call of its own, resolved again.
      for (let i = 0; i < 1200; i++) {
        writeFileSync(join(inner, `in-${i}`), '');
        writeFileSync(join(outer, `out-${i}`), '');
      }
      const daemon = await startDaemon(t, ['--config', writeConfig(root, module)], resolver.env);
      assert.match(daemon.log(), /"fileOperations":"native addon"/);
      // As long the directory as the link: a listing is fooled when it checks one and reads the other.
      const swapper = await startSwapper(t, [[join(module, 'l', 'a'), outside]], {
        holdLink: 10,
        holdDir: 10,
      });
      const started = Date.now();
      let runs = 0;
      let listed = 0;
      try {
        while (runs < MAX_RUNS && Date.now() - started < SCENARIO_MS) {
          // A few at once: more listings while the writer runs.
          const batch = Array.from({ length: LS_AT_ONCE }, () =>
            runBlit(['ls', `127.0.0.1:${daemon.port}:/data/l/a/b/sub`]),
          );
          for (const result of await Promise.all(batch)) {
            runs++;
            assert.doesNotMatch(result.stdout, /out-/, `run ${runs} listed a directory outside the module`);
            // A refusal ('symbolic link leads outside the module', mostly) is one line.
            if (result.status === 0) listed++;
            else {
              assert.equal(result.status, 1, result.stderr);
              assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
            }
          }
        }
      } finally {
        const flips = await swapper.stop();
        t.diagnostic(`${runs} listings (${listed} listed, the others refused), ${flips} flips`);
        assert.ok(flips > 0, 'the swap loop flipped while the listings ran');
      }
    });
  });
}
