/**
 * Batch distance kernels: one call computes the distances from a query to `count` packed vectors.
 * Backed by the native addon (src/native/kernels.c, built from source at install by node-gyp) and
 * falling back to the JS kernels of distance.ts if the addon is missing. `strata bench ann` and
 * BENCHMARKS.md record the gain (4-5x on this machine at 96 and 784 dimensions).
 */
import { loadAddon } from '../util/native.js';
import { type Metric, l2Squared, ipDistance } from './distance.js';

type BatchFn = (q: Float32Array, qOff: number, base: Float32Array, baseOff: number, count: number, dim: number, out: Float32Array, outOff: number) => void;

type CodeFn = (q: Float32Array, aux: Float32Array, codes: Uint8Array, off: number, count: number, dim: number, out: Float32Array, fmt?: number) => void;
type CodeBiasFn = (q: Float32Array, bias: number, codes: Uint8Array, off: number, count: number, dim: number, out: Float32Array) => void;

interface NativeKernels {
  l2Batch: BatchFn;
  ipBatch: BatchFn;
  lutL2Batch: CodeFn;
  lutIpBatch: CodeFn;
  /** `fmt` (0 = E4M3, 1 = E5M2) lets the addon decode codes in registers instead of reading `table`. */
  lutL2WBatch: (q: Float32Array, table: Float32Array, w: Float32Array, codes: Uint8Array, off: number, count: number, dim: number, out: Float32Array, fmt?: number) => void;
  u8L2Batch: CodeFn;
  u8IpBatch: CodeBiasFn;
}

function loadNative(): NativeKernels | null {
  const addon = loadAddon<NativeKernels>('strata_kernels');
  if (!addon && process.env.STRATA_NO_NATIVE !== '1') process.emitWarning('strata: native distance kernels are not built (run `npm ci` or `npx node-gyp rebuild`); using the slower JS kernels');
  return addon;
}

const native = loadNative();

/** 'native' or 'js': which kernels this process uses. */
export const KERNELS: 'native' | 'js' = native ? 'native' : 'js';

function jsBatch(kernel: typeof l2Squared): BatchFn {
  return (q, qOff, base, baseOff, count, dim, out, outOff) => {
    for (let i = 0; i < count; i++) out[outOff + i] = kernel(q, qOff, base, baseOff + i * dim, dim);
  };
}

const L2: BatchFn = native ? native.l2Batch : jsBatch(l2Squared);
const IP: BatchFn = native ? native.ipBatch : jsBatch(ipDistance);

/** The batch kernel for a metric (cosine vectors are normalised beforehand, so cosine uses ip). */
export function batchKernel(metric: Metric): BatchFn {
  return metric === 'l2' ? L2 : IP;
}

/**
 * Native code-domain kernels (float8 through a 256-entry decode table, int8 on a pre-transformed
 * query), or null when the addon is missing (codecs then use their JS loops).
 */
export const codeKernels: Pick<NativeKernels, 'lutL2Batch' | 'lutIpBatch' | 'lutL2WBatch' | 'u8L2Batch' | 'u8IpBatch'> | null = native;
