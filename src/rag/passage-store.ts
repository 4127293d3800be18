/**
 * The corpus's records in one LMDB environment (`<corpus>/passages.mdb`), besides the vector index
 * generations kept in folders next to it:
 *
 *   docs     `${tenant}\0${docId}` -> { hash, title?, metadata?, source?, chunks: [chunkId, start, end][] }
 *   chunks   chunkId (uint32)      -> { t: tenant, h: text hash, d: docIds, n: tokens }
 *   chunkIds `${tenant}\0${hash}`  -> chunkId      (one chunk per distinct text per tenant)
 *   texts    hash                  -> { x: text, r: chunk entries using it }   (stored once overall)
 *   vectors  hash                  -> float32 embedding bytes (same lifetime as the text)
 *   terms    BM25 postings (lexical-index.ts)
 *   meta     'model' {fingerprint, dimension}, 'nextId', 'generation', 'builtCount', 'indexSynced',
 *            `tenant\0${name}` -> true, `bm25\0${name}` -> stats (all keys are strings)
 *
 * A text's hash is the first 128 bits of its SHA-256, hex: the passage id users see. The uint32 chunk
 * id is what the vector index and the postings hold.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Attributes } from '../index/filter.js';
import { LexicalIndex, type Bm25Params } from './lexical-index.js';

export const PASSAGES_FILE = 'passages.mdb';

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
    mkdirSync(dir, { recursive: true });
    const root = open({ path: join(dir, PASSAGES_FILE), maxDbs: 12 });
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

  /** The stored embedding of a text (a copy). */
  vector(hash: string): Float32Array | undefined {
    const b = this.vectors.get(hash);
    if (!b) return undefined;
    return new Float32Array(Uint8Array.prototype.slice.call(b, 0, b.length).buffer);
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

  async close(): Promise<void> {
    await this.root.close();
  }
}
