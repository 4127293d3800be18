/**
 * Worker-thread plumbing shared by exact search, batch search and the build: where a worker's compiled
 * file is, and how many threads to use.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/**
 * Absolute path of a compiled module run in another thread or process, `name` relative to src/
 * without extension (e.g. 'index/exact-worker', '../bench/ann-engine'). Worker threads run plain Node, so when this module itself runs from
 * TypeScript sources (under vitest) the compiled twin in dist/ is used; `npm test` builds it first.
 */
export function workerFile(name: string): string {
  const here = fileURLToPath(import.meta.url);
  const srcRoot = here.replace(/[\\/]util[\\/]workers\.(ts|js)$/, '');
  const compiledRoot = here.endsWith('.ts') ? srcRoot.replace(/([\\/])src$/, '$1dist$1src') : srcRoot;
  const file = `${compiledRoot}/${name}.js`;
  if (!existsSync(file)) throw new Error(`worker module ${file} is missing: run "npm run build" first`);
  return file;
}

/** Thread count for `threads` (0 = one per core). */
export function resolveThreads(threads: number): number {
  return threads > 0 ? threads : Math.max(1, availableParallelism());
}

export function createPool(name: string, threads: number): Piscina {
  const n = resolveThreads(threads);
  // Threads start on demand (minThreads 0): a pool destroyed right after a small batch then has no
  // thread still loading its module — terminating one mid-load crashed Node 20 (a V8 fatal error in
  // require(esm)) in the test suite.
  return new Piscina({ filename: workerFile(name), minThreads: 0, maxThreads: n, idleTimeout: 60_000 });
}

/** Copy a typed array into shared memory (no copy when it already is), so workers read it in place. */
export function toShared<T extends Float32Array | Uint32Array>(arr: T): T {
  if (arr.buffer instanceof SharedArrayBuffer) return arr;
  const Ctor = arr.constructor as { new (buf: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const out = new Ctor(new SharedArrayBuffer(arr.length * Ctor.BYTES_PER_ELEMENT));
  out.set(arr);
  return out;
}

export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export function sharedUint32(length: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(length * 4));
}
