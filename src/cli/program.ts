/**
 * What `blit` accepts: every verb, argument and option with its help text, built as a commander
 * program without parsing anything. main.ts parses with it; scripts/gen-docs.ts walks it to write
 * blit(1) and docs/CLI.md, and the shell completions (complete-candidates.ts) read their verbs and
 * flags from it, so --help, the manual and the completions cannot disagree. Each action only
 * loads its verb's module when it runs, so `blit --version` starts without the transfer engine.
 */
import { Argument, Command, Option } from '@commander-js/extra-typings';
import { nativeStatus } from '../fsops/native.js';
import { COMPLETION_SHELLS } from './completion-shells.js';
import { dfCommand, diagnosticsDumpCommand, duCommand, findCommand } from './operator-commands.js';
import { version } from './version.js';

export interface TransferFlags {
  checksum?: boolean;
  sizeOnly?: boolean;
  ignoreTimes?: boolean;
  ignoreExisting?: boolean;
  include?: string[];
  exclude?: string[];
  filesFrom?: string;
  minSize?: string;
  maxSize?: string;
  deleteExcluded?: boolean;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
  yes?: boolean;
  progress?: boolean;
  forceGrpcData?: boolean;
  ludicrousSpeed?: boolean;
  /** commander's --no-X: false when turned off. */
  owner?: boolean;
  xattrs?: boolean;
  acls?: boolean;
  hardLinks?: boolean;
  numericIds?: boolean;
}

// Repeatable options: no default, so --help shows none; transfer-command.ts reads absent as [].
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

const REMOTE_PATH_FORMS = 'HOST:/MODULE/PATH, HOST:PORT:/MODULE/PATH or [IPV6]:PORT:/MODULE/PATH';
const DAEMON_FORMS = 'HOST, HOST:PORT or [IPV6]:PORT (default port 9031)';

function transferCommand(name: 'copy' | 'mirror' | 'move', summary: string) {
  const command = new Command(name)
    .description(summary)
    .argument('<src>', "source path, local or remote; a trailing '/' transfers its contents")
    .argument('<dst>', 'destination path, local or remote')
    .option(
      '-c, --checksum',
      'when sizes match, transfer only if the contents differ (compared byte for byte locally, by BLAKE3 hashes without the native addon and across the network)',
    )
    .option('--size-only', 'transfer when sizes differ, whatever the modification times')
    .option('--ignore-times', 'transfer every file, even when it looks unchanged')
    .option('--ignore-existing', 'never touch files that already exist at the destination')
    .option('--include <glob>', 'transfer only matching paths (repeatable)', collect)
    .option('--exclude <glob>', 'leave matching paths out (repeatable)', collect)
    .option(
      '--files-from <file>',
      "transfer only the relative paths listed in FILE, one per line ('-': stdin)",
    )
    .option('--min-size <size>', 'skip files smaller than SIZE (e.g. 10K, 5M)')
    .option('--max-size <size>', 'skip files larger than SIZE (e.g. 1G)')
    .option('--no-owner', 'do not keep owner and group (kept by default when blit may set them)')
    .option('--no-xattrs', 'do not keep extended attributes')
    .option('--no-acls', 'do not keep POSIX ACLs')
    .option('--no-hard-links', 'copy each name of a hard-linked file as a file of its own')
    .option('--numeric-ids', 'remote: keep owner and group ids as numbers instead of mapping them by name')
    .option('-n, --dry-run', 'list what would change and change nothing')
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('-v, --verbose', 'list each action')
    .option('--progress', 'show progress (default on a terminal)')
    .option('--no-progress', 'never show progress')
    .option(
      '--force-grpc-data',
      'remote: send file data inside the control connection, not over data sockets (also BLIT_FORCE_GRPC_DATA=1)',
    )
    .addOption(new Option('--ludicrous-speed', 'deprecated: blit tunes itself').hideHelp());
  if (name === 'mirror') {
    command
      .option('-y, --yes', 'delete without asking')
      .option('--delete-excluded', 'also delete destination paths that the filters exclude');
  }
  command.action(async (src, dst, flags) => {
    const { runTransferCommand } = await import('./transfer-command.js');
    const { exitNow } = await import('./exit-now.js');
    exitNow(await runTransferCommand(name, src, dst, flags as TransferFlags));
  });
  return command as unknown as Command;
}

function diagnosticsCommand() {
  const perf = new Command('perf')
    .description('show the local performance history, the predictor and the plan it chooses next')
    .option('--limit <n>', 'show the last N runs (default 20)')
    .option('--json', 'print one JSON object')
    .option('--enable', 'record performance history (the default)')
    .option('--disable', 'stop recording performance history')
    .option('--clear', 'erase the performance history')
    .action(async (flags) => {
      const { runDiagnosticsPerf } = await import('./diagnostics-command.js');
      process.exitCode = runDiagnosticsPerf(flags);
    });
  return new Command('diagnostics')
    .description('what blit knows about this machine (kept locally, never sent anywhere)')
    .addCommand(perf)
    .addCommand(diagnosticsDumpCommand());
}

// Remote verbs load gRPC on demand: local copies and `--version` never pay for it.
function listModulesCommand() {
  return new Command('list-modules')
    .description('list the modules a blitd exports')
    .argument('<host>', DAEMON_FORMS)
    .option('--json', 'print one JSON object')
    .action(async (host, flags) => {
      const { runListModules } = await import('./list-modules-command.js');
      process.exitCode = await runListModules(host, flags);
    });
}

function lsCommand() {
  return new Command('ls')
    .description('list a remote directory: kind, size, modification time and name of each entry')
    .argument('<path>', REMOTE_PATH_FORMS)
    .option('--json', 'print one JSON object')
    .action(async (path, flags) => {
      const { runLs } = await import('./ls-command.js');
      process.exitCode = await runLs(path, flags);
    });
}

function rmCommand() {
  return new Command('rm')
    .description('remove remote paths, directories with their contents (asks first)')
    .argument('<path...>', REMOTE_PATH_FORMS)
    .option('-y, --yes', 'remove without asking')
    .action(async (paths, flags) => {
      const { runRm } = await import('./rm-command.js');
      process.exitCode = await runRm(paths, flags);
    });
}

function trustCommand() {
  return new Command('trust')
    .description("pin a daemon's key in known_hosts (shows its fingerprint and asks)")
    .argument('<host>', DAEMON_FORMS)
    .option('-y, --yes', 'trust the key the daemon presents without asking (not to replace a pinned one)')
    .option('--fingerprint <fp>', 'trust the daemon only if it presents this key (SHA256:…)')
    .action(async (host, flags) => {
      const { runTrust } = await import('./trust-command.js');
      process.exitCode = await runTrust(host, flags);
    });
}

function idCommand() {
  return new Command('id')
    .description("print this client's identity, for a module's allow list (creates its key on first use)")
    .action(async () => {
      const { runId } = await import('./id-command.js');
      process.exitCode = runId();
    });
}

function completionsCommand() {
  return new Command('completions')
    .description('print a shell completion script (verbs, flags, paths, remote modules and directories)')
    .addArgument(new Argument('<shell>', 'the shell to complete for').choices(COMPLETION_SHELLS))
    .action(async (shell) => {
      const { completionScript } = await import('./completion-scripts.js');
      const { out } = await import('./stdio.js');
      out(completionScript(shell));
    });
}

/** What the completion scripts call: candidates for the last word, one per line. Not in --help. */
function completeCommand() {
  return new Command('__complete')
    .argument('[words...]')
    .helpOption(false)
    .allowUnknownOption()
    .action(async (words, _flags, command) => {
      const { runComplete } = await import('./complete-command.js');
      process.exitCode = await runComplete(command.parent as unknown as Command, words);
    });
}

/** The whole `blit` program, unparsed. */
export function blitProgram(): Command {
  const program = new Command('blit')
    .description('Fast, safe file transfer: copy, mirror and move trees')
    .version(`blit ${version} (file operations: ${nativeStatus()})`, '-V, --version')
    .showSuggestionAfterError()
    .addCommand(transferCommand('copy', 'copy new and changed entries from SRC to DST; never deletes'))
    .addCommand(transferCommand('mirror', 'make DST equal to SRC: copy, then delete what SRC lacks'))
    .addCommand(transferCommand('move', 'copy, then remove each source entry once its copy has landed'))
    .addCommand(diagnosticsCommand())
    .addCommand(listModulesCommand())
    .addCommand(lsCommand())
    .addCommand(rmCommand())
    .addCommand(trustCommand())
    .addCommand(idCommand())
    .addCommand(duCommand())
    .addCommand(dfCommand())
    .addCommand(findCommand())
    .addCommand(completionsCommand())
    .addCommand(completeCommand(), { hidden: true });
  return program as unknown as Command;
}
