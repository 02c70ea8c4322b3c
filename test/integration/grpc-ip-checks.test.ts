/**
 * The gRPC bundle (dist/grpc-js.cjs) answers grpc-js's questions about addresses without Node's
 * net.isIP patterns, whose first use costs ~7 ms (IPv6) and ~1.7 ms (IPv4) of every remote command (scripts/grpc-net.mjs).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const GRPC = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'grpc-js.cjs');

/** Counts Node's address checks while a client of the bundle connects to a server on 127.0.0.1. */
const PROBE = `
const net = require('node:net');
let calls = 0;
for (const name of ['isIP', 'isIPv4', 'isIPv6']) {
  const real = net[name];
  net[name] = (...args) => (calls++, real(...args));
}
const grpc = require(${JSON.stringify(GRPC)});
const server = net.createServer((socket) => {
  socket.destroy();
  process.stdout.write(JSON.stringify({ calls }));
  process.exit(0);
});
server.listen(0, '127.0.0.1', () => {
  const client = new grpc.Client('127.0.0.1:' + server.address().port, grpc.credentials.createInsecure());
  client.waitForReady(Date.now() + 10000, (error) => {
    process.stderr.write('no connection: ' + (error && error.message));
    process.exit(1);
  });
});
`;

test('a client of the gRPC bundle connects to an IPv4 address without asking net.isIP and its kin', () => {
  const run = spawnSync(process.execPath, ['-e', PROBE], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { calls: 0 });
});
