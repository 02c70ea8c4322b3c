// Bundles the CLI, its worker and the daemon with esbuild: one small entry chunk for a fast start,
// with the transfer engine and gRPC split out and loaded only by the verbs that need them.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: {
    blit: 'src/cli/main.ts',
    blitd: 'src/daemon/main.ts',
    'copy-worker': 'src/fsops/copy-worker.ts',
    'stall-watchdog': 'src/engine/stall-watchdog.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
