/**
 * The bulk build of a SPANN index (SpannIndex.build is its facade): from vectors to heads, graph,
 * posting lists and every record the index keeps, written to LMDB in bounded transactions.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RoaringBitmap32 } from 'roaring-wasm';
import { createError } from '../errors.js';
import { blockSlotsFor, GRAPH_FILE, type IndexStore } from '../storage/index-store.js';
import { encodePosting, postingBytes } from '../storage/posting-format.js';
import type { AttributeRecord, IndexMeta } from '../storage/records.js';
import { upperBound } from '../util/bounds.js';
import { createPool, resolveThreads, sharedFloat32, sharedUint32, toShared } from '../util/workers.js';
import { assignRange, type AssignParams } from './assign.js';
import { AttributeIndex } from './attributes.js';
import { cellCount, trainCells } from './cells.js';
import { createCodec } from './codecs/codec.js';
import { PcaTransform } from './codecs/pca.js';
import { normalizeRows } from './distance.js';
import type { Attributes } from './filter.js';
import { saveGraph } from './graph-sync.js';
import { HeadGraph } from './head-graph.js';
import { selectHeads } from './heads.js';
import { effectivePostingLimit, type RuntimeOptions } from './options.js';
import { layoutPostings } from './posting-layout.js';
import { groupByTenant, layoutSlots } from './slot-layout.js';
import { parseSpec } from './spec.js';
import { Tenant, detailsOf } from './tenants.js';
import { checkIds, checkVectors, flattenRows, toFloat32 } from './validate.js';
import { type CalibrationSample, calibrationSample } from './calibration.js';
import { rowRange } from '../util/random.js';

export type BuildStage = 'heads' | 'graph' | 'assign' | 'write' | 'calibrate';

export interface BuildProgress {
  stage: BuildStage;
  done: number;
  total: number;
}

export interface BuildCallOptions {
  /** Called as each stage advances (the CLI draws progress bars from it). */
  onProgress?: (p: BuildProgress) => void;
  /**
   * The tenant of each vector (one name per row), or one name for all. Default: every vector in
   * tenant "default". A tenant's vectors get consecutive slots, so its posting entries form one
   * section of each list.
   */
  tenants?: string | ArrayLike<string>;
  /** Per-row metadata (keyword, list of keywords, number, boolean), or null/undefined for none. */
  attributes?: ReadonlyArray<Attributes | null | undefined>;
}

export interface BuildStats {
  count: number;
  heads: number;
  postingEntries: number;
  replicasPerVector: number;
  longestList: number;
  postingLimit: number;
  /** Vectors that lost every replica to the cap and were re-homed to a head with room. */
  orphansRehomed: number;
  seconds: number;
  stageSeconds: Record<BuildStage, number>;
}

/** What a build hands to the open index. */
export interface BuiltIndex {
  meta: IndexMeta;
  graph: HeadGraph;
  tenants: Tenant[];
  attributeRecords: Array<[string, AttributeRecord]>;
  stats: BuildStats;
  /** The recall calibration's sample (null when calibration is off or the index is too small). */
  sample: CalibrationSample | null;
}

/** Rows per assignment task sent to a worker. */
const ASSIGN_CHUNK = 4096;
/** Below this many vectors the build assigns in the calling thread. */
const PARALLEL_BUILD_MIN = 20_000;
/** id -> slot records written per LMDB transaction during the build. */
const ID_TXN_ROWS = 262_144;
/** Rows used to fit the posting codec. */
const CODEC_SAMPLE = 65_536;
/** Rows used to fit PCA (covariance costs rows × dim² / 2). */
const PCA_SAMPLE = 20_000;
/** Posting bytes written per LMDB transaction during the build. */
const WRITE_TXN_BYTES = 16 << 20;
const EMPTY = new Uint32Array(0);

/**
 * Bulk build into an empty index: heads (balanced k-means), the head graph, replica assignment
 * (closure + RNG rule, on worker threads for large builds), slots, posting lists, blocks, tenants,
 * attributes and the new meta record (written last). Returns what the open handle must take over.
 * See ARCHITECTURE.md, "Build data flow".
 */
export async function buildIndex(
  dir: string,
  store: IndexStore,
  meta0: IndexMeta,
  runtime: RuntimeOptions,
  vectors: Float32Array | number[][],
  ids: Uint32Array | number[] | undefined,
  call: BuildCallOptions,
): Promise<BuiltIndex> {
  const o = meta0.options;
  const dim = o.dimension;
  const flat = Array.isArray(vectors) ? flattenRows(vectors, dim) : toFloat32(vectors, 'vectors');
  const n = checkVectors(flat, dim, 'vectors');
  const extIds = ids === undefined ? null : checkIds(ids, n);
  // Tenancy is checked first (cheap, and a bad name or attribute must fail before any work); slots
  // are numbered once the cells are known.
  const groups = groupByTenant(call.tenants, n);
  if (call.attributes !== undefined && (!Array.isArray(call.attributes) || call.attributes.length !== n)) {
    throw createError('STRATA_INVALID_ATTRIBUTE', `attributes must be an array with one entry per vector (${n}), got ${Array.isArray(call.attributes) ? call.attributes.length : typeof call.attributes}`, 'attributes');
  }
  if (call.attributes) AttributeIndex.check(call.attributes);
  const t0 = performance.now();
  const stageSeconds: Record<BuildStage, number> = { heads: 0, graph: 0, assign: 0, write: 0, calibrate: 0 };
  const progress = call.onProgress ?? (() => {});
  let mark = performance.now();
  const lap = (stage: BuildStage) => {
    const now = performance.now();
    stageSeconds[stage] = (now - mark) / 1000;
    mark = now;
  };

  // Shared memory so assignment workers read the vectors in place; cosine works on unit vectors.
  let data: Float32Array;
  if (o.metric === 'cosine') {
    data = sharedFloat32(flat.length);
    data.set(flat);
    normalizeRows(data, dim);
  } else data = toShared(flat);

  // Stage 1: heads.
  const headCount = Math.max(1, Math.min(n, Math.round(n * o.headRatio)));
  const headRows = selectHeads(data, dim, n, {
    headCount,
    branching: o.kmeansBranching,
    iterations: o.kmeansIterations,
    samplePerCluster: o.kmeansSamplePerCluster,
    maxImbalance: o.kmeansMaxImbalance,
    seed: o.seed,
    onProgress: (done) => progress({ stage: 'heads', done, total: n }),
  });
  const H = headRows.length;
  const headVectors = sharedFloat32(H * dim);
  for (let h = 0; h < H; h++) headVectors.set(data.subarray(headRows[h] * dim, headRows[h] * dim + dim), h * dim);
  lap('heads');

  // Stage 2: head graph, saved beside the LMDB file (atomically, via rename).
  const graph = HeadGraph.build(headVectors, dim, o.metric, {
    m: o.hnswM,
    efConstruction: o.hnswEfConstruction,
    seed: o.seed,
    onProgress: (done) => progress({ stage: 'graph', done, total: H }),
  });
  // Assignment workers load the graph from a scratch file; the index's own file is saved last.
  const tmpGraph = join(dir, `${GRAPH_FILE}.build`);
  graph.save(tmpGraph);
  const cells = trainCells(headVectors, H, dim, cellCount(n, H), o.seed);
  lap('graph');

  // Stage 3a: replica choice per vector (closure + RNG rule), parallel for large builds.
  const R = o.replicas;
  const params: AssignParams = {
    metric: o.metric,
    replicas: R,
    candidateHeads: Math.min(o.candidateHeads, H),
    closureEps: o.closureEps,
    rngFactor: o.rngFactor,
  };
  const assignHeads = sharedUint32(n * R);
  const assignDist = sharedFloat32(n * R);
  const threads = resolveThreads(runtime.threads);
  if (n < PARALLEL_BUILD_MIN || threads === 1) {
    let done = 0;
    assignRange(data, dim, 0, n, graph, headVectors, params, assignHeads, assignDist, () => {
      if ((++done & 1023) === 0) progress({ stage: 'assign', done, total: n });
    });
  } else {
    const pool = createPool('index/build-worker', threads);
    try {
      let done = 0;
      const tasks: Promise<void>[] = [];
      for (let s = 0; s < n; s += ASSIGN_CHUNK) {
        const e = Math.min(n, s + ASSIGN_CHUNK);
        tasks.push(
          pool
            .run({ graphFile: tmpGraph, data, headVectors, dim, start: s, end: e, params, outHeads: assignHeads, outDist: assignDist })
            .then((rows: number) => {
              done += rows;
              progress({ stage: 'assign', done, total: n });
            }),
        );
      }
      await Promise.all(tasks);
    } finally {
      await pool.destroy();
    }
  }
  progress({ stage: 'assign', done: n, total: n });
  lap('assign');

  // Slots: tenants by name, then by the cell of each vector's nearest head.
  const cellOfRow = new Uint32Array(n);
  for (let r = 0; r < n; r++) cellOfRow[r] = cells.cellOfHead[assignHeads[r * R]];
  const { rowOfSlot, slotOfRow, tenants: tenantLayouts } = layoutSlots(groups, cellOfRow, n);
  const attrs = call.attributes ? AttributeIndex.build(call.attributes, slotOfRow) : null;

  // What posting lists store: optionally PCA-projected, then encoded by the codec. PCA and codec are
  // fitted on evenly spaced samples (deterministic).
  const spec = parseSpec(meta0.spec);
  const pca = spec.pca ? PcaTransform.fit(sampleRows(data, n, dim, PCA_SAMPLE), dim, spec.pca) : null;
  const stored = pca ? pca.projectRows(data, n) : data;
  const storedDim = pca ? pca.outDim : dim;
  const codec = createCodec(spec.codec, storedDim);
  codec.train(sampleRows(stored, n, storedDim, CODEC_SAMPLE));
  const refine = spec.refine;
  // Residual: lists store x − head (in the stored space) with a codec trained on such residuals
  // (each sample row against its nearest head); the blocks keep `codec`, trained on the vectors.
  const headStored = spec.residual ? (pca ? pca.projectRows(headVectors, H) : headVectors) : null;
  let listCodec = codec;
  if (headStored) {
    listCodec = createCodec(spec.codec, storedDim);
    const sample = sampleRows(stored, n, storedDim, CODEC_SAMPLE);
    const m = sample.length / storedDim;
    for (let i = 0; i < m; i++) {
      const h = assignHeads[Math.floor((i * n) / m) * R]; // sampleRows takes row floor(i n / m)
      for (let j = 0; j < storedDim; j++) sample[i * storedDim + j] -= headStored[h * storedDim + j];
    }
    listCodec.train(sample);
  }

  // Stage 3b: cap list lengths, re-home orphans, write lists + heads + meta to LMDB.
  const limit = effectivePostingLimit(o);
  const layout = layoutPostings(assignHeads, assignDist, n, R, H, limit);
  const lists = layout.lists;
  if (layout.orphans.length > 0) {
    const cand = new Uint32Array(params.candidateHeads);
    const candDist = new Float32Array(params.candidateHeads);
    const extra: number[][] = Array.from({ length: H }, () => []);
    const lengthOf = (h: number) => lists[h].length + extra[h].length;
    for (const r of layout.orphans) {
      const found = graph.search(data, r * dim, params.candidateHeads, params.candidateHeads, cand, candDist);
      let target = cand[0];
      for (let i = 0; i < found; i++) {
        if (lengthOf(cand[i]) < limit) {
          target = cand[i];
          break;
        }
      }
      extra[target].push(r);
    }
    for (let h = 0; h < H; h++) if (extra[h].length > 0) lists[h] = Uint32Array.from([...lists[h], ...extra[h]]);
  }

  // Tenants: slots and the heads holding their entries, filled while lists are written.
  const tenantObjs = tenantLayouts.map(
    (t) =>
      new Tenant(t.name, t.end > t.start ? Uint32Array.of(t.start, t.end) : new Uint32Array(0), t.cellIds.length, { heads: new RoaringBitmap32(), cellIds: t.cellIds, cellStarts: t.cellStarts }, () =>
        detailsOf(t.name, store.tenants.details(t.name)),
      ),
  );
  const tenantStarts = Uint32Array.from(tenantLayouts, (t) => t.start);
  const markHeads = (h: number, slots: Uint32Array) => {
    // slots ascending: one binary search per tenant present in the list
    for (let i = 0; i < slots.length; ) {
      const t = upperBound(tenantStarts, slots[i]) - 1;
      tenantObjs[t].details().heads.add(h);
      const end = tenantLayouts[t].end;
      while (i < slots.length && slots[i] < end) i++;
    }
  };

  let entries = 0;
  let longest = 0;
  let h = 0;
  while (h < H) {
    let bytes = 0;
    store.write(() => {
      for (; h < H && bytes < WRITE_TXN_BYTES; h++) {
        const list = lists[h].sort((a, b) => slotOfRow[a] - slotOfRow[b]);
        const slots = Uint32Array.from(list, (r) => slotOfRow[r]);
        markHeads(h, slots);
        store.lists.put('list', h, encodePosting(list, list.length, slotOfRow, stored, storedDim, listCodec, headStored ? headStored.subarray(h * storedDim, (h + 1) * storedDim) : null));
        store.heads.put(h, extIds ? extIds[headRows[h]] : headRows[h], headVectors.subarray(h * dim, h * dim + dim));
        bytes += postingBytes(list.length, codec.bytesPerVector);
        entries += list.length;
        if (list.length > longest) longest = list.length;
        lists[h] = EMPTY; // release as we go
      }
    });
    progress({ stage: 'write', done: h, total: H });
  }
  // Blocks: every vector once, by slot, for exact scans; the slot map; tenants; attributes.
  const B = blockSlotsFor(4 + codec.bytesPerVector);
  for (let b = 0; b * B < n; ) {
    store.write(() => {
      for (let bytes = 0; b * B < n && bytes < WRITE_TXN_BYTES; b++) {
        const rows = rowOfSlot.subarray(b * B, Math.min(n, (b + 1) * B));
        store.lists.put('block', b, encodePosting(rows, rows.length, slotOfRow, stored, storedDim, codec));
        bytes += postingBytes(rows.length, codec.bytesPerVector);
      }
    });
  }
  const slotIds = new Uint32Array(n);
  for (let slot = 0; slot < n; slot++) slotIds[slot] = extIds ? extIds[rowOfSlot[slot]] : rowOfSlot[slot];
  for (let s0 = 0; s0 < n; s0 += ID_TXN_ROWS) {
    store.write(() => {
      for (let slot = s0; slot < Math.min(n, s0 + ID_TXN_ROWS); slot++) store.ids.put(slotIds[slot], slot);
    });
  }
  store.write(() => {
    store.slots.putIds(slotIds);
    store.meta.putCells(cells.centers);
    for (const t of tenantObjs) {
      t.details().heads.runOptimize();
      store.tenants.put(t.name, t.toRecord(), t.detailsRecord());
    }
    if (attrs) {
      for (const [name, rec] of attrs.records) store.attributes.put(name, rec);
      for (const [name, part, bytes] of attrs.bitmaps) store.attributes.putBitmap(name, part, bytes);
    }
  });
  if (refine) writeFullVectors(store, data, n, dim, rowOfSlot);
  rmSync(tmpGraph, { force: true });
  graph.version = meta0.headsVersion;
  saveGraph(graph, dir);
  lap('write');
  // The calibration's sample and its exact neighbours, while the build's vectors are at hand (the
  // index measures its recall curve on them once it is open: SpannIndex.build).
  let sample: CalibrationSample | null = null;
  if (o.calibrationQueries > 0) {
    progress({ stage: 'calibrate', done: 0, total: 1 });
    sample = await calibrationSample(data, extIds ?? rowRange(n), dim, o.metric, o.calibrationQueries, o.seed);
  }
  lap('calibrate');
  const seconds = (performance.now() - t0) / 1000;
  const meta: IndexMeta = {
    ...meta0,
    state: 'built',
    count: n,
    headCount: H,
    liveHeads: H,
    version: meta0.version + 1,
    postingLimit: limit,
    postingEntries: entries,
    longestList: longest,
    buildSeconds: seconds,
    slotCount: n,
    blockSlots: B,
    cellCount: cells.count,
    codec: listCodec.state(),
    ...(headStored ? { blockCodec: codec.state() } : {}),
    ...(pca ? { pca: pca.state } : {}),
  };
  const stats: BuildStats = {
    count: n,
    heads: H,
    postingEntries: entries,
    replicasPerVector: entries / n,
    longestList: longest,
    postingLimit: limit,
    orphansRehomed: layout.orphans.length,
    seconds,
    stageSeconds,
  };
  // The meta record is not written here: the caller commits it (with the recall curve it measures on
  // the open index) as the build's last write, so readers never see a built index without its curve.
  return { meta, graph, tenants: tenantObjs, attributeRecords: attrs ? attrs.records : [], stats, sample };
}

/** An evenly spaced sample of at most `max` rows, as a fresh n'×dim array. */
function sampleRows(data: Float32Array, n: number, dim: number, max: number): Float32Array {
  const m = Math.min(n, max);
  const out = new Float32Array(m * dim);
  for (let i = 0; i < m; i++) {
    const r = Math.floor((i * n) / m);
    out.set(data.subarray(r * dim, r * dim + dim), i * dim);
  }
  return out;
}

/** Refine: every vector at full precision under its slot, in bounded transactions. */
function writeFullVectors(store: IndexStore, data: Float32Array, n: number, dim: number, rowOfSlot: Uint32Array): void {
  const perTxn = Math.max(1, Math.floor(WRITE_TXN_BYTES / (dim * 4)));
  for (let s = 0; s < n; s += perTxn) {
    store.write(() => {
      for (let slot = s; slot < Math.min(n, s + perTxn); slot++) {
        const r = rowOfSlot[slot];
        store.vectors.put(slot, data.subarray(r * dim, r * dim + dim));
      }
    });
  }
}
