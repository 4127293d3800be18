/** Retrieval metrics by hand, the BEIR and Cranfield loaders, and a small SciFact evaluation with recorded floors. */
import { DEFAULT_MODEL_DIR } from '../src/rag/defaults.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBeir, parseBeirQrels } from '../src/datasets/beir.js';
import type { Qrels, RetrievalCorpus } from '../src/rag/evaluation.js';
import { loadCranfield, parseSmart } from '../src/datasets/cranfield.js';
import { assetCorpus } from '../src/util/paths.js';
import { Corpus } from '../src/rag/corpus.js';
import { evaluateFusions, evaluateRetrieval, scoreRuns } from '../src/rag/evaluation.js';
import { tempDir } from './helpers.js';

const SCIFACT = assetCorpus('scifact');
const CRANFIELD = assetCorpus('cranfield');

describe('metrics', () => {
  it('nDCG@10, recall@100 and MRR@10 match a hand computation', () => {
    const qrels: Qrels = new Map([
      ['q1', new Map([['a', 2], ['b', 1], ['z', 1]])],
      ['q2', new Map([['c', 1]])],
      ['q3', new Map([['d', 1]])],
    ]);
    const runs = new Map([
      ['q1', ['x', 'a', 'b']], // DCG = 2/log2(3) + 1/log2(4); IDCG = 2 + 1/log2(3) + 1/log2(4)
      ['q2', ['c']],
      // q3: no run at all
    ]);
    const s = scoreRuns(runs, qrels);
    const q1 = (2 / Math.log2(3) + 0.5) / (2 + 1 / Math.log2(3) + 0.5);
    expect(s.ndcg10).toBeCloseTo((q1 + 1 + 0) / 3, 10);
    expect(s.recall100).toBeCloseTo((2 / 3 + 1 + 0) / 3, 10);
    expect(s.mrr10).toBeCloseTo((1 / 2 + 1 + 0) / 3, 10);
    expect(s.queries).toBe(3);
  });

  it('a relevant document past rank 10 counts for recall only', () => {
    const run = Array.from({ length: 50 }, (_, i) => `n${i}`);
    run[20] = 'a';
    const s = scoreRuns(new Map([['q', run]]), new Map([['q', new Map([['a', 1]])]]));
    expect(s).toMatchObject({ ndcg10: 0, mrr10: 0, recall100: 1 });
  });
});

describe('loaders', () => {
  it('BEIR SciFact: 5,183 documents, 300 test and 809 train queries', () => {
    const test = loadBeir(SCIFACT, 'test');
    expect(test.documents).toHaveLength(5183);
    expect(test.queries).toHaveLength(300);
    expect(test.qrels.size).toBe(300);
    expect(loadBeir(SCIFACT, 'train').queries).toHaveLength(809);
    expect(test.documents[0]).toMatchObject({ id: '4983', title: expect.stringContaining('Microstructural') });
    expect(() => loadBeir(SCIFACT, 'dev')).toThrow(expect.objectContaining({ code: 'STRATA_DATASET_MISSING' }));
    expect(() => parseBeirQrels('query-id\tcorpus-id\tscore\n1\t2\n', 'x.tsv')).toThrow(expect.objectContaining({ code: 'STRATA_FILE_FORMAT', field: 'x.tsv:2' }));
  });

  it('Cranfield in its SMART format: 1,398 non-empty documents, 225 queries numbered in file order, grades inverted', () => {
    const c = loadCranfield(CRANFIELD);
    expect(c.documents).toHaveLength(1398); // records 471 and 995 have no text
    expect(c.queries).toHaveLength(225);
    expect(c.queries[0]).toEqual({ id: '1', text: 'what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft .' });
    expect(c.documents[0]).toMatchObject({ id: '1', metadata: { authors: 'brenckman,m.' } });
    // cranqrel "1 184 2": grade 2 -> gain 3; "1 12 3" -> gain 2.
    expect(c.qrels.get('1')?.get('184')).toBe(3);
    expect(c.qrels.get('1')?.get('12')).toBe(2);
    expect(parseSmart('.I 7\n.T\na title\n.W\nsome\ntext\n', 'f')).toEqual([{ id: '7', fields: new Map([['T', 'a title'], ['W', 'some\ntext']]) }]);
  });
});

describe('SciFact subset end to end (GloVe encoder, real corpus)', () => {
  const tmp = tempDir('scifact');
  let corpus: Corpus;
  let data: RetrievalCorpus;
  beforeAll(async () => {
    const full = loadBeir(SCIFACT, 'test');
    const queries = full.queries.slice(0, 100);
    const relevant = new Set(queries.flatMap((q) => [...(full.qrels.get(q.id) as Map<string, number>).keys()]));
    const documents = full.documents.filter((d, i) => relevant.has(d.id) || i < 1200);
    data = { ...full, documents, queries, qrels: new Map(queries.map((q) => [q.id, full.qrels.get(q.id) as Map<string, number>])) };
    corpus = await Corpus.open(tmp.dir, { model: DEFAULT_MODEL_DIR, chunk: { maxTokens: 512 }, embedder: { threads: 2 } });
    await corpus.ingest(data.documents);
  });
  afterAll(async () => {
    await corpus.close();
    tmp.cleanup();
  });

  it('scores at least the recorded floors; hybrid (convex, dense 0.1) is not below BM25; ANN close to exact', async () => {
    const bm25 = await evaluateRetrieval(corpus, data, { mode: 'bm25' });
    const dense = await evaluateRetrieval(corpus, data, { mode: 'dense' });
    const exact = await evaluateRetrieval(corpus, data, { mode: 'dense', exact: true });
    const [hybrid] = await evaluateFusions(corpus, data, { mode: 'hybrid', fusion: 'convex' }, [{ fusion: 'convex', weights: { dense: 0.1, bm25: 1 } }]);
    expect(bm25.ndcg10).toBeGreaterThan(FLOORS.bm25);
    expect(bm25.recall100).toBeGreaterThan(FLOORS.bm25Recall);
    expect(dense.ndcg10).toBeGreaterThan(FLOORS.dense);
    expect(hybrid.ndcg10).toBeGreaterThanOrEqual(bm25.ndcg10 - 0.005);
    expect(exact.ndcg10 - dense.ndcg10).toBeLessThan(0.03);
  });

  it('more posting lists never lower dense recall@100 (monotone in maxLists)', async () => {
    let last = 0;
    for (const maxLists of [2, 8, 32, 128]) {
      const s = await evaluateRetrieval(corpus, data, { mode: 'dense', search: { maxLists } });
      expect(s.recall100).toBeGreaterThanOrEqual(last - 0.01);
      last = s.recall100;
    }
  });
});

/**
 * Recorded on this subset (first 100 test queries; their relevant documents plus the first 1,200 of
 * the corpus) on 2026-11-22: BM25 nDCG@10 0.849, recall@100 0.965; dense 0.186 (= exact). Floors
 * sit ~0.03 below.
 */
const FLOORS = { bm25: 0.82, bm25Recall: 0.935, dense: 0.155 };
