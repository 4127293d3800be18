/**
 * The write-ahead log of an index on object storage: numbered, immutable objects
 * `log/<seq:16 digits>` under the index's prefix, each one batch of writes, claimed with
 * If-None-Match: * — of two writers that try the same sequence number exactly one wins, and the
 * other moves past it — so the log is one total order of batches without a consensus service.
 * A write is acknowledged only once the store answered its batch's create: durable on the store's
 * replicas, whatever happens to the writing process next.
 *
 * Batch encoding (little-endian): u32 magic 'SLG1', u32 inserts n, u32 dim, u32 deletes m,
 * u32 ids[n], f32 vectors[n × dim], u32 deleted ids[m], u32 CRC32C of everything before it.
 * An insert of an id the log or index already holds replaces it (upsert).
 */
import { crc32c } from '@node-rs/crc32';
import { createError } from '../errors.js';
import type { ObjectStore } from './object-store.js';

const MAGIC = 0x31474c53; // 'SLG1'
const HEADER = 16;
export const LOG_PREFIX = 'log/';
export const logKey = (seq: number) => `${LOG_PREFIX}${String(seq).padStart(16, '0')}`;

export interface LogBatch {
  seq: number;
  ids: Uint32Array;
  /** ids.length × dim floats. */
  vectors: Float32Array;
  dim: number;
  deletes: Uint32Array;
}

export function encodeBatch(ids: Uint32Array, vectors: Float32Array, dim: number, deletes: Uint32Array): Uint8Array {
  const n = ids.length, m = deletes.length;
  const out = new Uint8Array(HEADER + 4 * n + 4 * n * dim + 4 * m + 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, n, true);
  dv.setUint32(8, dim, true);
  dv.setUint32(12, m, true);
  out.set(new Uint8Array(ids.buffer, ids.byteOffset, 4 * n), HEADER);
  out.set(new Uint8Array(vectors.buffer, vectors.byteOffset, 4 * n * dim), HEADER + 4 * n);
  out.set(new Uint8Array(deletes.buffer, deletes.byteOffset, 4 * m), HEADER + 4 * n + 4 * n * dim);
  dv.setUint32(out.length - 4, crc32c(out.subarray(0, out.length - 4)), true);
  return out;
}

export function decodeBatch(bytes: Uint8Array, seq: number): LogBatch {
  const bad = (what: string) => createError('STRATA_CORRUPT', `log batch ${seq}: ${what}`, 'log');
  if (bytes.length < HEADER + 4) throw bad('shorter than its header');
  const b = new Uint8Array(bytes); // aligned copy
  const dv = new DataView(b.buffer);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('not a log batch');
  const n = dv.getUint32(4, true), dim = dv.getUint32(8, true), m = dv.getUint32(12, true);
  const size = HEADER + 4 * n + 4 * n * dim + 4 * m + 4;
  if (b.length !== size) throw bad(`${b.length} bytes, its header says ${size}`);
  if (dv.getUint32(size - 4, true) !== crc32c(b.subarray(0, size - 4))) throw bad('fails its checksum');
  return {
    seq,
    ids: new Uint32Array(b.buffer, HEADER, n),
    vectors: new Float32Array(b.buffer, HEADER + 4 * n, n * dim),
    dim,
    deletes: new Uint32Array(b.buffer, HEADER + 4 * n + 4 * n * dim, m),
  };
}

/** The batches after sequence `after`, in order (one LIST and one round of parallel GETs). */
export async function readLog(store: ObjectStore, after: number): Promise<LogBatch[]> {
  const keys = await store.list(LOG_PREFIX, after > 0 ? { startAfter: logKey(after) } : {});
  const seqs = keys.map((k) => Number(k.slice(LOG_PREFIX.length))).filter((s) => Number.isInteger(s) && s > after);
  const bodies = await store.getMany(seqs.map(logKey));
  return seqs.map((seq, i) => {
    const body = bodies[i];
    if (!body) throw createError('STRATA_INDEX_CORRUPT', `log batch ${seq} is listed but missing`, 'log');
    return decodeBatch(body, seq);
  });
}

/**
 * Appends writes to the log with group commit: writes arriving while a batch is being created join
 * the next one, so one create (one round trip) acknowledges many writes. Each write's promise
 * resolves with its batch's sequence number once the store answered.
 */
export class LogWriter {
  private pending: Array<{ ids: Uint32Array; vectors: Float32Array; deletes: Uint32Array; done: (seq: number) => void; fail: (err: unknown) => void }> = [];
  private flushing: Promise<void> | null = null;
  /** The highest sequence number this writer knows is taken. */
  private tail = -1;

  constructor(
    private readonly store: ObjectStore,
    readonly dim: number,
    /** How long a batch waits for more writes before it is created. Default 2 ms. */
    private readonly lingerMillis = 2,
  ) {}

  /** Insert (or replace) vectors under ids; resolves once the batch holding them is on the store. */
  insert(ids: Uint32Array | number[], vectors: Float32Array): Promise<number> {
    const idArr = Uint32Array.from(ids);
    if (vectors.length !== idArr.length * this.dim) throw createError('STRATA_DIMENSION_MISMATCH', `vectors: ${vectors.length} floats for ${idArr.length} ids of dimension ${this.dim}`, 'vectors');
    for (const x of vectors) if (!Number.isFinite(x)) throw createError('STRATA_NON_FINITE', 'vectors hold NaN or Infinity', 'vectors');
    return this.enqueue(idArr, Float32Array.from(vectors), new Uint32Array(0));
  }

  delete(ids: Uint32Array | number[]): Promise<number> {
    return this.enqueue(new Uint32Array(0), new Float32Array(0), Uint32Array.from(ids));
  }

  private enqueue(ids: Uint32Array, vectors: Float32Array, deletes: Uint32Array): Promise<number> {
    return new Promise((done, fail) => {
      this.pending.push({ ids, vectors, deletes, done, fail });
      if (!this.flushing) this.flushing = new Promise((r) => setTimeout(r, this.lingerMillis)).then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const n = batch.reduce((s, w) => s + w.ids.length, 0);
      const ids = new Uint32Array(n);
      const vectors = new Float32Array(n * this.dim);
      let at = 0;
      for (const w of batch) {
        ids.set(w.ids, at);
        vectors.set(w.vectors, at * this.dim);
        at += w.ids.length;
      }
      const deletes = Uint32Array.from(batch.flatMap((w) => Array.from(w.deletes)));
      try {
        const seq = await this.append(encodeBatch(ids, vectors, this.dim, deletes));
        for (const w of batch) w.done(seq);
      } catch (err) {
        for (const w of batch) w.fail(err);
      }
    }
    this.flushing = null;
  }

  /** Claim the next free sequence number for `body`; returns it. */
  private async append(body: Uint8Array): Promise<number> {
    if (this.tail < 0) {
      const keys = await this.store.list(LOG_PREFIX);
      this.tail = keys.length > 0 ? Number(keys[keys.length - 1].slice(LOG_PREFIX.length)) : 0;
    }
    for (let attempt = 0; attempt < 64; attempt++) {
      const seq = this.tail + 1;
      if (await this.store.create(logKey(seq), body)) {
        this.tail = seq;
        return seq;
      }
      this.tail = seq; // another writer took it: move past
    }
    throw createError('STRATA_STORE_CONFLICT', 'could not claim a log sequence number in 64 attempts: too many writers', 'log');
  }

  /** Resolves once every write queued so far is acknowledged (or failed). */
  async flushed(): Promise<void> {
    while (this.flushing) await this.flushing;
  }
}
