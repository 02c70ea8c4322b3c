/** BLAKE3 of a file: the native @napi-rs/blake-hash when it loads, hash-wasm otherwise. */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Hasher {
  update(data: Uint8Array): unknown;
  digest(): string;
}

export type HasherFactory = () => Hasher;

let factory: HasherFactory | undefined;

type NativeBlake3Module = typeof import('@napi-rs/blake-hash');
type WasmBlake3Module = Pick<typeof import('hash-wasm'), 'createBLAKE3'>;

/**
 * How the two BLAKE3 modules load: from node_modules, beside the bundle, unless a single
 * executable (src/sea/setup.ts) brings hash-wasm inside itself and has no native one.
 */
export interface Blake3Modules {
  native(): NativeBlake3Module | undefined;
  wasm(): WasmBlake3Module;
}

// require, not import(): the CLI bundle runs as a vm.Script (bin/blit.js), which has no import().
let modules: Blake3Modules = {
  native: () => createRequire(import.meta.url)('@napi-rs/blake-hash') as NativeBlake3Module,
  wasm: () => createRequire(import.meta.url)('hash-wasm') as WasmBlake3Module,
};

/** Replaces where the BLAKE3 modules come from; called before the first hash. */
export function useBlake3Modules(replacement: Blake3Modules): void {
  modules = replacement;
}

/** The native BLAKE3 (@napi-rs/blake-hash), or undefined where its binary does not load. */
export function loadNativeBlake3(): HasherFactory | undefined {
  try {
    const native = modules.native();
    if (!native) return undefined;
    const { Blake3Hasher } = native;
    return () => {
      const hasher = new Blake3Hasher();
      return { update: (data) => hasher.update(data), digest: () => hasher.digest('hex') };
    };
  } catch {
    return undefined;
  }
}

/** BLAKE3 in WebAssembly (hash-wasm): slower, but loads everywhere. */
export async function loadWasmBlake3(): Promise<HasherFactory> {
  const wasm = await modules.wasm().createBLAKE3();
  return () => {
    wasm.init();
    return { update: (data) => wasm.update(data), digest: () => wasm.digest('hex') };
  };
}

/** Native BLAKE3 unless it fails to load or BLIT_NO_NATIVE=1 asks for the portable path. */
export async function loadBlake3(): Promise<HasherFactory> {
  if (factory) return factory;
  const native = process.env.BLIT_NO_NATIVE === '1' ? undefined : loadNativeBlake3();
  factory = native ?? (await loadWasmBlake3());
  return factory;
}

/** Hashes a whole file synchronously with `buffer` as scratch space. */
export function hashFileSync(path: string, create: HasherFactory, buffer: Buffer, beat?: Int32Array): string {
  const fd = openSync(path, 'r');
  try {
    return hashFdSync(fd, create, buffer, beat);
  } finally {
    closeSync(fd);
  }
}

/** Hashes an open file from its start to its end (positional reads: the offset is left alone). */
export function hashFdSync(fd: number, create: HasherFactory, buffer: Buffer, beat?: Int32Array): string {
  const hasher = create();
  for (let offset = 0; ; ) {
    const n = readSync(fd, buffer, 0, buffer.length, offset);
    if (n === 0) break;
    offset += n;
    hasher.update(buffer.subarray(0, n));
    if (beat) Atomics.add(beat, 0, 1);
  }
  return hasher.digest();
}

/** Bytes hashed between turns of the event loop (hashFdAsync). */
const HASH_TURN_BYTES = 16 << 20;

/**
 * hashFdSync in slices that give the event loop a turn every 16 MiB: a remote session's heartbeat
 * and its peer's frames go on while a file of many gigabytes is hashed.
 */
export async function hashFdAsync(
  fd: number,
  create: HasherFactory,
  buffer: Buffer,
  /** Called after each read (progress, for a stall detector). */
  onRead?: () => void,
): Promise<string> {
  const hasher = create();
  let sinceTurn = 0;
  for (let offset = 0; ; ) {
    const n = readSync(fd, buffer, 0, buffer.length, offset);
    if (n === 0) break;
    offset += n;
    hasher.update(buffer.subarray(0, n));
    onRead?.();
    sinceTurn += n;
    if (sinceTurn >= HASH_TURN_BYTES) {
      sinceTurn = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return hasher.digest();
}
