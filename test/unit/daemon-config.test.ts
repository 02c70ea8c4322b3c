/** blitd's TOML configuration: defaults, validation, and errors that name their line. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DirectoryCheck, parseConfig } from '../../src/daemon/config.js';
import { keyLines } from '../../src/daemon/toml-lines.js';
import { BlitError } from '../../src/util/errors.js';

const FILE = '/etc/blit/config.toml';
/** Every path is a directory except those under /missing. */
const dirs: DirectoryCheck = (path) =>
  path.startsWith('/missing') ? 'no such file or directory' : undefined;

function parse(text: string) {
  return parseConfig(text, FILE, dirs);
}

function refused(text: string, message: string) {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof BlitError);
      assert.equal(error.message, message);
      return true;
    },
  );
}

describe('parseConfig', () => {
  test('a full config', () => {
    const config = parse(`
[daemon]
bind = "0.0.0.0"
port = 9100
motd = """
Welcome
"""
log_level = "debug"

[[module]]
name = "photos"
path = "/srv/photos"
read_only = true
comment = "Family photos"

[[module]]
name = "scratch"
path = "scratch"
`);
    assert.deepEqual(config, {
      bind: '0.0.0.0',
      port: 9100,
      motd: 'Welcome\n',
      logLevel: 'debug',
      modules: [
        { name: 'photos', path: '/srv/photos', readOnly: true, comment: 'Family photos' },
        { name: 'scratch', path: '/etc/blit/scratch', readOnly: false, comment: '' },
      ],
    });
  });

  test('defaults: loopback, port 9031, info logs', () => {
    const config = parse('[[module]]\nname = "m"\npath = "/srv/m"\n');
    assert.equal(config.bind, '127.0.0.1');
    assert.equal(config.port, 9031);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.motd, '');
    assert.equal(config.metrics, undefined, 'metrics are off unless configured');
  });

  test('an IPv6 bind address may be written with brackets', () => {
    assert.equal(parse('[daemon]\nbind = "[::1]"\n').bind, '::1');
  });

  test('an unknown key names its line', () => {
    refused(
      '[daemon]\nport = 9031\nprot = 9032\n',
      `${FILE}:3: unknown key 'prot' in [daemon] (known: bind, port, motd, log_level, tls, data_tls, cert, key, state_dir, metrics)`,
    );
    refused(
      '[[module]]\nname = "a"\npath = "/srv/a"\n\n[[module]]\nname = "b"\npath = "/srv/b"\nreadonly = true\n',
      `${FILE}:8: unknown key 'readonly' in [[module]] (known: name, path, read_only, comment, allow, data_tls)`,
    );
    refused('title = "x"\n', `${FILE}:1: unknown key 'title' (known: [daemon], [[module]])`);
    refused('\n\n[modules]\nname = "a"\n', `${FILE}:3: unknown key 'modules' (known: [daemon], [[module]])`);
  });

  test('a missing module path names its line', () => {
    refused(
      '[[module]]\nname = "a"\npath = "/missing/a"\n',
      `${FILE}:3: module 'a': /missing/a: no such file or directory`,
    );
    refused('\n[[module]]\nname = "a"\n', `${FILE}:2: module 'a' has no path`);
  });

  test('a duplicate module name names both lines', () => {
    refused(
      '[[module]]\nname = "a"\npath = "/srv/a"\n\n[[module]]\nname = "a"\npath = "/srv/b"\n',
      `${FILE}:6: duplicate module name 'a' (first defined on line 2)`,
    );
  });

  test('wrong types and values name their line', () => {
    refused(
      '[daemon]\nport = "9031"\n',
      `${FILE}:2: daemon.port must be an integer from 0 to 65535 (0 picks a free port)`,
    );
    refused(
      '[daemon]\nport = 70000\n',
      `${FILE}:2: daemon.port must be an integer from 0 to 65535 (0 picks a free port)`,
    );
    refused(
      '[daemon]\nlog_level = "loud"\n',
      `${FILE}:2: daemon.log_level must be one of fatal, error, warn, info, debug, trace, silent`,
    );
    refused(
      '[[module]]\nname = "a"\npath = "/srv/a"\nread_only = "yes"\n',
      `${FILE}:4: module.read_only must be true or false`,
    );
    refused(
      '[[module]]\nname = "a b"\npath = "/srv/a"\n',
      `${FILE}:2: module name "a b" may hold only letters, digits, '.', '_' and '-' (not first)`,
    );
    refused(
      '[[module]]\nname = ".."\npath = "/srv/a"\n',
      `${FILE}:2: module name ".." may hold only letters, digits, '.', '_' and '-' (not first)`,
    );
    refused('[[module]]\npath = "/srv/a"\n', `${FILE}:1: [[module]] has no name`);
    refused('[module]\nname = "a"\n', `${FILE}:1: write each module as [[module]] (an array of tables)`);
  });

  test('TOML syntax errors name line and column', () => {
    refused('[daemon]\nport = = 1\n', `${FILE}:2:8: invalid value`);
    assert.throws(
      () => parse('[daemon]\nport = 1\nport = 2\n'),
      /^BlitError: \/etc\/blit\/config\.toml:3:\d+: .+$/,
    );
  });
});

describe('keyLines', () => {
  test('finds tables, array tables, quoted and dotted keys, and skips multi-line strings', () => {
    const lines = keyLines(
      [
        '# comment',
        '[daemon]',
        'motd = """',
        'fake = 1',
        '"""',
        '"quoted key" = 2',
        'a.b = 3',
        '[[module]]',
        '  name = "x" # trailing',
        '[[module]]',
        "name = 'y'",
      ].join('\n'),
    );
    assert.equal(lines.get('daemon'), 2);
    assert.equal(lines.get('daemon.motd'), 3);
    assert.equal(lines.get('daemon.fake'), undefined);
    assert.equal(lines.get('daemon.quoted key'), 6);
    assert.equal(lines.get('daemon.a.b'), 7);
    assert.equal(lines.get('module[0]'), 8);
    assert.equal(lines.get('module[0].name'), 9);
    assert.equal(lines.get('module[1].name'), 11);
  });
});

describe('parseConfig: TLS and allow lists', () => {
  const ALICE = `SHA256:${'a'.repeat(43)}`;

  test('tls, data_tls, state_dir, cert and key in [daemon]; allow and data_tls per module', () => {
    const config = parse(`
[daemon]
tls = true
data_tls = false
state_dir = "state"
cert = "tls/cert.pem"
key = "/keys/key.pem"

[[module]]
name = "m"
path = "/srv/m"
allow = ["${ALICE}", "*"]
data_tls = true
`);
    assert.equal(config.tls, true);
    assert.equal(config.dataTls, false);
    assert.equal(config.stateDir, '/etc/blit/state');
    assert.equal(config.certFile, '/etc/blit/tls/cert.pem');
    assert.equal(config.keyFile, '/keys/key.pem');
    assert.deepEqual(config.modules[0]?.allow, [ALICE, '*']);
    assert.equal(config.modules[0]?.dataTls, true);
  });

  test('an allow entry that is no identity is refused at its line', () => {
    refused(
      '[[module]]\nname = "m"\npath = "/srv/m"\nallow = ["alice"]\n',
      `${FILE}:4: module 'm': allow must be a list of client identities (blit id prints one) or ["*"]; "alice" is neither`,
    );
    refused(
      '[[module]]\nname = "m"\npath = "/srv/m"\nallow = "*"\n',
      `${FILE}:4: module 'm': allow must be a list of client identities (blit id prints one) or ["*"]`,
    );
  });

  test('cert without key, and a tls that is no boolean, are refused', () => {
    refused('[daemon]\ncert = "c.pem"\n', `${FILE}:2: daemon.cert and daemon.key go together`);
    refused('[daemon]\ntls = "yes"\n', `${FILE}:2: daemon.tls must be true or false`);
  });

  test('metrics: HOST:PORT or [IPV6]:PORT, port 0 allowed', () => {
    const metrics = (value: string) => parse(`[daemon]\nmetrics = "${value}"\n`).metrics;
    assert.deepEqual(metrics('127.0.0.1:9100'), { host: '127.0.0.1', port: 9100 });
    assert.deepEqual(metrics('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(metrics('localhost:65535'), { host: 'localhost', port: 65535 });
    assert.deepEqual(metrics('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
  });

  test('a wrong metrics address is refused at its line', () => {
    const forms = 'expected HOST:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9100';
    const at = (value: string) => `[daemon]\nport = 9031\nmetrics = ${value}\n`;
    refused(at('"127.0.0.1"'), `${FILE}:3: daemon.metrics: ${forms}`);
    refused(at('""'), `${FILE}:3: daemon.metrics: ${forms}`);
    refused(at('"::1:9100"'), `${FILE}:3: daemon.metrics: ${forms} (IPv6 addresses in brackets)`);
    refused(at('"[nothost]:9100"'), `${FILE}:3: daemon.metrics: "nothost" is not an IPv6 address`);
    refused(at('"bad host:9100"'), `${FILE}:3: daemon.metrics: "bad host" is not a host name or address`);
    refused(at('":9100"'), `${FILE}:3: daemon.metrics: "" is not a host name or address`);
    refused(
      at('"127.0.0.1:65536"'),
      `${FILE}:3: daemon.metrics: port "65536" is not a number from 0 to 65535`,
    );
    refused(at('"127.0.0.1:"'), `${FILE}:3: daemon.metrics: port "" is not a number from 0 to 65535`);
    refused(at('"127.0.0.1:http"'), `${FILE}:3: daemon.metrics: port "http" is not a number from 0 to 65535`);
    refused(at('9100'), `${FILE}:3: daemon.metrics must be a string`);
    refused(at('true'), `${FILE}:3: daemon.metrics must be a string`);
  });
});
