/**
 * Ping's kind probes (daemon/kind-probes.ts): each is answered as List would answer it, through
 * the addon and without it; what List refuses is answered "not known"; a Ping with too many is
 * refused. A transfer's path rules then need no List call, and fall back to one for a path the
 * handshake did not answer.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  BlitClient,
  EntryKind,
  type KindProbe,
  type ListResponse,
  type PingResponse,
  type ProbedKind,
} from '../../src/generated/blit.js';
import { localHello, MAX_KIND_PROBES } from '../../src/protocol/handshake.js';
import { tempDir } from '../helpers.js';
import { type Daemon, runBlit, startDaemon } from './daemon-harness.js';

const deadline = () => new Date(Date.now() + 10_000);

function unary<Res>(invoke: (callback: (e: ServiceError | null, r: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => invoke((e, r) => (e ? reject(e) : resolve(r))));
}

/** The RPC names the daemon logged, in order. */
function rpcsLogged(daemon: Daemon): string[] {
  return daemon
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { rpc?: string }).rpc)
    .filter((rpc): rpc is string => rpc !== undefined);
}

/** A probe's answer as the client reads it (RemoteClient.kindOf), or 'not known'. */
function answered(kind: ProbedKind): string {
  if (!kind.known) return 'not known';
  return kind.missing ? 'missing' : EntryKind[kind.kind];
}

/** What List says of `path`, as RemoteClient.kindOf reads it; 'not known' for any other refusal. */
async function listSays(client: BlitClient, module: string, path: string, follow: boolean): Promise<string> {
  try {
    const response = await unary<ListResponse>((cb) =>
      client.list(
        { module, path, startAfter: '', limit: 1, noFollow: !follow },
        new Metadata(),
        { deadline: deadline() },
        cb,
      ),
    );
    if (response.isDirectory) return EntryKind[EntryKind.ENTRY_KIND_DIRECTORY];
    return EntryKind[response.entries[0]!.kind];
  } catch (error) {
    return (error as ServiceError).code === status.NOT_FOUND ? 'missing' : 'not known';
  }
}

describe('kind probes', () => {
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) };
  let root: string;
  let moduleDir: string;
  const daemons: { name: string; daemon: Daemon; client: BlitClient }[] = [];

  before(async () => {
    root = tempDir(suite);
    moduleDir = join(root, 'module');
    mkdirSync(join(moduleDir, 'dir', 'sub'), { recursive: true });
    writeFileSync(join(moduleDir, 'file'), 'data');
    writeFileSync(join(root, 'outside-file'), 'secret');
    symlinkSync('file', join(moduleDir, 'to-file'));
    symlinkSync('dir', join(moduleDir, 'to-dir'));
    symlinkSync('nothing', join(moduleDir, 'dangling'));
    symlinkSync(root, join(moduleDir, 'up'));
    for (const [name, env] of [
      ['addon', {}],
      ['no addon', { BLIT_NO_NATIVE: '1' }],
    ] as const) {
      const daemon = await startDaemon(suite, ['--root', moduleDir], env);
      const client = new BlitClient(`127.0.0.1:${daemon.port}`, credentials.createInsecure());
      suite.after(() => client.close());
      daemons.push({ name, daemon, client });
    }
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  const ping = (client: BlitClient, probes: KindProbe[]) =>
    unary<PingResponse>((cb) =>
      client.ping({ hello: localHello('blit'), probes }, new Metadata(), { deadline: deadline() }, cb),
    );

  test('each probe is answered as List answers it; what List refuses is not known', async () => {
    const paths = [
      '',
      'file',
      'dir',
      'dir/sub',
      'to-file',
      'to-dir',
      'dangling',
      'missing',
      'missing/deeper',
      'file/below-a-file',
      'to-dir/sub',
      'up',
      'up/outside-file',
      '../outside-file',
      '/etc',
    ];
    for (const { name, client } of daemons) {
      for (const follow of [true, false]) {
        const probes = paths.map((path) => ({ module: 'default', path, follow }));
        for (let at = 0; at < probes.length; at += MAX_KIND_PROBES) {
          const chunk = probes.slice(at, at + MAX_KIND_PROBES);
          const { kinds } = await ping(client, chunk);
          assert.equal(kinds.length, chunk.length);
          for (const [i, probe] of chunk.entries()) {
            const expected = await listSays(client, 'default', probe.path, follow);
            assert.equal(answered(kinds[i]!), expected, `${name}, ${JSON.stringify(probe)}`);
          }
        }
      }
      // A few answers spelled out, so that List and the probes cannot drift together unseen.
      const { kinds } = await ping(client, [
        { module: 'default', path: 'to-dir', follow: true },
        { module: 'default', path: 'to-dir', follow: false },
        { module: 'default', path: 'dangling', follow: true },
        { module: 'default', path: 'missing', follow: true },
        { module: 'default', path: 'up', follow: true },
        { module: 'nope', path: 'file', follow: true },
        { module: '', path: 'file', follow: true },
      ]);
      assert.deepEqual(
        kinds.map(answered),
        [
          'ENTRY_KIND_DIRECTORY',
          'ENTRY_KIND_SYMLINK',
          'ENTRY_KIND_SYMLINK',
          'missing',
          'not known',
          'not known',
          'not known',
        ],
        name,
      );
    }
  });

  test(`probes past the first ${MAX_KIND_PROBES} are not known, and the handshake goes on`, async () => {
    const { client } = daemons[0]!;
    const probes = Array.from({ length: MAX_KIND_PROBES + 3 }, () => ({
      module: 'default',
      path: 'file',
      follow: true,
    }));
    const response = await ping(client, probes);
    assert.ok(response.hello, 'the handshake is answered');
    assert.deepEqual(response.kinds.map(answered), [
      ...Array.from({ length: MAX_KIND_PROBES }, () => 'ENTRY_KIND_FILE'),
      'not known',
      'not known',
      'not known',
    ]);
  });

  test('a push and a pull resolve their paths without a List call; a path not answered is asked', async () => {
    const { daemon } = daemons[0]!;
    const remote = (path: string) => `127.0.0.1:${daemon.port}:/default/${path}`;
    const src = join(root, 'src');
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(src, 'a', 'one'), 'one');
    const before = rpcsLogged(daemon).length;

    const cases: [string, string, string][] = [
      [`${src}/`, remote('pushed'), join(moduleDir, 'pushed', 'a', 'one')],
      [src, remote('dir'), join(moduleDir, 'dir', 'src', 'a', 'one')],
      [join(src, 'a', 'one'), remote('single'), join(moduleDir, 'single')],
      [remote('pushed/'), join(root, 'pulled'), join(root, 'pulled', 'a', 'one')],
      [remote('file'), join(root, 'pulled-file'), join(root, 'pulled-file')],
    ];
    for (const [from, to, landed] of cases) {
      const result = await runBlit(['copy', from, to]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(existsSync(landed), true, `${from} -> ${to}: ${landed}`);
    }
    assert.equal(readFileSync(join(root, 'pulled-file'), 'utf8'), 'data');
    const rpcs = rpcsLogged(daemon).slice(before);
    assert.deepEqual(
      rpcs.filter((rpc) => rpc !== 'transfer'),
      cases.map(() => 'ping'),
      `calls: ${rpcs.join(', ')}`,
    );

    // A link leading outside: not answered with the handshake; List says why, as before.
    const refused = await runBlit(['copy', `${src}/`, remote('up/x')]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /symbolic link leads outside the module/);
    assert.equal(rpcsLogged(daemon).slice(before).includes('list'), true);
  });
});
