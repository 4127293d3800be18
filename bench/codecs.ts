/**
 * `strata bench codecs`: one index per spec over the same dataset and the same search settings, so
 * the cost of each posting-list codec shows as bytes per vector, compression ratio, recall@k and
 * single-thread QPS side by side with float32 (`SPANN`).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reusableIndex } from './engines.js';
import { createIndex, openIndex } from '../src/index/spann.js';
import { parseSpec } from '../src/index/spec.js';
import { loadDataset, recallAtK, DATASETS_DIR } from '../src/datasets/registry.js';
import { createProgress } from '../src/util/progress.js';
import { formatTable, fmtBytes } from './report.js';

export const DEFAULT_CODEC_SPECS = ['SPANN', 'SPANN,F8E4M3', 'SPANN,F8E5M2', 'SPANN,INT8', 'SPANN,F8E4M3,Refine', 'SPANN,INT8,Refine'];

export interface CodecBenchOptions {
  dataset: string;
  specs: string[];
  k: number;
  /** Search settings: maxLists values, the same for every spec. */
  maxLists: number[];
  queries: number;
  rebuild: boolean;
  json?: string;
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
}

export async function runCodecBench(o: CodecBenchOptions, log: (s: string) => void = console.log): Promise<CodecRow[]> {
  const ui = createProgress();
  const data = await loadDataset(o.dataset, { report: ui.update });
  const nq = Math.min(o.queries, data.queryCount);
  const dim = data.dim;
  log(`dataset ${data.name}: ${data.baseCount} × ${dim} (${data.metric}), ${nq} queries, k=${o.k}`);
  const rows: CodecRow[] = [];
  for (const spec of o.specs) {
    parseSpec(spec); // refuse a bad spec before building anything
    const dir = join(DATASETS_DIR, data.name, 'indexes', `strata-${spec.replace(/,/g, '-')}`);
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
      });
    }
    await index.close();
  }
  log(
    formatTable(rows, [
      { title: 'spec', value: (r) => r.spec },
      { title: 'maxLists', value: (r) => String(r.maxLists) },
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
