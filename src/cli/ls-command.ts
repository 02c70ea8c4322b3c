/**
 * `blit ls HOST:/MODULE/PATH`: a remote directory's entries (kind, size, mtime, name), or the one
 * entry a path names. Pages are printed as they arrive, so a huge directory costs no memory.
 */

import { peerPath, peerText } from '../protocol/peer-text.js';
import { RemoteClient } from '../remote/client.js';
import { formatRemotePath, parseRemotePath } from '../remote/endpoint.js';
import { listPages } from '../remote/list-pages.js';
import { showPath } from '../util/errors.js';
import { entryJson, entryLine } from './listing-output.js';
import { err, out } from './stdio.js';
import { askToTrust } from './trust-prompt.js';

export interface LsFlags {
  json?: boolean;
}

export async function runLs(spec: string, flags: LsFlags): Promise<number> {
  const target = parseRemotePath(spec);
  const subject = { spec, module: target.module };
  const client = await RemoteClient.connect(target, subject, askToTrust);
  let problems = 0;
  try {
    let first = true;
    let isDirectory = false;
    if (flags.json)
      out(`{"path":${JSON.stringify(formatRemotePath(target, target.module, target.path))},"entries":[`);
    for await (const page of listPages(client, subject, target.path, spec)) {
      isDirectory = page.isDirectory;
      for (const entry of page.entries) {
        if (flags.json) {
          out(`${first ? '' : ','}${JSON.stringify(entryJson(entry))}`);
          first = false;
        } else out(`${entryLine(entry)}\n`);
      }
      for (const problem of page.problems) {
        problems++;
        const where = formatRemotePath(target, target.module, peerPath(problem.path));
        err(`blit: ${showPath(where)}: ${peerText(problem.reason)}\n`);
      }
    }
    if (flags.json) out(`],"isDirectory":${isDirectory},"problems":${problems}}\n`);
  } finally {
    client.close();
  }
  return problems > 0 ? 2 : 0;
}
