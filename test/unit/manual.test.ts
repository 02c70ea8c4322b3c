/**
 * The generated manual: every command and option of the programs is in it (a command added
 * later too), hidden ones are not, every config key of the table is documented and read by
 * config.ts, and the roff escaping holds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command, type Option } from '@commander-js/extra-typings';
import { blitProgram } from '../../src/cli/program.js';
import { parseConfig } from '../../src/daemon/config.js';
import { CONFIG_KEYS } from '../../src/daemon/config-keys.js';
import { blitdProgram } from '../../src/daemon/program.js';
import { blitPage } from '../../src/manual/blit-page.js';
import { commandNames, leafCommands } from '../../src/manual/command-sections.js';
import { generatedDocs } from '../../src/manual/generated-docs.js';
import { literal, type Page, para } from '../../src/manual/page.js';
import { renderMarkdown } from '../../src/manual/render-markdown.js';
import { inline, renderRoff } from '../../src/manual/render-roff.js';
import { BlitError } from '../../src/util/errors.js';

const docs = generatedDocs();
const roffFlag = (flag: string) => flag.replaceAll('-', '\\-');

function visibleLongFlags(command: Command): string[] {
  return (command.options as readonly Option[])
    .filter((o) => !o.hidden && o.long !== undefined)
    .map((o) => o.long!);
}

describe('blit(1) and docs/CLI.md', () => {
  test('every command, with every visible option, is in both', () => {
    const program = blitProgram();
    const names = commandNames(program);
    for (const name of [
      'copy',
      'mirror',
      'move',
      'diagnostics perf',
      'list-modules',
      'ls',
      'rm',
      'trust',
      'id',
    ])
      assert.ok(names.includes(name), name);
    for (const command of leafCommands(program)) {
      const name = commandNames(program)[leafCommands(program).indexOf(command)]!;
      assert.ok(docs['man/blit.1']!.includes(`.SS "${name}"`), `blit.1 has ${name}`);
      assert.ok(docs['docs/CLI.md']!.includes(`### ${name}\n`), `CLI.md has ${name}`);
      for (const flag of visibleLongFlags(command)) {
        assert.ok(docs['man/blit.1']!.includes(roffFlag(flag)), `blit.1 has ${name} ${flag}`);
        assert.ok(docs['docs/CLI.md']!.includes(flag), `CLI.md has ${name} ${flag}`);
      }
    }
  });

  test('hidden commands and options stay out', () => {
    for (const text of [docs['man/blit.1']!, docs['docs/CLI.md']!]) assert.ok(!text.includes('__complete'));
    // The deprecated --ludicrous-speed is named in the prose, never listed as an option.
    assert.ok(!docs['man/blit.1']!.includes('.TP\n\\fB\\-\\-ludicrous'));
    assert.ok(!docs['docs/CLI.md']!.includes('- `--ludicrous-speed`'));
  });

  test('--checksum says what it compares', () => {
    assert.match(docs['docs/CLI.md']!, /--checksum` — .*byte for byte locally.*BLAKE3/);
  });

  test('a command added to the program later is documented without more code', () => {
    const program = blitProgram();
    program.addCommand(
      new Command('weigh')
        .description('sizes per directory')
        .argument('<path>', 'what to measure')
        .option('--json', 'print JSON') as unknown as Command,
    );
    const markdown = renderMarkdown(blitPage(program));
    assert.match(markdown, /### weigh\n\n```\nblit weigh \[options\] <path>\n```\n\nSizes per directory\./);
    assert.match(markdown, /`<path>` — What to measure\./);
  });
});

describe('blitd(8)', () => {
  test('every option of the daemon is in it', () => {
    for (const flag of visibleLongFlags(blitdProgram(async () => {}))) {
      assert.ok(docs['man/blitd.8']!.includes(roffFlag(flag)), flag);
      assert.ok(docs['docs/CLI.md']!.includes(flag), flag);
    }
  });
});

describe('blitd.toml(5) and the config key table', () => {
  test('every key of the table is documented in its section', () => {
    const page = docs['man/blitd.toml.5']!;
    const daemonAt = page.indexOf('.SH "[daemon]"');
    const moduleAt = page.indexOf('.SH "[[module]]"');
    assert.ok(daemonAt > 0 && moduleAt > daemonAt);
    for (const key of CONFIG_KEYS) {
      const term = `\\fB${key.name.replaceAll('-', '\\-')}\\fR (${key.type})`;
      const at = page.indexOf(term, key.section === 'daemon' ? daemonAt : moduleAt);
      assert.ok(at > 0 && (key.section === 'module' || at < moduleAt), `${key.section}.${key.name}`);
    }
  });

  test('config.ts reads every key of the table (a wrong value is refused by its name, not as unknown)', () => {
    const wrong: Record<string, string> = {
      string: '1',
      boolean: '"x"',
      integer: '"x"',
      'array of strings': '1',
    };
    for (const key of CONFIG_KEYS) {
      const value = wrong[key.type];
      assert.ok(value, `a wrong value for type ${key.type}`);
      const text =
        key.section === 'daemon'
          ? `[daemon]\n${key.name} = ${value}\n`
          : `[[module]]\n${['name = "m"', 'path = "/srv"']
              .filter((line) => !line.startsWith(`${key.name} `))
              .join('\n')}\n${key.name} = ${value}\n`;
      assert.throws(
        () => parseConfig(text, 'c.toml', () => undefined),
        (error: unknown) => {
          assert.ok(error instanceof BlitError);
          assert.doesNotMatch(error.message, /unknown key/, `${key.section}.${key.name}`);
          assert.match(error.message, new RegExp(key.name), `${key.section}.${key.name}: ${error.message}`);
          return true;
        },
      );
    }
  });

  test('a key missing from the table is refused as unknown, listing the table', () => {
    assert.throws(
      () => parseConfig('[daemon]\nmetrix = "x"\n', 'c.toml', () => undefined),
      new BlitError(
        `c.toml:2: unknown key 'metrix' in [daemon] (known: ${CONFIG_KEYS.filter(
          (k) => k.section === 'daemon',
        )
          .map((k) => k.name)
          .join(', ')})`,
      ),
    );
  });
});

describe('roff', () => {
  test('marks become fonts; flags keep a minus sign; backslashes and non-ASCII are escaped', () => {
    assert.equal(inline('run `--dry-run` **now** a-b'), 'run \\fB\\-\\-dry\\-run\\fR \\fBnow\\fR a-b');
    assert.equal(inline('C:\\dir — ok…'), 'C:\\edir \\[u2014] ok\\[u2026]');
  });

  test('a line that would read as a request is protected', () => {
    const page: Page = {
      name: 'x',
      section: 1,
      manual: 'M',
      summary: 's',
      sections: [{ title: 'T', blocks: [para('.so /etc/passwd'), literal("'quoted\n.dot")] }],
    };
    const roff = renderRoff(page, 'test', 'x 1');
    assert.ok(roff.includes('\n\\&.so /etc/passwd\n'));
    assert.ok(roff.includes("\n\\&'quoted\n\\&.dot\n"));
    assert.ok(!/^\.so/m.test(roff));
  });
});
