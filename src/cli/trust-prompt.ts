/** Asks the person at the terminal whether to trust a daemon's key (first contact, `blit trust`). */
import { createRequire } from 'node:module';
import { canAsk } from './confirm.js';

/** Resolves false without asking when there is no terminal to ask on. */
export async function askToTrust(target: string, fingerprint: string, replacing?: string): Promise<boolean> {
  if (!canAsk()) return false;
  const lines = replacing
    ? [
        `blit: WARNING: blitd at ${target} now presents a different key.`,
        `  pinned:    ${replacing}`,
        `  presented: ${fingerprint}`,
        '  Someone may be intercepting the connection. Replace the pinned key only if the daemon',
        '  operator confirms this fingerprint (blitd logs it when it starts).',
      ]
    : [
        `blit: blitd at ${target} is not a known host.`,
        `  Its key fingerprint is ${fingerprint}.`,
        "  Check it with the daemon's operator (blitd logs it when it starts).",
      ];
  process.stderr.write(`${lines.join('\n')}\n`);
  // require, not import(): the CLI bundle runs as a vm.Script (bin/blit.js), which has no import().
  const { createInterface } = createRequire(import.meta.url)(
    'node:readline/promises',
  ) as typeof import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(replacing ? 'Replace the pinned key? [y/N] ' : 'Trust it? [y/N] ');
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    process.stderr.write('\n');
    return false;
  } finally {
    rl.close();
  }
}
