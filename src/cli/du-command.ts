/**
 * `blit du PATH`: the apparent size and number of files below each directory of a local or remote
 * tree (du-totals.ts), a directory after its subdirectories, paths relative to PATH ('.' for PATH
 * itself), so the same tree prints the same lines on either side. Lines are printed as directories
 * are finished; `--json` streams one object the same way.
 */
import type { Entry } from '../fsops/entry.js';
import { BlitError } from '../util/errors.js';
import { formatBytes, formatCount } from '../util/human.js';
import { type DuLine, DuTotals } from './du-totals.js';
import { err, out } from './stdio.js';
import { relativePathText } from './tree-output.js';
import { openTree } from './tree-source.js';
import { walkTree } from './tree-walk.js';

export interface DuFlags {
  maxDepth?: string;
  json?: boolean;
}

function parseDepth(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new BlitError(`--max-depth ${JSON.stringify(text)}: not a whole number`);
  return Number(text);
}

export function duText(line: DuLine): string {
  return `${formatBytes(line.bytes).padStart(10)}  ${formatCount(line.files).padStart(9)}  ${relativePathText(line.rel)}\n`;
}

export function duJson(line: DuLine): string {
  return JSON.stringify({ path: line.rel === '' ? '.' : line.rel, bytes: line.bytes, files: line.files });
}

export async function runDu(spec: string, flags: DuFlags): Promise<number> {
  const maxDepth = parseDepth(flags.maxDepth);
  const tree = await openTree(spec);
  let problems = 0;
  let lines = 0;
  /** The last line printed: the root's, which comes last even when --max-depth hides the others. */
  let total: DuLine = { rel: '', bytes: 0, files: 0 };
  const print = (line: DuLine) => {
    total = line;
    if (flags.json) out(`${lines === 0 ? '' : ','}${duJson(line)}`);
    else out(duText(line));
    lines++;
  };
  try {
    if (flags.json) out(`{"path":${JSON.stringify(spec)},"directories":[`);
    if (tree.root.kind === 'entry') {
      // PATH names one entry: one line, named as it is named.
      const entry: Entry = tree.root.entry;
      const file = entry.kind === 'file';
      print({ rel: entry.name, bytes: file ? entry.size : 0, files: file ? 1 : 0 });
    } else {
      const totals = new DuTotals(print, maxDepth);
      await walkTree(tree.source, {
        entry: (rel, entry) => totals.entry(rel, entry),
        leave: (rel) => totals.leave(rel),
        problem: (line) => {
          problems++;
          err(`blit: ${line}\n`);
        },
      });
    }
    if (flags.json) out(`],"bytes":${total.bytes},"files":${total.files},"problems":${problems}}\n`);
  } finally {
    tree.close();
  }
  return problems > 0 ? 2 : 0;
}
