/**
 * Live updates, SPFresh-style: inserts, upserts and deletes applied to a built index, each batch in
 * one LMDB write transaction (all of it or none of it is visible, and it is on disk when the
 * transaction returns).
 *
 *   insert  a new slot (slots only grow: posting lists, sorted by slot, take it at their end); the
 *           vector is assigned like a built one (nearest heads from the graph, closure bound, RNG
 *           rule), encoded by the index's PCA and codec, and added to its lists and its slot block;
 *           its tenant's runs, heads and count follow.
 *   delete  a tombstone (tombstones.ts): the id leaves the `ids` db, its slot is marked in the `dead`
 *           bitset and the slot map, its attribute values go; its entries stay in lists and blocks
 *           (every search skips them) until a split, merge or compaction rewrites those.
 *   upsert  delete of the id's current vector, if any, then insert.
 *
 * A list that grows past the cap first drops its tombstoned entries; if it is still too long it is
 * split: a balanced 2-means over its vectors gives two centres, the old head moves to one and a new
 * head takes the other; then LIRE — its vectors nearer one of the `splitNeighbors` nearest other
 * heads move there, and those heads' vectors now nearer a new centre move to it. Lists the moves
 * push over the cap split in turn.
 *
 * Inside the transaction the writer changes LMDB, tombstone bits and the head graph (both put back
 * from LMDB if it aborts); the index applies the returned effects to the rest of memory (live set,
 * tenants, searcher) after the commit.
 */
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { type AssignParams, type HeadVectors, chooseReplicas } from './assign.js';
import { type DistanceKernel, kernelFor, normalizeRows, withinBound } from './distance.js';
import type { HeadGraph } from './head-graph.js';
import { type Codec, restoreCodec } from './codecs/codec.js';
import { PcaTransform } from './codecs/pca.js';
import { parseSpec } from './spec.js';
import { EditableList } from '../storage/posting-edit.js';
import { PostingReader, postingEntryCount } from '../storage/posting-format.js';
import type { IndexStore } from '../storage/index-store.js';
import type { IndexMeta } from '../storage/records.js';
import { type TenantCatalog, type TenantDetails, detailsOf, detailsRecordOf } from './tenants.js';
import { AttributeIndex } from './attributes.js';
import type { Attributes } from './filter.js';
import type { Tombstones } from './tombstones.js';
import { applyHeads } from './graph-sync.js';
import { sidesOf, twoMeans } from './split.js';
import { NO_ID } from './topk.js';
import { upperBound } from '../util/bounds.js';
import { checkIds, checkVectors, flattenRows, toFloat32 } from './validate.js';
import { DEFAULT_TENANT, checkTenantName } from './tenants.js';
import type { Metric } from './distance.js';

export type WriteKind = 'insert' | 'upsert' | 'delete';

export interface WriteRequest {
  kind: WriteKind;
  ids: Uint32Array;
  /** rows × dim, checked and (cosine) normalised; null for deletes. */
  vectors: Float32Array | null;
  /** The tenant of each row (insert and upsert). */
  tenants: string[] | null;
  /** The attributes of each row (insert and upsert), or null. */
  attributes: ReadonlyArray<Attributes | null | undefined> | null;
}

/**
 * The length past which live updates split a list: splitFactor × postingLimit. The build fills
 * lists up to postingLimit (dropping the farthest replicas of fuller ones), so the gap absorbs
 * churn — re-inserts bringing those replicas back — without splitting.
 */
export function splitLimit(meta: IndexMeta): number {
  return Math.floor(meta.postingLimit * meta.options.splitFactor);
}

/** Options of insert and upsert. */
export interface WriteOptions {
  /** The tenant of every row (one name for all). Default "default"; a new name creates the tenant. */
  tenants?: string | ArrayLike<string>;
  /** Per-row metadata (keyword, list of keywords, number, boolean), or null/undefined for none. */
  attributes?: ReadonlyArray<Attributes | null | undefined>;
}

/**
 * A write call's input, checked before it is queued (so a bad call fails alone, naming the field):
 * ids unsigned 32-bit and distinct, vectors of the index dimension and finite (copied, normalised
 * for cosine), tenant names valid.
 */
export function checkWrite(kind: WriteKind, vectors: Float32Array | number[][] | null, ids: Uint32Array | number[], options: WriteOptions, dim: number, metric: Metric): WriteRequest {
  if (options === null || typeof options !== 'object') throw createError('STRATA_INVALID_OPTION', 'options must be an object', 'options');
  for (const key of Object.keys(options)) if (key !== 'tenants' && key !== 'attributes') throw createError('STRATA_INVALID_OPTION', `options.${key} is not a write option (tenants, attributes)`, key);
  if (kind === 'delete') {
    const n = ids instanceof Uint32Array || Array.isArray(ids) ? ids.length : 0;
    return { kind, ids: Uint32Array.from(checkIds(ids, n)), vectors: null, tenants: null, attributes: null };
  }
  const flat = Array.isArray(vectors) ? flattenRows(vectors, dim) : toFloat32(vectors, 'vectors');
  const n = checkVectors(flat, dim, 'vectors');
  const checkedIds = Uint32Array.from(checkIds(ids, n));
  const copy = Float32Array.from(flat);
  if (metric === 'cosine') normalizeRows(copy, dim);
  let tenants: string[] | null = null;
  const t = options.tenants;
  if (typeof t === 'string') tenants = new Array<string>(n).fill(checkTenantName(t, 'tenants'));
  else if (t !== undefined) {
    if (t === null || typeof t !== 'object' || t.length !== n) throw createError('STRATA_INVALID_TENANT', `tenants must be one name or an array with one name per vector (${n})`, 'tenants');
    tenants = Array.from({ length: n }, (_, i) => checkTenantName(t[i], `tenants[${i}]`));
  }
  const rows = options.attributes;
  if (rows !== undefined && (!Array.isArray(rows) || rows.length !== n)) {
    throw createError('STRATA_INVALID_ATTRIBUTE', `attributes must be an array with one entry per vector (${n}), got ${Array.isArray(rows) ? rows.length : typeof rows}`, 'attributes');
  }
  if (rows) AttributeIndex.check(rows);
  return { kind, ids: checkedIds, vectors: copy, tenants, attributes: rows ?? null };
}

export interface WriteCounts {
  /** Vectors added under ids that were absent. */
  inserted: number;
  /** Upserts that replaced an existing vector. */
  replaced: number;
  /** Deletes that found their id. */
  deleted: number;
}

/** A tenant as the transaction leaves it (applied to the catalog after the commit). */
export interface TenantDraft {
  name: string;
  runs: number[];
  count: number;
  cellCount: number;
  details: TenantDetails;
}

export interface WriteEffects {
  meta: IndexMeta;
  counts: WriteCounts[];
  /** Heads added, moved or removed (the graph replays them from LMDB). */
  changedHeads: number[];
  tenants: TenantDraft[];
  added: number[];
  removed: number[];
  /** Entries LIRE moved to another list. */
  moved: number;
}

/** What the writer reads and changes: the open index's state. */
export interface WriteTarget {
  meta: IndexMeta;
  graph: HeadGraph;
  tenants: TenantCatalog;
  attrs: AttributeIndex;
  tombstones: Tombstones;
}

/** Which tenant owns a slot: every tenant run, sorted by start (runs never overlap). */
export class SlotOwners {
  private starts: number[] = [];
  private ends: number[] = [];
  private names: string[] = [];

  static of(tenants: TenantCatalog): SlotOwners {
    const runs: Array<[number, number, string]> = [];
    for (const t of tenants.all()) for (let r = 0; r < t.runs.length; r += 2) runs.push([t.runs[r], t.runs[r + 1], t.name]);
    runs.sort((a, b) => a[0] - b[0]);
    const o = new SlotOwners();
    for (const [s, e, name] of runs) o.push(s, e, name);
    return o;
  }

  private push(s: number, e: number, name: string): void {
    this.starts.push(s);
    this.ends.push(e);
    this.names.push(name);
  }

  find(slot: number): string | undefined {
    const i = upperBound(this.starts, slot) - 1;
    return i >= 0 && slot < this.ends[i] ? this.names[i] : undefined;
  }

  /** Record that `slot` (the newest slot) belongs to `name`: its last run grows, or a run starts. */
  append(slot: number, name: string): void {
    const last = this.starts.length - 1;
    if (last >= 0 && this.ends[last] === slot && this.names[last] === name) this.ends[last]++;
    else this.push(slot, slot + 1, name);
  }

  clone(): SlotOwners {
    const o = new SlotOwners();
    o.starts = this.starts.slice();
    o.ends = this.ends.slice();
    o.names = this.names.slice();
    return o;
  }
}

export class IndexWriter {
  readonly dim: number;
  /** The posting lists' codec (trained on residuals with Residual). */
  readonly codec: Codec;
  /** The slot blocks' codec: the lists' own, or with Residual one trained on the vectors themselves. */
  readonly blockCodec: Codec;
  /** Residual: list entries are encoded relative to their list's head (spec.ts). */
  readonly residual: boolean;
  readonly pca: PcaTransform | null;
  readonly storedDim: number;
  readonly reader: PostingReader;
  readonly kernel: DistanceKernel;
  readonly refine: boolean;
  /** Slot owners as of the last commit (null: rebuild from the catalog). */
  owners: SlotOwners | null = null;

  constructor(
    readonly store: IndexStore,
    meta: IndexMeta,
  ) {
    this.dim = meta.options.dimension;
    this.codec = restoreCodec(meta.codec);
    this.blockCodec = meta.blockCodec ? restoreCodec(meta.blockCodec) : this.codec;
    this.pca = meta.pca ? PcaTransform.restore(meta.pca) : null;
    this.storedDim = this.pca ? this.pca.outDim : this.dim;
    this.reader = new PostingReader(this.storedDim, this.codec);
    this.kernel = kernelFor(meta.options.metric);
    const spec = parseSpec(meta.spec);
    this.refine = spec.refine;
    this.residual = spec.residual;
  }

  /**
   * Apply requests in order, in one write transaction. Throws (and nothing is written) if the
   * transaction fails; tombstone bits set on the way are undone.
   */
  /** Slot owners of the index as of the last commit. */
  ownersOf(tenants: TenantCatalog): SlotOwners {
    return (this.owners ??= SlotOwners.of(tenants));
  }

  apply(reqs: WriteRequest[], target: WriteTarget): WriteEffects {
    const owners = this.ownersOf(target.tenants).clone();
    const batch = new Batch(this, target, owners);
    try {
      const effects = this.store.write(() => batch.run(reqs));
      this.owners = owners;
      return effects;
    } catch (err) {
      batch.rollback();
      throw err;
    }
  }

  /**
   * One compaction step, in one transaction: the lists of `heads` lose their tombstoned entries
   * and those left with fewer than `mergeMin` live entries are merged away (each vector moves to its
   * nearest other head with room, the head is removed); blocks [b0, b1) lose their tombstoned rows.
   * `final` marks the last step of a full pass (meta.tombstones drops to 0).
   */
  maintain(target: WriteTarget, heads: number[], b0: number, b1: number, mergeMin: number, final: boolean): WriteEffects {
    const owners = this.ownersOf(target.tenants).clone();
    const batch = new Batch(this, target, owners);
    try {
      const effects = this.store.write(() => batch.compact(heads, b0, b1, mergeMin, final));
      this.owners = owners;
      return effects;
    } catch (err) {
      batch.rollback();
      throw err;
    }
  }

  /**
   * The stored-space code of an original-space vector, into `out` at `off`: for a slot block, or a
   * list that is not residual (`head` null), or for the residual list whose head is `head` (in the
   * stored space: storedOf) — then the code of the vector minus the head.
   */
  encode(v: Float32Array, vOff: number, stored: Float32Array, out: Uint8Array, off: number, head: Float32Array | null = null): void {
    if (!head && !this.pca) {
      this.blockCodec.encode(v, vOff, out, off);
      return;
    }
    if (this.pca) this.pca.project(v, vOff, stored, 0);
    else stored.set(v.subarray(vOff, vOff + this.dim));
    if (head) for (let j = 0; j < this.storedDim; j++) stored[j] -= head[j];
    (head ? this.codec : this.blockCodec).encode(stored, 0, out, off);
  }

  /** An entry's vector back in the original space (approximate under PCA and lossy codecs); `head` as for encode. */
  decode(codes: Uint8Array, off: number, stored: Float32Array, out: Float32Array, outOff: number, head: Float32Array | null = null): void {
    if (!head && !this.pca) {
      this.blockCodec.decode(codes, off, out, outOff);
      return;
    }
    (head ? this.codec : this.blockCodec).decode(codes, off, stored, 0);
    if (head) for (let j = 0; j < this.storedDim; j++) stored[j] += head[j];
    if (this.pca) this.pca.reconstruct(stored, 0, out, outOff);
    else out.set(stored.subarray(0, this.dim), outOff);
  }

  /** An original-space vector in the space lists store (PCA-projected, or a copy), as a new array. */
  storedOf(v: Float32Array): Float32Array {
    return this.pca ? this.pca.projectRows(v, 1) : Float32Array.from(v);
  }
}

/** Head vectors read from LMDB as the RNG rule needs them (a few per inserted vector). */
class StoredHeads implements HeadVectors {
  data: Float32Array;
  private readonly at = new Map<number, number>();

  constructor(
    private readonly store: IndexStore,
    private readonly dim: number,
    capacity: number,
  ) {
    this.data = new Float32Array(capacity * dim);
  }

  reset(): void {
    this.at.clear();
  }

  offset(h: number): number {
    let off = this.at.get(h);
    if (off === undefined) {
      // Capacity is one slot per candidate head and reset() runs per vector, so `data` never moves
      // while chooseReplicas holds it.
      off = this.at.size * this.dim;
      if (off + this.dim > this.data.length) throw new RangeError(`more than ${this.data.length / this.dim} heads read for one vector`);
      if (!this.store.heads.get(h, this.dim, this.data, off)) throw createError('STRATA_INDEX_CORRUPT', `head ${h} is in the graph but not in LMDB`, 'heads');
      this.at.set(h, off);
    }
    return off;
  }
}

/** One transaction's work. */
class Batch {
  private readonly w: IndexWriter;
  private readonly t: WriteTarget;
  private readonly store: IndexStore;
  private readonly m: IndexMeta;
  private readonly owners: SlotOwners;
  /** Lists read in full (base + appended entries): these are rewritten whole. */
  private readonly lists = new Map<number, EditableList>();
  /** Entries each touched list held when read (to keep meta.postingEntries exact). */
  private readonly listBase = new Map<number, number>();
  /** Lists only appended to: their `appends` record (the base stays as it is, unread). */
  private readonly tails = new Map<number, EditableList>();
  /** Entries of each tail when read. */
  private readonly tailBase = new Map<number, number>();
  /** Entries of each untouched list base (read once: a value read copies the whole list). */
  private readonly baseCounts = new Map<number, number>();
  private readonly blocks = new Map<number, EditableList>();
  private readonly drafts = new Map<string, TenantDraft>();
  private readonly changedHeads = new Set<number>();
  /** External ids of the slots this batch appends (NO_ID once deleted again). */
  private readonly newIds: number[] = [];
  private readonly firstNewSlot: number;
  private readonly clearedSlots: number[] = [];
  private readonly tombed: number[] = [];
  private readonly added: number[] = [];
  private readonly removed: number[] = [];
  /** Attributes of the slots this batch adds. */
  private readonly attrRows: Array<Attributes | null | undefined> = [];
  private readonly attrSlots: number[] = [];
  private readonly cap: number;
  private readonly params: AssignParams;
  private readonly heads: StoredHeads;
  private readonly cand: Uint32Array;
  private readonly candDist: Float32Array;
  private readonly chosen: Uint32Array;
  private readonly chosenDist: Float32Array;
  private readonly stored: Float32Array;
  private readonly code: Uint8Array;
  /** With Residual: a list entry's code (relative to its head), apart from the block's `code`. */
  private readonly listCode: Uint8Array;
  /** Original-space head vectors read (or set by a split) in this batch. */
  private readonly headVecs = new Map<number, Float32Array>();
  /** With Residual: the same heads in the stored space (what list codes are relative to). */
  private readonly storedHeads = new Map<number, Float32Array>();
  private moved = 0;
  /** Heads merged away in this batch. */
  private readonly removedHeads = new Set<number>();

  constructor(w: IndexWriter, t: WriteTarget, owners: SlotOwners) {
    this.w = w;
    this.t = t;
    this.store = w.store;
    this.m = { ...t.meta };
    this.owners = owners;
    this.firstNewSlot = t.meta.slotCount;
    const o = t.meta.options;
    this.cap = splitLimit(t.meta);
    this.params = { metric: o.metric, replicas: o.replicas, candidateHeads: Math.min(o.candidateHeads, Math.max(1, t.meta.liveHeads)), closureEps: o.closureEps, rngFactor: o.rngFactor };
    this.heads = new StoredHeads(w.store, w.dim, this.params.candidateHeads);
    this.cand = new Uint32Array(this.params.candidateHeads);
    this.candDist = new Float32Array(this.params.candidateHeads);
    this.chosen = new Uint32Array(o.replicas);
    this.chosenDist = new Float32Array(o.replicas);
    this.stored = new Float32Array(w.storedDim);
    this.code = new Uint8Array(w.codec.bytesPerVector);
    this.listCode = new Uint8Array(w.codec.bytesPerVector);
  }

  /** Head h's original-space vector (as of this batch). */
  private headVec(h: number): Float32Array {
    let v = this.headVecs.get(h);
    if (!v) {
      v = new Float32Array(this.w.dim);
      if (!this.store.heads.get(h, this.w.dim, v, 0)) throw createError('STRATA_INDEX_CORRUPT', `head ${h} has a list but no vector`, 'heads');
      this.headVecs.set(h, v);
    }
    return v;
  }

  /** With Residual, head h in the stored space (what its list's codes are relative to); otherwise null. */
  private relHead(h: number): Float32Array | null {
    if (!this.w.residual) return null;
    let v = this.storedHeads.get(h);
    if (!v) this.storedHeads.set(h, (v = this.w.storedOf(this.headVec(h))));
    return v;
  }

  /**
   * The bytes that put an entry into list h: with Residual, the original-space vector x[xOff..]
   * re-encoded relative to h's head (into listCode); otherwise its code as it is (codes[off..]).
   */
  private codeFor(h: number, x: Float32Array, xOff: number, codes: Uint8Array, off: number): [Uint8Array, number] {
    const head = this.relHead(h);
    if (!head) return [codes, off];
    this.w.encode(x, xOff, this.stored, this.listCode, 0, head);
    return [this.listCode, 0];
  }

  run(reqs: WriteRequest[]): WriteEffects {
    return this.effects(reqs.map((r) => this.request(r)));
  }

  compact(heads: number[], b0: number, b1: number, mergeMin: number, final: boolean): WriteEffects {
    const dead = this.t.tombstones;
    const drop = (s: number) => dead.has(s);
    for (const h of heads) {
      if (this.removedHeads.has(h) || !this.store.heads.has(h)) continue;
      const appended = this.tail(h).count > 0;
      const l = this.list(h);
      if (appended) l.changed = true; // fold its appended entries in
      l.removeWhere(drop);
      if (l.count < mergeMin && this.m.liveHeads > 1) this.merge(h, l);
    }
    for (let b = b0; b < b1; b++) this.block(b).removeWhere(drop);
    if (final) this.m.tombstones = 0;
    return this.effects([]);
  }

  private effects(counts: WriteCounts[]): WriteEffects {
    this.finishLists();
    this.persist();
    return {
      meta: this.m,
      counts,
      changedHeads: [...this.changedHeads],
      tenants: [...this.drafts.values()],
      added: this.added,
      removed: this.removed,
      moved: this.moved,
    };
  }

  /** After an aborted transaction: tombstone bits and graph heads back to the committed state. */
  rollback(): void {
    for (const s of this.tombed) this.t.tombstones.undo(s);
    this.t.tombstones.clearDirty();
    applyHeads(this.t.graph, this.store, [...this.changedHeads], this.w.dim);
  }

  private request(r: WriteRequest): WriteCounts {
    const c: WriteCounts = { inserted: 0, replaced: 0, deleted: 0 };
    for (let i = 0; i < r.ids.length; i++) {
      const id = r.ids[i];
      const had = this.remove(id);
      if (r.kind === 'delete') {
        if (had) c.deleted++;
        continue;
      }
      if (had) {
        if (r.kind === 'insert') throw createError('STRATA_ID_EXISTS', `ids[${i}] = ${id} is already in the index (use upsert to replace it)`, `ids[${i}]`);
        c.replaced++;
      } else c.inserted++;
      const slot = this.insert(id, r.vectors!, i * this.w.dim, r.tenants ? r.tenants[i] : null);
      if (r.attributes?.[i]) {
        this.attrRows.push(r.attributes[i]);
        this.attrSlots.push(slot);
      }
    }
    return c;
  }

  /** Tombstone the vector of `id`; false when the id is absent. */
  private remove(id: number): boolean {
    const slot = this.store.ids.slotOf(id);
    if (slot === undefined) return false;
    this.store.ids.delete(id);
    if (this.t.tombstones.add(slot)) this.tombed.push(slot);
    if (slot >= this.firstNewSlot) this.newIds[slot - this.firstNewSlot] = NO_ID;
    else this.clearedSlots.push(slot);
    if (this.w.refine) this.store.vectors.delete(slot);
    const owner = this.owners.find(slot);
    if (owner !== undefined) this.draft(owner).count--;
    this.removed.push(slot);
    this.m.count--;
    this.m.tombstones++;
    return true;
  }

  /** Add one vector under a new slot; returns the slot. */
  private insert(id: number, vectors: Float32Array, off: number, tenant: string | null): number {
    const slot = this.m.slotCount++;
    const w = this.w;
    w.encode(vectors, off, this.stored, this.code, 0);
    const n = this.assign(vectors, off);
    const name = tenant ?? DEFAULT_TENANT;
    const d = this.draft(name);
    // The nearest head always takes the vector (its list splits if it overflows: growth); a further
    // replica goes only to a list with room, tombstones cleared first — as the build's cap drops
    // the farthest replicas of a full list instead of growing it.
    for (let j = 0; j < n; j++) {
      const h = this.chosen[j];
      if (j > 0 && !this.hasRoom(h)) continue;
      const [codes, at] = this.codeFor(h, vectors, off, this.code, 0);
      (this.lists.get(h) ?? this.tail(h)).add(slot, codes, at);
      d.details.heads.add(h);
    }
    this.block(Math.floor(slot / this.m.blockSlots)).add(slot, this.code, 0);
    this.newIds[slot - this.firstNewSlot] = id;
    this.store.ids.put(id, slot);
    if (w.refine) this.store.vectors.put(slot, vectors.subarray(off, off + w.dim));
    const last = d.runs.length - 1;
    if (last > 0 && d.runs[last] === slot) d.runs[last]++;
    else d.runs.push(slot, slot + 1);
    d.count++;
    this.owners.append(slot, name);
    this.added.push(slot);
    this.m.count++;
    return slot;
  }

  /** Heads for the vector at `v[off..)`: nearest from the graph, then closure bound and RNG rule. */
  private assign(v: Float32Array, off: number): number {
    const p = this.params;
    const found = this.t.graph.search(v, off, p.candidateHeads, p.candidateHeads, this.cand, this.candDist);
    if (found === 0) throw createError('STRATA_INDEX_CORRUPT', 'the head graph returned no head', 'heads');
    this.heads.reset();
    return chooseReplicas(this.cand, this.candDist, found, this.heads, this.w.dim, p, this.chosen, this.chosenDist, 0);
  }

  /** List h in full: its base, its stored appends and this batch's appends (the tail is folded in). */
  private list(h: number): EditableList {
    let l = this.lists.get(h);
    if (!l) {
      const w = this.w;
      const tail = this.tail(h);
      l = EditableList.read(w.reader, this.store.lists.get('list', h, true), h, w.storedDim, w.codec, tail.count + 8);
      const base = l.count;
      for (let i = 0; i < tail.count; i++) l.add(tail.slots[i], tail.codes, i * tail.bpv);
      l.changed = tail.changed;
      this.lists.set(h, l);
      this.listBase.set(h, base + this.tailBase.get(h)!);
      this.tails.delete(h);
      this.tailBase.delete(h);
    }
    return l;
  }

  /** The appended entries of list h (read from its `appends` record once). */
  private tail(h: number): EditableList {
    let t = this.tails.get(h);
    if (!t) {
      t = EditableList.read(this.w.reader, this.store.lists.get('appends', h, true), h, this.w.storedDim, this.w.codec, 8, 'appends');
      this.tails.set(h, t);
      this.tailBase.set(h, t.count);
    }
    return t;
  }

  /** Whether list h is under the cap, after dropping its tombstoned entries if it was not. */
  private hasRoom(h: number): boolean {
    if (this.lengthOf(h) < this.cap) return true;
    if (this.t.tombstones.count === 0) return false;
    const dead = this.t.tombstones;
    const l = this.list(h);
    l.removeWhere((s) => dead.has(s));
    return l.count < this.cap;
  }

  /** Entries of list h as this batch leaves it so far. */
  private lengthOf(h: number): number {
    const l = this.lists.get(h);
    if (l) return l.count;
    return this.baseCount(h) + this.tail(h).count;
  }

  private baseCount(h: number): number {
    let n = this.baseCounts.get(h);
    if (n === undefined) this.baseCounts.set(h, (n = postingEntryCount(this.store.lists.get('list', h, true))));
    return n;
  }

  private block(b: number): EditableList {
    let l = this.blocks.get(b);
    if (!l) {
      l = EditableList.read(this.w.reader, this.store.lists.get('block', b, true), b, this.w.storedDim, this.w.codec, 8, 'block');
      this.blocks.set(b, l);
    }
    return l;
  }

  private draft(name: string): TenantDraft {
    let d = this.drafts.get(name);
    if (d) return d;
    const t = this.t.tenants.get(name);
    if (t) {
      d = { name, runs: Array.from(t.runs), count: t.count, cellCount: t.cellCount, details: detailsOf(name, this.store.tenants.details(name)) };
    } else {
      d = { name, runs: [], count: 0, cellCount: 0, details: { heads: new RoaringBitmap32(), cellIds: new Uint32Array(0), cellStarts: new Uint32Array(0) } };
    }
    this.drafts.set(name, d);
    return d;
  }

  /** Over-long lists: drop tombstones, then split what is still over the cap (splits may cascade). */
  private finishLists(): void {
    const dead = this.t.tombstones;
    const work = [...this.lists.keys(), ...this.tails.keys()].filter((h) => this.lengthOf(h) > this.cap);
    for (let guard = 0; work.length > 0; guard++) {
      if (guard > 64 * (this.lists.size + 16)) throw createError('STRATA_INDEX_CORRUPT', 'list splits do not converge', 'postings');
      const h = work.pop()!;
      if (this.removedHeads.has(h) || this.lengthOf(h) <= this.cap) continue;
      const l = this.list(h);
      l.removeWhere((s) => dead.has(s));
      if (l.count <= this.cap) continue;
      for (const over of this.split(h, l)) if (!work.includes(over)) work.push(over);
    }
  }

  /** Split list h (live entries only, over the cap); returns lists the moves pushed over the cap. */
  private split(h: number, l: EditableList): number[] {
    const w = this.w, dim = w.dim, n = l.count;
    const x = new Float32Array(n * dim);
    // The old head (before it moves): its list's entries are decoded against it (Residual), and its
    // neighbours are found from it.
    const old = this.headVec(h);
    const oldStored = this.relHead(h);
    for (let i = 0; i < n; i++) w.decode(l.codes, i * l.bpv, this.stored, x, i * dim, oldStored);
    const want = this.m.options.splitNeighbors;
    const nbHeads: number[] = [];
    if (want > 0) {
      const near = new Uint32Array(want + 1), nearDist = new Float32Array(want + 1);
      const found = this.t.graph.search(old, 0, want + 1, Math.max(64, want + 1), near, nearDist);
      for (let i = 0; i < found && nbHeads.length < want; i++) if (near[i] !== h && this.store.heads.has(near[i])) nbHeads.push(near[i]);
    }
    const nbVec = new Float32Array(nbHeads.length * dim);
    nbHeads.forEach((nb, j) => this.store.heads.get(nb, dim, nbVec, j * dim));
    const k = w.kernel;
    // The centres come from the list's own vectors (nearer the old head than any neighbour): its
    // replicas of other heads' vectors would pull them outward. Every entry then goes to its side.
    const own: number[] = [];
    for (let i = 0; i < n; i++) {
      const dh = k(x, i * dim, old, 0, dim);
      let mine = true;
      for (let j = 0; j < nbHeads.length && mine; j++) if (k(x, i * dim, nbVec, j * dim, dim) < dh) mine = false;
      if (mine) own.push(i);
    }
    let centers: Float32Array;
    if (own.length >= 2) {
      const sub = new Float32Array(own.length * dim);
      own.forEach((i, r) => sub.set(x.subarray(i * dim, i * dim + dim), r * dim));
      centers = twoMeans(sub, own.length, dim, own.length).centers;
    } else centers = twoMeans(x, n, dim, this.cap).centers;
    if (this.m.options.metric === 'cosine') normalizeRows(centers, dim);
    const side = sidesOf(x, n, dim, centers, this.cap);
    const h2 = this.m.headCount++;
    this.m.liveHeads++;
    this.store.heads.put(h, NO_ID, centers.subarray(0, dim));
    this.store.heads.put(h2, NO_ID, centers.subarray(dim, 2 * dim));
    this.headVecs.set(h, centers.slice(0, dim)).set(h2, centers.slice(dim, 2 * dim));
    this.storedHeads.delete(h);
    this.changedHeads.add(h).add(h2);
    // The graph follows at once, so later splits in this batch see both heads (rollback restores it).
    this.t.graph.put(h, centers, 0);
    this.t.graph.put(h2, centers, dim);
    const halves = [new EditableList(w.storedDim, w.codec, n), new EditableList(w.storedDim, w.codec, n)];
    const headOf = [h, h2];
    // The split list's vectors: each to its half, and also to a neighbouring head nearer than both
    // centres (its own region; the half keeps it, as it may be a replica placed by the RNG rule).
    for (let i = 0; i < n; i++) {
      const slot = l.slots[i];
      const dc = Math.min(k(x, i * dim, centers, 0, dim), k(x, i * dim, centers, dim, dim));
      let best = -1, bestD = dc;
      for (let j = 0; j < nbHeads.length; j++) {
        const d = k(x, i * dim, nbVec, j * dim, dim);
        if (d < bestD) {
          bestD = d;
          best = j;
        }
      }
      if (best >= 0 && this.lengthOf(nbHeads[best]) < this.cap) {
        this.place(nbHeads[best], slot, ...this.codeFor(nbHeads[best], x, i * dim, l.codes, i * l.bpv));
        this.moved++;
      }
      halves[side[i]].add(slot, ...this.codeFor(headOf[side[i]], x, i * dim, l.codes, i * l.bpv));
      this.ownerHeads(slot, headOf[side[i]]);
    }
    // Neighbouring lists' vectors: one now nearer a new centre than its list's head moves there (LIRE);
    // one within the closure bound of a new centre that the RNG rule does not block (the centre is
    // not behind the list's head, seen from the vector) also gets a replica there, as a build would
    // have given it.
    const y = new Float32Array(dim);
    const dead = this.t.tombstones;
    const o = this.m.options;
    const cc = new Float32Array(2);
    for (let j = 0; j < nbHeads.length; j++) {
      const nl = this.list(nbHeads[j]);
      cc[0] = k(nbVec, j * dim, centers, 0, dim);
      cc[1] = k(nbVec, j * dim, centers, dim, dim);
      const leaving: number[] = [];
      for (let i = 0; i < nl.count; i++) {
        const slot = nl.slots[i];
        if (dead.has(slot)) continue;
        w.decode(nl.codes, i * nl.bpv, this.stored, y, 0, this.relHead(nbHeads[j]));
        const own = k(y, 0, nbVec, j * dim, dim);
        const d0 = k(y, 0, centers, 0, dim), d1 = k(y, 0, centers, dim, dim);
        const s = d0 <= d1 ? 0 : 1;
        const d = s === 0 ? d0 : d1;
        if (halves[s].count >= this.cap) continue; // LIRE never pushes a list over the cap
        if (d < own) {
          // Already there (a replica): staying in this list too keeps its other direction covered.
          if (!halves[s].add(slot, ...this.codeFor(headOf[s], y, 0, nl.codes, i * nl.bpv))) continue;
          this.ownerHeads(slot, headOf[s]);
          leaving.push(slot);
          this.moved++;
        } else if (withinBound(o.metric, d, own, o.closureEps) && o.rngFactor * cc[s] >= d) {
          if (halves[s].add(slot, ...this.codeFor(headOf[s], y, 0, nl.codes, i * nl.bpv))) this.ownerHeads(slot, headOf[s]);
        }
      }
      if (leaving.length > 0) {
        const gone = new Set(leaving);
        nl.removeWhere((s) => gone.has(s));
      }
    }
    halves[0].changed = halves[1].changed = true;
    this.lists.set(h, halves[0]);
    this.lists.set(h2, halves[1]);
    this.listBase.set(h2, 0);
    const over: number[] = [];
    for (const nb of nbHeads) if (this.lengthOf(nb) > this.cap) over.push(nb);
    if (halves[0].count > this.cap) over.push(h);
    if (halves[1].count > this.cap) over.push(h2);
    return over;
  }

  /** Remove head h; each of its (live) vectors moves to its nearest other head with room. */
  private merge(h: number, l: EditableList): void {
    const w = this.w, dim = w.dim;
    const x = new Float32Array(dim);
    const want = Math.min(16, this.cand.length);
    const allow = (c: number) => c !== h && !this.removedHeads.has(c);
    const own = this.relHead(h);
    for (let i = 0; i < l.count; i++) {
      w.decode(l.codes, i * l.bpv, this.stored, x, 0, own);
      const found = this.t.graph.search(x, 0, want, Math.max(64, want), this.cand, this.candDist, allow);
      let target = -1;
      for (let j = 0; j < found && target < 0; j++) if (this.store.heads.has(this.cand[j]) && this.lengthOf(this.cand[j]) < this.cap) target = this.cand[j];
      if (target < 0) {
        for (let j = 0; j < found && target < 0; j++) if (this.store.heads.has(this.cand[j])) target = this.cand[j];
      }
      if (target < 0) return; // no other head: keep this one
      this.place(target, l.slots[i], ...this.codeFor(target, x, 0, l.codes, i * l.bpv));
      this.moved++;
    }
    this.store.heads.delete(h);
    this.store.lists.delete('list', h);
    this.store.lists.delete('appends', h);
    this.t.graph.remove(h);
    this.removedHeads.add(h);
    this.changedHeads.add(h);
    this.m.liveHeads--;
    this.m.postingEntries -= this.listBase.get(h) ?? 0;
    this.lists.delete(h);
    this.listBase.delete(h);
  }

  /** Add an entry to list `h` (a LIRE move) and to its tenant's heads. */
  private place(h: number, slot: number, codes: Uint8Array, off: number): void {
    this.list(h).add(slot, codes, off);
    this.ownerHeads(slot, h);
  }

  private ownerHeads(slot: number, h: number): void {
    const owner = this.owners.find(slot);
    if (owner !== undefined) this.draft(owner).details.heads.add(h);
  }

  /** Write everything the batch touched, then meta. */
  private persist(): void {
    const m = this.m, store = this.store;
    // Appends past a quarter of the cap are folded into their list (read and rewritten whole).
    const foldAt = Math.max(8, Math.floor(this.cap / 4));
    for (const [h, t] of [...this.tails]) {
      if (!t.changed) continue;
      if (t.count >= foldAt) {
        this.list(h);
        continue;
      }
      store.lists.put('appends', h, t.encode());
      m.postingEntries += t.count - this.tailBase.get(h)!;
      const total = this.baseCount(h) + t.count;
      if (total > m.longestList) m.longestList = total;
    }
    for (const [h, l] of this.lists) {
      if (!l.changed) continue;
      store.lists.put('list', h, l.encode());
      store.lists.delete('appends', h); // folded in
      m.postingEntries += l.count - (this.listBase.get(h) ?? 0);
      if (l.count > m.longestList) m.longestList = l.count;
    }
    for (const [b, l] of this.blocks) if (l.changed) store.lists.put('block', b, l.encode());
    if (this.newIds.length > 0) store.slots.putIds(Uint32Array.from(this.newIds), this.firstNewSlot);
    store.slots.clear(this.clearedSlots);
    this.t.tombstones.persist(store);
    for (const d of this.drafts.values()) {
      d.details.heads.runOptimize();
      store.tenants.put(d.name, { runs: new Uint8Array(Uint32Array.from(d.runs).buffer), cellCount: d.cellCount }, detailsRecordOf(d.details));
    }
    // Attributes: the new slots' values first, then the removed slots' (a slot added and removed in
    // one batch ends with none).
    const attrs = this.t.attrs;
    if (this.attrRows.length > 0) attrs.add(this.attrRows, this.attrSlots);
    const removing = this.removed.length > 0 && attrs.names.length > 0;
    if (removing) {
      const gone = RoaringBitmap32.from(Uint32Array.from(this.removed));
      try {
        attrs.removeSlots(gone);
      } finally {
        gone.dispose();
      }
    }
    if (removing || this.attrRows.length > 0) for (const [attr, rec] of attrs.toRecords()) store.attributes.put(attr, rec);
    if (this.changedHeads.size > 0) {
      m.headsVersion++;
      store.heads.putLog(m.headsVersion, Uint32Array.from(this.changedHeads));
    }
    m.version++;
    store.meta.put(m);
  }
}

/** A posting-format value without the entries whose slots fall in `runs`. */
function withoutRuns(reader: PostingReader, value: Uint8Array, key: number, runs: Uint32Array, dim: number, codec: Codec): { out: Uint8Array; kept: number; dropped: number } {
  const list = EditableList.read(reader, value, key, dim, codec);
  const dropped = list.removeWhere((s) => {
    const r = upperBound(runs, s);
    return (r & 1) === 1; // inside [runs[r - 1], runs[r]) exactly when r is odd
  });
  return { out: list.encode(), kept: list.count, dropped };
}

/**
 * Remove every record of the slots in `runs` (a tenant's, deleteTenant): their entries in the lists
 * of `heads` and in those lists' appends, their rows in the slot blocks, their id map entries and
 * full-precision vectors. Runs inside the caller's write transaction; returns the posting entries
 * removed.
 */
export function removeSlotRuns(store: IndexStore, meta: IndexMeta, heads: Uint32Array, runs: Uint32Array): number {
  const codec = restoreCodec(meta.codec);
  const codeDim = meta.pca ? meta.pca.outDim : meta.options.dimension;
  const reader = new PostingReader(codeDim, codec);
  let entriesRemoved = 0;
  for (const h of heads) {
    const value = store.lists.get('list', h);
    if (value) {
      const { out, dropped } = withoutRuns(reader, value, h, runs, codeDim, codec);
      entriesRemoved += dropped;
      store.lists.put('list', h, out);
    }
    const appended = store.lists.get('appends', h);
    if (appended) {
      const { out, kept, dropped } = withoutRuns(reader, appended, h, runs, codeDim, codec);
      entriesRemoved += dropped;
      if (kept > 0) store.lists.put('appends', h, out);
      else store.lists.delete('appends', h);
    }
  }
  for (let r = 0; r < runs.length; r += 2) {
    const B = meta.blockSlots;
    for (let b = Math.floor(runs[r] / B); b * B < runs[r + 1]; b++) {
      const value = store.lists.get('block', b);
      if (!value) continue;
      const { out, kept } = withoutRuns(reader, value, b, runs, codeDim, codec);
      if (kept === 0) store.lists.delete('block', b);
      else store.lists.put('block', b, out);
    }
  }
  const refine = parseSpec(meta.spec).refine;
  for (let r = 0; r < runs.length; r += 2) {
    for (let slot = runs[r]; slot < runs[r + 1]; slot++) {
      const id = store.slots.idOf(slot);
      if (id !== NO_ID) store.ids.delete(id);
      if (refine) store.vectors.delete(slot);
    }
    store.slots.clearRange(runs[r], runs[r + 1]);
  }
  return entriesRemoved;
}
