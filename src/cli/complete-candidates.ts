/**
 * What the shell completions offer for the word under the cursor, decided from the program's own
 * definitions (program.ts): verbs, the flags of the verb being typed, an argument's choices, and
 * for path arguments either local paths (left to the shell, which knows quoting and `~`), a
 * daemon's modules (`HOST:/<TAB>`) or the entries of a remote directory (`HOST:/mod/dir/<TAB>`).
 * Pure: the remote look-ups happen in complete-command.ts.
 */
import type { Argument, Command, Option } from '@commander-js/extra-typings';
import { type DaemonAddress, looksRemote, parseDaemonAddress, parseRemotePath } from '../remote/endpoint.js';

export type Completion =
  /** Print these candidates. */
  | { kind: 'words'; words: string[] }
  /** Let the shell complete local paths. */
  | { kind: 'files' }
  /** The modules of the daemon at `address` whose names start with `partial`, each after `prefix`. */
  | { kind: 'modules'; address: DaemonAddress; prefix: string; partial: string }
  /** The entries of `dir` in `module` whose names start with `partial`, each after `prefix`. */
  | { kind: 'entries'; address: DaemonAddress; module: string; dir: string; prefix: string; partial: string };

/** Arguments with these names take a local or remote path. */
const PATH_ARGUMENTS = new Set(['src', 'dst', 'path']);
/** Option values with these placeholders are local paths (`--files-from <file>`). */
const PATH_VALUES = /<(file|dir)>/;

const NOTHING: Completion = { kind: 'words', words: [] };

function visibleCommands(command: Command): Command[] {
  return command.createHelp().visibleCommands(command as never) as unknown as Command[];
}

function visibleOptions(command: Command): Option[] {
  return command.createHelp().visibleOptions(command as never) as unknown as Option[];
}

function findOption(command: Command, word: string): Option | undefined {
  const flag = word.split('=')[0];
  return (command.options as readonly Option[]).find((o) => o.long === flag || o.short === flag);
}

function startingWith(words: Iterable<string>, partial: string): string[] {
  return [...words].filter((word) => word.startsWith(partial));
}

/** A path argument's word: local, a daemon's modules, or a remote directory's entries. */
export function pathCompletion(word: string): Completion {
  if (!looksRemote(word)) return { kind: 'files' };
  const split = word.indexOf(':/');
  const rest = word.slice(split + 2);
  try {
    if (!rest.includes('/')) {
      const address = parseDaemonAddress(word.slice(0, split));
      return { kind: 'modules', address, prefix: word.slice(0, split + 2), partial: rest };
    }
    // What precedes the name being typed is a whole remote path, read as every command reads one.
    const partial = rest.slice(rest.lastIndexOf('/') + 1);
    const prefix = word.slice(0, word.length - partial.length);
    const { host, port, module, path } = parseRemotePath(prefix);
    return { kind: 'entries', address: { host, port }, module, dir: path, prefix, partial };
  } catch {
    return NOTHING;
  }
}

/**
 * What to offer for the last of `words` (the words after `blit`, the last one being typed, maybe
 * empty), given the program they are typed for.
 */
export function completionFor(program: Command, words: readonly string[]): Completion {
  let command = program;
  let positional = 0;
  let pendingValue: Option | undefined;
  let operandsOnly = false;
  for (const word of words.slice(0, -1)) {
    if (pendingValue) {
      pendingValue = undefined;
      continue;
    }
    if (!operandsOnly && word === '--') {
      operandsOnly = true;
      continue;
    }
    if (!operandsOnly && word.startsWith('-') && word !== '-') {
      const option = findOption(command, word);
      if (option && (option.required || option.optional) && !word.includes('=')) pendingValue = option;
      continue;
    }
    const sub = positional === 0 ? visibleCommands(command).find((c) => c.name() === word) : undefined;
    if (sub) command = sub;
    else positional++;
  }
  const current = words.at(-1) ?? '';
  if (pendingValue) {
    if (pendingValue.argChoices)
      return { kind: 'words', words: startingWith(pendingValue.argChoices, current) };
    return PATH_VALUES.test(pendingValue.flags) ? { kind: 'files' } : NOTHING;
  }
  if (!operandsOnly && current.startsWith('-')) {
    const flags = visibleOptions(command).flatMap((o) => [o.long, o.short].filter((f) => f !== undefined));
    return { kind: 'words', words: startingWith(flags, current) };
  }
  const subs = visibleCommands(command);
  if (subs.length > 0) {
    return positional === 0
      ? {
          kind: 'words',
          words: startingWith(
            subs.map((c) => c.name()),
            current,
          ),
        }
      : NOTHING;
  }
  const args = command.registeredArguments as readonly Argument[];
  const last = args.at(-1);
  const argument = positional < args.length ? args[positional] : last?.variadic ? last : undefined;
  if (!argument) return NOTHING;
  if (argument.argChoices) return { kind: 'words', words: startingWith(argument.argChoices, current) };
  return PATH_ARGUMENTS.has(argument.name()) ? pathCompletion(current) : NOTHING;
}

/**
 * A name the shell can take as one line and one path component. Names with a newline or another
 * control character are never offered: candidates travel one per line, and the shells' escaping of
 * control characters differs; such a name must be typed. Every other character is allowed: the
 * scripts insert each candidate quoted (completion-scripts.ts).
 */
function plainName(name: string): boolean {
  return name !== '' && !/[\u0000-\u001f\u007f/]/.test(name);
}

/** Dot names only when asked for, as shells complete local paths. */
function offered(name: string, partial: string): boolean {
  return plainName(name) && name.startsWith(partial) && (partial.startsWith('.') || !name.startsWith('.'));
}

/** `HOST:/mod/` for each module name that fits. */
export function moduleCandidates(prefix: string, partial: string, names: readonly string[]): string[] {
  return names.filter((name) => offered(name, partial)).map((name) => `${prefix}${name}/`);
}

/** `HOST:/mod/dir/name`, directories with a trailing '/', for each entry that fits. */
export function entryCandidates(
  prefix: string,
  partial: string,
  entries: readonly { name: string; isDirectory: boolean }[],
): string[] {
  return entries
    .filter((entry) => offered(entry.name, partial))
    .map((entry) => `${prefix}${entry.name}${entry.isDirectory ? '/' : ''}`);
}
