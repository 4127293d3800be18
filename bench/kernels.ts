/**
 * `strata bench kernels`: the scan kernels in isolation, the same process and data for every row, so
 * codec kernels read as a ratio to the float32 kernel. The working set (default 64 MiB of float32) is
 * larger than the caches, as posting lists scanned from LMDB's page cache are.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { batchKernel, codeKernels, KERNELS } from '../src/index/kernels.js';
import { createCodec, type CodecName } from '../src/index/codecs/codec.js';
import { E4M3 } from '../src/index/codecs/float8.js';
import type { Metric } from '../src/index/distance.js';
import { createRng } from '../src/util/random.js';
import { formatTable } from './report.js';

export interface KernelBenchOptions {
  dims: number[];
  /** float32 bytes of the scanned block. */
  bytes: number;
  /** Rows per kernel call, like one posting list. */
  rowsPerCall: number;
  json?: string;
}

export interface KernelRow {
  kernel: string;
  dim: number;
  metric: Metric;
  nsPerVector: number;
  /** float32 kernel time / this kernel's time (> 1 = faster than float32). */
  speedVsF32: number;
}

const CODECS: CodecName[] = ['F8E4M3', 'F8E5M2', 'F8E4M3S', 'INT8'];

/** Best of `reps` timed passes of `pass` (each scans the whole block once), in ns per vector. */
function time(n: number, reps: number, pass: () => void): number {
  pass();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    pass();
    best = Math.min(best, performance.now() - t);
  }
  return (best * 1e6) / n;
}

export function runKernelBench(opts: KernelBenchOptions): KernelRow[] {
  const rows: KernelRow[] = [];
  const rng = createRng(11);
  for (const dim of opts.dims) {
    const n = Math.floor(opts.bytes / 4 / dim / opts.rowsPerCall) * opts.rowsPerCall;
    const data = Float32Array.from({ length: n * dim }, () => rng.gaussian());
    const q = Float32Array.from({ length: dim }, () => rng.gaussian());
    const out = new Float32Array(opts.rowsPerCall);
    const step = opts.rowsPerCall * dim;
    const reps = 5;
    for (const metric of ['l2', 'ip'] as Metric[]) {
      const f32 = batchKernel(metric);
      const base = time(n, reps, () => {
        for (let off = 0; off < n * dim; off += step) f32(q, 0, data, off, opts.rowsPerCall, dim, out, 0);
      });
      rows.push({ kernel: 'F32', dim, metric, nsPerVector: base, speedVsF32: 1 });
      for (const name of CODECS) {
        const codec = createCodec(name, dim);
        codec.train(data.subarray(0, Math.min(n, 10_000) * dim));
        const codes = new Uint8Array(n * dim);
        for (let i = 0; i < n; i++) codec.encode(data, i * dim, codes, i * dim);
        const p = codec.prepare(q, metric);
        const t = time(n, reps, () => {
          for (let off = 0; off < n * dim; off += step) codec.distances(p, codes, off, opts.rowsPerCall, out);
        });
        rows.push({ kernel: name, dim, metric, nsPerVector: t, speedVsF32: base / t });
        if (name === 'F8E4M3' && codeKernels) {
          // The same codes through the 256-entry table (no format argument): what the in-register
          // decode replaced.
          const lut = metric === 'l2' ? codeKernels.lutL2Batch : codeKernels.lutIpBatch;
          const tt = time(n, reps, () => {
            for (let off = 0; off < n * dim; off += step) lut(q, E4M3.table, codes, off, opts.rowsPerCall, dim, out);
          });
          rows.push({ kernel: 'F8E4M3 (table)', dim, metric, nsPerVector: tt, speedVsF32: base / tt });
        }
      }
    }
  }
  console.log(`kernels: ${KERNELS}; ${opts.rowsPerCall} rows per call; ${(opts.bytes / 2 ** 20).toFixed(0)} MiB of float32 per dimension setting`);
  console.log(
    formatTable(rows, [
      { title: 'kernel', value: (r) => r.kernel },
      { title: 'dim', value: (r) => String(r.dim) },
      { title: 'metric', value: (r) => r.metric },
      { title: 'ns/vector', value: (r) => r.nsPerVector.toFixed(1) },
      { title: 'speed vs F32', value: (r) => `${r.speedVsF32.toFixed(2)}x` },
    ]),
  );
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), kernels: KERNELS, rows }, null, 2));
  return rows;
}
