/** `blit list-modules HOST[:PORT]`: the modules a blitd exports, with its message of the day. */

import { peerText } from '../protocol/peer-text.js';
import { RemoteClient } from '../remote/client.js';
import { parseDaemonAddress } from '../remote/endpoint.js';
import { moduleLines } from './listing-output.js';
import { out } from './stdio.js';
import { askToTrust } from './trust-prompt.js';

export interface ListModulesFlags {
  json?: boolean;
}

export async function runListModules(spec: string, flags: ListModulesFlags): Promise<number> {
  const address = parseDaemonAddress(spec);
  const subject = { spec };
  const client = await RemoteClient.connect(address, subject, askToTrust);
  try {
    const { modules, motd } = await client.listModules(subject);
    if (flags.json) {
      const json = {
        daemon: client.daemon.softwareVersion,
        motd,
        modules: modules.map((m) => ({ name: m.name, readOnly: m.readOnly, comment: m.comment })),
      };
      out(`${JSON.stringify(json)}\n`);
      return 0;
    }
    // The daemon's words, line by line with its control characters shown (no escape sequence of its reaches the terminal).
    if (motd !== '') out(`${motd.replace(/\n*$/, '').split('\n').map(peerText).join('\n')}\n\n`);
    for (const line of moduleLines(modules)) out(`${line}\n`);
    return 0;
  } finally {
    client.close();
  }
}
