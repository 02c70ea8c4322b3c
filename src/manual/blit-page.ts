/**
 * blit(1): the prose of the manual, kept here once (path rules, compare modes, filters, mirror and
 * move rules, output, exit status, environment, files, examples) around the commands, options and
 * help texts that come from the program itself (cli/program.ts). scripts/gen-docs.ts renders it to
 * man/blit.1 and docs/CLI.md.
 */
import type { Command } from '@commander-js/extra-typings';
import { commandSubsections, leafCommands, usageLine } from './command-sections.js';
import { type Block, bullets, literal, type Page, para, terms } from './page.js';

/** Prose that belongs to one command, after its options (by its name after `blit`). */
const COMMAND_NOTES: Record<string, Block[]> = {
  mirror: [para('Deletes only after a complete scan of SRC, and after confirmation (see MIRROR).')],
  move: [para('A whole tree moved to a new target on the same file system is renamed instead (see MOVE).')],
  'diagnostics perf': [
    para(
      'Shows the last N runs (each with operation, file-system pair, fast path `inline`/`pool`/`none`, files, scan / first-byte / copy times, rate, outcome), the predictor per segment (file-system pair, operation, fast path, compare mode: runs, predicted scan time and copy time per file with their mean relative errors, rate, worker start-up) and the plan the next run of each kind would get, with the reason. `--json` prints all of it as one object (`path`, `enabled`, `disabledByEnv`, `runs`, `bytes`, `skippedLines`, `records`, `predictor`, `nextPlans`). `--disable` and `--enable` stop and resume recording (kept in `perf_settings.json`); `--clear` erases the history. Nothing is ever sent anywhere.',
    ),
  ],
  'list-modules': [
    para(
      "Prints the daemon's message of the day, then one line per module: name, `ro` or `rw`, comment. A client sees only the modules whose `allow` list admits it.",
    ),
  ],
  ls: [
    para(
      'Prints one line per entry: kind, size, modification time, name (directories end in `/`, links show their target), page by page as the daemon sends them; a path naming a file prints that entry. `--json` prints `{"path", "entries": [{"name", "kind", "size", "mtime", "mtimeNs", "mode", "linkTarget"}], "isDirectory", "problems"}`. Exit 2 when some entries could not be listed (each named on stderr).',
    ),
  ],
  rm: [
    para(
      'Asks on a terminal before removing; without a terminal and without `--yes` it removes nothing. A symbolic link is removed, never its target. Read-only modules refuse. Exit 2 when some entries could not be removed (each named on stderr).',
    ),
  ],
  trust: [
    para(
      "Reads the key the daemon presents and pins it in `known_hosts`: after asking on a terminal, with `--yes` (never to replace a key already pinned), or when it equals `--fingerprint FP` (the way to pin without a terminal, with the fingerprint the operator read from the daemon's log).",
    ),
  ],
  id: [
    para(
      "Prints this client's identity, `SHA256:` and 43 base64 characters: the fingerprint of the key in `identity.pem`, created on first use. A module's `allow` list names it (blitd.toml(5)).",
    ),
  ],
  completions: [
    para(
      'The script completes verbs, the flags of each verb, local paths, module names after `HOST:/` or `HOST:PORT:/`, and the entries of a remote directory after `HOST:/MODULE/DIR/`. Remote names come from the daemon (one listing page) within 2 s; a daemon that cannot be reached, is not yet trusted (see REMOTE) or does not answer in time offers nothing. Load it in the running shell, or install it:',
    ),
    literal(
      [
        'eval "$(blit completions bash)"      # bash, this shell',
        'blit completions bash > ~/.local/share/bash-completion/completions/blit',
        'eval "$(blit completions zsh)"       # zsh, after compinit',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: zsh's syntax, shown as written
        'blit completions zsh > "${fpath[1]}/_blit"',
        'blit completions fish > ~/.config/fish/completions/blit.fish',
      ].join('\n'),
    ),
  ],
};

export function blitPage(program: Command): Page {
  const synopsis = [...leafCommands(program).map(usageLine), 'blit --version', 'blit [COMMAND] --help'].join(
    '\n',
  );
  return {
    name: 'blit',
    section: 1,
    manual: 'User Commands',
    summary: 'copy, mirror and move directory trees, fast and safely, locally and through blitd',
    sections: [
      { title: 'Synopsis', blocks: [literal(synopsis)] },
      {
        title: 'Description',
        blocks: [
          para(
            '**blit** copies, mirrors and moves directory trees on this machine, and to and from a `blitd` daemon on another (blitd(8)). It picks its own workers, batches and copy paths: it has no speed options (`--ludicrous-speed` is accepted as a deprecated no-op). A file is never left partly written under its final name: data goes to a temp file (`.blit-PID-RANDOM.tmp`) in the destination directory, which is renamed over the target once written and its metadata set. File contents, permission bits, modification times (to the nanosecond with the native addon), symbolic links (as links, never followed) and empty directories are copied, and by default the rest of what `rsync -aHAXS` keeps: owner and group when blit runs as root or holds CAP_CHOWN and CAP_FOWNER (otherwise left to the user blit runs as, silently, as rsync does; across machines mapped by user and group name, as are the users and groups ACLs name, `--numeric-ids` keeps the numbers), extended attributes (`user.*`; `trusted.*` and `security.*` as root) and POSIX ACLs (access and default; with the native addon only: without it they are neither read nor written), names of one inode as one inode (hard links, data copied once), and the holes of sparse files. A change to owner, xattrs or ACLs alone is an update, not a copy. `--no-owner`, `--no-xattrs`, `--no-acls` and `--no-hard-links` turn one off; a destination that refuses a kind gets one warning per kind. FIFOs are recreated (with the native addon), device files too when blit runs as root (a daemon never makes one in its module: refused per file), and sockets are skipped. Sparse files keep their holes, locally (`SEEK_DATA`/`SEEK_HOLE` with the addon; without it, blocks of 4 KiB of zeros are left unwritten) and over the wire (a zero block of a file with holes travels as a hole, never as zeros). File names that are not valid UTF-8 are refused per file.',
          ),
          para(
            'Either SRC or DST (not both) may be a path on a daemon: a remote DST pushes, a remote SRC pulls, with the same rules, options, summary and exit codes (see REMOTE).',
          ),
        ],
      },
      { title: 'Commands', blocks: [], subsections: commandSubsections(program, COMMAND_NOTES) },
      {
        title: 'Paths',
        blocks: [
          bullets(
            '`SRC/` (trailing slash) transfers the contents of SRC into DST.',
            '`SRC` into an existing directory, or into a DST written with a trailing `/`, creates `DST/BASENAME-OF-SRC`.',
            'Otherwise DST is the exact target (created, with missing parents).',
            'A single file (or symbolic link) works as SRC, to a file path or into a directory.',
            'SRC equal to DST, or DST inside SRC, is refused.',
          ),
          para(
            'A remote path is `HOST:/MODULE/PATH`, `HOST:PORT:/MODULE/PATH` or `[IPV6]:PORT:/MODULE/PATH` (default port 9031). An argument is remote when a `:` followed by `/` comes before any other `/`; write `./foo:/bar` for a local path of that shape. A local transfer whose argument looks remote but names a local directory (`foo:/bar` with a local `foo:`) warns and stays local.',
          ),
        ],
      },
      {
        title: 'Compare modes',
        blocks: [
          para('One at a time. A file is transferred when:'),
          terms(
            ['(default)', 'its size or modification time differs.'],
            [
              '`-c`, `--checksum`',
              'its size differs, or its contents differ. Locally, with the native addon, the two files are compared byte for byte; without it (`BLIT_NO_NATIVE=1`) both are hashed with BLAKE3. Across the network each side hashes its own file with BLAKE3 and a file whose hash matches is not sent.',
            ],
            ['`--size-only`', 'its size differs.'],
            ['`--ignore-times`', 'always.'],
            [
              '`--ignore-existing`',
              'it does not exist at the destination (whatever exists there is left alone).',
            ],
          ),
          para(
            'When the contents are the same but the mode or modification time differs, only the metadata is updated. Symbolic links are compared by target and modification time.',
          ),
        ],
      },
      {
        title: 'Filters',
        blocks: [
          terms(
            [
              '`--exclude GLOB`',
              'leave matching paths out (repeatable); a matching directory leaves out its subtree.',
            ],
            [
              '`--include GLOB`',
              'transfer only matching paths (repeatable); other directories are only walked through.',
            ],
            [
              '`--files-from FILE`',
              'transfer only the relative paths listed in FILE, one per line, `#` starting a comment; `-` reads stdin. A listed directory comes with its subtree.',
            ],
            [
              '`--min-size SIZE`, `--max-size SIZE`',
              'skip files smaller or larger than SIZE (`500`, `10K`, `5M`, `1G`; binary multiples).',
            ],
          ),
          para(
            'Globs are matched on paths relative to SRC. A glob without `/` matches a name at any depth (`*.log`); with `/` it matches the whole relative path (`build/**`); a leading `/` anchors it to SRC; a trailing `/` matches directories only (`cache/`). Globs match dot files. Size limits only stop a transfer: a mirror never deletes a destination file because its source twin is outside the limits.',
          ),
        ],
      },
      {
        title: 'Mirror',
        blocks: [
          bullets(
            'Deletes files, directories and symbolic links that SRC lacks, and resolves type conflicts (a file where SRC has a directory, and the reverse). Never outside DST.',
            'Deletes nothing when any part of SRC could not be read (exit 2, with the reason).',
            'Asks before deleting on a terminal; `--yes` deletes without asking. Without a terminal and without `--yes` it deletes nothing, says how many entries it would have deleted, and exits 2.',
            'Paths excluded by the filters are left alone; `--delete-excluded` deletes them too. In a directory SRC lacks, a mirror deletes what the filters select, and the directory itself once nothing else is left in it (as `rsync --delete` does with the same filters).',
            'An interrupted mirror stops where it was: before its deletion phase it has deleted nothing; during it, what it had deleted stays deleted.',
          ),
        ],
      },
      {
        title: 'Move',
        blocks: [
          para(
            'When the whole of SRC goes to a target that does not exist yet on the same file system (and no filter is given), **move** is a single rename, with hard links, ownership and extended attributes intact (`--json` then says `"renamed": true`). Otherwise each source file is removed only after its copy has landed (or when the destination already held an identical copy), and source directories once empty. `blit move SRC DST` removes SRC itself at the end; `blit move SRC/ DST` moves the contents and keeps the empty SRC. Files kept by `--ignore-existing`, filters or size limits stay in the source. A pull-move removes in the module; read-only modules refuse it.',
          ),
        ],
      },
      {
        title: 'Output',
        blocks: [
          para(
            'A summary line on stdout; each failed entry on stderr as `blit: PATH: reason`. `-v` lists each action (`copy PATH`, `link PATH`, `mkdir PATH`, `update PATH`, `delete PATH`, `remove PATH`); `-n` lists what would change (`would copy PATH`, …) and changes nothing.',
          ),
          para(
            'Progress: one line redrawn on a terminal (the default there), none otherwise. Without a terminal `--progress` prints a plain line every 5 s; with `--json` it writes one JSON event per second on stderr (`entriesFound`, `entriesDone`, `bytesNeeded`, `bytesDone` for landed files, `bytesWritten` including files still in flight, `rate` in B/s, `phase`, `scanComplete`). Bytes move inside a large file, 64 MiB at a time, before it lands.',
          ),
          para(
            '`--json` prints the summary as one JSON object on stdout (actions, if listed, go to stderr): `{"operation", "source", "destination", "dryRun", "copied", "skipped", "updated", "deleted", "failed", "bytes", "elapsedMs", "scanComplete", "deletionsWithheld", "failures": [{"path", "reason"}], "fidelity"}`, and `"renamed": true` for a move done by rename. `fidelity` has one key per kind of metadata that any entry carried (`owner`, `xattrs`, `acls`, `hardLinks`, `sparse`, `special`), each `{"applied", "failed", "reason"}`: how many entries got it, how many could not, and why the first could not. Paths in `failures` are relative to the transfer root; a failure of a root itself names that root by its path.',
          ),
          para(
            "A run in which nothing makes progress for 10 s (a hung network mount, say) stops with exit 1 and names what was in flight. In a remote transfer each side watches its own work: a stall at the daemon ends the run with the daemon's line, and waiting for a slow peer is not a stall (a peer that goes silent ends the run after 30 s).",
          ),
        ],
      },
      {
        title: 'Remote',
        blocks: [
          para(
            "`blit VERB SRC HOST:/MODULE/PATH` pushes to a daemon, `blit VERB HOST:/MODULE/PATH DST` pulls; between two daemons it is refused (pull, then push). A push mirror asks on the client's terminal before the daemon deletes. File data travels over data sockets on the daemon's own port, beside the gRPC control connection; when they cannot connect, the transfer goes on inside the control connection with one warning, and `--force-grpc-data` asks for that from the start.",
          ),
          para(
            "A daemon that listens on loopback speaks in the clear unless its configuration turns TLS on; any other daemon speaks TLS 1.3, and blit pins its key in `known_hosts` on first contact: it shows the fingerprint and asks on a terminal, and without one refuses in one line that names the fingerprint and the `blit trust` command that pins it. A pinned daemon is only spoken to over TLS with exactly that key; a changed key is refused. The client presents its own key (`blit id`), which a module's `allow` list may name.",
          ),
        ],
      },
      {
        title: 'Exit status',
        blocks: [
          terms(
            ['0', 'all done.'],
            [
              '1',
              'fatal error (bad arguments, missing SRC, unreachable daemon, disk full, stall, …), reported in one line.',
            ],
            [
              '2',
              'finished, but some entries failed (each listed on stderr) or mirror deletions were withheld; for `ls` and `rm`, some entries could not be listed or removed.',
            ],
            [
              '130, 143',
              'interrupted by SIGINT (Ctrl+C) or SIGTERM: copies stop, the files being written are not installed and their temp files are removed. A second Ctrl+C ends blit at once.',
            ],
          ),
        ],
      },
      {
        title: 'Environment',
        blocks: [
          terms(
            [
              '`XDG_CONFIG_HOME`',
              "the directory that holds blit's files (FILES); `~/.config` when unset or relative.",
            ],
            ['`BLIT_DISABLE_PERF_HISTORY=1`', 'this run neither reads nor writes the performance history.'],
            [
              '`BLIT_NO_NATIVE=1`',
              'do not load the native addon: file operations take the pure-JS path (`blit --version` says which is active).',
            ],
            ['`BLIT_FORCE_GRPC_DATA=1`', 'as `--force-grpc-data`.'],
            ['`BLIT_DEBUG=1`', 'print the stack trace of an internal error.'],
          ),
        ],
      },
      {
        title: 'Files',
        blocks: [
          terms(
            [
              '`~/.config/blit/known_hosts`',
              'the daemons this client trusts, one line each: `HOST:PORT FINGERPRINT CERTIFICATE`.',
            ],
            [
              '`~/.config/blit/identity.pem`',
              "this client's key and certificate (mode 0600), created on first use.",
            ],
            [
              '`~/.config/blit/perf_local.jsonl`',
              'the performance history: one line per run, about 1 MB at most (oldest runs dropped); it never leaves this machine.',
            ],
            ['`~/.config/blit/perf_settings.json`', 'whether the history is recorded.'],
            [
              '`~/.config/blit/xattr_marks.json`',
              'per local copy or mirror job (a hash of its paths, filters and kinds kept), the time before which both trees were last found equal: a re-run reads the xattrs and ACLs only of entries changed since on either side.',
            ],
          ),
          para('`~/.config` stands for `$XDG_CONFIG_HOME` when that is set.'),
        ],
      },
      {
        title: 'Examples',
        blocks: [
          literal(
            [
              'blit mirror ~/photos/ /backup/photos/ --yes',
              "blit copy -c --exclude '*.tmp' --exclude cache/ src/ dst/",
              'blit move --min-size 1G downloads/ /archive/big/',
              'blit mirror -n src/ dst/                 # what would change?',
              'blit mirror ./photos/ backup.lan:/photos/ # push',
              'blit copy backup.lan:/photos/2024/ ./restore/   # pull',
              'blit ls backup.lan:9031:/photos/2024',
            ].join('\n'),
          ),
        ],
      },
      { title: 'See also', blocks: [para('blitd(8), blitd.toml(5), rsync(1)')] },
    ],
  };
}
