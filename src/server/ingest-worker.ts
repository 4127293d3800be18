/**
 * piscina worker that owns the writable handle of every collection: the service's single writer.
 * Ingest CPU work (assignment, splits, LMDB commits) runs here, off the HTTP event loop. The pool
 * has one thread and runs many tasks at once (concurrentTasksPerWorker), so writes that arrive
 * together share one LMDB transaction (the index's group commit); a task resolves after its commit
 * is flushed, so an acknowledged write is durable.
 *
 * This thread must open a collection's LMDB environment before any read-only handle of the process
 * does ('create' / 'open' tasks), or the shared environment would be read-only.
 *
 * The first upsert into an empty collection builds the index from its points; writes arriving during
 * that build wait for it and are then applied as live updates.
 */
import type { Attributes } from '../index/filter.js';
import { createIndex, openIndex, type SpannIndex } from '../index/spann.js';
import type { IndexOptions } from '../index/options.js';
import type { WriteCounts } from '../index/writer.js';

export type IngestTask =
  | { op: 'create'; dir: string; options: Partial<IndexOptions> & { dimension: number } }
  | { op: 'open'; dir: string }
  | { op: 'upsert'; dir: string; vectors: Float32Array; ids: Uint32Array; tenants: string[]; attributes: Array<Attributes | null> }
  | { op: 'delete'; dir: string; ids: Uint32Array }
  | { op: 'deleteTenant'; dir: string; tenant: string }
  | { op: 'compact'; dir: string }
  | { op: 'close'; dir: string };

export interface IngestResult {
  counts?: WriteCounts;
  /** The upsert built the index (the service reopens its read handle). */
  built?: boolean;
  removed?: number;
  compact?: { entriesRemoved: number; headsMerged: number; seconds: number };
}

/** Serialised failure: piscina would lose the error's code and field. */
export interface IngestFailure {
  error: { code: string; message: string; field?: string };
}

const indexes = new Map<string, Promise<SpannIndex>>();
/** Per collection: the build in progress, which later writes wait for. */
const building = new Map<string, Promise<unknown>>();

function indexFor(dir: string): Promise<SpannIndex> {
  let p = indexes.get(dir);
  if (!p) {
    p = openIndex(dir);
    indexes.set(dir, p);
    p.catch(() => indexes.delete(dir));
  }
  return p;
}

async function run(task: IngestTask): Promise<IngestResult> {
  if (task.op === 'close') {
    const p = indexes.get(task.dir);
    indexes.delete(task.dir);
    if (p) await (await p).close();
    return {};
  }
  if (task.op === 'create') {
    // Created here so this thread opens the LMDB environment first: lmdb-js shares one environment
    // per file across a process's threads, and one first opened read-only cannot write.
    const p = createIndex(task.dir, task.options);
    indexes.set(task.dir, p);
    p.catch(() => indexes.delete(task.dir));
    await p;
    return {};
  }
  await building.get(task.dir);
  const index = await indexFor(task.dir);
  switch (task.op) {
    case 'open':
      return {};
    case 'upsert': {
      if (!index.built) {
        const build = index.build(task.vectors, task.ids, { tenants: task.tenants, attributes: task.attributes });
        building.set(task.dir, build.catch(() => undefined));
        try {
          await build;
        } finally {
          building.delete(task.dir);
        }
        return { counts: { inserted: task.ids.length, replaced: 0, deleted: 0 }, built: true };
      }
      return { counts: await index.upsert(task.vectors, task.ids, { tenants: task.tenants, attributes: task.attributes }) };
    }
    case 'delete':
      if (!index.built) return { counts: { inserted: 0, replaced: 0, deleted: 0 } };
      return { counts: await index.delete(task.ids) };
    case 'deleteTenant':
      if (!index.built) return { removed: 0 };
      await index.flush();
      return { removed: index.deleteTenant(task.tenant) };
    case 'compact': {
      if (!index.built) return { compact: { entriesRemoved: 0, headsMerged: 0, seconds: 0 } };
      const r = await index.compact();
      return { compact: { entriesRemoved: r.entriesRemoved, headsMerged: r.headsMerged, seconds: r.seconds } };
    }
  }
}

export default async function ingest(task: IngestTask): Promise<IngestResult | IngestFailure> {
  try {
    return await run(task);
  } catch (err) {
    const e = err as { code?: string; message?: string; field?: string };
    return { error: { code: typeof e.code === 'string' ? e.code : 'STRATA_INTERNAL', message: String(e.message ?? err), ...(e.field !== undefined ? { field: e.field } : {}) } };
  }
}
