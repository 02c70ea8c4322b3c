/**
 * The operator verbs' command-line definitions: `du`, `df`, `find` on local and remote paths, and
 * `diagnostics dump`. Each loads its implementation when it runs, so the other verbs and
 * `--version` never pay for them.
 */
import { Command } from '@commander-js/extra-typings';

const PATH_FORMS = 'a local path, or HOST:/MODULE/PATH (HOST:PORT:/…, [IPV6]:PORT:/…)';

export const duCommand = () =>
  new Command('du')
    .description('size and number of files below each directory, a directory after its subdirectories')
    .argument('<path>', PATH_FORMS)
    .option(
      '--max-depth <n>',
      'print directories down to N levels below PATH (0: PATH alone); totals still count all',
    )
    .option('--json', 'print one JSON object, exact byte counts')
    .action(async (path, flags) => {
      const { runDu } = await import('./du-command.js');
      process.exitCode = await runDu(path, flags);
    });

export const dfCommand = () =>
  new Command('df')
    .description('size, use and free space (bytes and inodes) of the file system holding a path or a module')
    .argument('<path>', 'a local path, or HOST:/MODULE (HOST:PORT:/MODULE, [IPV6]:PORT:/MODULE)')
    .option('--json', 'print one JSON object, exact figures')
    .action(async (path, flags) => {
      const { runDf } = await import('./df-command.js');
      process.exitCode = await runDf(path, flags);
    });

export const findCommand = () =>
  new Command('find')
    .description('list the entries below PATH that pass every test, one relative path a line')
    .argument('<path>', PATH_FORMS)
    .option('--name <glob>', 'the name (not the path) matches GLOB (dot files included)')
    .option('--type <type>', 'f: regular file, d: directory, l: symbolic link')
    .option(
      '--newer <when>',
      'modified after WHEN: a duration back from now (30m, 2h, 7d) or a date (2024-05-01[T12:30]; local time unless Z or +HH:MM)',
    )
    .option(
      '--size <size>',
      'regular files larger (+N), smaller (-N) than or exactly N bytes; K, M, G, T, P suffixes (binary)',
    )
    .option('--json', 'print one JSON object')
    .action(async (path, flags) => {
      const { runFind } = await import('./find-command.js');
      process.exitCode = await runFind(path, flags);
    });

export const diagnosticsDumpCommand = () =>
  new Command('dump')
    .description(
      'one text for a bug report: versions, file-operation path, transports, file systems, limits, recent runs; nothing secret',
    )
    .argument('[path...]', 'local paths whose file-system types to include (not HOST:/MODULE paths)')
    .option('--json', 'print one JSON object')
    .action(async (paths, flags) => {
      const { runDiagnosticsDump } = await import('./diagnostics-dump-command.js');
      process.exitCode = runDiagnosticsDump(paths, flags);
    });
