/**
 * The lexical index over the same chunks as the vector index: BM25 (Robertson/Lucene form) with
 * per-tenant statistics, stored in the corpus's LMDB environment.
 *
 *   terms db   `${tenant}\0${term}` -> Uint32 triples (chunk id, term frequency, chunk length), by chunk id
 *   meta db    `bm25\0${tenant}`     -> { n: chunks, totalLength }
 *
 * Each posting carries the chunk's length, so scoring reads one value per query term and nothing
 * else. Writes happen inside the corpus's write transaction (a batch of added and removed chunks).
 */
import type { Database } from 'lmdb';
import { termFrequencies } from './analyzer.js';

export interface Bm25Params {
  /** Term-frequency saturation. Default 0.9 (Anserini's BEIR setting). */
  k1: number;
  /** Length normalisation. Default 0.4 (Anserini's BEIR setting). */
  b: number;
}

export const DEFAULT_BM25: Bm25Params = { k1: 0.9, b: 0.4 };

interface TenantStats {
  n: number;
  totalLength: number;
}

/** One batch of changes to a tenant's postings. */
export class LexicalBatch {
  readonly added = new Map<string, number[]>();
  readonly removed = new Map<string, Set<number>>();
  n = 0;
  length = 0;

  /** Add a chunk; `tf` (term -> frequency) when the text was already analysed (e.g. on a worker). */
  add(id: number, text: string, tf: Map<string, number> = termFrequencies(text)): void {
    let len = 0;
    for (const f of tf.values()) len += f;
    for (const [term, f] of tf) {
      let list = this.added.get(term);
      if (!list) this.added.set(term, (list = []));
      list.push(id, f, len);
    }
    this.n++;
    this.length += len;
  }

  remove(id: number, text: string): void {
    const tf = termFrequencies(text);
    let len = 0;
    for (const [term, f] of tf) {
      len += f;
      let set = this.removed.get(term);
      if (!set) this.removed.set(term, (set = new Set()));
      set.add(id);
    }
    this.n--;
    this.length -= len;
  }
}

const termKey = (tenant: string, term: string) => `${tenant}\0${term}`;

/**
 * A Uint32 view of a posting value: in place when LMDB's buffer is 4-aligned, else a copy. Uses
 * `.length` (getBinaryFast's Buffer reports the value's length there; its byteLength may be larger).
 */
function postings(buf: Buffer): Uint32Array {
  const n = buf.length >>> 2;
  if (buf.byteOffset % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset, n);
  return new Uint32Array(Uint8Array.prototype.slice.call(buf, 0, n * 4).buffer);
}

export class LexicalIndex {
  constructor(
    private readonly terms: Database<Buffer, string>,
    private readonly meta: Database<unknown, string>,
    readonly params: Bm25Params = DEFAULT_BM25,
  ) {}

  private stats(tenant: string): TenantStats {
    return (this.meta.get(`bm25\0${tenant}`) as TenantStats | undefined) ?? { n: 0, totalLength: 0 };
  }

  /** Apply a batch; call inside the corpus's write transaction. */
  apply(tenant: string, batch: LexicalBatch): void {
    const touched = new Set([...batch.added.keys(), ...batch.removed.keys()]);
    for (const term of touched) {
      const key = termKey(tenant, term);
      const old = this.terms.get(key);
      const drop = batch.removed.get(term);
      const add = batch.added.get(term) ?? [];
      const kept: number[] = [];
      if (old) {
        const p = postings(old);
        for (let i = 0; i < p.length; i += 3) if (!drop?.has(p[i])) kept.push(p[i], p[i + 1], p[i + 2]);
      }
      // Ids only grow, so appending keeps the postings sorted by chunk id.
      const all = Uint32Array.from([...kept, ...add]);
      if (all.length === 0) this.terms.removeSync(key);
      else this.terms.putSync(key, Buffer.from(all.buffer, all.byteOffset, all.byteLength));
    }
    const s = this.stats(tenant);
    s.n += batch.n;
    s.totalLength += batch.length;
    if (s.n <= 0) this.meta.removeSync(`bm25\0${tenant}`);
    else this.meta.putSync(`bm25\0${tenant}`, s);
  }

  /** Remove every posting of a tenant (inside the write transaction). */
  dropTenant(tenant: string): void {
    for (const key of this.terms.getKeys({ start: `${tenant}\0`, end: `${tenant}\u0001` })) this.terms.removeSync(key);
    this.meta.removeSync(`bm25\0${tenant}`);
  }

  /** The `k` best chunks of `tenant` for `query` by BM25: ids and scores, best first. */
  search(tenant: string, query: string, k: number): { ids: number[]; scores: number[] } {
    const s = this.stats(tenant);
    if (s.n === 0) return { ids: [], scores: [] };
    const { k1, b } = this.params;
    const avgdl = s.totalLength / s.n;
    const scores = new Map<number, number>();
    const queryTerms = termFrequencies(query);
    for (const [term, qf] of queryTerms) {
      const buf = this.terms.getBinaryFast(termKey(tenant, term));
      if (!buf) continue;
      const p = postings(buf);
      const df = p.length / 3;
      const idf = Math.log(1 + (s.n - df + 0.5) / (df + 0.5));
      const w = idf * qf;
      for (let i = 0; i < p.length; i += 3) {
        const tf = p[i + 1];
        const norm = tf + k1 * (1 - b + (b * p[i + 2]) / avgdl);
        scores.set(p[i], (scores.get(p[i]) ?? 0) + (w * tf * (k1 + 1)) / norm);
      }
    }
    const top = [...scores].sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, k);
    return { ids: top.map((e) => e[0]), scores: top.map((e) => e[1]) };
  }
}
