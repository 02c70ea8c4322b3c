/**
 * `blit diagnostics dump` with the real CLI: it runs, has its sections, names the file system of
 * the paths given and the switches set, shows the last runs, and holds nothing secret: not the
 * client's private key (planted under a temp XDG_CONFIG_HOME), not the pinned daemons' keys from
 * known_hosts, not the rest of the environment.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fingerprintOf } from '../../src/tls/fingerprint.js';
import { formatKnownHost } from '../../src/tls/known-hosts.js';
import { createSelfSigned } from '../../src/tls/self-signed.js';
import { blit, isOneLineError, tempDir, writeFile } from '../helpers.js';

const SECTIONS = [
  'versions:',
  'system:',
  'file operations:',
  'transports:',
  'paths:',
  'limits:',
  'switches:',
  'config and state:',
  'last runs',
  'left out:',
];

/** The base64 body of a PEM block: the secret part of a key file. */
function pemBody(pem: string, label: string): string[] {
  const block = new RegExp(`-----BEGIN ${label}-----\\n([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  assert.ok(block, `no ${label} block`);
  return block[1]!.split('\n').filter((line) => line.length > 0);
}

test('diagnostics dump: every section, the paths and switches asked about, and no secret', (t) => {
  const config = tempDir(t, 'blit-dump-config-');
  const env = {
    XDG_CONFIG_HOME: config,
    BLIT_FORCE_GRPC_DATA: '1',
    DUMP_TEST_SECRET: 'hunter2-do-not-print',
  };
  // The client's identity, made as `blit id` makes it; a daemon pinned in known_hosts.
  assert.equal(blit(['id'], { env }).status, 0);
  const identity = readFileSync(join(config, 'blit', 'identity.pem'), 'utf8');
  const keyLines = pemBody(identity, 'PRIVATE KEY');
  const pinned = createSelfSigned('blitd');
  const pinnedDer = Buffer.from(pemBody(pinned.certPem, 'CERTIFICATE').join(''), 'base64');
  const fingerprint = fingerprintOf(pinnedDer);
  writeFileSync(
    join(config, 'blit', 'known_hosts'),
    `${formatKnownHost({ target: 'backup.example:9031', fingerprint, certificate: pinnedDer })}\n`,
  );
  // One run in the perf history.
  const data = tempDir(t, 'blit-dump-data-');
  writeFile(join(data, 'src', 'f'), 'x');
  assert.equal(blit(['copy', join(data, 'src'), join(data, 'dst')], { env }).status, 0);

  const result = blit(['diagnostics', 'dump', data, join(data, 'not-there')], { env });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  const text = result.stdout;
  let at = -1;
  for (const section of SECTIONS) {
    const found = text.indexOf(`\n${section}`);
    assert.ok(found > at, `section ${section} missing or out of order:\n${text}`);
    at = found;
  }
  assert.match(text, /^ {2}blit: +\d+\.\d+\.\d+ \(protocol \d+\)$/m);
  assert.match(text, new RegExp(`^  node: +${process.version.replace(/\./g, '\\.')} `, 'm'));
  assert.match(text, /^ {2}path: +(native addon|pure JS \(.+\))$/m);
  assert.match(text, /^ {2}data plane: +inside the control connection \(BLIT_FORCE_GRPC_DATA=1\)$/m);
  assert.match(text, /^ {2}BLIT_FORCE_GRPC_DATA: +1$/m);
  assert.match(text, /^ {2}open files: +soft \S+, hard \S+$/m);
  const fsType = spawnSync('df', ['--output=fstype', data], { encoding: 'utf8' });
  const expectedType = fsType.status === 0 ? fsType.stdout.trim().split('\n')[1]!.trim() : '\\S+';
  assert.match(text, new RegExp(`^  ${data}: +${expectedType}$`, 'm'));
  assert.match(text, new RegExp(`^  ${data}/not-there: +\\S+ \\(does not exist\\)$`, 'm'));
  assert.ok(text.includes(`${join(config, 'blit', 'identity.pem')} (present)`), text);
  assert.ok(text.includes(`${join(config, 'blit', 'known_hosts')} (present), 1 daemon(s) pinned`), text);
  assert.match(text, /perf history: .* 1 run\(s\)/);
  assert.match(text, /^ {2}\S+ \S+ +copy +/m);

  // Nothing secret, in the text or the JSON.
  const json = blit(['diagnostics', 'dump', data, '--json'], { env });
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as {
    paths: { path: string; fsType: string }[];
    lastRuns: unknown[];
  };
  assert.equal(parsed.paths[0]?.path, data);
  assert.equal(parsed.lastRuns.length, 1);
  for (const output of [text, json.stdout]) {
    for (const line of keyLines) assert.ok(!output.includes(line), `private key text in the dump: ${line}`);
    assert.ok(!output.includes('PRIVATE KEY'));
    assert.ok(!output.includes(fingerprint), 'a pinned fingerprint in the dump');
    assert.ok(!output.includes('backup.example'), 'a pinned host in the dump');
    assert.ok(
      !output.includes(pinnedDer.toString('base64').slice(0, 40)),
      'a pinned certificate in the dump',
    );
    assert.ok(!output.includes('hunter2'), 'the environment in the dump');
  }
  assert.match(text, /left out:\n {2}key material/);
});

test('diagnostics dump says when the pure-JS path is in use and why', (t) => {
  const result = blit(['diagnostics', 'dump'], {
    env: { XDG_CONFIG_HOME: tempDir(t, 'blit-dump-config-'), BLIT_NO_NATIVE: '1' },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^ {2}path: +pure JS \(BLIT_NO_NATIVE=1\)$/m);
  assert.match(result.stdout, /^ {2}data plane: +TCP data sockets .*buffered \(pure JS\)/m);
  assert.match(result.stdout, /^ {2}identity: +.* \(absent\)$/m);
  assert.match(result.stdout, /last runs \(perf history, newest last\): none/);
});

test('diagnostics dump refuses a remote path in one line: it describes this machine', (t) => {
  const result = blit(['diagnostics', 'dump', '127.0.0.1:9:/m1'], {
    env: { XDG_CONFIG_HOME: tempDir(t, 'blit-dump-config-') },
  });
  assert.equal(result.status, 1, result.stdout);
  assert.ok(isOneLineError(result.stderr), result.stderr);
  assert.match(result.stderr, /127\.0\.0\.1:9:\/m1: a remote path; diagnostics dump describes this machine/);
  assert.equal(result.stdout, '');
});
