/**
 * blitd tells systemd how it is doing (src/daemon/readiness.ts): with $NOTIFY_SOCKET set, READY=1
 * once it listens, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 when it stops. Node cannot
 * bind an AF_UNIX datagram socket, so a python3 child stands in for systemd and prints each
 * datagram it receives as one JSON line. Both senders are tried: the addon's sdNotify and, with
 * BLIT_NO_NATIVE=1, the systemd-notify command (skipped where it is not installed).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon, nativeStatus } from '../../src/fsops/native.js';
import { tempDir } from '../helpers.js';
import { startDaemon } from './daemon-harness.js';

const WAIT_MS = 20_000;

const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind("\\0" + name[1:] if name.startswith("@") else name)
print(json.dumps("bound"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

/**
 * A stand-in for systemd's notify socket. `received(count)` waits (bounded) until blitd sent
 * `count` notifications and returns them all, without systemd-notify's own BARRIER=1 messages.
 */
async function notifySocket(t: { after(fn: () => unknown): void }, abstract: boolean) {
  const dir = tempDir(t, 'blit-notify-');
  // An abstract name ('@' for the leading NUL) as systemd may hand out, or a path.
  const path = abstract ? `@${dir}/notify` : join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  const lines = () =>
    text
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as string);
  const until = async (what: string, condition: () => boolean) => {
    const deadline = Date.now() + WAIT_MS;
    while (!condition()) {
      if (Date.now() > deadline || child.exitCode !== null)
        assert.fail(`${what}: ${JSON.stringify(lines())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until('the python3 listener did not start', () => lines()[0] === 'bound');
  const ours = () =>
    lines()
      .slice(1)
      .filter((m) => m !== 'BARRIER=1');
  const received = async (count: number): Promise<string[]> => {
    await until(`expected ${count} notifications`, () => ours().length >= count);
    return ours();
  };
  return { path, received };
}

const hasSystemdNotify = spawnSync('systemd-notify', ['--help'], { stdio: 'ignore' }).status === 0;

const senders: { name: string; env: Record<string, string>; skip: string | false }[] = [
  { name: 'the addon', env: {}, skip: nativeAddon() === undefined && `no addon: ${nativeStatus()}` },
  {
    name: 'systemd-notify',
    env: { BLIT_NO_NATIVE: '1' },
    skip: !hasSystemdNotify && 'systemd-notify is not installed',
  },
];

for (const [sender, abstract] of senders.flatMap(
  (s) =>
    [
      [s, false],
      [s, true],
    ] as const,
)) {
  test(`NOTIFY_SOCKET (${sender.name}, ${abstract ? 'abstract name' : 'path'}): READY=1 with the port once listening, RELOADING=1/READY=1 on SIGHUP, STOPPING=1`, {
    skip: sender.skip,
  }, async (t) => {
    const socket = await notifySocket(t, abstract);
    const daemon = await startDaemon(t, ['--root', tempDir(t, 'blit-ready-')], {
      NOTIFY_SOCKET: socket.path,
      ...sender.env,
    });
    // The status names the port the kernel picked: READY=1 was sent after the socket was bound.
    assert.deepEqual(await socket.received(1), [`READY=1\nSTATUS=listening on 127.0.0.1:${daemon.port}`]);

    daemon.process.kill('SIGHUP');
    const reload = (await socket.received(3)).slice(1);
    assert.match(reload[0]!, /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading$/);
    assert.equal(reload[1], `READY=1\nSTATUS=listening on 127.0.0.1:${daemon.port}; reloaded`);
    assert.match(daemon.log(), /"msg":"reloaded"/);

    assert.equal(await daemon.stop('SIGTERM'), 0);
    const all = await socket.received(4);
    assert.deepEqual(all.slice(3), ['STOPPING=1\nSTATUS=stopping']);
    assert.doesNotMatch(daemon.log(), /cannot notify systemd/);
  });
}
