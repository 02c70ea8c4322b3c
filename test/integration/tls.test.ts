/**
 * TLS and client identities end to end, with the real CLI and a real blitd on 127.0.0.1
 * (`[daemon] tls = true` turns on there what a non-loopback bind always has): first contact is
 * refused without a terminal and names the fingerprint and the command; `blit trust` pins it;
 * push and pull then run over TLS, data sockets included; an identity a module does not list is
 * refused and changes nothing; a changed key and a pinned daemon that drops TLS are refused
 * loudly; a plain client gets nothing but "TLS required"; a non-loopback bind without allow lists
 * does not start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { createLogger } from '../../src/daemon/logger.js';
import { startServer } from '../../src/daemon/server.js';
import { BlitClient, Role, type TransferFrame } from '../../src/generated/blit.js';
import { localHello, TLS_REQUIRED } from '../../src/protocol/handshake.js';
import { fingerprintOf } from '../../src/tls/fingerprint.js';
import { loadIdentityFile } from '../../src/tls/key-store.js';
import { saveKnownHost } from '../../src/tls/known-hosts.js';
import { certificateDer, certificatePem, createSelfSigned } from '../../src/tls/self-signed.js';
import { nowMs } from '../../src/util/clock.js';
import { assertSameTree, isOneLineError, tempDir, writeFile } from '../helpers.js';
import { BLIT, type Daemon, runBlit, runBlitdSync, startDaemon } from './daemon-harness.js';
import { open } from './frames.js';

/**
 * Opens a Transfer straight away (no listing first, as a hostile client would) with the identity
 * kept in `configHome`, and says how the daemon answered: 'accepted', or its refusal.
 */
async function openTransfer(
  port: number,
  stateDir: string,
  configHome: string,
  module: string,
): Promise<string> {
  const daemonCert = loadIdentityFile(join(stateDir, 'identity.pem')).certPem;
  const mine = loadIdentityFile(join(configHome, 'blit', 'identity.pem'));
  const grpc = new BlitClient(
    `127.0.0.1:${port}`,
    credentials.createSsl(Buffer.from(daemonCert), Buffer.from(mine.keyPem), Buffer.from(mine.certPem), {
      checkServerIdentity: () => undefined,
    }),
    { 'grpc.ssl_target_name_override': 'blitd' },
  );
  try {
    const stream = grpc.transfer();
    const answer = new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('no answer within 15 s'), 15_000);
      const settle = (text: string) => {
        clearTimeout(timer);
        resolve(text);
      };
      stream.on('data', (frame: TransferFrame) => {
        if (frame.body?.$case === 'accept') settle('accepted');
        if (frame.body?.$case === 'error') settle(frame.body.value.message);
      });
      stream.on('error', (error: Error) => settle(error.message));
    });
    stream.write({ role: Role.ROLE_SOURCE, body: { $case: 'hello', value: localHello('blit') } });
    stream.write({ role: Role.ROLE_SOURCE, body: open(module, 'x') });
    const result = await answer;
    stream.cancel();
    return result;
  } finally {
    grpc.close();
  }
}

/**
 * Runs `blit ARGS` on a terminal (a pty from util-linux's script(1)) and types `answer`: what the
 * terminal showed, and the exit code.
 */
async function onTerminal(args: string[], env: Record<string, string>, answer: string) {
  const command = [process.execPath, BLIT, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let shown = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    shown += chunk;
    if (!answered && shown.includes('[y/N]')) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = await once(child, 'close');
  clearTimeout(timer);
  return { status: code as number, shown };
}

/** A client with its own config directory (identity and known hosts). */
function client(t: { after(fn: () => void): void }) {
  const env = { XDG_CONFIG_HOME: tempDir(t, 'blit-tls-client-') };
  return {
    env,
    run: (args: string[]) => runBlit(args, { env }),
    async id(): Promise<string> {
      const result = await runBlit(['id'], { env });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.trim();
    },
  };
}

function fingerprintLogged(daemon: Daemon): string {
  const line = daemon
    .log()
    .split('\n')
    .find((l) => l.includes('"msg":"listening"'))!;
  const fingerprint = (JSON.parse(line) as { fingerprint?: string }).fingerprint;
  assert.ok(fingerprint, 'blitd logs its fingerprint when TLS is on');
  return fingerprint;
}

/** Trees for the daemon: a writable module `m` for `allowed`, a read-only `pub` open to any TLS client. */
function tlsSetup(t: { after(fn: () => void): void }, allowed: string[]) {
  const root = tempDir(t, 'blit-tls-');
  const mod = join(root, 'mod');
  const pub = join(root, 'pub');
  mkdirSync(mod);
  writeFile(join(pub, 'readme.txt'), 'public\n');
  const config = join(root, 'blitd.toml');
  writeFile(
    config,
    `[daemon]\ntls = true\nstate_dir = "state"\n\n` +
      `[[module]]\nname = "m"\npath = "mod"\nallow = [${allowed.map((a) => JSON.stringify(a)).join(', ')}]\n\n` +
      `[[module]]\nname = "pub"\npath = "pub"\nread_only = true\n`,
  );
  return { root, mod, pub, config };
}

describe('TLS and client identities', () => {
  test('blit id: one identity per config directory, created once, private', async (t) => {
    const alice = client(t);
    const first = await alice.id();
    assert.match(first, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(await alice.id(), first);
    assert.equal(statSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'identity.pem')).mode & 0o777, 0o600);
    assert.notEqual(await client(t).id(), first);
  });

  test('first contact, trust, push and pull over TLS; another identity is refused and changes nothing', async (t) => {
    const alice = client(t);
    const bob = client(t);
    const setup = tlsSetup(t, [await alice.id()]);
    const daemon = await startDaemon(t, ['--config', setup.config]);
    const fingerprint = fingerprintLogged(daemon);
    assert.equal(statSync(join(setup.root, 'state', 'identity.pem')).mode & 0o777, 0o600);
    const host = `127.0.0.1:${daemon.port}`;

    // No terminal: refused in one line that names the key and the command, and nothing is pinned.
    const unknown = await alice.run(['ls', `${host}:/m/`]);
    assert.equal(unknown.status, 1, unknown.stderr);
    assert.ok(isOneLineError(unknown.stderr), unknown.stderr);
    assert.ok(unknown.stderr.includes(`blit trust ${host} --fingerprint ${fingerprint}`), unknown.stderr);
    assert.ok(!existsSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'known_hosts')));
    const notAsked = await alice.run(['trust', host]);
    assert.equal(notAsked.status, 1, notAsked.stderr);
    assert.ok(isOneLineError(notAsked.stderr) && notAsked.stderr.includes(fingerprint), notAsked.stderr);
    const wrong = await alice.run(['trust', host, '--fingerprint', `SHA256:${'x'.repeat(43)}`]);
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.match(wrong.stderr, /REFUSED/);
    assert.ok(!existsSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'known_hosts')));

    const trusted = await alice.run(['trust', host, '--fingerprint', fingerprint]);
    assert.equal(trusted.status, 0, trusted.stderr);
    assert.match(
      readFileSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'known_hosts'), 'utf8'),
      new RegExp(`^${host} ${fingerprint.replace(/[+/]/g, '\\$&')} `),
    );

    // Push and pull: whole trees, file data on data sockets (encrypted: their tokens admit only TLS).
    const src = join(setup.root, 'src');
    writeFile(join(src, 'big.bin'), Buffer.alloc(3 << 20, 7));
    for (let i = 0; i < 40; i++) writeFile(join(src, 'small', `f${i}.txt`), `file ${i}\n`);
    writeFile(join(src, 'odd name\nwith newline'), 'odd\n');
    const push = await alice.run(['copy', `${src}/`, `${host}:/m/tree/`]);
    assert.equal(push.status, 0, push.stderr);
    assertSameTree(join(setup.mod, 'tree'), src, { ignoreRootMtime: true });
    const pulled = join(setup.root, 'pulled');
    const pull = await alice.run(['copy', `${host}:/m/tree/`, `${pulled}/`]);
    assert.equal(pull.status, 0, pull.stderr);
    assertSameTree(pulled, src, { ignoreRootMtime: true });
    const sessions = daemon
      .log()
      .split('\n')
      .filter((l) => l.includes('"rpc":"transfer"') && l.includes('"code":"OK"'))
      .map(
        (l) => JSON.parse(l) as { dataSockets?: number; dataTls?: boolean; tls?: boolean; identity?: string },
      );
    assert.equal(sessions.length, 2);
    for (const session of sessions) {
      assert.equal(session.tls, true);
      assert.equal(session.dataTls, true);
      assert.ok((session.dataSockets ?? 0) >= 1, `data sockets used: ${JSON.stringify(session)}`);
      assert.equal(session.identity, await alice.id());
    }

    // Bob's identity is not in m's list: refused in one line, nothing written; pub is open to him.
    assert.equal((await bob.run(['trust', host, '--yes'])).status, 0);
    const before = readdirSync(setup.mod).sort();
    const listRefused = await bob.run(['ls', `${host}:/m/`]);
    assert.equal(listRefused.status, 1, listRefused.stderr);
    assert.ok(listRefused.stderr.includes(`does not admit identity ${await bob.id()}`), listRefused.stderr);
    // Straight to a Transfer, past the listing the CLI does first: refused all the same.
    const stateDir = join(setup.root, 'state');
    assert.match(
      await openTransfer(daemon.port, stateDir, bob.env.XDG_CONFIG_HOME, 'm'),
      /does not admit identity/,
    );
    assert.equal(await openTransfer(daemon.port, stateDir, alice.env.XDG_CONFIG_HOME, 'm'), 'accepted');
    const refused = await bob.run(['copy', `${src}/`, `${host}:/m/bob/`]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.ok(isOneLineError(refused.stderr), refused.stderr);
    assert.ok(refused.stderr.includes(`does not admit identity ${await bob.id()}`), refused.stderr);
    assert.deepEqual(readdirSync(setup.mod).sort(), before);
    const pullRefused = await bob.run(['copy', `${host}:/m/tree/`, join(setup.root, 'bob-pull')]);
    assert.equal(pullRefused.status, 1, pullRefused.stderr);
    assert.ok(!existsSync(join(setup.root, 'bob-pull')));
    const rmRefused = await bob.run(['rm', '--yes', `${host}:/m/tree/big.bin`]);
    assert.equal(rmRefused.status, 1, rmRefused.stderr);
    assert.ok(existsSync(join(setup.mod, 'tree', 'big.bin')));
    const modules = await bob.run(['list-modules', host]);
    assert.equal(modules.status, 0, modules.stderr);
    assert.match(modules.stdout, /^pub /m);
    assert.doesNotMatch(modules.stdout, /^m /m);
    const listing = await bob.run(['ls', `${host}:/pub/`]);
    assert.equal(listing.status, 0, listing.stderr);
    assert.match(listing.stdout, /readme\.txt/);
  });

  test('on a terminal, first contact shows the fingerprint and asks; a changed key asks to replace', async (t) => {
    const alice = client(t);
    const setup = tlsSetup(t, [await alice.id()]);
    const daemon = await startDaemon(t, ['--config', setup.config]);
    const fingerprint = fingerprintLogged(daemon);
    const host = `127.0.0.1:${daemon.port}`;
    const declined = await onTerminal(['ls', `${host}:/pub/`], alice.env, 'n');
    assert.equal(declined.status, 1, declined.shown);
    assert.ok(declined.shown.includes(`Its key fingerprint is ${fingerprint}`), declined.shown);
    assert.ok(!existsSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'known_hosts')));
    const accepted = await onTerminal(['ls', `${host}:/pub/`], alice.env, 'y');
    assert.equal(accepted.status, 0, accepted.shown);
    assert.match(accepted.shown, /readme\.txt/);
    assert.ok(
      readFileSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'known_hosts'), 'utf8').includes(fingerprint),
    );

    const impostor = new X509Certificate(createSelfSigned('impostor').certPem).raw;
    saveKnownHost({ target: host, fingerprint: fingerprintOf(impostor), certificate: impostor }, alice.env);
    const kept = await onTerminal(['trust', host], alice.env, 'n');
    assert.equal(kept.status, 1, kept.shown);
    assert.match(kept.shown, /WARNING: blitd at .* now presents a different key/);
    assert.ok(
      readFileSync(join(alice.env.XDG_CONFIG_HOME, 'blit', 'known_hosts'), 'utf8').includes(
        fingerprintOf(impostor),
      ),
    );
    const replaced = await onTerminal(['trust', host], alice.env, 'y');
    assert.equal(replaced.status, 0, replaced.shown);
    assert.equal((await alice.run(['ls', `${host}:/pub/`])).status, 0);
  });

  test('stalls before authentication: a partial ClientHello, or silence after the handshake, is closed after the handshake time; random TLS records are closed', async (t) => {
    const handshakeMs = 300;
    const root = tempDir(t);
    const running = await startServer(
      {
        bind: '127.0.0.1',
        port: 0,
        motd: '',
        logLevel: 'silent',
        tls: true,
        stateDir: join(root, 'state'),
        modules: [{ name: 'm', path: root, readOnly: false, comment: '', allow: ['*'] }],
      },
      createLogger('silent'),
      { handshakeMs },
    );
    t.after(() => running.stop());
    const closedAfter = (socket: import('node:net').Socket) =>
      new Promise<number>((resolve, reject) => {
        const started = nowMs();
        const timer = setTimeout(() => reject(new Error('not closed within 10 s')), 10_000);
        socket.on('error', () => {});
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(nowMs() - started);
        });
      });

    // A ClientHello that never completes.
    const partial = connect({ host: '127.0.0.1', port: running.port });
    const partialClosed = closedAfter(partial);
    let answered = 0;
    partial.on('data', (chunk: Buffer) => {
      answered += chunk.length;
    });
    partial.write(Buffer.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01));
    assert.ok((await partialClosed) >= handshakeMs - 5);
    assert.equal(answered, 0, 'nothing is sent to a half ClientHello');

    // Random bytes after a TLS record header: closed (an alert at most), never a crash.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300 }), async (bytes) => {
        const socket = connect({ host: '127.0.0.1', port: running.port });
        const closed = closedAfter(socket);
        socket.resume(); // An alert may come first: read it, or the close is never seen.
        socket.write(Buffer.concat([Buffer.of(0x16, 0x03), Buffer.from(bytes)]));
        await closed;
      }),
      { numRuns: 30 },
    );

    // A whole handshake, then nothing: closed once the handshake time runs out on the inner bytes.
    const silent = connectTls({
      host: '127.0.0.1',
      port: running.port,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
    });
    const silentClosed = closedAfter(silent);
    await once(silent, 'secureConnect');
    assert.ok((await silentClosed) >= handshakeMs - 5);

    // Still serving TLS after all that.
    const alive = connectTls({
      host: '127.0.0.1',
      port: running.port,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
    });
    alive.on('error', () => {});
    await once(alive, 'secureConnect');
    alive.destroy();
  });

  test('a plain client gets nothing but "TLS required" from a daemon with TLS on', async (t) => {
    const setup = tlsSetup(t, ['*']);
    const daemon = await startDaemon(t, ['--config', setup.config]);
    const grpc = new BlitClient(`127.0.0.1:${daemon.port}`, credentials.createInsecure());
    t.after(() => grpc.close());
    const error = await new Promise<{ code?: number; details?: string }>((resolve) => {
      grpc.ping(
        { hello: localHello('blit'), probes: [] },
        new Metadata(),
        { deadline: new Date(Date.now() + 10_000) },
        (e) => resolve(e ?? {}),
      );
    });
    assert.equal(error.code, status.UNAUTHENTICATED);
    assert.equal(error.details, TLS_REQUIRED);
    const modules = await new Promise<{ code?: number }>((resolve) => {
      grpc.listModules({}, new Metadata(), { deadline: new Date(Date.now() + 10_000) }, (e) =>
        resolve(e ?? {}),
      );
    });
    assert.equal(modules.code, status.UNAUTHENTICATED);
  });

  test('a changed key, and a pinned daemon that no longer speaks TLS, are refused loudly', async (t) => {
    const alice = client(t);
    const setup = tlsSetup(t, [await alice.id()]);
    const daemon = await startDaemon(t, ['--config', setup.config]);
    const host = `127.0.0.1:${daemon.port}`;
    const impostor = new X509Certificate(createSelfSigned('impostor').certPem).raw;
    saveKnownHost({ target: host, fingerprint: fingerprintOf(impostor), certificate: impostor }, alice.env);
    const changed = await alice.run(['copy', join(setup.pub), `${host}:/m/x/`]);
    assert.equal(changed.status, 1, changed.stderr);
    assert.ok(isOneLineError(changed.stderr), changed.stderr);
    assert.ok(
      changed.stderr.includes(`REFUSED: blitd at ${host} presents key ${fingerprintLogged(daemon)}`),
      changed.stderr,
    );
    assert.ok(changed.stderr.includes(`pins ${fingerprintOf(impostor)}`), changed.stderr);
    assert.ok(!existsSync(join(setup.mod, 'x')));
    // `--yes` never replaces a pinned key.
    const yes = await alice.run(['trust', host, '--yes']);
    assert.equal(yes.status, 1, yes.stderr);

    const plainRoot = tempDir(t);
    const plain = await startDaemon(t, ['--root', plainRoot]);
    const plainHost = `127.0.0.1:${plain.port}`;
    saveKnownHost(
      { target: plainHost, fingerprint: fingerprintOf(impostor), certificate: impostor },
      alice.env,
    );
    const downgraded = await alice.run(['ls', `${plainHost}:/default/`]);
    assert.equal(downgraded.status, 1, downgraded.stderr);
    assert.ok(isOneLineError(downgraded.stderr), downgraded.stderr);
    assert.match(downgraded.stderr, /REFUSED: .* no longer speaks TLS/);
  });

  test('a configured certificate chain (daemon certificate issued by a CA): pinned by its key, used for transfers', async (t) => {
    const root = tempDir(t, 'blit-tls-chain-');
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const daemonKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = new Date();
    const caCert = certificateDer({
      spki: ca.publicKey.export({ type: 'spki', format: 'der' }),
      subject: 'test CA',
      issuer: 'test CA',
      signer: ca.privateKey,
      ca: true,
      now,
    });
    const leafCert = certificateDer({
      spki: daemonKey.publicKey.export({ type: 'spki', format: 'der' }),
      subject: 'blitd.example',
      issuer: 'test CA',
      signer: ca.privateKey,
      ca: false,
      now,
    });
    writeFile(join(root, 'key.pem'), daemonKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFile(join(root, 'chain.pem'), certificatePem(leafCert) + certificatePem(caCert));
    writeFile(join(root, 'leaf-only.pem'), certificatePem(leafCert));
    mkdirSync(join(root, 'mod'));
    const alice = client(t);
    const config = (cert: string) => {
      const file = join(root, `${cert}.toml`);
      writeFile(
        file,
        `[daemon]\ntls = true\ncert = "${cert}"\nkey = "key.pem"\n\n[[module]]\nname = "m"\npath = "mod"\nallow = ["*"]\n`,
      );
      return file;
    };
    // Without its root, clients could not anchor the chain: refused at start, in one line.
    const leafOnly = runBlitdSync(['--config', config('leaf-only.pem'), '--port', '0']);
    assert.equal(leafOnly.status, 1);
    assert.match(leafOnly.stderr, /^blitd: .*leaf-only\.pem: the chain does not end in its root/);

    const daemon = await startDaemon(t, ['--config', config('chain.pem')]);
    const fingerprint = fingerprintLogged(daemon);
    assert.equal(fingerprint, fingerprintOf(leafCert), "the daemon's own key is the one logged and pinned");
    const host = `127.0.0.1:${daemon.port}`;
    assert.equal((await alice.run(['trust', host, '--fingerprint', fingerprint])).status, 0);
    writeFile(join(root, 'src', 'file.txt'), 'over a configured chain\n');
    const push = await alice.run(['copy', `${join(root, 'src')}/`, `${host}:/m/dst/`]);
    assert.equal(push.status, 0, push.stderr);
    assert.equal(readFileSync(join(root, 'mod', 'dst', 'file.txt'), 'utf8'), 'over a configured chain\n');
  });

  test('data_tls = false on a module: its data sockets in the clear (zero-copy), the control connection still TLS', async (t) => {
    const alice = client(t);
    const root = tempDir(t, 'blit-tls-opt-out-');
    mkdirSync(join(root, 'clear'));
    mkdirSync(join(root, 'sealed'));
    const config = join(root, 'blitd.toml');
    writeFile(
      config,
      `[daemon]\ntls = true\nstate_dir = "state"\n\n` +
        `[[module]]\nname = "clear"\npath = "clear"\nallow = ["*"]\ndata_tls = false\n\n` +
        `[[module]]\nname = "sealed"\npath = "sealed"\nallow = ["*"]\n`,
    );
    const daemon = await startDaemon(t, ['--config', config]);
    const host = `127.0.0.1:${daemon.port}`;
    assert.equal((await alice.run(['trust', host, '--fingerprint', fingerprintLogged(daemon)])).status, 0);
    const src = join(root, 'src');
    writeFile(join(src, 'big.bin'), Buffer.alloc(2 << 20, 3));
    for (const module of ['clear', 'sealed']) {
      const push = await alice.run(['copy', `${src}/`, `${host}:/${module}/tree/`]);
      assert.equal(push.status, 0, push.stderr);
      assertSameTree(join(root, module, 'tree'), src, { ignoreRootMtime: true });
    }
    const sessions = daemon
      .log()
      .split('\n')
      .filter((l) => l.includes('"rpc":"transfer"') && l.includes('"code":"OK"'))
      .map((l) => JSON.parse(l) as { module: string; tls: boolean; dataTls: boolean; dataSockets: number });
    assert.deepEqual(
      sessions.map((s) => [s.module, s.tls, s.dataTls, s.dataSockets > 0]),
      [
        ['clear', true, false, true],
        ['sealed', true, true, true],
      ],
    );
  });

  test('a non-loopback bind refuses to start with a writable module and no allow list', (t) => {
    const root = tempDir(t);
    const quick = runBlitdSync([
      '--root',
      root,
      '--bind',
      '0.0.0.0',
      '--port',
      '0',
      '--state-dir',
      join(root, 's'),
    ]);
    assert.equal(quick.status, 1);
    assert.match(
      quick.stderr,
      /^blitd: module 'default' is writable but has no allow list, and blitd listens on 0\.0\.0\.0/,
    );
    assert.equal(quick.stderr.trimEnd().split('\n').length, 1);
    assert.ok(!existsSync(join(root, 's')), 'nothing created before refusing');
    const config = join(root, 'blitd.toml');
    writeFile(
      config,
      `[daemon]\nbind = "0.0.0.0"\ntls = false\n\n[[module]]\nname = "m"\npath = "."\nread_only = true\n`,
    );
    const cleartext = runBlitdSync(['--config', config, '--port', '0']);
    assert.equal(cleartext.status, 1);
    assert.match(cleartext.stderr, /^blitd: daemon\.tls = false is allowed only on a loopback address/);
  });
});
