/**
 * The corpus end to end on the real GloVe encoder, LMDB and the SPANN index: ingest, replace, dedup,
 * remove, tenant isolation, BM25 against a hand computation, reopen round-trip and repair.
 */
import { DEFAULT_MODEL_DIR } from '../src/rag/defaults.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../src/rag/analyzer.js';
import { Corpus, type RetrieveOptions } from '../src/rag/corpus.js';
import type { RagDocument } from '../src/rag/documents.js';
import { EmbedderPool } from '../src/rag/embedder-pool.js';
import { createRng } from '../src/util/random.js';
import { tempDir } from './helpers.js';

const GLOVE = DEFAULT_MODEL_DIR;
const TOPICS = [
  ['protein', 'enzyme', 'amino', 'folding', 'binding', 'structure', 'molecule'],
  ['virus', 'infection', 'immune', 'vaccine', 'antibody', 'patients', 'disease'],
  ['galaxy', 'star', 'telescope', 'orbit', 'planet', 'solar', 'cosmic'],
  ['market', 'prices', 'inflation', 'bank', 'economy', 'trade', 'investors'],
  ['river', 'flood', 'rainfall', 'climate', 'drought', 'water', 'soil'],
];
const FILLER = ['the', 'of', 'and', 'in', 'was', 'were', 'with', 'a', 'that', 'for', 'study', 'results', 'new', 'high'];

/** Seeded documents: each about one topic, a few paragraphs of sentences. */
function documents(n: number, seed: number, prefix: string): RagDocument[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const topic = TOPICS[i % TOPICS.length];
    const sentence = () => `${Array.from({ length: 8 + rng.int(10) }, () => (rng.next() < 0.5 ? topic : FILLER)[rng.int(7)]).join(' ')}.`;
    const paragraph = () => Array.from({ length: 2 + rng.int(3) }, sentence).join(' ');
    return { id: `${prefix}${i}`, title: `${topic[0]} report ${i}`, text: Array.from({ length: 1 + rng.int(3) }, paragraph).join('\n\n'), metadata: { topic: topic[0] } };
  });
}

const QUERIES = ['protein folding structure', 'immune response to a vaccine', 'star orbit telescope', 'inflation and prices', 'flood after rainfall'];
const MODES: RetrieveOptions['mode'][] = ['dense', 'bm25', 'hybrid'];

describe('Corpus', () => {
  let pool: EmbedderPool;
  const tmp = tempDir('corpus');
  beforeAll(async () => {
    pool = await EmbedderPool.load(GLOVE, {}, { threads: 2 });
  });
  afterAll(async () => {
    await pool.close();
    tmp.cleanup();
  });
  const open = (name: string, extra: Partial<Parameters<typeof Corpus.open>[1]> = {}) => Corpus.open(join(tmp.dir, name), { model: pool, chunk: { maxTokens: 48, overlapTokens: 8 }, ...extra });

  it('ingests, retrieves with document metadata, and skips unchanged documents on re-ingest', async () => {
    const corpus = await open('basic');
    try {
      const docs = documents(40, 1, 'd');
      const r1 = await corpus.ingest(docs);
      expect(r1).toMatchObject({ documents: 40, unchanged: 0, replaced: 0, index: 'updated' });
      expect(corpus.stats()).toMatchObject({ indexGeneration: 0, sharing: 'tenant' });
      expect(r1.chunksAdded).toBeGreaterThan(40);
      expect(r1.embedded).toBe(r1.chunksAdded);
      expect(corpus.stats()).toMatchObject({ documents: 40, chunks: r1.chunksAdded, tenants: 1, dimension: 100 });
      for (const mode of MODES) {
        const passages = await corpus.retrieve('protein folding and enzyme binding', { mode, k: 5 });
        expect(passages).toHaveLength(5);
        expect(passages[0].document.metadata).toEqual({ topic: 'protein' });
        for (const p of passages) {
          expect(p.text.length).toBeGreaterThan(0);
          const doc = docs.find((d) => d.id === p.document.id) as RagDocument;
          const body = `${doc.title}\n\n${doc.text}`;
          expect(body.slice(p.document.start, p.document.end).trim()).toBe(p.text);
        }
      }
      const r2 = await corpus.ingest(docs);
      expect(r2).toMatchObject({ documents: 40, unchanged: 40, chunksAdded: 0, embedded: 0, index: 'none' });
    } finally {
      await corpus.close();
    }
  });

  it('replacing a document removes its old passages; removing it removes the rest', async () => {
    const corpus = await open('replace');
    try {
      await corpus.ingest(documents(30, 2, 'd'));
      const before = corpus.stats().chunks;
      await corpus.ingest([{ id: 'd3', text: 'The zebrafish heart regenerates after injury. Zebrafish are small fish.' }]);
      const zebra = await corpus.retrieve('zebrafish', { mode: 'bm25', k: 3 });
      expect(zebra[0].document.id).toBe('d3');
      expect(corpus.getDocument('d3')?.chunks).toHaveLength(1);
      // d3's old text is gone from both indexes.
      for (const mode of MODES) for (const q of QUERIES) for (const p of await corpus.retrieve(q, { mode, k: 20 })) if (p.document.id === 'd3') expect(p.text).toContain('zebrafish');
      const replaced = await corpus.ingest([{ id: 'd3', text: 'Axolotl limbs regrow.' }]);
      expect(replaced).toMatchObject({ replaced: 1, chunksAdded: 1, chunksRemoved: 1 });
      expect((await corpus.retrieve('zebrafish heart', { mode: 'bm25', k: 5 })).some((p) => p.document.id === 'd3')).toBe(false);
      expect(await corpus.removeDocuments(['d3', 'nope'])).toBe(1);
      expect(corpus.getDocument('d3')).toBeNull();
      expect((await corpus.retrieve('axolotl', { mode: 'bm25', k: 5 })).length).toBe(0);
      expect(corpus.stats().chunks).toBeLessThan(before);
      // Live updates (no rebuild): the dense index finds the new text too.
      const live = await corpus.ingest([{ id: 'new', text: 'Galaxy star telescope cosmic orbit planet solar.' }]);
      expect(live.index).toBe('updated');
      const top = await corpus.retrieve('Galaxy star telescope cosmic orbit planet solar.', { mode: 'dense', k: 1, search: { maxLists: 64 } });
      expect(top[0].document.id).toBe('new');
    } finally {
      await corpus.close();
    }
  });

  it('stores identical passages once: embedded once, listed under every document, per tenant', async () => {
    const corpus = await open('dedup');
    try {
      const text = 'Vaccines train the immune system to recognise a virus.';
      const r = await corpus.ingest([
        { id: 'a', text },
        { id: 'b', text },
        { id: 'c', text: 'Rainfall and drought shape the river.' },
      ]);
      expect(r).toMatchObject({ chunksAdded: 2, embedded: 2 });
      const [p] = await corpus.retrieve('vaccine immune virus', { mode: 'bm25', k: 1 });
      expect(p.documents.sort()).toEqual(['a', 'b']);
      // The same text in another tenant: embedded and stored again in that tenant's own scope (the
      // default sharing), so the report is the one any new text gets.
      const other = await corpus.ingest([{ id: 'x', text }], { tenant: 'other' });
      expect(other).toMatchObject({ chunksAdded: 1, embedded: 1, chunksDeduplicated: 0 });
      expect(corpus.stats().texts).toBe(3);
      await corpus.removeDocuments(['a']);
      const [still] = await corpus.retrieve('vaccine immune virus', { mode: 'bm25', k: 1 });
      expect(still.documents).toEqual(['b']);
      await corpus.removeDocuments(['b']);
      expect((await corpus.retrieve('vaccine', { mode: 'bm25', k: 3 })).length).toBe(0);
      expect((await corpus.retrieve('vaccine', { mode: 'bm25', k: 3, tenant: 'other' }))[0].document.id).toBe('x');
      expect(corpus.stats().texts).toBe(2); // "c", and the copy of tenant "other"
    } finally {
      await corpus.close();
    }
  });

  it('with sharing "corpus" (the admin\'s opt-in) a text another tenant ingested is embedded and stored once', async () => {
    const corpus = await open('shared', { sharing: 'corpus' });
    try {
      const text = 'Vaccines train the immune system to recognise a virus.';
      expect(await corpus.ingest([{ id: 'a', text }])).toMatchObject({ chunksAdded: 1, embedded: 1, chunksDeduplicated: 0 });
      expect(await corpus.ingest([{ id: 'x', text }], { tenant: 'other' })).toMatchObject({ chunksAdded: 1, embedded: 0, chunksDeduplicated: 1 });
      expect(corpus.stats()).toMatchObject({ texts: 1, sharing: 'corpus' });
      expect(corpus.kvNamespace('default')).toBe(corpus.kvNamespace('other'));
      await corpus.removeDocuments(['a']);
      expect((await corpus.retrieve('vaccine', { mode: 'dense', k: 1, tenant: 'other' }))[0].text).toBe(text);
      expect(corpus.stats().texts).toBe(1);
    } finally {
      await corpus.close();
    }
    // Sharing is fixed at creation.
    await expect(open('shared', { sharing: 'tenant' })).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'sharing' });
    const again = await open('shared');
    expect(again.sharing).toBe('corpus');
    await again.close();
  });

  it('never returns another tenant\'s passage, in any mode', async () => {
    const corpus = await open('tenants');
    try {
      await corpus.ingest(documents(30, 3, 'a'), { tenant: 'alpha' });
      await corpus.ingest(documents(30, 4, 'b'), { tenant: 'beta' });
      await corpus.ingest([{ id: 'shared-b', text: 'Protein folding structure of the enzyme.' }], { tenant: 'beta' });
      expect(corpus.tenants().sort()).toEqual(['alpha', 'beta']);
      for (const mode of MODES) {
        for (const q of [...QUERIES, 'Protein folding structure of the enzyme.']) {
          for (const p of await corpus.retrieve(q, { mode, tenant: 'alpha', k: 50 })) for (const d of p.documents) expect(d.startsWith('a')).toBe(true);
          for (const p of await corpus.retrieve(q, { mode, tenant: 'beta', k: 50 })) for (const d of p.documents) expect(d.startsWith('b') || d === 'shared-b').toBe(true);
        }
      }
      await expect(corpus.retrieve('x', { tenant: 'gamma' })).rejects.toMatchObject({ code: 'STRATA_UNKNOWN_TENANT', field: 'tenant' });
      expect(await corpus.deleteTenant('beta')).toBe(31);
      expect(corpus.tenants()).toEqual(['alpha']);
      await expect(corpus.retrieve('protein', { tenant: 'beta' })).rejects.toMatchObject({ code: 'STRATA_UNKNOWN_TENANT' });
    } finally {
      await corpus.close();
    }
  });

  it('BM25 scores equal a hand computation (k1 0.9, b 0.4, Lucene idf)', async () => {
    const corpus = await open('bm25', { chunk: { maxTokens: 256, overlapTokens: 0 } });
    try {
      const docs = documents(25, 5, 'd');
      await corpus.ingest(docs);
      const texts = docs.map((d) => analyze(`${d.title}\n\n${d.text}`));
      const avgdl = texts.reduce((s, t) => s + t.length, 0) / texts.length;
      for (const q of QUERIES) {
        const terms = analyze(q);
        const want = texts
          .map((t, i) => {
            let s = 0;
            for (const term of terms) {
              const tf = t.filter((x) => x === term).length;
              const df = texts.filter((x) => x.includes(term)).length;
              if (tf === 0) continue;
              const idf = Math.log(1 + (texts.length - df + 0.5) / (df + 0.5));
              s += (idf * tf * 1.9) / (tf + 0.9 * (0.6 + (0.4 * t.length) / avgdl));
            }
            return { id: docs[i].id, s };
          })
          .filter((x) => x.s > 0)
          .sort((a, b) => b.s - a.s);
        const got = await corpus.retrieve(q, { mode: 'bm25', k: 10 });
        expect(got.length).toBe(Math.min(10, want.length));
        got.forEach((p, i) => expect(p.score).toBeCloseTo(want[i].s, 5));
      }
    } finally {
      await corpus.close();
    }
  });

  it('dense retrieval through the index finds what exact search finds when it reads every list', async () => {
    const corpus = await open('exact');
    try {
      await corpus.ingest(documents(60, 6, 'd'));
      for (const q of QUERIES) {
        const exact = await corpus.retrieve(q, { mode: 'dense', exact: true, k: 10 });
        const ann = await corpus.retrieve(q, { mode: 'dense', k: 10, search: { maxLists: 10_000, eps2: 1000 } });
        expect(ann.map((p) => p.id)).toEqual(exact.map((p) => p.id));
        ann.forEach((p, i) => expect(p.score).toBeCloseTo(exact[i].score, 5));
      }
    } finally {
      await corpus.close();
    }
  });

  it('rebuilds a grown index in the background (index/generations.ts): writes meanwhile are replayed, one generation stays', async () => {
    const corpus = await open('grow', { rebuildGrowth: 2 });
    try {
      await corpus.ingest(documents(8, 11, 'a')); // the first build, in the ingest
      const g0 = corpus.stats().indexGeneration as number;
      const crossing = await corpus.ingest(documents(30, 12, 'b')); // past 2x: a rebuild starts, the ingest does not wait for it
      expect(crossing.index).toBe('updated');
      const late = documents(6, 13, 'c');
      await corpus.ingest(late, { tenant: 'late' }); // written while the rebuild may run: logged and replayed
      await corpus.settled();
      const s = corpus.stats();
      expect(s.indexGeneration).toBe(g0 + 1);
      expect(s.builtCount).toBeGreaterThanOrEqual(crossing.chunksAdded);
      expect(readdirSync(join(tmp.dir, 'grow')).filter((f) => f.startsWith('index-'))).toEqual([`index-${g0 + 1}`]);
      // Every late document is found by its own text through the index.
      for (const d of late) {
        const [top] = await corpus.retrieve(d.text.slice(0, 200), { tenant: 'late', mode: 'dense', k: 1, search: { maxLists: 64 } });
        expect(top.document.id).toBe(d.id);
      }
    } finally {
      await corpus.close();
    }
  });

  it('gives identical results after reopening, and rebuilds an index left unsynced by a crash', async () => {
    const name = 'reopen';
    let corpus = await open(name);
    const answer = async (c: Corpus) => Promise.all(MODES.flatMap((mode) => QUERIES.map((q) => c.retrieve(q, { mode, k: 8 }))));
    await corpus.ingest(documents(40, 7, 'd'));
    const before = await answer(corpus);
    await corpus.close();
    corpus = await open(name);
    expect(await answer(corpus)).toEqual(before);
    // As if the process died between the LMDB commit and the index write.
    corpus.store.setMeta({ indexSynced: false });
    const gen = corpus.stats().indexGeneration as number;
    await corpus.close();
    corpus = await open(name);
    try {
      expect(corpus.stats().indexGeneration).toBe(gen + 1);
      const after = await answer(corpus);
      // Same passages found (ranks of equal-score ties aside, the index is rebuilt from the same vectors).
      after.forEach((ps, i) => expect(new Set(ps.map((p) => p.id))).toEqual(new Set(before[i].map((p) => p.id))));
    } finally {
      await corpus.close();
    }
  });

  it('bad input is a coded error naming the field, and changes nothing', async () => {
    const corpus = await open('bad');
    try {
      await corpus.ingest(documents(10, 8, 'd'));
      const stats = corpus.stats();
      const bad: unknown[][] = [
        [{ id: '', text: 'x' }],
        [{ id: 'ok', text: 'fine' }, { id: 'e', text: '   ' }],
        [{ id: 'm', text: 'x', metadata: [1] }],
        [{ id: 'dup', text: 'one' }, { id: 'dup', text: 'two' }],
        [{ id: 'n', text: 42 }],
      ];
      for (const docs of bad) await expect(corpus.ingest(docs as RagDocument[])).rejects.toMatchObject({ code: 'STRATA_INVALID_DOCUMENT', field: expect.stringMatching(/^documents\[\d\]/) });
      await expect(corpus.ingest([{ id: 'x', text: 'y' }], { tenant: '' })).rejects.toMatchObject({ code: 'STRATA_INVALID_TENANT' });
      await expect(corpus.retrieve('protein', { k: 0 })).rejects.toMatchObject({ code: 'STRATA_INVALID_K', field: 'k' });
      await expect(corpus.retrieve('  ')).rejects.toMatchObject({ code: 'STRATA_INVALID_OPTION', field: 'queries[0]' });
      await expect(corpus.retrieve('protein', { mode: 'magic' as never })).rejects.toMatchObject({ field: 'mode' });
      await expect(corpus.retrieve('protein', { weights: { dense: -1 } })).rejects.toMatchObject({ field: 'weights.dense' });
      expect(corpus.stats()).toEqual(stats);
    } finally {
      await corpus.close();
    }
    // The corpus remembers its encoder: another model (here: unnormalised vectors) is refused.
    await expect(Corpus.open(join(tmp.dir, 'bad'), { model: GLOVE, modelConfig: { normalize: false } })).rejects.toMatchObject({ code: 'STRATA_MODEL_MISMATCH', field: 'model' });
  });
});
