// Writes dist/blit.cjs.cache, the V8 code cache bin/blit.js starts the CLI with. V8 accepts a cache
// only from the same V8 version and flags, so `npm run build` makes one for the Node that built it
// and an installed package makes one again for the Node it was installed on (npm's install step,
// after the native addon's build, so the cache holds the functions of the file-operation path that
// will run). Never fatal: without a cache blit compiles as usual, a few milliseconds slower.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The tree a training run mirrors, made in `scratch`: a mirror that copies, updates and deletes,
 * so the cache holds what a transfer compiles (scripts/build-sea.mjs trains its binary on it too).
 */
export function trainingTree(scratch) {
  const src = join(scratch, 'src');
  const dst = join(scratch, 'dst');
  mkdirSync(join(src, 'dir'), { recursive: true });
  mkdirSync(dst);
  for (const name of ['a', 'b', 'dir/c']) writeFileSync(join(src, name), `${name}\n`);
  writeFileSync(join(dst, 'a'), 'older\n');
  writeFileSync(join(dst, 'stale'), 'gone\n');
  return { src, dst };
}

/**
 * Runs the CLI once on a scratch tree (a mirror that copies, updates and deletes) with
 * BLIT_WRITE_CODE_CACHE=1, so bin/blit.js saves V8's compiled code for the functions a transfer
 * runs. `fresh` removes the old cache first (a new bundle: V8 checks a cache against the source's
 * length, not its contents). Returns a warning, or undefined when the cache was written.
 */
export function writeCodeCache({ fresh }) {
  const cache = join(root, 'dist', 'blit.cjs.cache');
  if (fresh) rmSync(cache, { force: true });
  const scratch = mkdtempSync(join(tmpdir(), 'blit-build-'));
  try {
    const { src, dst } = trainingTree(scratch);
    const run = spawnSync(
      process.execPath,
      [join(root, 'bin', 'blit.js'), 'mirror', '--yes', `${src}/`, dst],
      {
        // The scratch config home keeps this run out of the user's performance history.
        env: { ...process.env, BLIT_WRITE_CODE_CACHE: '1', XDG_CONFIG_HOME: join(scratch, 'config') },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    if (run.status !== 0 || !existsSync(cache)) {
      return `blit: no code cache written (blit exited ${run.status}: ${(run.stderr ?? '').trim()}); starts are slower`;
    }
    return undefined;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// As npm's install step: refresh the cache of an installed package for this Node. In a clone whose
// bundle is not built yet there is nothing to run (`prepare` builds it next, with its cache).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (existsSync(join(root, 'dist', 'blit.cjs'))) {
    try {
      const warning = writeCodeCache({ fresh: false });
      if (warning) console.warn(warning);
    } catch (error) {
      console.warn(`blit: no code cache written (${error.message}); starts are slower`);
    }
  }
}
