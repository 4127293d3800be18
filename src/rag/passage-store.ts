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
import { LexicalIndex, type Bm25Params } from './lexical-index.js';

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

export class PassageStore {
  readonly lexical: LexicalIndex;
  /** Set by the corpus at open (stored in meta 'sharing'). */
  sharing: CorpusSharing = DEFAULT_SHARING;

  private constructor(
    readonly root: RootDatabase,
    readonly docs: Database<DocRecord, string>,
    readonly chunks: Database<ChunkRecord, number>,
    readonly chunkIds: Database<number, string>,
    readonly texts: Database<TextRecord, string>,
    readonly vectors: Database<Buffer, string>,
    readonly meta: Database<unknown, string>,
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
