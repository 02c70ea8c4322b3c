/**
 * `blit` entry point: parses the command line and loads only what the verb needs, so
 * `blit --version` starts without the transfer engine.
 */
import { Command, Option } from '@commander-js/extra-typings';
import { nativeStatus } from '../fsops/native.js';
import { dfCommand, diagnosticsDumpCommand, duCommand, findCommand } from './operator-commands.js';
import { err, out } from './stdio.js';
import { version } from './version.js';

export interface TransferFlags {
  checksum?: boolean;
  sizeOnly?: boolean;
  ignoreTimes?: boolean;
  ignoreExisting?: boolean;
  include: string[];
  exclude: string[];
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
}

const collect = (value: string, previous: string[]) => [...previous, value];

function transferCommand(name: 'copy' | 'mirror' | 'move', summary: string) {
  const command = new Command(name)
    .description(summary)
    .argument('<src>', "source path; a trailing '/' transfers its contents")
    .argument('<dst>', 'destination path')
    .option('-c, --checksum', 'compare BLAKE3 hashes of files whose sizes match')
    .option('--size-only', 'compare sizes only')
    .option('--ignore-times', 'copy every file, even when it looks unchanged')
    .option('--ignore-existing', 'never touch files that already exist at the destination')
    .option('--include <glob>', 'transfer only matching paths (repeatable)', collect, [] as string[])
    .option('--exclude <glob>', 'leave matching paths out (repeatable)', collect, [] as string[])
    .option('--files-from <file>', 'transfer only the relative paths listed in FILE, one per line')
    .option('--min-size <size>', 'skip files smaller than SIZE (e.g. 10K, 5M)')
    .option('--max-size <size>', 'skip files larger than SIZE (e.g. 1G)')
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
    .addCommand(diagnosticsDumpCommand);
}

// Remote verbs load gRPC on demand: local copies and `--version` never pay for it.
const listModulesCommand = new Command('list-modules')
  .description('list the modules a blitd exports')
  .argument('<host>', 'HOST, HOST:PORT or [IPV6]:PORT (default port 9031)')
  .option('--json', 'print one JSON object')
  .action(async (host, flags) => {
    const { runListModules } = await import('./list-modules-command.js');
    process.exitCode = await runListModules(host, flags);
  });

const lsCommand = new Command('ls')
  .description('list a remote directory: kind, size, modification time and name of each entry')
  .argument('<path>', 'HOST:/MODULE/PATH, HOST:PORT:/MODULE/PATH or [IPV6]:PORT:/MODULE/PATH')
  .option('--json', 'print one JSON object')
  .action(async (path, flags) => {
    const { runLs } = await import('./ls-command.js');
    process.exitCode = await runLs(path, flags);
  });

const rmCommand = new Command('rm')
  .description('remove remote paths, directories with their contents (asks first)')
  .argument('<path...>', 'HOST:/MODULE/PATH, HOST:PORT:/MODULE/PATH or [IPV6]:PORT:/MODULE/PATH')
  .option('-y, --yes', 'remove without asking')
  .action(async (paths, flags) => {
    const { runRm } = await import('./rm-command.js');
    process.exitCode = await runRm(paths, flags);
  });

const trustCommand = new Command('trust')
  .description("pin a daemon's key in known_hosts (shows its fingerprint and asks)")
  .argument('<host>', 'HOST, HOST:PORT or [IPV6]:PORT (default port 9031)')
  .option('-y, --yes', 'trust the key the daemon presents without asking (not to replace a pinned one)')
  .option('--fingerprint <fp>', 'trust the daemon only if it presents this key (SHA256:…)')
  .action(async (host, flags) => {
    const { runTrust } = await import('./trust-command.js');
    process.exitCode = await runTrust(host, flags);
  });

const idCommand = new Command('id')
  .description("print this client's identity, for a module's allow list (creates its key on first use)")
  .action(async () => {
    const { runId } = await import('./id-command.js');
    process.exitCode = runId();
  });

const program = new Command('blit')
  .description('Fast, safe file transfer: copy, mirror and move trees')
  .version(`blit ${version} (file operations: ${nativeStatus()})`, '-V, --version')
  .showSuggestionAfterError()
  .addCommand(transferCommand('copy', 'copy new and changed entries from SRC to DST; never deletes'))
  .addCommand(transferCommand('mirror', 'make DST equal to SRC: copy, then delete what SRC lacks'))
  .addCommand(transferCommand('move', 'copy, then remove each source entry once its copy has landed'))
  .addCommand(diagnosticsCommand())
  .addCommand(listModulesCommand)
  .addCommand(lsCommand)
  .addCommand(rmCommand)
  .addCommand(trustCommand)
  .addCommand(idCommand)
  .addCommand(duCommand)
  .addCommand(dfCommand)
  .addCommand(findCommand);

// Usage errors read like every other blit error, in subcommands too (addCommand does not inherit output settings).
// Written with plain fd writes (stdio.ts): `--version` needs no stream modules (help still asks
// process.stdout for its width and colours).
const usageErrors = {
  writeOut: out,
  writeErr: err,
  outputError: (text: string, write: (text: string) => void) => write(text.replace(/^error: /, 'blit: ')),
};
const withUsageErrors = (command: Command): void => {
  command.configureOutput(usageErrors);
  for (const sub of command.commands as Command[]) withUsageErrors(sub);
};
withUsageErrors(program as unknown as Command);

program.parseAsync(process.argv).catch(async (error: unknown) => {
  const { reportFatal } = await import('./fatal.js');
  process.exitCode = reportFatal(error);
});
