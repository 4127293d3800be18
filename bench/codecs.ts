/**
 * `strata bench codecs`: one index per spec over the same dataset and the same search settings, so
 * the cost of each posting-list codec shows as bytes per vector, compression ratio, recall@k and
 * single-thread QPS side by side with float32 (`SPANN`). With --memory-cap each spec is measured
 * again in a memory cgroup (memory-cap.ts), from its evicted files, by the ann bench's engine child.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EngineJob, EngineReport } from './ann-engine.js';
import { runEngineChild } from './engine-process.js';
import { reusableIndex } from './engines.js';
import { capLabel, evictFromPageCache, MemoryCgroup, parseMemoryCap } from './memory-cap.js';
import type { ProgressUi } from '../src/util/progress.js';
import { createIndex, openIndex } from '../src/index/spann.js';
import { parseSpec } from '../src/index/spec.js';
import { loadDataset, recallAtK, DATASETS_DIR, INDEXES_DIR } from '../src/datasets/registry.js';
import { createProgress } from '../src/util/progress.js';
import { formatTable, fmtBytes } from './report.js';

export const DEFAULT_CODEC_SPECS = [
  'SPANN',
  'SPANN,F8E4M3',
  'SPANN,F8E4M3,Residual',
  'SPANN,F8E5M2',
  'SPANN,INT8',
  'SPANN,INT8,Residual',
  'PCA50%,SPANN',
  'PCA50%,SPANN,F8E4M3,Residual',
  'SPANN,F8E4M3,Refine',
  'SPANN,INT8,Refine',
];

export interface CodecBenchOptions {
  dataset: string;
  specs: string[];
  k: number;
  /** Search settings: maxLists values, the same for every spec. */
  maxLists: number[];
  queries: number;
  rebuild: boolean;
  json?: string;
  /** Also measure each spec in a memory cgroup of this size (memory-cap.ts syntax), its files evicted first. */
  memoryCap?: string;
}

export interface CodecRow {
  spec: string;
  maxLists: number;
  bytesPerVector: number;
  compression: number;
  recall: number;
  qps: number;
  p50Ms: number;
  buildSeconds: number;
  diskBytes: number;
  /** The memory cap of the row (bytes; 0 = none). */
  capBytes: number;
  /** Bytes read from the device per query (capped rows). */
  deviceBytesPerQuery?: number;
  /** Killed by the cap's OOM killer while opening: the spec does not fit. */
  oom?: boolean;
}

/** One spec's rows under the cap: the ann bench's strata engine child in a cgroup, from evicted files. */
async function cappedRows(o: CodecBenchOptions, spec: string, dir: string, nq: number, capBytes: number, base: Omit<CodecRow, 'maxLists' | 'recall' | 'qps' | 'p50Ms' | 'capBytes'>, ui: ProgressUi): Promise<CodecRow[]> {
  evictFromPageCache(dir);
  const workDir = dirname(dir);
  const cg = MemoryCgroup.create(capBytes);
  try {
    const job: EngineJob = { mode: 'search', engine: 'strata', dataset: o.dataset, workDir, k: o.k, queries: nq, sweep: false, rebuild: false, threads: 0, spec, maxLists: o.maxLists };
    const res = await runEngineChild('ann-engine', job, ui, cg);
    ui.stop();
    const report = ((res.type === 'oom' ? (res.partial as Record<string, unknown> | undefined) : res)?.report ?? null) as EngineReport | null;
    if (!report) return [{ ...base, maxLists: NaN, recall: NaN, qps: NaN, p50Ms: NaN, capBytes, oom: true }];
    return report.rows.map((r) => ({ ...base, maxLists: r.params.maxLists, recall: r.recall, qps: r.qps, p50Ms: r.p50Ms, capBytes, deviceBytesPerQuery: r.deviceBytesPerQuery }));
  } finally {
    cg.remove();
  }
}

export async function runCodecBench(o: CodecBenchOptions, log: (s: string) => void = console.log): Promise<CodecRow[]> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update });
  const nq = Math.min(o.queries, data.queryCount);
  const dim = data.dim;
  log(`dataset ${data.name}: ${data.baseCount} × ${dim} (${data.metric}), ${nq} queries, k=${o.k}`);
  const rows: CodecRow[] = [];
  const capBytes = o.memoryCap ? parseMemoryCap(o.memoryCap, data.baseCount * dim * 4) : 0;
  const workDir = join(DATASETS_DIR, data.name, INDEXES_DIR);
  for (const spec of o.specs) {
    parseSpec(spec); // refuse a bad spec before building anything
    const dir = join(workDir, `strata-${spec.replace(/,/g, '-')}`);
    let buildSeconds = 0;
    if (o.rebuild || !reusableIndex(dir)) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const index = await createIndex(dir, { dimension: dim, metric: data.metric, spec });
      buildSeconds = (await index.build(data.base, undefined, { onProgress: (p) => ui.update(`${spec} ${p.stage}`, p.done, p.total) })).seconds;
      await index.close();
    }
    ui.stop();
    const index = await openIndex(dir);
    const bpv = index.stats().bytesPerVector;
    const out = new Uint32Array(nq * o.k);
    const lat = new Float64Array(nq);
    const widest = Math.max(...o.maxLists);
    for (let q = 0; q < nq; q++) index.search(data.queries.subarray(q * dim, (q + 1) * dim), o.k, { maxLists: widest }); // warm-up
    for (const maxLists of o.maxLists) {
      out.fill(0xffffffff);
      const t0 = performance.now();
      for (let q = 0; q < nq; q++) {
        const t = performance.now();
        out.set(index.search(data.queries.subarray(q * dim, (q + 1) * dim), o.k, { maxLists }).ids, q * o.k);
        lat[q] = performance.now() - t;
      }
      const seconds = (performance.now() - t0) / 1000;
      lat.sort();
      rows.push({
        spec: index.stats().spec,
        maxLists,
        bytesPerVector: bpv,
        compression: (dim * 4) / bpv,
        recall: recallAtK(out, o.k, data.groundTruth, data.gtK, nq),
        qps: nq / seconds,
        p50Ms: lat[Math.floor(nq / 2)],
        buildSeconds,
        diskBytes: index.diskBytes(),
        capBytes: 0,
      });
    }
    const base = { spec: index.stats().spec, bytesPerVector: bpv, compression: (dim * 4) / bpv, buildSeconds, diskBytes: index.diskBytes() };
    await index.close();
    if (capBytes) rows.push(...(await cappedRows(o, spec, dir, nq, capBytes, base, ui)));
  }
  log(
    formatTable(rows, [
      { title: 'spec', value: (r) => r.spec },
      { title: 'maxLists', value: (r) => (r.oom ? `does not fit (OOM at ${capLabel(r.capBytes)})` : String(r.maxLists)) },
      ...(capBytes
        ? [
            { title: 'cap', value: (r: CodecRow) => (r.capBytes ? capLabel(r.capBytes) : 'none') },
            { title: 'device/query', value: (r: CodecRow) => (r.deviceBytesPerQuery === undefined ? '-' : fmtBytes(r.deviceBytesPerQuery)) },
          ]
        : []),
      { title: 'bytes/vector', value: (r) => String(r.bytesPerVector) },
      { title: 'compression', value: (r) => `${r.compression.toFixed(1)}×` },
      { title: `recall@${o.k}`, value: (r) => r.recall.toFixed(4) },
      { title: 'QPS 1T', value: (r) => r.qps.toFixed(0) },
      { title: 'p50 ms', value: (r) => r.p50Ms.toFixed(3) },
      { title: 'build s', value: (r) => (r.buildSeconds ? r.buildSeconds.toFixed(1) : 'reused') },
      { title: 'disk', value: (r) => fmtBytes(r.diskBytes) },
    ]),
  );
  log('bytes/vector is the posting payload per entry (heads stay float32 in memory; Refine adds a float32 copy per vector on disk).');
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), dataset: data.name, k: o.k, queries: nq, rows }, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
  return rows;
}
