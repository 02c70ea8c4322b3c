// Writes the man pages (man/blit.1, man/blitd.8, man/blitd.toml.5) and docs/CLI.md from the
// programs' own definitions and the prose in src/manual/ (src/manual/generated-docs.ts).
//   tsx scripts/gen-docs.ts           (re)write them        (npm run gen:docs)
//   tsx scripts/gen-docs.ts --check   fail when a committed one differs from what the source
//                                     makes now              (npm run check:docs, run by CI)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedDocs } from '../src/manual/generated-docs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const docs = generatedDocs();

if (process.argv.includes('--check')) {
  const stale = Object.entries(docs)
    .filter(([path, text]) => {
      try {
        return readFileSync(join(root, path), 'utf8') !== text;
      } catch {
        return true;
      }
    })
    .map(([path]) => path);
  if (stale.length > 0) {
    process.stderr.write(
      `gen-docs: ${stale.join(', ')} out of date with the source: run npm run gen:docs and commit the result\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`gen-docs: ${Object.keys(docs).join(', ')} up to date\n`);
} else {
  for (const [path, text] of Object.entries(docs)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  process.stdout.write(`gen-docs: wrote ${Object.keys(docs).join(', ')}\n`);
}
