/**
 * `strata eval beir|cranfield`: ingest a retrieval corpus with the RAG pipeline, run its judged
 * queries, and score dense, BM25 and hybrid retrieval (nDCG@10, recall@100, MRR@10), plus dense by
 * exact search (what the ANN index costs). When the dataset has a training split, the hybrid fusion
 * (method, weights, RRF offset) is chosen on it and then reported on the evaluated split.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBeir } from '../src/datasets/beir.js';
import type { RetrievalCorpus } from '../src/rag/evaluation.js';
import { loadCranfield } from '../src/datasets/cranfield.js';
import { Corpus, type IngestStage, type RetrieveOptions } from '../src/rag/corpus.js';
import { evaluateFusions, evaluateRetrieval, type RetrievalScores } from '../src/rag/evaluation.js';
import type { FusionMethod } from '../src/rag/fusion.js';
import { createProgress } from '../src/util/progress.js';
import { formatTable } from './report.js';

export interface RetrievalEvalOptions {
  format: 'beir' | 'cranfield';
  dir: string;
  /** Judged split to report (BEIR). Default 'test'. */
  split?: string;
  /** BEIR split to tune the fusion on; null = no tuning (equal-weight RRF). Default 'train' when present. */
  tuneSplit?: string | null;
  /** Sentence-encoder directory. */
  model: string;
  /** Chunk size in tokens. Default 512: BEIR scores whole documents, so keep most in one chunk. */
  chunkTokens?: number;
  /** Embedding worker threads (0 = one per core). */
  threads?: number;
  /** Index search: posting lists read per query. */
  maxLists?: number;
  /** Only the first N judged queries. */
  queries?: number;
  /** Keep the corpus in this folder (re-runs skip unchanged documents); default a temporary folder. */
  data?: string;
  json?: string;
  log?: (line: string) => void;
}

export interface FusionChoice {
  fusion: FusionMethod;
  dense: number;
  rrfK?: number;
  tunedOn: string | null;
  tuneNdcg10?: number;
}

/** The fusion settings tried on the tuning split. */
export const FUSION_GRID: FusionChoice[] = [
  ...[1, 0.5, 0.2, 0.1, 0.05].flatMap((dense) => [60, 10].map((rrfK) => ({ fusion: 'rrf' as const, dense, rrfK, tunedOn: null }))),
  ...[0.5, 0.3, 0.2, 0.1, 0.05].map((dense) => ({ fusion: 'convex' as const, dense, tunedOn: null })),
];

export interface IngestStats {
  documents: number;
  chunks: number;
  embedded: number;
  seconds: number;
  embedSeconds: number;
  indexSeconds: number;
  /** Chunks embedded per second during the embed stage. */
  embedChunksPerSecond: number;
  /** Chunks per second over the whole ingest (chunk + embed + store + index). */
  chunksPerSecond: number;
  /** Process CPU time / wall time during the embed stage (2 = both cores busy). */
  embedCores: number;
}

type Row = RetrievalScores & { name: string; seconds: number };

export interface RetrievalEvalReport {
  dataset: string;
  split: string;
  queries: number;
  model: string;
  ingest: IngestStats;
  fusion: FusionChoice;
  dense: Row;
  bm25: Row;
  hybrid: Row;
  hybridEqualRrf: Row;
  denseExact: Row;
  annLossNdcg10: number;
}

function loadData(o: RetrievalEvalOptions, split: string): RetrievalCorpus {
  return o.format === 'beir' ? loadBeir(o.dir, split) : loadCranfield(o.dir);
}

const fusionOptions = (c: FusionChoice): RetrieveOptions => ({ mode: 'hybrid', fusion: c.fusion, weights: { dense: c.dense, bm25: 1 }, ...(c.rrfK ? { rrfK: c.rrfK } : {}) });

export async function runRetrievalEval(o: RetrievalEvalOptions): Promise<RetrievalEvalReport> {
  const log = o.log ?? ((line: string) => console.log(line));
  const split = o.split ?? 'test';
  const data = loadData(o, split);
  if (o.queries) data.queries = data.queries.slice(0, o.queries);
  let tune: RetrievalCorpus | null = null;
  const tuneSplit = o.format === 'beir' ? (o.tuneSplit === undefined ? 'train' : o.tuneSplit) : null;
  if (tuneSplit && tuneSplit !== split) {
    try {
      tune = loadBeir(o.dir, tuneSplit);
    } catch (err) {
      if (o.tuneSplit) throw err; // asked for explicitly
    }
  }
  const dir = o.data ?? mkdtempSync(join(tmpdir(), 'strata-eval-'));
  const corpus = await Corpus.open(dir, { model: o.model, chunk: { maxTokens: o.chunkTokens ?? 512 }, embedder: { threads: o.threads ?? 0 } });
  try {
    // Ingest, timing each stage.
    log(`${data.name}: ${data.documents.length} documents, ${data.queries.length} judged queries (${split})${tune ? `, fusion tuned on ${tune.queries.length} ${tuneSplit} queries` : ''}`);
    const ui = createProgress();
    const stageStart = new Map<IngestStage, { t: number; cpu: NodeJS.CpuUsage }>();
    const stageEnd = new Map<IngestStage, { t: number; cpu: NodeJS.CpuUsage }>();
    const report = await corpus.ingest(data.documents, {
      onProgress: (stage, done, total) => {
        const now = { t: performance.now(), cpu: process.cpuUsage() };
        if (!stageStart.has(stage)) stageStart.set(stage, now);
        stageEnd.set(stage, now);
        ui.update(stage, done, total);
      },
    });
    ui.stop();
    const span = (s: IngestStage) => {
      const a = stageStart.get(s);
      const b = stageEnd.get(s);
      if (!a || !b) return { seconds: 0, cores: 0 };
      const seconds = (b.t - a.t) / 1000;
      const cpu = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1e6;
      return { seconds, cores: seconds > 0 ? cpu / seconds : 0 };
    };
    const embed = span('embed');
    const chunks = corpus.stats().chunks;
    const ingest: IngestStats = {
      documents: data.documents.length,
      chunks,
      embedded: report.embedded,
      seconds: report.seconds,
      embedSeconds: embed.seconds,
      indexSeconds: span('index').seconds,
      embedChunksPerSecond: embed.seconds > 0 ? report.embedded / embed.seconds : 0,
      chunksPerSecond: report.embedded > 0 ? report.embedded / report.seconds : 0,
      embedCores: embed.cores,
    };
    if (report.embedded > 0) {
      log(`ingested ${report.embedded} chunks in ${report.seconds.toFixed(1)} s (${ingest.chunksPerSecond.toFixed(0)} chunks/s end to end); embedding ${ingest.embedChunksPerSecond.toFixed(0)} chunks/s on ${ingest.embedCores.toFixed(2)} cores`);
    } else {
      log(`corpus in ${dir} already holds these documents (${chunks} chunks): nothing embedded`);
    }

    const search = o.maxLists ? { search: { maxLists: o.maxLists } } : {};
    // Choose the fusion on the tuning split.
    let fusion: FusionChoice = { fusion: 'rrf', dense: 1, rrfK: 60, tunedOn: null };
    if (tune) {
      let best = -1;
      const scores = await evaluateFusions(corpus, tune, { mode: 'hybrid', fusion: 'convex', ...search }, FUSION_GRID.map(fusionOptions));
      FUSION_GRID.forEach((c, i) => {
        if (scores[i].ndcg10 > best) {
          best = scores[i].ndcg10;
          fusion = { ...c, tunedOn: tuneSplit, tuneNdcg10: best };
        }
      });
      log(`fusion chosen on ${tuneSplit}: ${fusion.fusion} dense weight ${fusion.dense}${fusion.rrfK ? ` rrfK ${fusion.rrfK}` : ''} (nDCG@10 ${best.toFixed(4)} on ${tuneSplit})`);
    }

    const run = async (name: string, options: RetrieveOptions): Promise<Row> => ({ name, ...(await evaluateRetrieval(corpus, data, { ...options, ...search })) });
    const dense = await run('dense', { mode: 'dense' });
    const bm25 = await run('bm25', { mode: 'bm25' });
    const hybrid = await run(`hybrid (${fusion.fusion}${tune ? `, tuned on ${tuneSplit}` : ''})`, fusionOptions(fusion));
    const hybridEqualRrf = await run('hybrid (rrf 1:1, k 60)', { mode: 'hybrid', fusion: 'rrf' });
    const denseExact = await run('dense, exact search', { mode: 'dense', exact: true });
    const rows = [dense, bm25, hybrid, hybridEqualRrf, denseExact];
    log('');
    log(
      formatTable(rows, [
        { title: 'retrieval', value: (r) => r.name },
        { title: 'nDCG@10', value: (r) => r.ndcg10.toFixed(4) },
        { title: 'recall@100', value: (r) => r.recall100.toFixed(4) },
        { title: 'MRR@10', value: (r) => r.mrr10.toFixed(4) },
        { title: 'queries/s', value: (r) => (r.queries / r.seconds).toFixed(0) },
      ]),
    );
    const annLoss = denseExact.ndcg10 - dense.ndcg10;
    log(`\nANN loss (exact - index dense nDCG@10): ${(annLoss * 100).toFixed(2)} points`);
    const out: RetrievalEvalReport = {
      dataset: data.name,
      split,
      queries: data.queries.length,
      model: o.model,
      ingest,
      fusion,
      dense,
      bm25,
      hybrid,
      hybridEqualRrf,
      denseExact,
      annLossNdcg10: annLoss,
    };
    if (o.json) writeFileSync(o.json, `${JSON.stringify(out, null, 2)}\n`);
    return out;
  } finally {
    await corpus.close();
    if (!o.data) rmSync(dir, { recursive: true, force: true });
  }
}
