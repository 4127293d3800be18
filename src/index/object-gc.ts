/**
 * Garbage collection of an index on object storage (storage/object-layout.ts): every publish names
 * new objects and leaves the ones it replaced behind, and the log keeps batches the manifests have
 * folded in. `collectGarbage` keeps the newest `keep` manifests and deletes
 *   - the objects (lists, blocks, skeletons, graphs) named by an older manifest and by no kept one,
 *     then those older manifests themselves;
 *   - the log batches before the oldest kept manifest's appliedLog (the batch at it stays, so a new
 *     writer's first LIST still finds the log's tail).
 * Objects no manifest names are never touched: a publish in flight uploads its objects before its
 * manifest exists, and they must survive. (A publish that crashed, or lost its manifest race, leaves
 * such objects behind for good; they are never read.) Query nodes follow new manifests within their
 * follow interval: keep at least 2 so a node one manifest behind still finds its objects.
 */
import { createError } from '../errors.js';
import { LOG_PREFIX } from '../storage/object-log.js';
import { blockKey, decodeVersions, listKey, MANIFESTS, manifestKey, manifestNumber, parseManifest, type ObjectManifest } from '../storage/object-layout.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface GcReport {
  /** The manifest numbers kept, newest first. */
  kept: number[];
  manifestsDeleted: number;
  objectsDeleted: number;
  logBatchesDeleted: number;
}

/** Every object key a manifest names. */
function namedBy(m: ObjectManifest): string[] {
  const keys = [m.skeleton, m.graph];
  decodeVersions(m.lists, 'lists').forEach((id, head) => id !== 0 && keys.push(listKey(head, id)));
  decodeVersions(m.blocks, 'blocks').forEach((id, block) => id !== 0 && keys.push(blockKey(block, id)));
  return keys;
}

export async function collectGarbage(store: ObjectStore, options: { keep?: number } = {}): Promise<GcReport> {
  const keep = options.keep ?? 2;
  if (!Number.isInteger(keep) || keep < 1) throw createError('STRATA_INVALID_OPTION', `keep must be an integer >= 1, got ${keep}`, 'keep');
  const numbers = (await store.list(MANIFESTS)).map(manifestNumber).filter((n) => Number.isInteger(n)).sort((a, b) => b - a);
  if (numbers.length === 0) return { kept: [], manifestsDeleted: 0, objectsDeleted: 0, logBatchesDeleted: 0 };
  const kept = numbers.slice(0, keep);
  const dropped = numbers.slice(keep);
  const bodies = await store.getMany(numbers.map(manifestKey));
  const manifests = new Map<number, ObjectManifest>();
  numbers.forEach((n, i) => {
    const b = bodies[i];
    if (b) manifests.set(n, parseManifest(b, manifestKey(n)));
  });
  const live = new Set<string>();
  for (const n of kept) {
    const m = manifests.get(n);
    if (!m) throw createError('STRATA_INDEX_CORRUPT', `manifest ${n} is listed but missing`, 'manifest');
    for (const k of namedBy(m)) live.add(k);
  }
  const dead = new Set<string>();
  for (const n of dropped) for (const k of manifests.has(n) ? namedBy(manifests.get(n)!) : []) if (!live.has(k)) dead.add(k);
  // Objects first, then their manifests: a crash in between leaves a manifest the next run finishes.
  await store.delete([...dead]);
  await store.delete(dropped.map(manifestKey));
  const oldestApplied = Math.min(...kept.map((n) => manifests.get(n)!.appliedLog ?? 0));
  const logKeys = oldestApplied > 1 ? (await store.list(LOG_PREFIX)).filter((k) => Number(k.slice(LOG_PREFIX.length)) < oldestApplied) : [];
  await store.delete(logKeys);
  return { kept, manifestsDeleted: dropped.length, objectsDeleted: dead.size, logBatchesDeleted: logKeys.length };
}
