/** BLAKE3 of a file: the native @napi-rs/blake-hash when it loads, hash-wasm otherwise. */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Hasher {
  update(data: Uint8Array): unknown;
  digest(): string;
}

export type HasherFactory = () => Hasher;

let factory: HasherFactory | undefined;
let implementation = 'none';

export async function loadBlake3(): Promise<HasherFactory> {
  if (factory) return factory;
  try {
    const { Blake3Hasher } = createRequire(import.meta.url)(
      '@napi-rs/blake-hash',
    ) as typeof import('@napi-rs/blake-hash');
    factory = () => {
      const hasher = new Blake3Hasher();
      return { update: (data) => hasher.update(data), digest: () => hasher.digest('hex') };
    };
    implementation = 'native';
  } catch {
    const { createBLAKE3 } = await import('hash-wasm');
    const wasm = await createBLAKE3();
    factory = () => {
      wasm.init();
      return { update: (data) => wasm.update(data), digest: () => wasm.digest('hex') };
    };
    implementation = 'wasm';
  }
  return factory;
}

export function blake3Implementation(): string {
  return implementation;
}

/** Hashes a whole file synchronously with `buffer` as scratch space. */
export function hashFileSync(path: string, create: HasherFactory, buffer: Buffer, beat?: Int32Array): string {
  const fd = openSync(path, 'r');
  try {
    const hasher = create();
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hasher.update(buffer.subarray(0, n));
      if (beat) Atomics.add(beat, 0, 1);
    }
    return hasher.digest();
  } finally {
    closeSync(fd);
  }
}
