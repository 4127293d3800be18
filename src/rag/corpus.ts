/**
 * A corpus: documents in, passages out. Documents are chunked (chunker.ts), each distinct chunk
 * text is embedded once (embedder-pool.ts) and stored once (passage-store.ts), and a tenant's chunks
 * go into the vector index (a SpannIndex generation, tenant = the document's tenant) and into the
 * BM25 index (lexical-index.ts). Retrieval is dense, BM25 or hybrid (reciprocal rank fusion).
 *
 * Writes: LMDB first (one transaction per ingest call), then the vector index. `indexSynced` is
 * cleared before the index write and set after it, so a crash in between is repaired at the next
 * open by rebuilding the index from the stored vectors. The index is rebuilt (into a new generation
 * folder, the old one removed after the switch) when the corpus has grown `rebuildGrowth` times past
 * the last build (in the background: index/generations.ts, writes go on and are replayed into the
 * new generation); smaller changes are live inserts and deletes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { dot } from '../index/distance.js';
import { exactSearch } from '../index/exact.js';
import type { IndexOptions, SearchParams } from '../index/options.js';
import { checkTenantName, DEFAULT_TENANT } from '../index/tenants.js';
import { type GenerationWrite, rebuildGeneration, removeOtherGenerations } from '../index/generations.js';
import { createIndex, openIndex, type SpannIndex } from '../index/spann.js';
import { chunkText, DEFAULT_CHUNK_OPTIONS, type ChunkOptions } from './chunker.js';
import { checkDocument, documentBody, type RagDocument } from './documents.js';
import { EmbedderPool, type EmbedderPoolOptions } from './embedder-pool.js';
import { DEFAULT_FUSION, DEFAULT_FUSION_METHOD, fuseCandidates, type FusionMethod, type FusionWeights, type QueryCandidates, type Ranked } from './fusion.js';
import { DEFAULT_BM25, type Bm25Params } from './lexical-index.js';
import type { ModelConfigFile } from './model-config.js';
import { CORPUS_SHARING, contentHash, DEFAULT_SHARING, docKey, PASSAGES_FORMAT, PassageStore, type ChunkRecord, type CorpusSharing, type DocRecord } from './passage-store.js';

export interface CorpusOptions {
  /** Sentence-encoder directory (model-config.ts), or an EmbedderPool already loaded (not closed with the corpus). */
  model: string | EmbedderPool;
  /** Overrides of the model directory's config. */
  modelConfig?: ModelConfigFile;
  /** Embedding pool settings (threads, batch size, execution providers). */
  embedder?: EmbedderPoolOptions;
  /** Chunk size and overlap in tokens. Default 256 / 32, maxTokens capped by the model's maxLength. */
  chunk?: Partial<ChunkOptions>;
  /** BM25 k1 and b. Default 0.9 / 0.4. */
  bm25?: Partial<Bm25Params>;
  /** Vector index options (spec, headRatio, ...); dimension comes from the model, metric is cosine. */
  index?: Partial<Omit<IndexOptions, 'dimension' | 'metric'>>;
  /** Rebuild the vector index once the corpus holds this many times the chunks of the last build. Default 4. */
  rebuildGrowth?: number;
  /**
   * Who shares stored texts, embeddings and (through kvNamespace) cached chunk KV: 'tenant' (default:
   * each tenant alone, nothing a tenant sees depends on another's documents) or 'corpus' (every tenant
   * of the corpus: a text ingested by several tenants is embedded once; for public documents). Fixed
   * when the corpus is created; opening with another value is an error.
   */
  sharing?: CorpusSharing;
}

export type RetrievalMode = 'dense' | 'bm25' | 'hybrid';
export const RETRIEVAL_MODES: readonly RetrievalMode[] = ['dense', 'bm25', 'hybrid'];
export const DEFAULT_RETRIEVAL_MODE: RetrievalMode = 'hybrid';

export interface RetrieveOptions {
  /** Tenant whose passages are searched. Default "default". */
  tenant?: string;
  /** Passages returned. Default 10. */
  k?: number;
  /** Default 'hybrid'. */
  mode?: RetrievalMode;
  /** Hybrid: how the two rankings are fused (fusion.ts). Default 'rrf'. */
  fusion?: FusionMethod;
  /** Hybrid: weight of each ranking in the fusion. Default { dense: 1, bm25: 1 }. */
  weights?: Partial<FusionWeights>;
  /** Hybrid: candidates taken from each retriever before fusion. Default max(100, k). */
  candidates?: number;
  /** Hybrid: RRF's rank offset. Default 60. */
  rrfK?: number;
  /** Vector index search parameters (maxLists, ...). */
  search?: Partial<SearchParams>;
  /** Dense by exact search over the tenant's vectors instead of the index (the reference answer). */
  exact?: boolean;
}

export interface Passage {
  /** Content hash of the passage text (stable across runs and corpora). */
  id: string;
  score: number;
  text: string;
  /** The document the passage comes from (the first, when identical text appears in several). */
  document: { id: string; title?: string; metadata?: RagDocument['metadata']; source?: string; start: number; end: number };
  /** Every document of the tenant holding this exact passage text. */
  documents: string[];
  /** Rank (from 1) in each ranking that found it. */
  ranks: { dense?: number; bm25?: number };
}

export interface IngestReport {
  documents: number;
  /** Documents whose stored copy was identical (nothing done). */
  unchanged: number;
  /** Documents that replaced an older version. */
  replaced: number;
  chunksAdded: number;
  chunksRemoved: number;
  /**
   * New chunk entries whose text was already stored and embedded in the tenant's sharing scope (always
   * 0 unless the corpus shares texts across tenants: then another tenant's copy was reused).
   */
  chunksDeduplicated: number;
  /** Texts run through the encoder. */
  embedded: number;
  /**
   * 'updated' when the tenant's passages in the vector index changed, else 'none'. Whether that took
   * a rebuild of the whole index (which depends on every tenant's data) is not said here: see stats().
   */
  index: 'updated' | 'none';
  seconds: number;
}

export type IngestStage = 'chunk' | 'embed' | 'store' | 'index';

export interface IngestOptions {
  tenant?: string;
  onProgress?: (stage: IngestStage, done: number, total: number) => void;
}

function checkRagTenant(name: unknown, field = 'tenant'): string {
  const t = checkTenantName(name, field);
  if (t.includes('\0')) throw createError('STRATA_INVALID_TENANT', `${field} must not contain NUL`, field);
  return t;
}

export class Corpus {
  private index: SpannIndex | null = null;
  private writing: Promise<unknown> = Promise.resolve();
  /** A background rebuild in progress, and the writes made since its snapshot (replayed into it). */
  private rebuilding: Promise<void> | null = null;
  private log: GenerationWrite[] | null = null;

  private constructor(
    readonly dir: string,
    readonly store: PassageStore,
    readonly embedder: EmbedderPool,
    private readonly ownsEmbedder: boolean,
    readonly chunkOptions: ChunkOptions,
    private readonly options: CorpusOptions,
  ) {}

  /** Open (or create) the corpus in `dir` with the given encoder; refuses a corpus built with another model. */
  static async open(dir: string, options: CorpusOptions): Promise<Corpus> {
    const growth = options.rebuildGrowth ?? 4;
    if (!(growth > 1)) throw createError('STRATA_INVALID_OPTION', `rebuildGrowth must be > 1, got ${options.rebuildGrowth}`, 'rebuildGrowth');
    const embedder = typeof options.model === 'string' ? await EmbedderPool.load(options.model, options.modelConfig, options.embedder) : options.model;
    const owns = typeof options.model === 'string';
    const maxTokens = Math.min(options.chunk?.maxTokens ?? DEFAULT_CHUNK_OPTIONS.maxTokens, embedder.local.config.maxLength - embedder.local.tokenizer.specialTokens);
    const chunkOptions: ChunkOptions = { maxTokens, overlapTokens: Math.min(options.chunk?.overlapTokens ?? DEFAULT_CHUNK_OPTIONS.overlapTokens, maxTokens - 1) };
    chunkText('probe', () => 1, chunkOptions); // validates the options
    if (options.sharing !== undefined && !CORPUS_SHARING.includes(options.sharing)) {
      throw createError('STRATA_INVALID_OPTION', `sharing must be one of ${CORPUS_SHARING.join(', ')}, got ${JSON.stringify(options.sharing)}`, 'sharing');
    }
    const store = PassageStore.open(dir, { ...DEFAULT_BM25, ...options.bm25 });
    const corpus = new Corpus(dir, store, embedder, owns, chunkOptions, options);
    try {
      const fingerprint = modelFingerprint(embedder);
      const stored = store.getMeta<{ fingerprint: string; dimension: number; onnx: string }>('model');
      if (stored && stored.fingerprint !== fingerprint) {
        throw createError('STRATA_MODEL_MISMATCH', `model: the corpus at ${dir} was embedded with ${stored.onnx} (${stored.dimension}-d), not ${embedder.local.config.onnx}; re-ingest into a new corpus`, 'model');
      }
      if (!stored) {
        store.setMeta({ model: { fingerprint, dimension: embedder.dimension, onnx: embedder.local.config.onnx, dir: embedder.local.config.dir }, format: PASSAGES_FORMAT, sharing: options.sharing ?? DEFAULT_SHARING, id: randomUUID() });
      } else {
        const format = store.getMeta<number>('format') ?? 1;
        if (format > PASSAGES_FORMAT) throw createError('STRATA_FORMAT_VERSION', `the corpus at ${dir} has format ${format}; this build reads format ${PASSAGES_FORMAT}`, 'corpus');
        if (format === 1) {
          // Format 1 shared texts across tenants; migrated to per-tenant copies (isolation by default).
          store.migrateFormat1();
          store.setMeta({ sharing: 'tenant', id: randomUUID() });
        }
      }
      store.sharing = store.getMeta<CorpusSharing>('sharing') ?? DEFAULT_SHARING;
      if (options.sharing !== undefined && options.sharing !== store.sharing) {
        throw createError('STRATA_INVALID_OPTION', `sharing: the corpus at ${dir} was created with sharing ${JSON.stringify(store.sharing)}; it cannot change (ingest into a new corpus)`, 'sharing');
      }
      const gen = store.getMeta<number>('generation');
      removeOtherGenerations(dir, gen); // leftovers of a crash during a rebuild
      if (gen !== undefined) {
        if (store.getMeta<boolean>('indexSynced') === false) await corpus.rebuildIndex();
        else corpus.index = await openIndex(corpus.indexDir(gen));
      }
    } catch (err) {
      await corpus.close();
      throw err;
    }
    return corpus;
  }

  /** The model directory a corpus was created with (undefined when there is no corpus in `dir`). */
  static async storedModelDir(dir: string): Promise<string | undefined> {
    if (!PassageStore.exists(dir)) return undefined;
    const store = PassageStore.open(dir, DEFAULT_BM25);
    try {
      return store.getMeta<{ dir?: string }>('model')?.dir;
    } finally {
      await store.close();
    }
  }

  private indexDir(gen: number): string {
    return join(this.dir, `index-${gen}`);
  }

  get dimension(): number {
    return this.embedder.dimension;
  }

  /** Who shares texts, embeddings and KV caches in this corpus (fixed at creation). */
  get sharing(): CorpusSharing {
    return this.store.sharing;
  }

  /**
   * The chunk KV cache namespace of a tenant's prompts (KvEngine.assemble's `namespace`): the tenant
   * of this corpus alone, or the whole corpus when it was created with sharing 'corpus'.
   */
  kvNamespace(tenant: string = DEFAULT_TENANT): string {
    const id = this.store.getMeta<string>('id') as string;
    return JSON.stringify(this.sharing === 'corpus' ? ['corpus', id] : ['corpus', id, checkRagTenant(tenant)]);
  }

  /** Serialise writes: one ingest/remove at a time, in call order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writing.then(fn, fn);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Add or replace documents of one tenant. A document whose id exists is replaced (unchanged ones are skipped). */
  async ingest(docs: readonly RagDocument[], options: IngestOptions = {}): Promise<IngestReport> {
    const tenant = checkRagTenant(options.tenant ?? DEFAULT_TENANT);
    if (!Array.isArray(docs)) throw createError('STRATA_INVALID_DOCUMENT', 'documents must be an array of {id, text, title?, metadata?}', 'documents');
    const seen = new Set<string>();
    docs.forEach((d, i) => {
      checkDocument(d, `documents[${i}]`);
      if (seen.has(d.id)) throw createError('STRATA_INVALID_DOCUMENT', `documents[${i}].id ${JSON.stringify(d.id)} repeats an earlier document of the same call`, `documents[${i}].id`);
      seen.add(d.id);
    });
    return this.exclusive(() => this.write(tenant, docs, [], options.onProgress));
  }

  /** Remove documents (and the passages only they held) from a tenant; returns how many existed. */
  async removeDocuments(ids: readonly string[], options: { tenant?: string } = {}): Promise<number> {
    const tenant = checkRagTenant(options.tenant ?? DEFAULT_TENANT);
    const report = await this.exclusive(() => this.write(tenant, [], ids));
    return report.documents;
  }

  private async write(tenant: string, docs: readonly RagDocument[], removeIds: readonly string[], onProgress?: IngestOptions['onProgress']): Promise<IngestReport> {
    const t0 = performance.now();
    const store = this.store;
    const report: IngestReport = { documents: 0, unchanged: 0, replaced: 0, chunksAdded: 0, chunksRemoved: 0, chunksDeduplicated: 0, embedded: 0, index: 'none', seconds: 0 };

    // 1. Plan: new document records, chunk refs to add and remove.
    interface Planned {
      key: string;
      record: DocRecord | null;
      old: DocRecord | undefined;
      /** contentHash of each chunk's text (the texts are in textOf). */
      hashes: string[];
      tokens: number[];
    }
    const planned: Planned[] = [];
    for (const id of removeIds) {
      const old = store.doc(docKey(tenant, id));
      if (old) planned.push({ key: docKey(tenant, id), record: null, old, hashes: [], tokens: [] });
    }
    // Documents that changed are chunked (and their chunks analysed for BM25) on the pool.
    const changed: Array<{ doc: RagDocument; key: string; hash: string; old: DocRecord | undefined }> = [];
    for (const doc of docs) {
      const key = docKey(tenant, doc.id);
      const hash = createHash('sha256').update(JSON.stringify([doc.title ?? null, doc.text, doc.metadata ?? null])).digest('hex').slice(0, 32);
      const old = store.doc(key);
      report.documents++;
      if (old && old.hash === hash) report.unchanged++;
      else changed.push({ doc, key, hash, old });
    }
    const chunked = await this.embedder.chunk(
      changed.map((c) => documentBody(c.doc)),
      this.chunkOptions,
      (done) => onProgress?.('chunk', done, changed.length),
    );
    const termsOf = new Map<string, Map<string, number>>(); // text hash -> BM25 term frequencies
    const textOf = new Map<string, string>(); // text hash -> text
    changed.forEach(({ doc, key, hash, old }, i) => {
      if (old) report.replaced++;
      const { pieces, terms } = chunked[i];
      const record: DocRecord = { hash, chunks: pieces.map((p) => [-1, p.start, p.end]) };
      if (doc.title) record.title = doc.title;
      if (doc.metadata) record.metadata = doc.metadata;
      if (doc.source) record.source = doc.source;
      const hashes = pieces.map((p) => contentHash(p.text));
      pieces.forEach((p, j) => {
        textOf.set(hashes[j], p.text);
        termsOf.set(hashes[j], new Map(terms[j][0].map((t, k) => [t, terms[j][1][k]])));
      });
      planned.push({ key, record, old, hashes, tokens: pieces.map((p) => p.tokens) });
    });
    if (removeIds.length > 0) report.documents = planned.length;

    // 2. Chunk entries: existing ones by (tenant, hash), new ones numbered from nextId.
    let nextId = store.getMeta<number>('nextId') ?? 0;
    const touched = new Map<number, ChunkRecord>(); // chunk id -> record after this write
    const created = new Map<string, number>(); // hash -> new chunk id
    const chunkOf = (id: number): ChunkRecord | undefined => touched.get(id) ?? store.chunk(id);
    for (const p of planned) {
      const docId = p.key.slice(tenant.length + 1);
      if (p.old) {
        for (const [cid] of p.old.chunks) {
          const c = chunkOf(cid);
          if (c?.d.includes(docId)) touched.set(cid, { ...c, d: c.d.filter((d) => d !== docId) });
        }
      }
      if (!p.record) continue;
      p.record.chunks.forEach((span, i) => {
        const hash = p.hashes[i];
        let cid = created.get(hash) ?? store.chunkIdOf(tenant, hash);
        if (cid === undefined) {
          cid = nextId++;
          created.set(hash, cid);
          touched.set(cid, { t: tenant, h: hash, d: [], n: p.tokens[i] });
        }
        span[0] = cid;
        const c = chunkOf(cid) as ChunkRecord;
        if (!c.d.includes(docId)) touched.set(cid, { ...c, d: [...c.d, docId] });
      });
    }

    // 3. Embed the texts no tenant has embedded yet.
    const addedIds: number[] = [];
    const removedIds: number[] = [];
    const toEmbed: string[] = [];
    for (const [cid, c] of touched) {
      const existed = !created.has(c.h) || created.get(c.h) !== cid;
      if (!existed && c.d.length > 0) {
        addedIds.push(cid);
        if (!store.hasText(tenant, c.h)) toEmbed.push(c.h);
        else report.chunksDeduplicated++;
      } else if (existed && c.d.length === 0) {
        removedIds.push(cid);
      }
    }
    const newVectors = toEmbed.length > 0 ? await this.embedder.embed(toEmbed.map((h) => textOf.get(h) as string), (done) => onProgress?.('embed', done, toEmbed.length)) : new Float32Array(0);
    report.embedded = toEmbed.length;
    const d = this.dimension;

    // 4. One LMDB transaction: texts, vectors, chunks, documents, postings, counters.
    onProgress?.('store', 0, 1);
    store.commitIngest({
      tenant,
      embedded: toEmbed.map((h, i) => [h, newVectors.subarray(i * d, (i + 1) * d)]),
      added: addedIds.map((cid) => {
        const c = touched.get(cid) as ChunkRecord;
        return { id: cid, hash: c.h, text: textOf.get(c.h), terms: termsOf.get(c.h) };
      }),
      removed: removedIds.map((cid) => ({ id: cid, hash: (chunkOf(cid) as ChunkRecord).h })),
      chunks: [...touched].filter(([, c]) => c.d.length > 0),
      docs: planned.map((p) => [p.key, p.record]),
      nextId,
      tenantHasDocuments: docs.length > 0,
    });
    onProgress?.('store', 1, 1);
    report.chunksAdded = addedIds.length;
    report.chunksRemoved = removedIds.length;

    // 5. The vector index.
    if (addedIds.length + removedIds.length > 0) {
      await this.syncIndex(tenant, addedIds, removedIds, onProgress);
      report.index = 'updated';
    }
    report.seconds = (performance.now() - t0) / 1000;
    return report;
  }

  private liveCount(): number {
    return this.store.chunkCount();
  }

  private async syncIndex(tenant: string, added: number[], removed: number[], onProgress?: IngestOptions['onProgress']): Promise<void> {
    if (!this.index) {
      await this.rebuildIndex(onProgress); // the first build: retrieval needs it before the ingest returns
      return;
    }
    const index = this.index;
    if (added.length > 0) {
      const d = this.dimension;
      const vectors = new Float32Array(added.length * d);
      added.forEach((cid, i) => vectors.set(this.store.vector(tenant, (this.store.chunk(cid) as ChunkRecord).h) as Float32Array, i * d));
      const labels = Uint32Array.from(added);
      this.log?.push({ op: 'upsert', labels, vectors, tenants: added.map(() => tenant), attributes: null });
      await index.upsert(vectors, labels, { tenants: tenant });
    }
    if (removed.length > 0) {
      const labels = Uint32Array.from(removed);
      this.log?.push({ op: 'delete', labels });
      await index.delete(labels);
    }
    this.store.setMeta({ indexSynced: true });
    // Grown past the clustering: rebuild in the background (writes go on and are replayed), so the
    // ingest that crosses the threshold does not wait for it (nor does its tenant see the cost).
    const built = this.store.getMeta<number>('builtCount') ?? 0;
    if (!this.rebuilding && this.liveCount() >= (this.options.rebuildGrowth ?? 4) * built) {
      this.rebuilding = this.rebuildInBackground().finally(() => {
        this.rebuilding = null;
      });
    }
  }

  /** Rebuild into the next generation on a thread of its own (generations.ts) and switch to it. */
  private async rebuildInBackground(): Promise<void> {
    const current = this.index as SpannIndex;
    const live = [...this.store.liveChunks()];
    const d = this.dimension;
    const vectors = new Float32Array(live.length * d);
    live.forEach((c, i) => vectors.set(this.store.vector(c.tenant, c.hash) as Float32Array, i * d));
    const old = this.store.getMeta<number>('generation') as number;
    const gen = old + 1;
    const log: GenerationWrite[] = (this.log = []);
    try {
      await rebuildGeneration(this.dir, gen, current.options, { ids: Uint32Array.from(live, (c) => c.id), vectors, tenants: live.map((c) => c.tenant), attributes: null }, log, (next) => {
        this.store.setMeta({ generation: gen, builtCount: live.length });
        this.index = next;
        this.log = null;
      });
      await current.close();
      rmSync(this.indexDir(old), { recursive: true, force: true });
    } catch (err) {
      // The current generation stays; the next write past the threshold tries again.
      if (this.index !== current) throw err;
    } finally {
      this.log = null;
    }
  }

  /** Resolves when a background rebuild in progress (if any) has switched generations. */
  async settled(): Promise<void> {
    while (this.rebuilding) await this.rebuilding;
  }

  /** Build a new index generation from every stored chunk vector, switch to it, drop the old one. */
  async rebuildIndex(onProgress?: IngestOptions['onProgress']): Promise<void> {
    const live = [...this.store.liveChunks()];
    const old = this.store.getMeta<number>('generation');
    const gen = (old ?? -1) + 1;
    const previous = this.index;
    if (live.length === 0) {
      this.index = null;
      await previous?.close();
      this.store.setMeta({ builtCount: 0, indexSynced: true }, ['generation']);
      if (old !== undefined) rmSync(this.indexDir(old), { recursive: true, force: true });
      return;
    }
    const d = this.dimension;
    const vectors = new Float32Array(live.length * d);
    live.forEach((c, i) => vectors.set(this.store.vector(c.tenant, c.hash) as Float32Array, i * d));
    rmSync(this.indexDir(gen), { recursive: true, force: true });
    const index = await createIndex(this.indexDir(gen), { ...this.options.index, dimension: d, metric: 'cosine' });
    await index.build(vectors, Uint32Array.from(live, (c) => c.id), {
      tenants: live.map((c) => c.tenant),
      onProgress: (p) => onProgress?.('index', p.done, p.total),
    });
    this.store.setMeta({ generation: gen, builtCount: live.length, indexSynced: true });
    this.index = index;
    await previous?.close();
    if (old !== undefined) rmSync(this.indexDir(old), { recursive: true, force: true });
  }

  /** Passages for `query` in one tenant. */
  async retrieve(query: string, options: RetrieveOptions = {}): Promise<Passage[]> {
    const [out] = await this.retrieveMany([query], options);
    return out;
  }

  /** Passages for many queries (queries are embedded together). */
  async retrieveMany(queries: readonly string[], options: RetrieveOptions = {}): Promise<Passage[][]> {
    const tenant = checkRagTenant(options.tenant ?? DEFAULT_TENANT);
    const k = options.k ?? 10;
    const candidates = await this.candidates(queries, options);
    return candidates.map((c) => {
      const { ids, scores } = fuseCandidates(c, options, k);
      const denseRank = c.dense ? new Map(c.dense.ids.map((id, r) => [id, r + 1])) : null;
      const bmRank = c.bm25 ? new Map(c.bm25.ids.map((id, r) => [id, r + 1])) : null;
      return ids.map((cid, r) => this.passage(tenant, cid, scores[r], { dense: denseRank?.get(cid), bm25: bmRank?.get(cid) }));
    });
  }

  /**
   * Each retriever's ranking of the chunks (ids best first, with scores) for each query, before
   * fusion: what `retrieveMany` fuses, exposed for evaluation and tuning (fuseCandidates).
   */
  async candidates(queries: readonly string[], options: RetrieveOptions = {}): Promise<QueryCandidates[]> {
    const tenant = checkRagTenant(options.tenant ?? DEFAULT_TENANT);
    const k = options.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 10_000) throw createError('STRATA_INVALID_K', `k must be an integer in [1, 10000], got ${k}`, 'k');
    if (!Array.isArray(queries)) throw createError('STRATA_INVALID_OPTION', 'queries must be an array of strings', 'queries');
    queries.forEach((q, i) => {
      if (typeof q !== 'string' || q.trim() === '') throw createError('STRATA_INVALID_OPTION', `queries[${i}] must be a non-empty string`, `queries[${i}]`);
    });
    if (!this.store.hasTenant(tenant)) throw createError('STRATA_UNKNOWN_TENANT', `tenant ${JSON.stringify(tenant)} has no documents in this corpus`, 'tenant');
    const mode = options.mode ?? DEFAULT_RETRIEVAL_MODE;
    if (!RETRIEVAL_MODES.includes(mode)) throw createError('STRATA_INVALID_OPTION', `mode must be one of ${RETRIEVAL_MODES.join(', ')}, got ${JSON.stringify(mode)}`, 'mode');
    const fusion = options.fusion ?? DEFAULT_FUSION_METHOD;
    if (fusion !== 'rrf' && fusion !== 'convex') throw createError('STRATA_INVALID_OPTION', `fusion must be rrf or convex, got ${JSON.stringify(fusion)}`, 'fusion');
    for (const [name, w] of Object.entries({ ...DEFAULT_FUSION, ...options.weights })) {
      if (typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w)) throw createError('STRATA_INVALID_OPTION', `weights.${name} must be a finite number >= 0, got ${w}`, `weights.${name}`);
    }
    const depth = mode === 'hybrid' ? Math.max(options.candidates ?? 100, k) : k;
    if (!Number.isInteger(depth) || depth > 10_000) throw createError('STRATA_INVALID_OPTION', `candidates must be an integer <= 10000, got ${options.candidates}`, 'candidates');
    const d = this.dimension;
    const q = mode === 'bm25' ? null : queries.length > 32 ? await this.embedder.embed(queries) : await this.embedder.embedHere(queries);
    const dense = q ? await this.denseRankings(q, queries.length, tenant, depth, options) : null;
    return queries.map((text, qi) => {
      const c: QueryCandidates = { mode, dense: dense ? dense[qi] : null, bm25: mode === 'dense' ? null : this.store.searchLexical(tenant, text, depth) };
      if (mode === 'hybrid' && fusion === 'convex') {
        // Convex fusion needs a dense score for every candidate: BM25's finds are scored from the stored vectors.
        const have = new Set(c.dense!.ids);
        const extra: Ranked = { ids: [], scores: [] };
        const qv = q!.subarray(qi * d, (qi + 1) * d);
        for (const cid of c.bm25!.ids) {
          if (have.has(cid)) continue;
          extra.ids.push(cid);
          extra.scores.push(cosine(qv, this.store.vector(tenant, (this.store.chunk(cid) as ChunkRecord).h) as Float32Array));
        }
        c.denseExtra = extra;
      }
      return c;
    });
  }

  /** Documents (ids, in the tenant) holding a chunk's text. */
  chunkDocuments(chunkId: number): string[] {
    return this.store.chunk(chunkId)?.d ?? [];
  }

  /** Dense rankings (chunk ids best first, cosine similarity) of each query. */
  private async denseRankings(q: Float32Array, nq: number, tenant: string, depth: number, options: RetrieveOptions): Promise<Array<{ ids: number[]; scores: number[] }>> {
    const d = this.dimension;
    const out: Array<{ ids: number[]; scores: number[] }> = [];
    if (options.exact) {
      const live = [...this.store.liveChunks()].filter((c) => c.tenant === tenant);
      const base = new Float32Array(live.length * d);
      live.forEach((c, i) => base.set(this.store.vector(tenant, c.hash) as Float32Array, i * d));
      const kk = Math.min(depth, live.length);
      const res = await exactSearch(base, q, d, kk, { metric: 'cosine', labels: Uint32Array.from(live, (c) => c.id), threads: 1 });
      for (let i = 0; i < nq; i++) out.push(rows(res.ids, res.distances, i * kk, kk));
      return out;
    }
    // No index, or none of the tenant's passages in it (all removed, then a rebuild): nothing to find.
    if (!this.index?.hasTenant(tenant)) return Array.from({ length: nq }, () => ({ ids: [], scores: [] }));
    const search = { ...options.search, tenant };
    if (nq === 1) {
      const r = this.index.search(q, depth, search);
      out.push(rows(r.ids, r.distances, 0, r.ids.length));
    } else {
      const r = await this.index.searchBatch(q, depth, search);
      for (let i = 0; i < nq; i++) out.push(rows(r.ids, r.distances, i * depth, depth));
    }
    return out;
  }

  private passage(tenant: string, cid: number, score: number, ranks: Passage['ranks']): Passage {
    const c = this.store.chunk(cid) as ChunkRecord;
    const text = this.store.text(tenant, c.h) ?? '';
    const docId = c.d[0];
    const doc = this.store.doc(docKey(tenant, docId)) as DocRecord;
    const span = doc.chunks.find((s) => s[0] === cid) ?? [cid, 0, 0];
    const document: Passage['document'] = { id: docId, start: span[1], end: span[2] };
    if (doc.title) document.title = doc.title;
    if (doc.metadata) document.metadata = doc.metadata;
    if (doc.source) document.source = doc.source;
    const r: Passage['ranks'] = {};
    if (ranks.dense !== undefined) r.dense = ranks.dense;
    if (ranks.bm25 !== undefined) r.bm25 = ranks.bm25;
    return { id: c.h, score, text, document, documents: [...c.d], ranks: r };
  }

  /** A stored document (without its text, which lives in its chunks) or null. */
  getDocument(id: string, options: { tenant?: string } = {}): (Omit<DocRecord, 'chunks'> & { id: string; chunks: Array<{ passage: string; start: number; end: number }> }) | null {
    const tenant = checkRagTenant(options.tenant ?? DEFAULT_TENANT);
    const doc = this.store.doc(docKey(tenant, id));
    if (!doc) return null;
    const { chunks, ...rest } = doc;
    return { id, ...rest, chunks: chunks.map(([cid, start, end]) => ({ passage: (this.store.chunk(cid) as ChunkRecord).h, start, end })) };
  }

  listDocuments(options: { tenant?: string } = {}): string[] {
    return this.store.documentIds(checkRagTenant(options.tenant ?? DEFAULT_TENANT));
  }

  tenants(): string[] {
    return this.store.tenants();
  }

  /** Remove a tenant's documents and passages; returns the documents removed. */
  async deleteTenant(tenant: string): Promise<number> {
    const t = checkRagTenant(tenant);
    const ids = this.store.documentIds(t);
    const n = ids.length > 0 ? await this.removeDocuments(ids, { tenant: t }) : 0;
    await this.exclusive(async () => {
      this.store.setMeta({}, [`tenant\0${t}`]);
    });
    return n;
  }

  /** Sizes of the whole corpus (every tenant: an admin's view). */
  stats(): { documents: number; chunks: number; texts: number; tenants: number; dimension: number; sharing: CorpusSharing; indexGeneration: number | null; builtCount: number } {
    return {
      sharing: this.sharing,
      documents: this.store.documentCount(),
      chunks: this.liveCount(),
      texts: this.store.textCount(),
      tenants: this.store.tenants().length,
      dimension: this.dimension,
      indexGeneration: this.store.getMeta<number>('generation') ?? null,
      builtCount: this.store.getMeta<number>('builtCount') ?? 0,
    };
  }

  async close(): Promise<void> {
    await this.writing;
    await this.settled();
    await this.index?.close();
    this.index = null;
    await this.store.close();
    if (this.ownsEmbedder) await this.embedder.close();
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  const n = dot(a, 0, a, 0, a.length) * dot(b, 0, b, 0, b.length);
  return n > 0 ? dot(a, 0, b, 0, a.length) / Math.sqrt(n) : 0;
}

function rows(ids: Uint32Array, distances: Float32Array, from: number, k: number): { ids: number[]; scores: number[] } {
  const out = { ids: [] as number[], scores: [] as number[] };
  for (let j = from; j < from + k; j++) {
    if (ids[j] === 0xffffffff) break;
    out.ids.push(ids[j]);
    out.scores.push(1 - distances[j]);
  }
  return out;
}

/** Identifies the encoder: its ONNX and tokenizer bytes plus the settings that change vectors. */
function modelFingerprint(embedder: EmbedderPool): string {
  const c = embedder.local.config;
  const h = createHash('sha256');
  h.update(readFileSync(c.onnx));
  h.update(readFileSync(c.tokenizer.file));
  h.update(JSON.stringify([c.pooling, c.normalize, c.maxLength, c.dimension]));
  return h.digest('hex').slice(0, 32);
}
