/** setfattr/getfattr (Debian `attr`) and setfacl (`acl`) for the xattr tests. */
import { execFileSync, spawnSync } from 'node:child_process';

/** Whether the three tools are installed. */
export const XATTR_TOOLS = ['setfattr', 'getfattr', 'setfacl'].every(
  (tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0,
);

/** Sets one xattr on `path` itself (a link is not followed). */
export function setX(path: string, name: string, value: string): void {
  execFileSync('setfattr', ['-h', '-n', name, '-v', value, path]);
}

/** Every entry's xattrs below `root` (links not followed), by path relative to it, values in hex. */
export function xattrDump(root: string): string {
  const out = spawnSync(
    'getfattr',
    ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root],
    {
      encoding: 'utf8',
    },
  ).stdout;
  return out
    .split('\n')
    .map((line) => (line.startsWith('# file: ') ? `# file: ${line.slice(8 + root.length)}` : line))
    .join('\n');
}
