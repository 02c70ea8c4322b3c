/**
 * blitd(8): the daemon's manual, its prose kept here once around the options that come from the
 * program itself (daemon/program.ts). scripts/gen-docs.ts renders it to man/blitd.8 and docs/CLI.md.
 */
import type { Command } from '@commander-js/extra-typings';
import { RESTART_ONLY } from '../daemon/reload.js';
import { optionTerms, usageLine } from './command-sections.js';
import { bullets, literal, type Page, para, terms } from './page.js';

export function blitdPage(program: Command): Page {
  return {
    name: 'blitd',
    section: 8,
    manual: 'System Administration',
    summary: 'the blit daemon: serves directories ("modules") to blit on other machines',
    sections: [
      { title: 'Synopsis', blocks: [literal(usageLine(program))] },
      {
        title: 'Description',
        blocks: [
          para(
            '**blitd** exports directories, called modules, to `blit` on other machines: `blit` pushes to them, pulls from them, lists them (`blit ls`) and removes from them (`blit rm`). It listens on one TCP port (9031 by default, on 127.0.0.1 unless configured) for the gRPC control connection and for the data sockets that carry file data; it tells them apart by their first bytes, so a firewall needs only that port open.',
          ),
          para(
            "The modules come from the configuration file (`--config`, by default `/etc/blit/config.toml`; blitd.toml(5)), which is not read when only `--root` is given: `blitd --root DIR` exports DIR as the writable module `default`, the quick start on loopback. Problems that prevent starting (an unreadable or invalid configuration, a module path that is not a directory, an unsafe security setting, a port in use) are one line on stderr, `blitd: …`, and exit 1. After start-up blitd logs JSON lines on stdout; the `listening` line gives the address, port, version, whether TLS is on and the key's fingerprint, the file-operation path (`native addon` or `pure JS`) and the modules.",
          ),
        ],
      },
      { title: 'Options', blocks: optionTerms(program, true) },
      {
        title: 'Encryption and identities',
        blocks: [
          para(
            "On loopback, blitd speaks in the clear unless `tls = true` is set; on any other address it always speaks TLS 1.3, on the control connection and the data sockets alike. On first start it creates a P-256 key and a self-signed certificate in its state directory (see FILES) and logs the key's fingerprint; clients pin that key on first contact (`blit trust HOST:PORT --fingerprint SHA256:…` pins it without a terminal). A configured certificate chain can be used instead (`cert`, `key`).",
          ),
          para(
            'Each client presents its own key. A module\'s `allow` list names the identities (`blit id`) it admits, or `*` for every TLS client; others are refused and change nothing, and `blit list-modules` shows a client only the modules it may use. With TLS on, blitd refuses to start when a writable module has no `allow` list; a read-only module without one is open to every TLS client. A plain client gets only "this blitd requires TLS". Data-socket tokens are single-use, expire within 10 s, and are bound to the key of the control connection that was granted them. `data_tls = false` puts the data sockets back in the clear for a trusted network: the control connection stays encrypted and authenticated, but the files\' contents can be read, and altered, on the wire.',
          ),
        ],
      },
      {
        title: 'Containment',
        blocks: [
          para(
            'Every path a client sends stays inside its module: absolute paths, `..` components and symbolic links that lead out of the module are refused; received symbolic links are created as links and never followed; `blit rm` of a link removes the link, never its target. A push never creates set-user-ID or set-group-ID files.',
          ),
          para(
            "With the native addon, blitd opens the module's directory and resolves every path beneath that descriptor (`openat2` with `RESOLVE_BENEATH`, or a walk with `O_NOFOLLOW` where the kernel lacks it), so a local user who can write inside a module and swaps a directory for a link to the outside cannot make blitd read, write, list or remove anything outside it. Without the addon (`BLIT_NO_NATIVE=1`, or no compiler at install; the log says `pure JS`) paths are checked and then used again as strings, and such a local writer could redirect an operation: run blitd with the addon when users who are not trusted can write to its modules.",
          ),
        ],
      },
      {
        title: 'Limits',
        blocks: [
          bullets(
            'At most 64 calls at once from one address and 256 in all; more are refused with "blitd is busy".',
            'A request must arrive whole within 10 s; a connection with no call for 2 minutes is closed (clients reconnect by themselves).',
            'A transfer session has no total deadline: each side sends a heartbeat every second and gives up on a peer silent for 30 s, removing the files it was writing.',
          ),
        ],
      },
      {
        title: 'Metrics and service',
        blocks: [
          para(
            '`[daemon] metrics = "127.0.0.1:9100"` (blitd.toml(5)) serves Prometheus metrics at `GET /metrics` on that address: sessions by verb, direction and outcome, bytes and files in and out per module, errors by code, stalls, active sessions, data sockets, session durations, calls by RPC and status, and the process\'s own. Off by default; the endpoint has no authentication, so keep it on loopback or behind a firewall.',
          ),
          para(
            'A systemd unit ships in the package (`packaging/systemd/blitd.service`: a dedicated `blitd` user, `Type=notify`, `ExecReload` sending SIGHUP, the state directory `/var/lib/blitd`, `ProtectSystem=strict` with the modules as `ReadWritePaths=`); docs/INSTALL.md walks through installing it.',
          ),
        ],
      },
      {
        title: 'Signals',
        blocks: [
          terms(
            [
              'SIGINT, SIGTERM',
              'stop gracefully (the log says `stopping`, then `stopped`) and exit 0. A second signal stops at once (exit 1).',
            ],
            [
              'SIGHUP',
              `read the configuration again, with the same options (\`systemctl reload blitd\`): modules, allow lists, \`read_only\`, comments, \`motd\` and \`log_level\` apply to the calls that start after it (a transfer from its Open on), while sessions already running finish under the rules they began with. ${RESTART_ONLY.map(([, name]) => `\`${name}\``).join(', ')} need a restart: they keep their running values and one warning names them. A file that does not load changes nothing (one error line with file:line); the log says \`reloaded\` otherwise.`,
            ],
          ),
        ],
      },
      {
        title: 'Environment',
        blocks: [
          terms(
            [
              '`STATE_DIRECTORY`',
              "systemd's state directory: the default state directory (its first entry).",
            ],
            [
              '`XDG_STATE_HOME`',
              'for a user other than root, the state directory is `$XDG_STATE_HOME/blitd`.',
            ],
            [
              '`BLIT_NO_NATIVE=1`',
              'do not load the native addon (pure-JS file operations, weaker containment; see CONTAINMENT).',
            ],
            ['`BLIT_DEBUG=1`', 'print the stack trace of an error that stops the start.'],
            [
              '`NOTIFY_SOCKET`',
              'set by systemd for a `Type=notify` service: blitd sends `READY=1` once it listens, `RELOADING=1` and `READY=1` around a reload, `STOPPING=1` when it stops (through the addon; without it through `systemd-notify`, so the unit sets `NotifyAccess=all`).',
            ],
          ),
        ],
      },
      {
        title: 'Files',
        blocks: [
          terms(
            [
              '`/etc/blit/config.toml`',
              'the configuration, unless `--config` or only `--root` is given (blitd.toml(5)).',
            ],
            [
              'STATE_DIR`/identity.pem`',
              "the daemon's generated key and self-signed certificate (mode 0600). STATE_DIR is `--state-dir`, else `[daemon] state_dir`, else `$STATE_DIRECTORY`, else `/var/lib/blitd` for root, else `$XDG_STATE_HOME/blitd` (`~/.local/state/blitd`).",
            ],
          ),
        ],
      },
      {
        title: 'Exit status',
        blocks: [
          terms(['0', 'stopped gracefully.'], ['1', 'could not start, or stopped by a second signal.']),
        ],
      },
      {
        title: 'Examples',
        blocks: [
          literal(
            [
              'blitd --root /srv/data                # module "default" on 127.0.0.1:9031',
              'blitd --config /etc/blit/config.toml --log-level debug',
              'blitd --root /srv/data --port 0       # a free port (the log names it)',
            ].join('\n'),
          ),
        ],
      },
      { title: 'See also', blocks: [para('blit(1), blitd.toml(5)')] },
    ],
  };
}
