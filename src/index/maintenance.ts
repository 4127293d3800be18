/**
 * Index health: one pass over every posting list, the id map and the head graph, reporting list
 * lengths, replication and any broken invariant. The invariants of a live index:
 *   - every live id (ids db) maps to a slot that is not tombstoned, whose slot-map entry is that id,
 *     and that sits in at least one posting list (no orphaned ids);
 *   - no posting list is longer than the cap (postingLimit);
 *   - the graph's heads are exactly LMDB's heads (same numbers; merged heads in neither);
 *   - meta's counts match: live ids = count, existing heads = liveHeads, entries = postingEntries;
 *   - tenant counts add up to count.
 * Compaction (SpannIndex.compact, writer.ts) rewrites lists without their tombstones and merges
 * lists that fell under mergeFraction × postingLimit.
 */
import type { HeadGraph } from './head-graph.js';
import type { IndexStore } from '../storage/index-store.js';
import type { IndexMeta } from '../storage/records.js';
import type { Tombstones } from './tombstones.js';
import type { TenantCatalog } from './tenants.js';
import { PostingReader } from '../storage/posting-format.js';
import { restoreCodec } from './codecs/codec.js';
import { splitLimit } from './writer.js';

export interface HealthReport {
  /** Live vectors. */
  count: number;
  heads: number;
  postingEntries: number;
  /** Entries per live vector (tombstoned entries excluded). */
  replicasPerVector: number;
  /** Tombstoned entries still in lists (compaction removes them). */
  deadEntries: number;
  postingLimit: number;
  /** Lists by length: `lists[i]` lists have a length in [bounds[i], bounds[i + 1]) (the last bound open). */
  listLengths: { bounds: number[]; lists: number[]; min: number; median: number; max: number };
  /** Live ids found in no list (always 0 in a healthy index). */
  orphanedIds: number;
  /** Lists longer than the split limit (splitFactor × postingLimit). */
  overCap: number;
  /** Each broken invariant, in words (empty when healthy). */
  problems: string[];
}

/** Inspect the whole index (reads every list: a maintenance call, not for the query path). */
export function inspectIndex(store: IndexStore, meta: IndexMeta, graph: HeadGraph, tombstones: Tombstones, tenants: TenantCatalog): HealthReport {
  const problems: string[] = [];
  const reader = new PostingReader(meta.pca ? meta.pca.outDim : meta.options.dimension, restoreCodec(meta.codec));
  const inList = new Uint32Array(Math.ceil(Math.max(1, meta.slotCount) / 32));
  const lengths: number[] = [];
  let entries = 0, dead = 0, live = 0, overCap = 0;
  const heads = store.heads.numbers();
  const headSet = new Set(heads);
  // Built lists stay within postingLimit; live updates let a list grow to the split limit.
  const limit = splitLimit(meta);
  const seen = (h: number, s: number) => {
    if (s >= meta.slotCount) {
      problems.push(`list ${h} holds slot ${s}, beyond the slot count ${meta.slotCount}`);
      return;
    }
    if (tombstones.has(s)) dead++;
    else {
      live++;
      inList[s >>> 5] |= 1 << (s & 31);
    }
  };
  for (const h of heads) {
    let n = 0, last = -1;
    for (const part of ['postings', 'appends'] as const) {
      const bytes = part === 'postings' ? store.lists.get('list', h, true) : store.lists.get('appends', h, true);
      const view = bytes ? reader.read(bytes, h, part === 'postings' ? 'list' : 'appends') : null;
      if (!view) continue;
      for (let i = 0; i < view.count; i++) {
        const s = view.ids[i];
        if (s <= last) problems.push(`list ${h} is not sorted by slot at ${part} entry ${i}`);
        last = s;
        seen(h, s);
      }
      n += view.count;
    }
    lengths.push(n);
    entries += n;
    if (n > limit) overCap++;
  }
  if (overCap > 0) problems.push(`${overCap} lists are longer than the split limit ${limit}`);
  if (entries !== meta.postingEntries) problems.push(`lists hold ${entries} entries, meta says ${meta.postingEntries}`);
  if (heads.length !== meta.liveHeads) problems.push(`LMDB holds ${heads.length} heads, meta says ${meta.liveHeads}`);
  let graphOnly = 0, storeOnly = 0;
  for (let h = 0; h < meta.headCount; h++) {
    const g = graph.has(h), s = headSet.has(h);
    if (g && !s) graphOnly++;
    if (s && !g) storeOnly++;
  }
  if (graphOnly + storeOnly > 0) problems.push(`head graph and LMDB disagree: ${graphOnly} heads only in the graph, ${storeOnly} only in LMDB`);
  let ids = 0, orphaned = 0, badMap = 0, deadIds = 0;
  store.ids.forEach((id, slot) => {
    ids++;
    if (slot >= meta.slotCount || store.slots.idOf(slot) !== id) badMap++;
    if (tombstones.has(slot)) deadIds++;
    else if (((inList[slot >>> 5] >>> (slot & 31)) & 1) === 0) orphaned++;
  });
  if (ids !== meta.count) problems.push(`the id map holds ${ids} ids, meta says ${meta.count}`);
  if (badMap > 0) problems.push(`${badMap} ids disagree with the slot map`);
  if (deadIds > 0) problems.push(`${deadIds} ids point at deleted slots`);
  if (orphaned > 0) problems.push(`${orphaned} live ids are in no posting list`);
  let tenantTotal = 0;
  for (const t of tenants.all()) tenantTotal += t.count;
  if (tenantTotal !== meta.count) problems.push(`tenant counts add up to ${tenantTotal}, meta says ${meta.count}`);
  return {
    count: meta.count,
    heads: heads.length,
    postingEntries: entries,
    replicasPerVector: meta.count > 0 ? live / meta.count : 0,
    deadEntries: dead,
    postingLimit: meta.postingLimit,
    listLengths: histogram(lengths, limit),
    orphanedIds: orphaned,
    overCap,
    problems,
  };
}

function histogram(lengths: number[], cap: number): HealthReport['listLengths'] {
  const sorted = lengths.slice().sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(cap / 10));
  const bounds = Array.from({ length: 11 }, (_, i) => i * step);
  const lists = new Array<number>(bounds.length).fill(0);
  for (const n of lengths) lists[Math.min(bounds.length - 1, Math.floor(n / step))]++;
  return { bounds, lists, min: sorted[0] ?? 0, median: sorted[sorted.length >> 1] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}
