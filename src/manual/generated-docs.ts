/**
 * Every generated documentation file, by its path in the repository: the three man pages and
 * docs/CLI.md, all made from the programs' definitions (cli/program.ts, daemon/program.ts), the
 * config key table (daemon/config-keys.ts) and the prose beside them in this folder. Pure: the
 * generator (scripts/gen-docs.ts) writes or compares, and tests read the texts.
 */
import { blitProgram } from '../cli/program.js';
import { version } from '../cli/version.js';
import { blitdProgram } from '../daemon/program.js';
import { blitPage } from './blit-page.js';
import { blitdPage } from './blitd-page.js';
import { blitdTomlPage } from './blitd-toml-page.js';
import { renderMarkdownBook } from './render-markdown.js';
import { renderRoff } from './render-roff.js';

export function generatedDocs(): Record<string, string> {
  const blit = blitPage(blitProgram());
  const blitd = blitdPage(blitdProgram(async () => {}));
  const toml = blitdTomlPage();
  return {
    'man/blit.1': renderRoff(blit, 'src/cli/program.ts and src/manual/blit-page.ts', `blit ${version}`),
    'man/blitd.8': renderRoff(blitd, 'src/daemon/program.ts and src/manual/blitd-page.ts', `blit ${version}`),
    'man/blitd.toml.5': renderRoff(
      toml,
      'src/daemon/config-keys.ts and src/manual/blitd-toml-page.ts',
      `blit ${version}`,
    ),
    'docs/CLI.md': renderMarkdownBook([blit, blitd, toml], 'the program definitions and src/manual/'),
  };
}
