/**
 * `blit find PATH [--name GLOB] [--type f|d|l] [--newer WHEN] [--size [+-]N]`: the entries below a
 * local or remote tree that pass every test (find-predicates.ts), one relative path a line, in the
 * walk's order (tree-walk.ts), printed as they are found. PATH itself is not listed when it is a
 * directory; when it names one entry, that entry is tested and printed by its name.
 */
import type { Entry } from '../fsops/entry.js';
import { type FindTests, findPredicate } from './find-predicates.js';
import { err, out } from './stdio.js';
import { entryJsonWithPath, relativePathText } from './tree-output.js';
import { openTree } from './tree-source.js';
import { walkTree } from './tree-walk.js';

export interface FindFlags extends FindTests {
  json?: boolean;
}

export async function runFind(spec: string, flags: FindFlags): Promise<number> {
  // The tests are checked before anything is reached, so a typo costs no connection.
  const passes = findPredicate(flags, Date.now());
  const tree = await openTree(spec);
  let problems = 0;
  let found = 0;
  const print = (rel: string, entry: Entry) => {
    if (!passes(entry)) return;
    if (flags.json) out(`${found === 0 ? '' : ','}${JSON.stringify(entryJsonWithPath(rel, entry))}`);
    else out(`${relativePathText(rel)}\n`);
    found++;
  };
  try {
    if (flags.json) out(`{"path":${JSON.stringify(spec)},"entries":[`);
    if (tree.root.kind === 'entry') print(tree.root.entry.name, tree.root.entry);
    else {
      await walkTree(tree.source, {
        entry: print,
        leave: () => undefined,
        problem: (line) => {
          problems++;
          err(`blit: ${line}\n`);
        },
      });
    }
    if (flags.json) out(`],"found":${found},"problems":${problems}}\n`);
  } finally {
    tree.close();
  }
  return problems > 0 ? 2 : 0;
}
