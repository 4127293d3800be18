/**
 * Retrieval quality against relevance judgements, the way BEIR reports it (pytrec_eval semantics):
 *
 *   nDCG@10    linear gains: sum(grade / log2(rank + 1)) over the top 10, divided by the same sum over
 *              the ideal ordering of the query's judged documents
 *   recall@100 relevant documents (grade > 0) in the top 100 / relevant documents judged
 *   MRR@10     1 / rank of the first relevant document in the top 10, 0 when there is none
 *
 * Passages are mapped to documents: a document takes the rank of its best passage, and every
 * document holding an identical passage text shares that rank's position, in order.
 */
import type { RagDocument } from './documents.js';
import type { Corpus, RetrieveOptions } from './corpus.js';
import { fuseCandidates, type FuseOptions, type QueryCandidates } from './fusion.js';

/** Relevance grades: query id -> document id -> grade (> 0 relevant). */
export type Qrels = Map<string, Map<string, number>>;

export interface TextQuery {
  id: string;
  text: string;
}

export interface RetrievalCorpus {
  name: string;
  documents: RagDocument[];
  queries: TextQuery[];
  qrels: Qrels;
}

export interface RetrievalScores {
  ndcg10: number;
  recall100: number;
  mrr10: number;
  queries: number;
}

/** Mean nDCG@10, recall@100 and MRR@10 over the judged queries (a query with no run counts 0). */
export function scoreRuns(runs: ReadonlyMap<string, readonly string[]>, qrels: Qrels): RetrievalScores {
  let ndcg = 0;
  let recall = 0;
  let mrr = 0;
  for (const [qid, judged] of qrels) {
    const run = runs.get(qid) ?? [];
    const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a);
    let idcg = 0;
    for (let i = 0; i < Math.min(10, ideal.length); i++) idcg += ideal[i] / Math.log2(i + 2);
    let dcg = 0;
    let firstHit = 0;
    let found = 0;
    for (let i = 0; i < Math.min(100, run.length); i++) {
      const g = judged.get(run[i]) ?? 0;
      if (g <= 0) continue;
      if (i < 10) {
        dcg += g / Math.log2(i + 2);
        if (firstHit === 0) firstHit = i + 1;
      }
      found++;
    }
    if (idcg > 0) ndcg += dcg / idcg;
    if (ideal.length > 0) recall += found / ideal.length;
    if (firstHit > 0) mrr += 1 / firstHit;
  }
  const n = qrels.size || 1;
  return { ndcg10: ndcg / n, recall100: recall / n, mrr10: mrr / n, queries: qrels.size };
}

/** Passages retrieved per query before mapping to documents (enough for 100 distinct documents). */
export const EVAL_PASSAGES = 300;

type EvalData = Pick<RetrievalCorpus, 'queries' | 'qrels'>;

/** Document ranking from a chunk ranking (chunk -> documents looked up once per chunk). */
function chunkRankingToDocuments(ids: readonly number[], docsOf: (cid: number) => string[], limit = 100): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const cid of ids) {
    for (const d of docsOf(cid)) {
      if (seen.has(d)) continue;
      seen.add(d);
      out.push(d);
      if (out.length === limit) return out;
    }
  }
  return out;
}

/**
 * Score several fusion settings over one set of candidates: each query is embedded and searched once
 * (`options` decides mode, tenant, search parameters; use fusion 'convex' to allow both methods), then
 * fused per setting. Returns one score per setting, in order.
 */
export async function evaluateFusions(
  corpus: Corpus,
  data: EvalData,
  options: RetrieveOptions,
  settings: readonly FuseOptions[],
): Promise<Array<RetrievalScores & { seconds: number }>> {
  const t0 = performance.now();
  const candidates: QueryCandidates[] = [];
  const batch = 64;
  const opts: RetrieveOptions = { candidates: EVAL_PASSAGES, ...options, k: options.k ?? EVAL_PASSAGES };
  for (let i = 0; i < data.queries.length; i += batch) {
    candidates.push(...(await corpus.candidates(data.queries.slice(i, i + batch).map((q) => q.text), opts)));
  }
  const searchSeconds = (performance.now() - t0) / 1000;
  const docCache = new Map<number, string[]>();
  const docsOf = (cid: number) => {
    let d = docCache.get(cid);
    if (!d) docCache.set(cid, (d = corpus.chunkDocuments(cid)));
    return d;
  };
  const judged = new Set(data.queries.map((q) => q.id));
  const qrels: Qrels = new Map([...data.qrels].filter(([q]) => judged.has(q)));
  return settings.map((fuse) => {
    const t1 = performance.now();
    const runs = new Map<string, string[]>();
    data.queries.forEach((q, i) => runs.set(q.id, chunkRankingToDocuments(fuseCandidates(candidates[i], fuse, opts.k as number).ids, docsOf)));
    return { ...scoreRuns(runs, qrels), seconds: searchSeconds + (performance.now() - t1) / 1000 };
  });
}

/** Run every query of a dataset through the corpus and score the document rankings. */
export async function evaluateRetrieval(corpus: Corpus, data: EvalData, options: RetrieveOptions): Promise<RetrievalScores & { seconds: number }> {
  const [scores] = await evaluateFusions(corpus, data, options, [options]);
  return scores;
}
