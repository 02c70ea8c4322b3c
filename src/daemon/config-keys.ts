/**
 * Every key blitd's TOML configuration accepts, in one table: config.ts refuses any key not listed
 * here, and blitd.toml(5) and docs/CLI.md are generated from it (scripts/gen-docs.ts), so the
 * documentation cannot name a key the daemon refuses or miss one it reads. A new key is one row
 * here plus the code in config.ts that reads its value.
 */

export type ConfigSection = 'daemon' | 'module';

export interface ConfigKey {
  section: ConfigSection;
  name: string;
  /** The TOML type, as the reference shows it. */
  type: string;
  /** What applies when the key is absent, in words. */
  default: string;
  description: string;
}

export const CONFIG_KEYS: readonly ConfigKey[] = [
  {
    section: 'daemon',
    name: 'bind',
    type: 'string',
    default: '"127.0.0.1"',
    description: 'Address to listen on (`--bind` overrides it). An IPv6 address may be written in brackets.',
  },
  {
    section: 'daemon',
    name: 'port',
    type: 'integer',
    default: '9031',
    description: 'Port to listen on, 0 to 65535; 0 picks a free one (`--port` overrides it).',
  },
  {
    section: 'daemon',
    name: 'motd',
    type: 'string',
    default: '""',
    description: 'Message of the day, shown by `blit list-modules`.',
  },
  {
    section: 'daemon',
    name: 'log_level',
    type: 'string',
    default: '"info"',
    description:
      'One of fatal, error, warn, info, debug, trace, silent (`--log-level` overrides it). Logs are JSON lines on stdout.',
  },
  {
    section: 'daemon',
    name: 'tls',
    type: 'boolean',
    default: 'on unless bound to loopback',
    description:
      'TLS 1.3 and client identities. `true` turns them on for a loopback bind too; `false` is refused on any other address.',
  },
  {
    section: 'daemon',
    name: 'data_tls',
    type: 'boolean',
    default: 'true',
    description:
      'With TLS on, `false` puts the data sockets in the clear (zero-copy again) while the control connection stays encrypted: for trusted networks only.',
  },
  {
    section: 'daemon',
    name: 'cert',
    type: 'string',
    default: 'none',
    description:
      'A certificate chain (PEM: own certificate first, its root last) to present instead of the generated one; goes with `key`. Relative to the directory of the config file.',
  },
  {
    section: 'daemon',
    name: 'key',
    type: 'string',
    default: 'none',
    description:
      'The private key (PEM) of `cert`; goes with `cert`. Relative to the directory of the config file.',
  },
  {
    section: 'daemon',
    name: 'state_dir',
    type: 'string',
    default: 'see blitd(8)',
    description:
      'Where blitd keeps the key and self-signed certificate it creates on first start (`--state-dir` overrides it). Relative to the directory of the config file.',
  },
  {
    section: 'daemon',
    name: 'metrics',
    type: 'string',
    default: 'off',
    description:
      'HOST:PORT (an IPv6 address in brackets; port 0 picks a free one) where blitd serves Prometheus metrics at GET /metrics. Off when absent; loopback unless you mean otherwise: the endpoint has no authentication.',
  },
  {
    section: 'module',
    name: 'name',
    type: 'string',
    default: 'required',
    description:
      "The module's name in remote paths (`HOST:/NAME/…`): letters, digits, '.', '_' and '-', not starting with '.' or '-'; unique.",
  },
  {
    section: 'module',
    name: 'path',
    type: 'string',
    default: 'required',
    description: 'The exported directory (it must exist). Relative to the directory of the config file.',
  },
  {
    section: 'module',
    name: 'read_only',
    type: 'boolean',
    default: 'false',
    description: '`true` refuses pushes, pull-moves and `blit rm`.',
  },
  {
    section: 'module',
    name: 'comment',
    type: 'string',
    default: '""',
    description: 'Shown beside the name by `blit list-modules`.',
  },
  {
    section: 'module',
    name: 'allow',
    type: 'array of strings',
    default: 'none',
    description:
      'Client identities (`SHA256:…`, as `blit id` prints them) admitted to the module, or `["*"]` for every client that speaks TLS. Needs TLS; with TLS on, a writable module must have one.',
  },
  {
    section: 'module',
    name: 'data_tls',
    type: 'boolean',
    default: "the daemon's data_tls",
    description: "Overrides `[daemon] data_tls` for this module's sessions.",
  },
];

/** The key names of one section, in table order (the order error messages list them in). */
export function keysOf(section: ConfigSection): ReadonlySet<string> {
  return new Set(CONFIG_KEYS.filter((key) => key.section === section).map((key) => key.name));
}
