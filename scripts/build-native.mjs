// Builds the optional native addon (native/) with node-gyp against the installed Node headers.
// Never fatal: without a compiler or headers blit runs on its pure-JS path. Never downloads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm ships node-gyp; use the copy beside the npm that runs this script.
    const npm = process.env.npm_execpath;
    const candidates = npm
      ? [join(dirname(npm), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]
      : [];
    candidates.push(
      join(
        dirname(process.execPath),
        '..',
        'lib',
        'node_modules',
        'npm',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
    );
    return candidates.find((path) => existsSync(path));
  }
}

/** What node-gyp will need on Linux and the PATH lacks (Python, make, the C++ compiler make runs). */
function missingTools() {
  if (process.platform !== 'linux') return []; // elsewhere node-gyp finds its own toolchain
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const found = (name) =>
    name.includes('/') ? existsSync(name) : dirs.some((dir) => existsSync(join(dir, name)));
  const missing = [];
  if (!process.env.PYTHON && !process.env.npm_config_python && !found('python3') && !found('python')) {
    missing.push('python3');
  }
  if (!found('make')) missing.push('make');
  // node-gyp's Makefile runs $(CXX): the variable's command (e.g. "ccache g++"), else make's g++.
  const cxx = process.env.CXX?.trim().split(/\s+/)[0] || 'g++';
  if (!found(cxx)) missing.push(`a C++ compiler (${cxx})`);
  return missing;
}

function findNodeDir() {
  // The headers of the running Node: <prefix>/include/node/node_api.h.
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

if (process.env.BLIT_SKIP_NATIVE_BUILD === '1') {
  console.log('blit: native addon build skipped (BLIT_SKIP_NATIVE_BUILD=1)');
  process.exit(0);
}
const missing = missingTools();
if (missing.length > 0) {
  console.warn(`blit: native addon not built (not found: ${missing.join(', ')}); using the pure-JS path`);
  process.exit(0);
}
const nodeGyp = findNodeGyp();
const nodedir = findNodeDir();
if (!nodeGyp || !nodedir) {
  console.warn(
    `blit: native addon not built (${!nodeGyp ? 'node-gyp not found' : 'Node headers not found'}); using the pure-JS path`,
  );
  process.exit(0);
}
const result = spawnSync(
  process.execPath,
  [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--directory', join(root, 'native')],
  {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: nodedir },
  },
);
if (result.status !== 0) {
  console.warn(
    `blit: native addon build failed; using the pure-JS path\n${(result.stderr || result.stdout).split('\n').slice(-15).join('\n')}`,
  );
  process.exit(0);
}
console.log('blit: native addon built');
