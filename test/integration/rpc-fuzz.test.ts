/**
 * Random bytes to every RPC of a real blitd (fast-check): each request is answered with a refusal
 * of one bounded line (or served, where the bytes happen to decode to a valid request), never an
 * internal error or a crash, and the daemon serves a well-formed client afterwards. The module is
 * read-only, so no random Purge can remove anything; random first bytes on the raw port are
 * closed with nothing sent.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { RemoteClient } from '../../src/remote/client.js';
import { snapshot, tempDir } from '../helpers.js';
import { startDaemon } from './daemon-harness.js';
import { rawBlitClient } from './raw-client.js';

const METHODS = ['Ping', 'ListModules', 'List', 'Purge'] as const;
type Raw = Record<
  string,
  (request: Buffer, metadata: Metadata, options: object, callback: (e: ServiceError | null) => void) => void
>;

test('random bytes to every RPC are refused in one bounded line or served; the daemon stays up and unchanged', async (t) => {
  const root = tempDir(t, 'blit-fuzz-');
  const module = join(root, 'ro');
  mkdirSync(join(module, 'dir'), { recursive: true });
  writeFileSync(join(module, 'dir', 'file'), 'data');
  const config = join(root, 'blitd.toml');
  writeFileSync(config, `[[module]]\nname = "ro"\npath = ${JSON.stringify(module)}\nread_only = true\n`);
  const daemon = await startDaemon(t, ['--config', config]);
  const before = snapshot(module);
  const raw = rawBlitClient(`127.0.0.1:${daemon.port}`, {
    Ping: 'Ping',
    ListModules: 'ListModules',
    List: 'List',
    Purge: 'Purge',
  }) as unknown as Raw & { close(): void };
  t.after(() => raw.close());
  const call = (method: string, bytes: Buffer) =>
    new Promise<ServiceError | null>((resolve) =>
      raw[method]!(bytes, new Metadata(), { deadline: new Date(Date.now() + 10_000) }, (error) =>
        resolve(error),
      ),
    );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...METHODS),
      fc.uint8Array({ maxLength: 600 }),
      async (method, bytes) => {
        const error = await call(method, Buffer.from(bytes));
        if (error === null) return;
        assert.notEqual(
          error.code,
          status.INTERNAL,
          `${method} ${Buffer.from(bytes).toString('hex')}: ${error.details}`,
        );
        assert.notEqual(error.code, status.UNKNOWN, `${method}: ${error.details}`);
        assert.notEqual(error.code, status.UNAVAILABLE, `${method}: the daemon went away`);
        assert.ok(!error.details.includes('\n') && error.details.length <= 2048, error.details);
      },
    ),
    { numRuns: 400 },
  );
  assert.deepEqual(snapshot(module), before, 'nothing in the module changed');
  const client = await RemoteClient.connect({ host: '127.0.0.1', port: daemon.port }, { spec: 'fuzz' });
  client.close();
});

test('random first bytes on the daemon port are closed with nothing sent', async (t) => {
  const root = tempDir(t, 'blit-fuzz-');
  const daemon = await startDaemon(t, ['--root', root]);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (bytes) => {
      // Not a prefix of the HTTP/2 preface or the data preamble, which would be waited for.
      fc.pre(bytes[0] !== 0x50 && bytes[0] !== 0x42);
      const socket = connect({ host: '127.0.0.1', port: daemon.port });
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write(Buffer.from(bytes));
      await once(socket, 'close');
      assert.equal(Buffer.concat(received).length, 0);
    }),
    { numRuns: 100 },
  );
  const client = await RemoteClient.connect({ host: '127.0.0.1', port: daemon.port }, { spec: 'fuzz' });
  client.close();
});

test('random bytes as Transfer frames end the session with a refusal, never an internal error', async (t) => {
  const root = tempDir(t, 'blit-fuzz-');
  const module = join(root, 'ro');
  mkdirSync(module);
  writeFileSync(join(module, 'file'), 'data');
  const config = join(root, 'blitd.toml');
  writeFileSync(config, `[[module]]\nname = "ro"\npath = ${JSON.stringify(module)}\nread_only = true\n`);
  const daemon = await startDaemon(t, ['--config', config]);
  const before = snapshot(module);
  const raw = rawBlitClient(`127.0.0.1:${daemon.port}`, { Transfer: 'Transfer' }) as unknown as {
    Transfer(): {
      write(b: Buffer): void;
      end(): void;
      on(event: string, listener: (value: never) => void): void;
    };
    close(): void;
  };
  t.after(() => raw.close());
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
      async (frames) => {
        const call = raw.Transfer();
        const ended = new Promise<{ code: number; details: string }>((resolve) => {
          call.on('status', (value: { code: number; details: string }) => resolve(value));
          call.on('error', () => {});
          call.on('data', () => {});
        });
        for (const frame of frames) call.write(Buffer.from(frame));
        call.end();
        const { code, details } = await ended;
        assert.notEqual(code, status.INTERNAL, details);
        assert.notEqual(code, status.UNKNOWN, details);
        assert.notEqual(code, status.UNAVAILABLE, 'the daemon went away');
      },
    ),
    { numRuns: 100 },
  );
  assert.deepEqual(snapshot(module), before, 'nothing in the module changed');
  const client = await RemoteClient.connect({ host: '127.0.0.1', port: daemon.port }, { spec: 'fuzz' });
  client.close();
});
