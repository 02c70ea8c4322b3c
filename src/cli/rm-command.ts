/**
 * `blit rm HOST:/MODULE/PATH…`: removes remote paths, directories with their contents. Asks first
 * unless --yes (without a terminal and without --yes it removes nothing). Read-only modules and
 * missing paths are refused before asking; blitd checks again, and has the last word.
 */
import { createInterface } from 'node:readline/promises';
import { peerPath, peerText } from '../protocol/peer-text.js';
import { RemoteClient } from '../remote/client.js';
import { dialTarget, formatRemotePath, parseRemotePath, type RemotePath } from '../remote/endpoint.js';
import { BlitError, showPath } from '../util/errors.js';
import { canAsk } from './confirm.js';
import { err, out } from './stdio.js';
import { askToTrust } from './trust-prompt.js';

export interface RmFlags {
  yes?: boolean;
}

interface Removal {
  target: RemotePath;
  client: RemoteClient;
  isDirectory: boolean;
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function check(target: RemotePath, client: RemoteClient): Promise<Removal> {
  const subject = { spec: target.spec, module: target.module };
  if (target.path === '') {
    throw new BlitError(`${showPath(target.spec)}: refusing to remove a whole module; name paths inside it`);
  }
  const { modules } = await client.listModules(subject);
  const module = modules.find((m) => m.name === target.module);
  if (!module) throw new BlitError(`${showPath(target.spec)}: unknown module '${showPath(target.module)}'`);
  if (module.readOnly)
    throw new BlitError(`${showPath(target.spec)}: module '${showPath(module.name)}' is read-only`);
  const page = await client.list(subject, target.path, '', true);
  return { target, client, isDirectory: page.isDirectory };
}

export async function runRm(specs: string[], flags: RmFlags): Promise<number> {
  const targets = specs.map(parseRemotePath);
  const clients = new Map<string, RemoteClient>();
  let removed = 0;
  let failed = 0;
  try {
    const removals: Removal[] = [];
    for (const target of targets) {
      const key = dialTarget(target);
      let client = clients.get(key);
      if (!client) {
        client = await RemoteClient.connect(target, { spec: target.spec }, askToTrust);
        clients.set(key, client);
      }
      removals.push(await check(target, client));
    }
    if (!flags.yes) {
      if (!canAsk()) {
        throw new BlitError(
          `not removing ${removals.length === 1 ? showPath(specs[0]!) : `${removals.length} paths`} without confirmation; run on a terminal or pass --yes`,
        );
      }
      for (const r of removals) {
        err(`  ${showPath(r.target.spec)}${r.isDirectory ? ' (directory, with everything in it)' : ''}\n`);
      }
      if (!(await ask(`Remove ${removals.length === 1 ? 'it' : `these ${removals.length}`}? [y/N] `))) {
        err('blit: nothing removed\n');
        return 1;
      }
    }
    for (const { target, client } of removals) {
      const response = await client.purge({ spec: target.spec, module: target.module }, [target.path]);
      removed += Number(response.removed);
      for (const failure of response.failures) {
        failed++;
        err(
          `blit: ${showPath(formatRemotePath(target, target.module, peerPath(failure.path)))}: ${peerText(failure.reason)}\n`,
        );
      }
    }
  } finally {
    for (const client of clients.values()) client.close();
  }
  out(`blit rm: ${removed} removed, ${failed} failed\n`);
  return failed > 0 ? 2 : 0;
}
