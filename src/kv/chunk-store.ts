/**
 * Cached chunk KV caches in two tiers, each with its own byte budget and eviction policy:
 *
 *   memory  decoded float32 caches (a hit costs nothing but the lookup)
 *   disk    encoded entries (entry-codec.ts; fp16 by default, fp8 optional) in LMDB at <dir>/kv.mdb
 *
 * The memory tier is a subset of the disk tier: `put` writes both, a disk hit is decoded and promoted.
 * Keys are `<model fingerprint>:<namespace tag>:<sha256 of the token ids>`: a chunk is found for the
 * same tokens, the same model and the same namespace only. A namespace is who may share entries (a
 * corpus tenant by default, a whole corpus when its admin opted in; see README "Tenancy"): a prompt
 * of one namespace never hits, warms or counts against another's entries, and its stats are its own.
 * Inside each tier, eviction gives every namespace a fair share of the budget (eviction.ts).
 * LMDB commits are atomic: a process killed in the middle of a write leaves the previous state
 * readable.
 *
 * A third, shared tier (optional): an object store (storage/object-store.ts) several nodes open —
 * LMCache's remote tier on a real engine. Entries are content-addressed objects `kv/<model
 * fingerprint>/<namespace tag>/<token hash>` written once (create-if-absent) by whichever node
 * computed them; `fetchRemote` brings the ones a prompt needs and the local tiers lack into the disk
 * tier in one parallel round, so a node that never saw a chunk reuses the KV another node computed.
 * Keys carry the namespace tag: a namespace can only fetch its own entries.
 *
 * Format 2 (namespaced keys). A store of an older format is a cache of entries nobody can address
 * any more: it is emptied at open; a newer format is refused (STRATA_FORMAT_VERSION).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment, ownedCopy } from '../storage/lmdb.js';
import { createError } from '../errors.js';
import { decodeEntry, encodeEntry, type ChunkEntry, type KvDtype } from './entry-codec.js';
import { EvictionPolicy, type EvictionPolicyName } from './eviction.js';
import { cacheBytes } from './kv-cache.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface ChunkStoreOptions {
  /** Bytes of decoded caches kept in memory. Default 64 MiB. */
  memoryBytes?: number;
  /** Bytes of encoded entries kept on disk. Default 1 GiB. */
  diskBytes?: number;
  /** Default 'gdsf'. */
  policy?: EvictionPolicyName;
  /** Stored precision. Default 'f16'. */
  dtype?: KvDtype;
  /** Evict only from namespaces over their fair share of a tier (eviction.ts). Default true. */
  fairShare?: boolean;
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
  fairShare: boolean;
  lookups: number;
  misses: number;
  /** (memory hits + disk hits) / lookups. */
  hitRate: number;
  memory: TierStats;
  disk: TierStats;
  /** Entries of this store (of the namespace, for a namespace's stats) evicted since open. */
  evictions: number;
  /** Namespaces holding entries on disk (totals only). */
  namespaces?: number;
  /** The shared object-store tier, when there is one: entries found there, and writes or reads it refused. */
  remote?: { hits: number; errors: number };
}

export const DEFAULT_CHUNK_STORE: Required<ChunkStoreOptions> = { memoryBytes: 64 * 2 ** 20, diskBytes: 2 ** 30, policy: 'gdsf', dtype: 'f16', fairShare: true };

/** On-disk format of kv.mdb (bumped on every change to keys or entries). */
export const KV_STORE_FORMAT = 2;

/** The namespace of a caller that names none (single-user use of the library, the admin). */
export const DEFAULT_KV_NAMESPACE = '';

/** The 16-hex-digit tag of a namespace inside store keys (its name is not stored). */
export function namespaceTag(namespace: string): string {
  return createHash('sha256').update(`strata-kv-namespace\0${namespace}`).digest('hex').slice(0, 16);
}

/** The store key of a chunk: model fingerprint, namespace and the hash of its token ids. */
export function chunkKey(modelFingerprint: string, tokens: ArrayLike<number>, namespace: string = DEFAULT_KV_NAMESPACE): string {
  const ids = Int32Array.from(tokens as ArrayLike<number>);
  return `${modelFingerprint}:${namespaceTag(namespace)}:${createHash('sha256').update(new Uint8Array(ids.buffer)).digest('hex').slice(0, 32)}`;
}

/** The namespace tag of a store key (the middle field). */
function tagOf(key: string): string {
  const a = key.indexOf(':');
  const b = key.indexOf(':', a + 1);
  return b > a ? key.slice(a + 1, b) : '';
}

interface Counters {
  lookups: number;
  misses: number;
  memoryHits: number;
  diskHits: number;
  evictions: number;
  remoteHits: number;
  remoteErrors: number;
}

const zeroCounters = (): Counters => ({ lookups: 0, misses: 0, memoryHits: 0, diskHits: 0, evictions: 0, remoteHits: 0, remoteErrors: 0 });

/** The shared tier's object name of a store key. */
const remoteKey = (key: string) => `kv/${key.replaceAll(':', '/')}`;

export class ChunkKvStore {
  private readonly memory = new Map<string, ChunkEntry>();
  private readonly memoryPolicy: EvictionPolicy;
  private readonly diskPolicy: EvictionPolicy;
  /** Totals, and the same counters per namespace tag. */
  private readonly totals = zeroCounters();
  private readonly perNamespace = new Map<string, Counters>();
  readonly options: Required<ChunkStoreOptions>;

  private constructor(
    private readonly root: RootDatabase,
    private readonly entries: Database<Buffer, string>,
    private readonly costs: Database<{ c: number; f: number }, string>,
    meta: Database<number, string>,
    options: ChunkStoreOptions,
    /** The shared tier (null: none). */
    private readonly remote: ObjectStore | null = null,
  ) {
    this.options = { ...DEFAULT_CHUNK_STORE, ...options };
    for (const k of ['memoryBytes', 'diskBytes'] as const) {
      if (!Number.isFinite(this.options[k]) || this.options[k] < 0) throw createError('STRATA_INVALID_OPTION', `${k} must be a number >= 0, got ${this.options[k]}`, k);
    }
    if (!['gdsf', 'lru'].includes(this.options.policy)) throw createError('STRATA_INVALID_OPTION', `policy must be gdsf or lru, got ${this.options.policy}`, 'policy');
    if (!['f32', 'f16', 'f8'].includes(this.options.dtype)) throw createError('STRATA_INVALID_OPTION', `dtype must be f32, f16 or f8, got ${this.options.dtype}`, 'dtype');
    this.memoryPolicy = new EvictionPolicy(this.options.policy, tagOf, this.options.fairShare);
    this.diskPolicy = new EvictionPolicy(this.options.policy, tagOf, this.options.fairShare);
    const format = meta.get('format');
    if (format !== undefined && format > KV_STORE_FORMAT) {
      throw createError('STRATA_FORMAT_VERSION', `the KV store kv.mdb has format ${format}; this build reads format ${KV_STORE_FORMAT}: open it with the Strata that wrote it, or delete the folder (it is a cache)`, 'dir');
    }
    if (format !== KV_STORE_FORMAT) {
      // Older keys carry no namespace: nobody can address those entries any more.
      root.transactionSync(() => {
        entries.clearSync();
        costs.clearSync();
        meta.putSync('format', KV_STORE_FORMAT);
      });
    }
    // The disk tier's bookkeeping is rebuilt from what is stored (sizes) and the saved costs/counts.
    for (const key of this.entries.getKeys()) {
      // Read the length before any other LMDB read: getBinaryFast's buffer is shared and reused.
      const bytes = this.entries.getBinaryFast(key)?.length;
      const meta = this.costs.get(key);
      if (bytes !== undefined) this.diskPolicy.add(key, bytes, meta?.c ?? 1, meta?.f ?? 1);
    }
  }

  /** Open (or create) the store in `dir`; with `remote`, entries are shared through that object store too. */
  static open(dir: string, options: ChunkStoreOptions = {}, remote: ObjectStore | null = null): ChunkKvStore {
    const root = openEnvironment(join(dir, 'kv.mdb'), { store: 'kv', create: true, maxDbs: 4 });
    return new ChunkKvStore(root, root.openDB({ name: 'entries', encoding: 'binary' }), root.openDB({ name: 'costs' }), root.openDB({ name: 'meta' }), options, remote);
  }

  /**
   * Bring the entries of `keys` that neither local tier holds from the shared tier into the disk tier
   * (one round of parallel GETs); returns how many were found. Without a shared tier, does nothing.
   * A shared tier that cannot be reached is counted (stats().remote.errors), not thrown: the chunks
   * are then computed as on a miss.
   */
  async fetchRemote(keys: readonly string[]): Promise<number> {
    if (!this.remote) return 0;
    const wanted = [...new Set(keys)].filter((k) => !this.has(k));
    if (wanted.length === 0) return 0;
    let blobs: Array<Uint8Array | undefined>;
    try {
      blobs = await this.remote.getMany(wanted.map(remoteKey));
    } catch {
      for (const k of wanted) this.count(k, 'remoteErrors');
      return 0;
    }
    let found = 0;
    for (let i = 0; i < wanted.length; i++) {
      const blob = blobs[i];
      if (!blob) continue;
      const entry = decodeEntry(blob, `shared kv entry ${wanted[i]}`); // checks it before it is kept
      await this.keepBlob(wanted[i], Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength), entry.recomputeMs ?? 1);
      this.count(wanted[i], 'remoteHits');
      found++;
    }
    return found;
  }

  /** Count an event in the totals and in the key's namespace. */
  private count(key: string, field: keyof Counters): void {
    this.totals[field]++;
    const tag = tagOf(key);
    let c = this.perNamespace.get(tag);
    if (!c) this.perNamespace.set(tag, (c = zeroCounters()));
    c[field]++;
  }

  has(key: string): boolean {
    return this.memory.has(key) || this.diskPolicy.has(key);
  }

  /** The decoded entry, from memory or disk (promoted), or undefined (a miss). Counts the lookup. */
  get(key: string): ChunkEntry | undefined {
    this.count(key, 'lookups');
    const m = this.memory.get(key);
    if (m) {
      this.count(key, 'memoryHits');
      this.memoryPolicy.touch(key);
      this.diskPolicy.touch(key);
      return m;
    }
    const blob = this.diskPolicy.has(key) ? this.entries.getBinaryFast(key) : undefined;
    if (!blob) {
      this.count(key, 'misses');
      return undefined;
    }
    this.count(key, 'diskHits');
    this.diskPolicy.touch(key);
    const entry = decodeEntry(blob, `kv entry ${key}`);
    this.admitToMemory(key, entry, this.diskPolicy.frequency(key));
    return entry;
  }

  /** The stored bytes of an entry (the format of entry-codec.ts), for an external engine. */
  getBlob(key: string): Buffer | undefined {
    const b = this.entries.getBinaryFast(key);
    return b ? Buffer.from(ownedCopy(b)) : undefined;
  }

  /**
   * Store an entry in both local tiers (and, with a shared tier, there too, once: another node's copy
   * of the same key is the same content); `cost` is what recomputing it costs (ms or tokens: one unit
   * per store).
   */
  async put(key: string, entry: ChunkEntry, cost: number): Promise<void> {
    const blob = encodeEntry(entry, this.options.dtype);
    if (this.remote) {
      await this.remote.create(remoteKey(key), blob).catch(() => this.count(key, 'remoteErrors'));
    }
    const freq = await this.keepBlob(key, blob, cost);
    if (freq > 0) this.admitToMemory(key, entry, freq, cost);
  }

  /** Write an encoded entry to the disk tier (evicting as needed); returns its frequency, 0 if too large to keep. */
  private async keepBlob(key: string, blob: Buffer, cost: number): Promise<number> {
    const freq = Math.max(1, this.diskPolicy.frequency(key));
    if (blob.length > this.options.diskBytes) return 0; // larger than the whole tier: not cached
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
      this.count(k, 'evictions');
      if (this.memory.delete(k)) this.memoryPolicy.remove(k);
    }
    return freq;
  }

  private admitToMemory(key: string, entry: ChunkEntry, freq: number, cost?: number): void {
    const bytes = cacheBytes(entry.cache);
    if (bytes > this.options.memoryBytes) return;
    this.memory.set(key, entry);
    this.memoryPolicy.add(key, bytes, cost ?? entry.recomputeMs ?? 1, freq);
    for (const k of this.memoryPolicy.evict(this.options.memoryBytes, key)) this.memory.delete(k);
  }

  /**
   * Entries, bytes, lookups and hits: the whole store's (the admin's view), or one namespace's alone
   * (what a tenant may see: nothing in it depends on another namespace's entries or calls, except
   * that entries beyond the namespace's fair share can be evicted by others' puts).
   */
  stats(namespace?: string): ChunkStoreStats {
    const tag = namespace === undefined ? undefined : namespaceTag(namespace);
    const c = tag === undefined ? this.totals : (this.perNamespace.get(tag) ?? zeroCounters());
    const mem = tag === undefined ? { entries: this.memory.size, bytes: this.memoryPolicy.bytes } : this.memoryPolicy.usage(tag);
    const disk = tag === undefined ? { entries: this.diskPolicy.size, bytes: this.diskPolicy.bytes } : this.diskPolicy.usage(tag);
    return {
      policy: this.options.policy,
      dtype: this.options.dtype,
      fairShare: this.options.fairShare,
      lookups: c.lookups,
      misses: c.misses,
      hitRate: c.lookups ? (c.memoryHits + c.diskHits) / c.lookups : 0,
      memory: { ...mem, budget: this.options.memoryBytes, hits: c.memoryHits },
      disk: { ...disk, budget: this.options.diskBytes, hits: c.diskHits },
      evictions: c.evictions,
      ...(tag === undefined ? { namespaces: this.diskPolicy.groupCount } : {}),
      ...(this.remote ? { remote: { hits: c.remoteHits, errors: c.remoteErrors } } : {}),
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
