/**
 * The service's corpora (RAG routes), one folder each under <dataDir>/corpora/<name> holding a
 * Corpus (src/rag/corpus.ts: passages.mdb + index-<n>/). Every corpus embeds with the service's
 * encoder (config.ragModel) on one shared EmbedderPool (piscina, embedThreads workers), loaded at
 * the first corpus use, so a service without RAG use never loads a model.
 *
 * Threads: embedding (the model) runs on the pool; chunking, BM25 postings, the LMDB commit and the
 * vector-index update of an ingest run on the event loop, one write per corpus at a time.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { Corpus } from '../rag/corpus.js';
import { EmbedderPool } from '../rag/embedder-pool.js';
import { DEFAULT_SHARING, type CorpusSharing } from '../rag/passage-store.js';
import type { CorpusRecord, ServiceCatalog } from './catalog.js';
import type { ServerConfig } from './config.js';
import type { WriteAdmission } from './admission.js';

export class Corpora {
  private readonly open = new Map<string, Promise<Corpus>>();
  private pool: Promise<EmbedderPool> | null = null;

  constructor(
    private readonly catalog: ServiceCatalog,
    private readonly config: ServerConfig,
    private readonly writes: WriteAdmission,
  ) {}

  private dirOf(name: string): string {
    return join(this.config.dataDir, 'corpora', name);
  }

  /** The shared encoder pool (loaded once; a failed load is retried at the next call). */
  embedder(): Promise<EmbedderPool> {
    if (!this.pool) {
      this.pool = EmbedderPool.load(this.config.ragModel, {}, { threads: this.config.embedThreads });
      this.pool.catch(() => {
        this.pool = null;
      });
    }
    return this.pool;
  }

  record(name: string): CorpusRecord & { sharing: CorpusSharing } {
    const rec = this.catalog.getCorpus(name);
    if (!rec) throw createError('STRATA_CORPUS_NOT_FOUND', `no corpus named ${JSON.stringify(name)}`, 'name');
    return { ...rec, sharing: rec.sharing ?? DEFAULT_SHARING };
  }

  list(): Array<CorpusRecord & { sharing: CorpusSharing }> {
    return this.catalog.listCorpora().map((rec) => ({ ...rec, sharing: rec.sharing ?? DEFAULT_SHARING }));
  }

  /** The open corpus of that name (opened at first use). */
  get(name: string): Promise<Corpus> {
    const rec = this.record(name);
    let c = this.open.get(name);
    if (!c) {
      c = (async () => Corpus.open(this.dirOf(name), { model: await this.embedder(), chunk: { maxTokens: rec.chunkTokens, overlapTokens: rec.overlapTokens }, sharing: rec.sharing }))();
      this.open.set(name, c);
      c.catch(() => this.open.delete(name));
    }
    return c;
  }

  async create(name: string, chunk: { maxTokens: number; overlapTokens: number }, sharing: CorpusSharing = DEFAULT_SHARING): Promise<{ record: CorpusRecord; corpus: Corpus }> {
    const pool = await this.embedder(); // a missing model fails here, before anything is stored
    if (this.catalog.getCorpus(name)) throw createError('STRATA_CORPUS_EXISTS', `a corpus named ${JSON.stringify(name)} already exists`, 'name');
    const dir = this.dirOf(name);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // left by a crash before the catalogue commit
    mkdirSync(dir, { recursive: true });
    const corpus = await Corpus.open(dir, { model: pool, chunk, sharing });
    const record: CorpusRecord = { name, model: this.config.ragModel, chunkTokens: corpus.chunkOptions.maxTokens, overlapTokens: corpus.chunkOptions.overlapTokens, sharing, createdAt: new Date().toISOString() };
    if (!this.catalog.addCorpus(record)) {
      await corpus.close();
      throw createError('STRATA_CORPUS_EXISTS', `a corpus named ${JSON.stringify(name)} already exists`, 'name');
    }
    this.open.set(name, Promise.resolve(corpus));
    return { record, corpus };
  }

  async drop(name: string): Promise<void> {
    this.record(name);
    const c = this.open.get(name);
    this.open.delete(name);
    this.catalog.removeCorpus(name);
    if (c) await (await c.catch(() => null))?.close();
    rmSync(this.dirOf(name), { recursive: true, force: true });
  }

  /** Run a corpus write under the service's write admission (shed past maxPendingWrites). */
  write<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn, 'documents');
  }

  async close(): Promise<void> {
    for (const c of this.open.values()) await (await c.catch(() => null))?.close();
    this.open.clear();
    if (this.pool) await (await this.pool.catch(() => null))?.close();
    this.pool = null;
  }
}
