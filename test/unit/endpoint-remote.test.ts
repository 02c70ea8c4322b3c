/** Remote endpoint syntax: HOST:/MODULE/PATH, HOST:PORT:/…, [IPV6]:PORT:/…, and daemon addresses. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readPathArgument } from '../../src/cli/local-lookalike.js';
import {
  DEFAULT_PORT,
  dialTarget,
  formatRemotePath,
  looksRemote,
  parseDaemonAddress,
  parseRemotePath,
} from '../../src/remote/endpoint.js';
import { BlitError } from '../../src/util/errors.js';

function fails(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (error: unknown) => error instanceof BlitError && message.test(error.message));
}

describe('parseRemotePath', () => {
  test('host:/module/path takes the default port', () => {
    assert.deepEqual(parseRemotePath('server:/data/a/b.txt'), {
      host: 'server',
      port: DEFAULT_PORT,
      module: 'data',
      path: 'a/b.txt',
      trailingSlash: false,
      spec: 'server:/data/a/b.txt',
    });
  });

  test('host:port:/module/path', () => {
    const parsed = parseRemotePath('10.0.0.7:9100:/backup/');
    assert.equal(parsed.host, '10.0.0.7');
    assert.equal(parsed.port, 9100);
    assert.equal(parsed.module, 'backup');
    assert.equal(parsed.path, '');
    assert.equal(parsed.trailingSlash, true);
  });

  test('[ipv6]:port:/module/path and [ipv6]:/module/path', () => {
    const parsed = parseRemotePath('[fe80::1%eth0]:9031:/m/x/y');
    assert.equal(parsed.host, 'fe80::1%eth0');
    assert.equal(parsed.port, 9031);
    assert.equal(parsed.module, 'm');
    assert.equal(parsed.path, 'x/y');
    assert.equal(parseRemotePath('[::1]:/m').host, '::1');
    assert.equal(parseRemotePath('[::1]:/m').port, DEFAULT_PORT);
    assert.equal(parseRemotePath('[::ffff:10.0.0.1]:1:/m').host, '::ffff:10.0.0.1');
  });

  test("empty and '.' components are dropped; '..' is kept for the daemon to refuse", () => {
    assert.equal(parseRemotePath('h:/m//a/./b/').path, 'a/b');
    assert.equal(parseRemotePath('h:/m/a/../b').path, 'a/../b');
    assert.equal(parseRemotePath('h://m').module, 'm');
  });

  test('names keep their bytes: spaces, backslashes, colons, unicode', () => {
    assert.equal(parseRemotePath('h:/m/a b\\c:d/é').path, 'a b\\c:d/é');
  });

  test('malformed endpoints are refused with the accepted forms', () => {
    fails(() => parseRemotePath('h:/'), /no module named/);
    fails(() => parseRemotePath('h:/..'), /'\.\.' is not a module name/);
    fails(() => parseRemotePath('h:0:/m'), /port "0" is not a number from 1 to 65535/);
    fails(() => parseRemotePath('h:65536:/m'), /port "65536"/);
    fails(() => parseRemotePath('h:http:/m'), /port "http"/);
    fails(() => parseRemotePath('::1:/m'), /write IPv6 addresses in brackets/);
    fails(() => parseRemotePath('[::1:/m'), /missing '\]'/);
    fails(() => parseRemotePath('[nothex]:/m'), /is not an IPv6 address/);
    fails(() => parseRemotePath('[::1]x:/m'), /expected HOST:\/MODULE\/PATH/);
    fails(() => parseRemotePath('bad host:/m'), /"bad host" is not a host name/);
    fails(() => parseRemotePath('-h:/m'), /is not a host name/);
    fails(() => parseRemotePath('/local/path'), /not a remote path/);
    fails(() => parseRemotePath('./h:/m'), /not a remote path/);
  });

  test('format and parse agree (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const host = fc.oneof(
      fc.array(label, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.')),
      fc.ipV4(),
      fc.ipV6(),
    );
    const component = fc.stringMatching(/^[^/\0]{1,12}$/).filter((c) => c !== '.' && c !== '..');
    fc.assert(
      fc.property(
        host,
        fc.integer({ min: 1, max: 65535 }),
        component,
        fc.array(component, { maxLength: 4 }),
        (h, port, module, parts) => {
          const path = parts.join('/');
          const parsed = parseRemotePath(formatRemotePath({ host: h, port }, module, path));
          assert.deepEqual([parsed.host, parsed.port, parsed.module, parsed.path], [h, port, module, path]);
        },
      ),
    );
  });
});

describe('parseDaemonAddress', () => {
  test('host, host:port, [ipv6], [ipv6]:port', () => {
    assert.deepEqual(parseDaemonAddress('nas'), { host: 'nas', port: DEFAULT_PORT });
    assert.deepEqual(parseDaemonAddress('nas.local:9100'), { host: 'nas.local', port: 9100 });
    assert.deepEqual(parseDaemonAddress('[::1]'), { host: '::1', port: DEFAULT_PORT });
    assert.deepEqual(parseDaemonAddress('[2001:db8::2]:7'), { host: '2001:db8::2', port: 7 });
  });

  test('refuses paths, bare IPv6 and bad ports', () => {
    fails(() => parseDaemonAddress(''), /daemon address is empty/);
    fails(() => parseDaemonAddress('nas:/m'), /expected HOST, HOST:PORT or \[IPV6\]:PORT/);
    fails(() => parseDaemonAddress('::1'), /brackets/);
    fails(() => parseDaemonAddress('nas:'), /port "" is not a number/);
  });

  test('dialTarget brackets IPv6 hosts', () => {
    assert.equal(dialTarget({ host: '::1', port: 5 }), '[::1]:5');
    assert.equal(dialTarget({ host: 'nas', port: 5 }), 'nas:5');
  });
});

describe('looksRemote and local lookalikes', () => {
  test("remote means ':/' before any other '/'", () => {
    assert.equal(looksRemote('h:/m'), true);
    assert.equal(looksRemote('h:9:/m'), true);
    assert.equal(looksRemote('[::1]:9:/m'), true);
    assert.equal(looksRemote('./h:/m'), false);
    assert.equal(looksRemote('/abs/h:/m'), false);
    assert.equal(looksRemote('a:b'), false);
    assert.equal(looksRemote(':/x'), false);
    assert.equal(looksRemote('dir/a:/b'), false);
  });

  test('a remote-looking path whose first component is a local directory stays local, with a warning', () => {
    const isDir = (path: string) => path === 'foo:';
    assert.match(
      readPathArgument('foo:/bar', isDir).warning ?? '',
      /foo: is a local directory.*write \.\/foo:\/bar/,
    );
    assert.deepEqual(readPathArgument('foo:/bar', isDir).remote, false);
    assert.deepEqual(readPathArgument('./foo:/bar', isDir), { remote: false });
    assert.deepEqual(readPathArgument('plain/path', isDir), { remote: false });
  });

  test('a remote path is read as remote when no local directory has its host part as name', () => {
    assert.deepEqual(
      readPathArgument('host:/m/x', () => false),
      { remote: true },
    );
  });
});
