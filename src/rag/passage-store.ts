/**
 * The corpus's records in one LMDB environment (`<corpus>/passages.mdb`), besides the vector index
 * generations kept in folders next to it:
 *
 *   docs     `${tenant}\0${docId}` -> { hash, title?, metadata?, source?, chunks: [chunkId, start, end][] }
 *   chunks   chunkId (uint32)      -> { t: tenant, h: text hash, d: docIds, n: tokens }
 *   chunkIds `${tenant}\0${hash}`  -> chunkId      (one chunk per distinct text per tenant)
 *   texts    `${scope}\0${hash}`   -> { x: text, r: chunk entries using it }   (stored once per scope)
 *   vectors  `${scope}\0${hash}`   -> float32 embedding bytes (same lifetime as the text)
 *   terms    BM25 postings (lexical-index.ts)
 *   meta     'format', 'sharing', 'model' {fingerprint, dimension}, 'nextId', 'generation', 'builtCount',
 *            'indexSynced', `tenant\0${name}` -> true, `bm25\0${name}` -> stats (all keys are strings)
 *
 * A text's hash is the first 128 bits of its SHA-256, hex: the passage id users see. The uint32 chunk
 * id is what the vector index and the postings hold.
 *
 * The deduplication scope of texts and their embeddings is the tenant (sharing 'tenant', the default):
 * whether a text is embedded and stored depends only on the tenant's own documents, so an ingest
 * report or its timing tells a tenant nothing about the others. With sharing 'corpus' (chosen by the
 * admin at creation, for corpora of public documents) the scope is the whole corpus ('' above): a
 * text is embedded once for all its tenants.
 *
 * Format 2 (this one) keys texts and vectors by scope; format 1 keyed them by hash alone and shared
 * them across tenants: it is migrated at open to per-tenant scopes (migrateFormat1).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment, ownedCopy } from '../storage/lmdb.js';
import { createError } from '../errors.js';
import type { Attributes } from '../index/filter.js';
import { LexicalBatch, LexicalIndex, type Bm25Params } from './lexical-index.js';

export const PASSAGES_FILE = 'passages.mdb';
export const PASSAGES_FORMAT = 2;

/** Who shares stored texts and embeddings: each tenant alone (default) or every tenant of the corpus. */
export type CorpusSharing = 'tenant' | 'corpus';
export const CORPUS_SHARING: readonly CorpusSharing[] = ['tenant', 'corpus'];
export const DEFAULT_SHARING: CorpusSharing = 'tenant';

export interface DocRecord {
  hash: string;
  title?: string;
  metadata?: Attributes;
  source?: string;
  /** [chunkId, start, end] per chunk, in document order. */
  chunks: number[][];
}

export interface ChunkRecord {
  t: string;
  h: string;
  d: string[];
  n: number;
}

export interface TextRecord {
  x: string;
  r: number;
}

export const contentHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32);
export const docKey = (tenant: string, id: string): string => `${tenant}\0${id}`;

/** One ingest's changes, committed in one transaction (Corpus.write plans them). */
export interface IngestChange {
  tenant: string;
  /** Texts embedded by this ingest: [hash, vector]. */
  embedded: Array<[string, Float32Array]>;
  /** New chunk entries: their text (when this ingest chunked it) and BM25 term frequencies. */
  added: Array<{ id: number; hash: string; text?: string; terms?: Map<string, number> }>;
  /** Chunk entries no document holds any more. */
  removed: Array<{ id: number; hash: string }>;
  /** Every chunk entry to write (new or changed). */
  chunks: Array<[number, ChunkRecord]>;
  /** Document records to write, or null to remove. */
  docs: Array<[string, DocRecord | null]>;
  nextId: number;
  /** The tenant holds documents after this ingest. */
  tenantHasDocuments: boolean;
}

export class PassageStore {
  private readonly lexical: LexicalIndex;
  /** Set by the corpus at open (stored in meta 'sharing'). */
  sharing: CorpusSharing = DEFAULT_SHARING;

  private constructor(
    private readonly root: RootDatabase,
    private readonly docs: Database<DocRecord, string>,
    private readonly chunks: Database<ChunkRecord, number>,
    private readonly chunkIds: Database<number, string>,
    private readonly texts: Database<TextRecord, string>,
    private readonly vectors: Database<Buffer, string>,
    private readonly meta: Database<unknown, string>,
    terms: Database<Buffer, string>,
    bm25: Bm25Params,
  ) {
    this.lexical = new LexicalIndex(terms, meta, bm25);
  }

  static open(dir: string, bm25: Bm25Params): PassageStore {
    const root = openEnvironment(join(dir, PASSAGES_FILE), { store: 'passages', create: true, maxDbs: 12 });
    return new PassageStore(
      root,
      root.openDB({ name: 'docs' }),
      root.openDB({ name: 'chunks', keyEncoding: 'uint32' }),
      root.openDB({ name: 'chunkIds' }),
      root.openDB({ name: 'texts' }),
      root.openDB({ name: 'vectors', encoding: 'binary' }),
      root.openDB({ name: 'meta' }),
      root.openDB({ name: 'terms', encoding: 'binary' }),
      bm25,
    );
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, PASSAGES_FILE));
  }

  getMeta<T>(key: string): T | undefined {
    return this.meta.get(key) as T | undefined;
  }

  /** Write meta keys (and remove others) in one synchronous commit. */
  setMeta(values: Record<string, unknown>, remove: readonly string[] = []): void {
    this.root.transactionSync(() => {
      for (const [k, v] of Object.entries(values)) this.meta.putSync(k, v);
      for (const k of remove) this.meta.removeSync(k);
    });
  }

  doc(key: string): DocRecord | undefined {
    return this.docs.get(key);
  }

  chunk(id: number): ChunkRecord | undefined {
    return this.chunks.get(id);
  }

  /** The chunk entry of a text in a tenant, if it has one. */
  chunkIdOf(tenant: string, hash: string): number | undefined {
    return this.chunkIds.get(docKey(tenant, hash));
  }

  /** Whether a text is stored (and embedded) in the tenant's scope. */
  hasText(tenant: string, hash: string): boolean {
    return this.texts.get(this.textKey(tenant, hash)) !== undefined;
  }

  chunkCount(): number {
    return this.chunks.getCount();
  }

  documentCount(): number {
    return this.docs.getCount();
  }

  textCount(): number {
    return this.texts.getCount();
  }

  /** BM25 over a tenant's passages (lexical-index.ts). */
  searchLexical(tenant: string, query: string, k: number): { ids: number[]; scores: number[] } {
    return this.lexical.search(tenant, query, k);
  }

  /**
   * Commit one ingest in one transaction: new vectors, text reference counts (a text is removed with
   * its vector when no chunk entry of its scope uses it), chunk entries and their ids, documents,
   * BM25 postings, counters, and indexSynced = false when the vector index must follow.
   */
  commitIngest(c: IngestChange): void {
    const tenant = c.tenant;
    const lexical = new LexicalBatch();
    const removedTexts = new Map(c.removed.map((r) => [r.id, this.text(tenant, r.hash) ?? '']));
    this.root.transactionSync(() => {
      for (const [h, v] of c.embedded) this.vectors.putSync(this.textKey(tenant, h), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      for (const a of c.added) {
        const tk = this.textKey(tenant, a.hash);
        const stored = this.texts.get(tk);
        const text = a.text ?? (stored as TextRecord).x;
        this.texts.putSync(tk, { x: text, r: (stored?.r ?? 0) + 1 });
        this.chunkIds.putSync(docKey(tenant, a.hash), a.id);
        lexical.add(a.id, text, a.terms);
      }
      for (const r of c.removed) {
        const tk = this.textKey(tenant, r.hash);
        const stored = this.texts.get(tk);
        if (stored && stored.r > 1) this.texts.putSync(tk, { x: stored.x, r: stored.r - 1 });
        else {
          this.texts.removeSync(tk);
          this.vectors.removeSync(tk);
        }
        this.chunkIds.removeSync(docKey(tenant, r.hash));
        this.chunks.removeSync(r.id);
        lexical.remove(r.id, removedTexts.get(r.id) as string);
      }
      for (const [id, rec] of c.chunks) this.chunks.putSync(id, rec);
      for (const [key, rec] of c.docs) {
        if (rec) this.docs.putSync(key, rec);
        else this.docs.removeSync(key);
      }
      this.lexical.apply(tenant, lexical);
      this.meta.putSync('nextId', c.nextId);
      if (c.tenantHasDocuments) this.meta.putSync(`tenant\0${tenant}`, true);
      if (c.added.length + c.removed.length > 0) this.meta.putSync('indexSynced', false);
    });
  }

  /** Key of a text (and its vector) as seen by `tenant`: in its own scope, or the corpus's when shared. */
  textKey(tenant: string, hash: string): string {
    return `${this.sharing === 'corpus' ? '' : tenant}\0${hash}`;
  }

  /** The text of a chunk of `tenant`. */
  text(tenant: string, hash: string): string | undefined {
    return this.texts.get(this.textKey(tenant, hash))?.x;
  }

  /** The stored embedding of a chunk text of `tenant` (a copy). */
  vector(tenant: string, hash: string): Float32Array | undefined {
    const b = this.vectors.get(this.textKey(tenant, hash));
    if (!b) return undefined;
    return new Float32Array(ownedCopy(b).buffer);
  }

  hasTenant(tenant: string): boolean {
    return this.meta.get(`tenant\0${tenant}`) === true;
  }

  tenants(): string[] {
    const out: string[] = [];
    for (const key of this.meta.getKeys({ start: 'tenant\0', end: 'tenant\u0001' })) out.push((key as string).slice('tenant\0'.length));
    return out;
  }

  /** Document ids of a tenant, in key order. */
  documentIds(tenant: string): string[] {
    const prefix = `${tenant}\0`;
    return [...this.docs.getKeys({ start: prefix, end: `${tenant}\u0001` })].map((k) => k.slice(prefix.length));
  }

  /** Live chunk ids with tenant and text hash, in id order. */
  *liveChunks(): Generator<{ id: number; tenant: string; hash: string }> {
    for (const { key, value } of this.chunks.getRange()) yield { id: key, tenant: value.t, hash: value.h };
  }

  /**
   * Format 1 -> 2: texts and vectors keyed by hash alone (shared by every tenant) become one copy per
   * tenant that holds the text. One transaction; returns the number of texts the corpus now stores.
   */
  migrateFormat1(): number {
    return this.root.transactionSync(() => {
      const refs = new Map<string, { tenant: string; hash: string; r: number }>();
      for (const { value } of this.chunks.getRange()) {
        const key = `${value.t}\0${value.h}`;
        const e = refs.get(key);
        if (e) e.r++;
        else refs.set(key, { tenant: value.t, hash: value.h, r: 1 });
      }
      for (const [key, { hash, r }] of refs) {
        const text = this.texts.get(hash);
        const vector = this.vectors.get(hash);
        if (text === undefined || vector === undefined) throw createError('STRATA_INDEX_CORRUPT', `passages: text ${hash} is referenced but not stored; re-ingest into a new corpus`, 'corpus');
        this.texts.putSync(key, { x: text.x, r });
        this.vectors.putSync(key, Buffer.from(ownedCopy(vector)));
      }
      for (const key of [...this.texts.getKeys()]) if (!key.includes('\0')) this.texts.removeSync(key);
      for (const key of [...this.vectors.getKeys()]) if (!key.includes('\0')) this.vectors.removeSync(key);
      this.meta.putSync('format', PASSAGES_FORMAT);
      return refs.size;
    });
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
