/**
 * piscina worker that owns the writable handles of every collection: the service's single writer.
 * Ingest CPU work (assignment, splits, builds, LMDB commits) runs here, off the HTTP event loop. The
 * pool has one thread and runs many tasks at once (concurrentTasksPerWorker), so writes that arrive
 * together share one LMDB transaction (the index's group commit); a task resolves after its commit
 * is flushed, so an acknowledged write is durable.
 *
 * A collection folder holds points.mdb (point-store.ts: every point as sent, and the current
 * generation) and index-<generation>/ (the SPANN index). Each write goes to the point store first,
 * then to the index.
 *
 * Generations. The first upsert into an empty collection builds the index from its points. Live
 * inserts keep it searchable, but an index grown far past the set it was clustered on loses recall
 * (its heads were placed for the old set), so once the collection has grown `rebuildGrowth` times
 * past its last build the service asks for a rebuild: a new generation is built from a snapshot of
 * the point store, on a thread of its own, while writes go on into the current one and are also
 * logged; the log is replayed into the new generation, which then becomes current (recorded in the
 * point store, durable) in the same synchronous step that stops the logging. The old generation is closed and removed once the
 * main thread has moved its read handle.
 *
 * This thread must open a collection's LMDB environments before any read-only handle of the process
 * does ('create' / 'open' tasks), or a shared environment would be read-only.
 */
import { rmSync } from 'node:fs';
import type { Attributes } from '../index/filter.js';
import { createIndex, openIndex, type SpannIndex } from '../index/spann.js';
import type { CreateOptions } from '../index/options.js';
import type { WriteCounts } from '../index/writer.js';
import { applyWrite, generationDir, type GenerationWrite, rebuildGeneration, removeOtherGenerations } from '../index/generations.js';
import { PointStore } from './point-store.js';
import { attributePrefix, scopeAttributes } from './tenant-attributes.js';

export type IngestTask =
  | { op: 'create'; dir: string; options: CreateOptions }
  | { op: 'open'; dir: string; dimension: number }
  /** ids are the clients' ids, each in its point's tenant (point-store.ts). */
  | { op: 'upsert'; dir: string; vectors: Float32Array; ids: Uint32Array; tenants: string[]; attributes: Array<Attributes | null> }
  | { op: 'delete'; dir: string; tenant: string; ids: Uint32Array }
  | { op: 'deleteTenant'; dir: string; tenant: string }
  | { op: 'compact'; dir: string }
  | { op: 'rebuild'; dir: string }
  | { op: 'dropGeneration'; dir: string; generation: number }
  | { op: 'close'; dir: string };

export interface IngestResult {
  counts?: WriteCounts;
  /** The upsert built the index (the service reopens its read handle). */
  built?: boolean;
  removed?: number;
  compact?: { entriesRemoved: number; headsMerged: number; seconds: number };
  /** The current index generation (folder index-<generation>) when the task ended. */
  generation: number;
  /** Points in the collection, and how many its current generation was built from. */
  count: number;
  builtCount: number;
  rebuild?: { seconds: number; replayed: number };
}

/** Serialised failure: piscina would lose the error's code and field. */
export interface IngestFailure {
  error: { code: string; message: string; field?: string };
}

type WriteTask = Extract<IngestTask, { op: 'upsert' | 'delete' | 'deleteTenant' }>;

interface CollectionState {
  dir: string;
  points: PointStore;
  index: SpannIndex;
  generation: number;
  /** Points the current generation was built from (0 before the first build). */
  builtCount: number;
  /** The first build in progress (later writes wait for it). */
  building: Promise<unknown> | null;
  /** A rebuild in progress, and the writes made since its snapshot. */
  rebuilding: Promise<IngestResult> | null;
  log: GenerationWrite[] | null;
  /** Old generations still open until the main thread has moved off them. */
  retired: Map<number, SpannIndex>;
}

/** The folder of a collection's index generation. */
export const indexDir = generationDir;

const states = new Map<string, Promise<CollectionState>>();

async function openState(dir: string, dimension: number): Promise<CollectionState> {
  const points = PointStore.open(dir, dimension);
  const generation = points.generation;
  removeOtherGenerations(dir, generation); // leftovers of a crash during a rebuild or before a removal
  const index = await openIndex(indexDir(dir, generation));
  return { dir, points, index, generation, builtCount: index.built ? index.count : 0, building: null, rebuilding: null, log: null, retired: new Map() };
}

async function createState(dir: string, options: CreateOptions): Promise<CollectionState> {
  const points = PointStore.open(dir, options.dimension, { create: true });
  points.setGeneration(1);
  const index = await createIndex(indexDir(dir, 1), options);
  return { dir, points, index, generation: 1, builtCount: 0, building: null, rebuilding: null, log: null, retired: new Map() };
}

function remember(dir: string, p: Promise<CollectionState>): Promise<CollectionState> {
  states.set(dir, p);
  p.catch(() => states.delete(dir));
  return p;
}

function stateOf(dir: string): Promise<CollectionState> {
  const p = states.get(dir);
  if (!p) throw Object.assign(new Error(`collection folder ${dir} is not open`), { code: 'STRATA_INTERNAL' });
  return p;
}

function result(st: CollectionState, extra: Partial<IngestResult> = {}): IngestResult {
  return { generation: st.generation, count: st.points.count, builtCount: st.builtCount, ...extra };
}


async function write(st: CollectionState, task: WriteTask): Promise<IngestResult> {
  // Point store first (durable), then the index; logged for a rebuild in the same synchronous step.
  let w: GenerationWrite;
  if (task.op === 'upsert') {
    const attributes = task.tenants.map((t, i) => scopeAttributes(t, task.attributes[i]));
    w = { op: 'upsert', labels: st.points.putMany(task.ids, task.vectors, task.tenants, task.attributes), vectors: task.vectors, tenants: task.tenants, attributes };
  }
  else if (task.op === 'delete') w = { op: 'delete', labels: st.points.removeMany(task.tenant, task.ids) };
  else {
    st.points.removeTenant(task.tenant);
    w = { op: 'deleteTenant', tenant: task.tenant };
  }
  st.log?.push(w);
  const index = st.index;
  if (w.op === 'upsert' && !index.built) {
    const build = index.build(w.vectors, w.labels, { tenants: w.tenants, ...(w.attributes ? { attributes: w.attributes } : {}) });
    st.building = build.catch(() => undefined);
    try {
      await build;
    } finally {
      st.building = null;
    }
    st.builtCount = index.count;
    return result(st, { counts: { inserted: w.labels.length, replaced: 0, deleted: 0 }, built: true });
  }
  if (!index.built) return result(st, { counts: { inserted: 0, replaced: 0, deleted: 0 }, removed: 0 });
  const r = await applyWrite(index, w);
  return result(st, { counts: { inserted: r.inserted, replaced: r.replaced, deleted: r.deleted }, ...(r.removed !== undefined ? { removed: r.removed } : {}) });
}

function rebuild(st: CollectionState): Promise<IngestResult> {
  st.rebuilding ??= (async () => {
    const snap = st.points.snapshot();
    if (snap.ids.length === 0 || !st.index.built) return result(st);
    const prefixes = new Map<string, string>();
    const attributes = snap.attributes.map((m, i) => {
      const t = snap.tenants[i];
      let prefix = prefixes.get(t);
      if (prefix === undefined) prefixes.set(t, (prefix = attributePrefix(t)));
      return scopeAttributes(t, m, prefix);
    });
    const log: GenerationWrite[] = (st.log = []);
    const generation = st.generation + 1;
    try {
      // Built on its own thread while this one keeps applying (and logging) writes; the switch is synchronous.
      const r = await rebuildGeneration(st.dir, generation, st.index.options, { ids: snap.ids, vectors: snap.vectors, tenants: snap.tenants, attributes }, log, (next) => {
        st.points.setGeneration(generation);
        st.retired.set(st.generation, st.index);
        st.index = next;
        st.generation = generation;
        st.builtCount = snap.ids.length;
        st.log = null;
      });
      return result(st, { rebuild: { seconds: r.seconds, replayed: r.replayed } });
    } finally {
      st.log = null;
    }
  })().finally(() => {
    st.rebuilding = null;
  });
  return st.rebuilding;
}

async function run(task: IngestTask): Promise<IngestResult> {
  if (task.op === 'create') {
    // Created here so this thread opens the LMDB environments first: lmdb-js shares one environment
    // per file across a process's threads, and one first opened read-only cannot write.
    return result(await remember(task.dir, createState(task.dir, task.options)));
  }
  if (task.op === 'open') {
    const known = states.get(task.dir);
    if (known) return result(await known);
    const st = await remember(task.dir, openState(task.dir, task.dimension));
    // An older collection format: re-index its points (attributes into the tenants' namespaces).
    if (st.points.migrated && st.index.built) {
      await rebuild(st);
      for (const [generation, old] of st.retired) {
        await old.close();
        rmSync(indexDir(st.dir, generation), { recursive: true, force: true });
      }
      st.retired.clear();
    }
    return result(st);
  }
  const st = await stateOf(task.dir);
  if (task.op === 'close') {
    states.delete(task.dir);
    await st.rebuilding?.catch(() => undefined);
    const last = result(st);
    for (const old of st.retired.values()) await old.close();
    await st.index.close();
    await st.points.close();
    return last;
  }
  await st.building;
  switch (task.op) {
    case 'upsert':
    case 'delete':
    case 'deleteTenant':
      return write(st, task);
    case 'compact': {
      if (!st.index.built) return result(st, { compact: { entriesRemoved: 0, headsMerged: 0, seconds: 0 } });
      const r = await st.index.compact();
      return result(st, { compact: { entriesRemoved: r.entriesRemoved, headsMerged: r.headsMerged, seconds: r.seconds } });
    }
    case 'rebuild':
      return rebuild(st);
    case 'dropGeneration': {
      const old = st.retired.get(task.generation);
      st.retired.delete(task.generation);
      if (old) await old.close();
      if (task.generation !== st.generation) rmSync(indexDir(st.dir, task.generation), { recursive: true, force: true });
      return result(st);
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
