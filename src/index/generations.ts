/**
 * Index generations: an index is replaced by a rebuilt one (folders `index-<n>` under a parent
 * folder) while writes go on, for every owner of a growing index — a service collection
 * (server/ingest-worker.ts) and a RAG corpus (rag/corpus.ts) alike.
 *
 * A rebuild builds generation n+1 from a snapshot on a thread of its own (rebuild-worker.ts). The
 * owner keeps writing to generation n and logs each write meanwhile; the log is replayed into n+1
 * until it is empty, and then, in one synchronous step, the owner records n+1 as current (durably)
 * and stops logging. Generation n is closed and removed by the owner once nobody reads it.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createPool } from '../util/workers.js';
import type { Attributes } from './filter.js';
import type { IndexOptions } from './options.js';
import type { RebuildTask } from './rebuild-worker.js';
import { openIndex, type SpannIndex } from './spann.js';
import type { WriteCounts } from './writer.js';

/** A write as an index generation sees it (ids are the index's own labels). */
export type GenerationWrite =
  | { op: 'upsert'; labels: Uint32Array; vectors: Float32Array; tenants: string[]; attributes: Array<Attributes | null> | null }
  | { op: 'delete'; labels: Uint32Array }
  | { op: 'deleteTenant'; tenant: string };

/** Everything a generation is built from, at one moment. */
export interface GenerationSnapshot {
  ids: Uint32Array;
  vectors: Float32Array;
  tenants: string[];
  attributes: Array<Attributes | null> | null;
}

export const generationDir = (parent: string, generation: number): string => join(parent, `index-${generation}`);

/** Remove every generation folder but `keep` (leftovers of a crash during a rebuild or before a removal). */
export function removeOtherGenerations(parent: string, keep: number | undefined): void {
  for (const name of readdirSync(parent)) {
    if (/^index-\d+$/.test(name) && name !== `index-${keep}`) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Apply one write to an index generation. */
export async function applyWrite(index: SpannIndex, w: GenerationWrite): Promise<WriteCounts & { removed?: number }> {
  if (w.op === 'upsert') return index.upsert(w.vectors, w.labels, { tenants: w.tenants, ...(w.attributes ? { attributes: w.attributes } : {}) });
  if (w.op === 'delete') return index.delete(w.labels);
  await index.flush();
  return { inserted: 0, replaced: 0, deleted: 0, removed: index.deleteTenant(w.tenant) };
}

/**
 * Build generation `next` under `parent` from `snapshot` on its own thread, replay `log` (which the
 * owner keeps appending to while this runs) into it until it is empty, then call `switchTo` — in
 * the same synchronous step, so no write falls between the replay and the switch. Returns the new
 * generation's open index. On failure the half-built folder is removed and the log left alone.
 */
export async function rebuildGeneration(
  parent: string,
  next: number,
  options: IndexOptions,
  snapshot: GenerationSnapshot,
  log: GenerationWrite[],
  switchTo: (index: SpannIndex) => void,
): Promise<{ index: SpannIndex; seconds: number; replayed: number }> {
  const t0 = performance.now();
  const dir = generationDir(parent, next);
  rmSync(dir, { recursive: true, force: true });
  let index: SpannIndex | null = null;
  let switched = false;
  try {
    const builder = createPool('index/rebuild-worker', 1);
    try {
      const task: RebuildTask = { dir, options, ids: snapshot.ids, vectors: snapshot.vectors, tenants: snapshot.tenants, attributes: snapshot.attributes ?? snapshot.tenants.map(() => null) };
      await builder.run(task);
    } finally {
      await builder.destroy();
    }
    index = await openIndex(dir);
    let replayed = 0;
    while (log.length > 0) {
      const batch = log.splice(0);
      for (const w of batch) await applyWrite(index, w);
      replayed += batch.length;
    }
    switchTo(index);
    switched = true;
    return { index, seconds: (performance.now() - t0) / 1000, replayed };
  } finally {
    if (!switched) {
      await index?.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
