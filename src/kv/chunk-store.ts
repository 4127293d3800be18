/**
 * Cached chunk KV caches in two tiers, each with its own byte budget and eviction policy:
 *
 *   memory  decoded float32 caches (a hit costs nothing but the lookup)
 *   disk    encoded entries (entry-codec.ts; fp16 by default, fp8 optional) in LMDB at <dir>/kv.mdb
 *
 * The memory tier is a subset of the disk tier: `put` writes both, a disk hit is decoded and promoted.
 * Keys are `<model fingerprint>:<sha256 of the token ids>`, so a chunk is found whatever document or
 * tenant it came from, and never for another model. LMDB commits are atomic: a process killed in the
 * middle of a write leaves the previous state readable.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { createError } from '../errors.js';
import { decodeEntry, encodeEntry, type ChunkEntry, type KvDtype } from './entry-codec.js';
import { EvictionPolicy, type EvictionPolicyName } from './eviction.js';
import { cacheBytes } from './kv-cache.js';

export interface ChunkStoreOptions {
  /** Bytes of decoded caches kept in memory. Default 64 MiB. */
  memoryBytes?: number;
  /** Bytes of encoded entries kept on disk. Default 1 GiB. */
  diskBytes?: number;
  /** Default 'gdsf'. */
  policy?: EvictionPolicyName;
  /** Stored precision. Default 'f16'. */
  dtype?: KvDtype;
}

export interface TierStats {
  entries: number;
  bytes: number;
  budget: number;
  hits: number;
}

export interface ChunkStoreStats {
  policy: EvictionPolicyName;
  dtype: KvDtype;
  lookups: number;
  misses: number;
  /** (memory hits + disk hits) / lookups. */
  hitRate: number;
  memory: TierStats;
  disk: TierStats;
  evictions: number;
}

export const DEFAULT_CHUNK_STORE: Required<ChunkStoreOptions> = { memoryBytes: 64 * 2 ** 20, diskBytes: 2 ** 30, policy: 'gdsf', dtype: 'f16' };

/** The store key of a chunk: model fingerprint and the hash of its token ids. */
export function chunkKey(modelFingerprint: string, tokens: ArrayLike<number>): string {
  const ids = Int32Array.from(tokens as ArrayLike<number>);
  return `${modelFingerprint}:${createHash('sha256').update(new Uint8Array(ids.buffer)).digest('hex').slice(0, 32)}`;
}

export class ChunkKvStore {
  private readonly memory = new Map<string, ChunkEntry>();
  private readonly memoryPolicy: EvictionPolicy;
  private readonly diskPolicy: EvictionPolicy;
  private lookups = 0;
  private misses = 0;
  private memoryHits = 0;
  private diskHits = 0;
  private evictions = 0;
  readonly options: Required<ChunkStoreOptions>;

  private constructor(
    private readonly root: RootDatabase,
    private readonly entries: Database<Buffer, string>,
    private readonly costs: Database<{ c: number; f: number }, string>,
    options: ChunkStoreOptions,
  ) {
    this.options = { ...DEFAULT_CHUNK_STORE, ...options };
    for (const k of ['memoryBytes', 'diskBytes'] as const) {
      if (!Number.isFinite(this.options[k]) || this.options[k] < 0) throw createError('STRATA_INVALID_OPTION', `${k} must be a number >= 0, got ${this.options[k]}`, k);
    }
    if (!['gdsf', 'lru'].includes(this.options.policy)) throw createError('STRATA_INVALID_OPTION', `policy must be gdsf or lru, got ${this.options.policy}`, 'policy');
    if (!['f32', 'f16', 'f8'].includes(this.options.dtype)) throw createError('STRATA_INVALID_OPTION', `dtype must be f32, f16 or f8, got ${this.options.dtype}`, 'dtype');
    this.memoryPolicy = new EvictionPolicy(this.options.policy);
    this.diskPolicy = new EvictionPolicy(this.options.policy);
    // The disk tier's bookkeeping is rebuilt from what is stored (sizes) and the saved costs/counts.
    for (const key of this.entries.getKeys()) {
      // Read the length before any other LMDB read: getBinaryFast's buffer is shared and reused.
      const bytes = this.entries.getBinaryFast(key)?.length;
      const meta = this.costs.get(key);
      if (bytes !== undefined) this.diskPolicy.add(key, bytes, meta?.c ?? 1, meta?.f ?? 1);
    }
  }

  static open(dir: string, options: ChunkStoreOptions = {}): ChunkKvStore {
    mkdirSync(dir, { recursive: true });
    const root = open({ path: join(dir, 'kv.mdb'), maxDbs: 4 });
    return new ChunkKvStore(root, root.openDB({ name: 'entries', encoding: 'binary' }), root.openDB({ name: 'costs' }), options);
  }

  has(key: string): boolean {
    return this.memory.has(key) || this.diskPolicy.has(key);
  }

  /** The decoded entry, from memory or disk (promoted), or undefined (a miss). Counts the lookup. */
  get(key: string): ChunkEntry | undefined {
    this.lookups++;
    const m = this.memory.get(key);
    if (m) {
      this.memoryHits++;
      this.memoryPolicy.touch(key);
      this.diskPolicy.touch(key);
      return m;
    }
    const blob = this.diskPolicy.has(key) ? this.entries.getBinaryFast(key) : undefined;
    if (!blob) {
      this.misses++;
      return undefined;
    }
    this.diskHits++;
    this.diskPolicy.touch(key);
    const entry = decodeEntry(blob, `kv entry ${key}`);
    this.admitToMemory(key, entry, this.diskPolicy.frequency(key));
    return entry;
  }

  /** The stored bytes of an entry (the format of entry-codec.ts), for an external engine. */
  getBlob(key: string): Buffer | undefined {
    const b = this.entries.getBinaryFast(key);
    return b ? Buffer.from(Uint8Array.prototype.slice.call(b, 0, b.length)) : undefined;
  }

  /** Store an entry in both tiers; `cost` is what recomputing it costs (ms or tokens: one unit per store). */
  async put(key: string, entry: ChunkEntry, cost: number): Promise<void> {
    const blob = encodeEntry(entry, this.options.dtype);
    const freq = Math.max(1, this.diskPolicy.frequency(key));
    if (blob.length > this.options.diskBytes) return; // larger than the whole tier: not cached
    this.diskPolicy.add(key, blob.length, cost, freq);
    const evicted = this.diskPolicy.evict(this.options.diskBytes, key);
    await this.root.transaction(() => {
      this.entries.put(key, blob);
      this.costs.put(key, { c: cost, f: freq });
      for (const k of evicted) {
        this.entries.remove(k);
        this.costs.remove(k);
      }
    });
    for (const k of evicted) {
      this.evictions++;
      if (this.memory.delete(k)) this.memoryPolicy.remove(k);
    }
    this.admitToMemory(key, entry, freq, cost);
  }

  private admitToMemory(key: string, entry: ChunkEntry, freq: number, cost?: number): void {
    const bytes = cacheBytes(entry.cache);
    if (bytes > this.options.memoryBytes) return;
    this.memory.set(key, entry);
    this.memoryPolicy.add(key, bytes, cost ?? entry.recomputeMs ?? 1, freq);
    for (const k of this.memoryPolicy.evict(this.options.memoryBytes, key)) this.memory.delete(k);
  }

  stats(): ChunkStoreStats {
    return {
      policy: this.options.policy,
      dtype: this.options.dtype,
      lookups: this.lookups,
      misses: this.misses,
      hitRate: this.lookups ? (this.memoryHits + this.diskHits) / this.lookups : 0,
      memory: { entries: this.memory.size, bytes: this.memoryPolicy.bytes, budget: this.options.memoryBytes, hits: this.memoryHits },
      disk: { entries: this.diskPolicy.size, bytes: this.diskPolicy.bytes, budget: this.options.diskBytes, hits: this.diskHits },
      evictions: this.evictions,
    };
  }

  /** Save use counts (so GDSF's frequencies survive a restart) and close. */
  async close(): Promise<void> {
    await this.root.transaction(() => {
      for (const key of this.entries.getKeys()) {
        const f = this.diskPolicy.frequency(key);
        const meta = this.costs.get(key);
        if (meta && f > meta.f) this.costs.put(key, { c: meta.c, f });
      }
    });
    await this.root.close();
  }
}
