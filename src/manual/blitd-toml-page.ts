/**
 * blitd.toml(5): the configuration file's manual. Its keys are the rows of daemon/config-keys.ts,
 * the table config.ts accepts keys from, so the page lists exactly the keys blitd reads; the prose
 * around them is kept here once. scripts/gen-docs.ts renders it to man/blitd.toml.5 and docs/CLI.md.
 */
import { CONFIG_KEYS, type ConfigSection } from '../daemon/config-keys.js';
import { type Block, code, literal, type Page, para, terms } from './page.js';

function keyTerms(section: ConfigSection): Block {
  return terms(
    ...CONFIG_KEYS.filter((key) => key.section === section).map((key): [string, string] => [
      `${code(key.name)} (${key.type})`,
      `${key.description} ${key.default === 'required' ? 'Required' : `Default: ${key.default}`}.`,
    ]),
  );
}

export function blitdTomlPage(): Page {
  return {
    name: 'blitd.toml',
    section: 5,
    manual: 'File Formats',
    summary: 'configuration of the blit daemon',
    sections: [
      { title: 'Synopsis', blocks: [literal('/etc/blit/config.toml')] },
      {
        title: 'Description',
        blocks: [
          para(
            'blitd(8) reads its configuration from a TOML file: `/etc/blit/config.toml` unless `--config FILE` names another (and none when only `--root` is given). The file has one `[daemon]` table, optional, and one `[[module]]` table per exported directory. Relative paths in it are relative to the directory of the file.',
          ),
          para(
            "An unknown key, a wrong type, a missing or empty value, a module path that is not a directory or a duplicate module name stops blitd with one line naming the file and line, for example `blitd: /etc/blit/config.toml:7: unknown key 'prot' in [daemon] (known: …)`. Command-line options override the `[daemon]` keys they name.",
          ),
        ],
      },
      { title: '[daemon]', blocks: [keyTerms('daemon')] },
      { title: '[[module]]', blocks: [keyTerms('module')] },
      {
        title: 'Security rules',
        blocks: [
          para(
            'Checked at start, each refusal one line: `tls = false` is allowed only on a loopback address; with TLS on, every writable module needs an `allow` list (a read-only module without one is open to every TLS client); without TLS an `allow` list is refused rather than ignored, since no client identity can be known.',
          ),
        ],
      },
      {
        title: 'Example',
        blocks: [
          literal(
            [
              '[daemon]',
              'bind = "0.0.0.0"          # anything but loopback: TLS is always on',
              'port = 9031',
              'motd = "Welcome to the backup box"',
              'log_level = "info"',
              '# state_dir = "/var/lib/blitd"',
              '',
              '[[module]]',
              'name = "photos"',
              'path = "/srv/photos"',
              'read_only = true          # open to every TLS client',
              'comment = "Family photos"',
              '',
              '[[module]]',
              'name = "backup"',
              'path = "/srv/backup"',
              'allow = ["SHA256:…alice…", "SHA256:…bob…"]   # blit id on each client',
            ].join('\n'),
          ),
        ],
      },
      { title: 'See also', blocks: [para('blitd(8), blit(1)')] },
    ],
  };
}
