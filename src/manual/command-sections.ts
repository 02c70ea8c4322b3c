/**
 * The parts of a manual page that come from a commander program: the synopsis and, for every
 * visible command (whatever program.ts holds, however it got there), its usage, description,
 * arguments and options, in the words --help uses (commander's own Help formats them).
 */
import type { Argument, Command, Help, Option } from '@commander-js/extra-typings';
import { type Block, code, literal, para, type Section, terms } from './page.js';

function helpOf(command: Command): Help {
  return command.createHelp() as unknown as Help;
}

function visibleCommands(command: Command): Command[] {
  // commander's implicit `help` command is described once, in the synopsis.
  return (helpOf(command).visibleCommands(command as never) as unknown as Command[]).filter(
    (sub) => sub.name() !== 'help',
  );
}

/** The names from the program down to `command`: `['blit', 'diagnostics', 'perf']`. */
function namePath(command: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent as Command | null) names.unshift(c.name());
  return names;
}

/** Every visible command that runs something (not a mere group such as `diagnostics`), in order. */
export function leafCommands(program: Command): Command[] {
  const leaves: Command[] = [];
  const walk = (command: Command) => {
    for (const sub of visibleCommands(command)) {
      if (visibleCommands(sub).length > 0) walk(sub);
      else leaves.push(sub);
    }
  };
  walk(program);
  return leaves;
}

/** `blit copy [options] <src> <dst>`. */
export function usageLine(command: Command): string {
  return `${namePath(command).join(' ')} ${command.usage()}`.trimEnd();
}

/** A help fragment ("copy new entries; never deletes") as a sentence. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return trimmed;
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function argumentTerm(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return code(argument.required ? `<${name}>` : `[${name}]`);
}

function optionPairs(command: Command, withHelp: boolean): [string, string][] {
  const help = helpOf(command);
  return (help.visibleOptions(command as never) as unknown as Option[])
    .filter((option) => withHelp || option.long !== '--help')
    .map((option) => [
      code(help.optionTerm(option as never)),
      sentence(help.optionDescription(option as never)),
    ]);
}

/** The options of `command` as terms, help's own text; `withHelp` keeps -h, --help. */
export function optionTerms(command: Command, withHelp: boolean): Block[] {
  const pairs = optionPairs(command, withHelp);
  return pairs.length === 0 ? [] : [terms(...pairs)];
}

function argumentTerms(command: Command): Block[] {
  const help = helpOf(command);
  const args = help.visibleArguments(command as never) as unknown as Argument[];
  if (args.length === 0) return [];
  return [
    terms(
      ...args.map((argument): [string, string] => [
        argumentTerm(argument),
        sentence(help.argumentDescription(argument as never)),
      ]),
    ),
  ];
}

/**
 * One subsection per command, with the prose `notes` holds for it (by its name path after the
 * program). A command that has every option of an earlier one (mirror has copy's) names that one
 * and lists only the rest, so a shared option is described once.
 */
export function commandSubsections(program: Command, notes: Record<string, Block[]>): Section[] {
  const documented: { name: string; options: [string, string][] }[] = [];
  return leafCommands(program).map((command) => {
    const name = namePath(command).slice(1).join(' ');
    const options = optionPairs(command, false);
    const key = (pair: [string, string]) => pair.join('\n');
    const keys = new Set(options.map(key));
    const base = documented.find(
      (earlier) => earlier.options.length >= 3 && earlier.options.every((pair) => keys.has(key(pair))),
    );
    const own = base ? options.filter((pair) => !base.options.some((b) => key(b) === key(pair))) : options;
    if (!base) documented.push({ name, options });
    const optionBlocks: Block[] = base
      ? [
          para(
            own.length > 0 ? `The options of ${code(base.name)}, and:` : `The options of ${code(base.name)}.`,
          ),
        ]
      : [];
    if (own.length > 0) optionBlocks.push(terms(...own));
    return {
      title: name,
      blocks: [
        literal(usageLine(command)),
        para(sentence(command.description())),
        ...argumentTerms(command),
        ...optionBlocks,
        ...(notes[name] ?? []),
      ],
    };
  });
}

/** The names (after the program) of every command documented. */
export function commandNames(program: Command): string[] {
  return leafCommands(program).map((command) => namePath(command).slice(1).join(' '));
}
