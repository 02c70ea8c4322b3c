/**
 * The gRPC bundle (dist/grpc-js.cjs) answers grpc-js's questions about addresses without Node's
 * net.isIP patterns, whose first use costs ~7 ms (IPv6) and ~1.7 ms (IPv4) of every remote command,
 * and loads Node's zlib only when compression is used, which blit never asks for
 * (scripts/grpc-net.mjs).
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
  const zlib = process.moduleLoadList.includes('NativeModule zlib');
  process.stdout.write(JSON.stringify({ calls, zlib }));
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
  assert.deepEqual(JSON.parse(run.stdout), { calls: 0, zlib: false });
});

test("the gRPC bundle's zlib is Node's, loaded when a call is first compressed", () => {
  // A unary call of raw bytes, gzip-compressed both ways (the bundle's client compresses, its
  // server decompresses and answers compressed): zlib is loaded by then, and not before.
  const probe = `
    const grpc = require(${JSON.stringify(GRPC)});
    const atLoad = process.moduleLoadList.includes('NativeModule zlib');
    const same = { serialize: (b) => b, deserialize: (b) => b };
    const method = { path: '/probe.Probe/Echo', requestStream: false, responseStream: false,
      requestSerialize: same.serialize, requestDeserialize: same.deserialize,
      responseSerialize: same.serialize, responseDeserialize: same.deserialize };
    const server = new grpc.Server({ 'grpc.default_compression_algorithm': 2 });
    server.addService({ Echo: method }, { Echo: (call, done) => done(null, Buffer.concat([call.request, call.request])) });
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) throw error;
      const Client = grpc.makeGenericClientConstructor({ Echo: method });
      const client = new Client('127.0.0.1:' + port, grpc.credentials.createInsecure(),
        { 'grpc.default_compression_algorithm': 2 });
      const sent = Buffer.alloc(64 * 1024, 'a');
      client.Echo(sent, (error, answer) => {
        if (error) throw error;
        const loaded = process.moduleLoadList.includes('NativeModule zlib');
        process.stdout.write(JSON.stringify({ atLoad, loaded, echoed: answer.length === 2 * sent.length }));
        process.exit(0);
      });
    });
  `;
  const run = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { atLoad: false, loaded: true, echoed: true });
});
