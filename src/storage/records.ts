/**
 * The records the storage layer writes, by type: what an index persists about its distance metric,
 * posting-list codec, PCA, tenants and attributes. They are defined here, at the bottom, so the
 * layers above (src/index) build on them and storage never imports upwards.
 */

export type Metric = 'l2' | 'ip' | 'cosine';

export type CodecName = 'F32' | 'F8E4M3' | 'F8E5M2' | 'INT8' | 'F8E4M3S' | 'F8E5M2S';

export const CODEC_NAMES: readonly CodecName[] = ['F32', 'F8E4M3', 'F8E5M2', 'INT8', 'F8E4M3S', 'F8E5M2S'];

/** Codec ids as stored in a posting list header. */
export const CODEC_IDS: Record<CodecName, number> = { F32: 0, F8E4M3: 1, F8E5M2: 2, INT8: 3, F8E4M3S: 4, F8E5M2S: 5 };

export interface CodecState {
  name: CodecName;
  dim: number;
  /** INT8: per-dimension minimum and step. */
  min?: number[];
  step?: number[];
  /** Scaled float8: per-dimension power-of-two scale applied before the cast. */
  scale?: number[];
}

export interface PcaState {
  inDim: number;
  outDim: number;
  mean: number[];
  /** outDim × inDim, row-major: row i is the i-th principal axis (unit length). */
  components: number[];
  /** Variance along each kept axis, descending. */
  variances: number[];
  /** Fraction of the sample's total variance the kept axes explain. */
  explained: number;
}

/** The persisted form of one tenant, read at open (`tenants` db, msgpack). */
export interface TenantRecord {
  /** u32 little-endian half-open slot runs [s0, e0, s1, e1, ...], sorted. */
  runs: Uint8Array;
  /** Coarse cells the tenant occupies. */
  cellCount: number;
}

/** The persisted details of one tenant, read on demand (`tenantDetails` db, msgpack). */
export interface TenantDetailsRecord {
  /** Portable roaring bitmap of the heads holding the tenant's entries. */
  heads: Uint8Array;
  /** u32 cell ids then u32 cell starts (one more than the ids), little-endian. */
  cells: Uint8Array;
}

export type AttributeType = 'keyword' | 'number' | 'boolean';

/** Persisted form (inside the attribute's header record). */
export interface NumberRecord {
  /** float64 values, little-endian: the distinct values (bitmaps) or every value, sorted. */
  values: Uint8Array;
  /** Sorted layout: u32 slots in value order. */
  slots?: Uint8Array;
  /** Bitmap layout: u32 vectors per distinct value (the bitmaps are parts 0..n-1 in LMDB). */
  counts?: Uint8Array;
}

/** The persisted header of one attribute (LMDB `attrs` db, msgpack); its bitmaps are stored apart. */
export interface AttributeRecord {
  type: AttributeType;
  /** keyword/boolean: the values ('true'/'false' for booleans); value i's bitmap is part i. */
  keys?: string[];
  /** keyword/boolean: u32 vectors per value, little-endian. */
  counts?: Uint8Array;
  /** number: the number index (number-index.ts). */
  numbers?: NumberRecord;
}

/** The build options of an index, persisted in its meta record (defaults and checks: index/options.ts). */
export interface IndexOptions {
  // -- what is indexed ----------------------------------------------------------------------------
  /** Number of components per vector. Required. */
  dimension: number;
  /** Distance: 'l2' (squared Euclidean), 'ip' (1 - dot), 'cosine' (1 - cos). Default 'l2'. */
  metric: Metric;
  /**
   * Index spec (spec.ts): 'SPANN' stores float32 lists; add a codec (F8E4M3, F8E5M2, INT8) to
   * compress them and 'Refine' to keep full-precision vectors for re-ranking. Default 'SPANN'.
   */
  spec: string;

  // -- stage 1: select heads ----------------------------------------------------------------------
  /**
   * Fraction of vectors chosen as in-memory heads. Default 0.03 (SPANN uses 8-16%; with lists read
   * zero-copy, fewer heads and longer lists measured 1.2-1.5× the QPS at the same recall on 96-d
   * sets and the same on fashion-mnist, for 9-26% more bytes read per query: BENCHMARKS.md). Higher
   * raises recall per probed list and memory (each head costs its vector plus ~2*hnswM links).
   */
  headRatio: number;
  /** Branching factor of the hierarchical balanced k-means. Default 32 (SPTAG's BKT). */
  kmeansBranching: number;
  /** Lloyd iterations per k-means node. Default 10. */
  kmeansIterations: number;
  /** Points sampled per cluster to train a k-means node (the rest are only assigned). Default 256. */
  kmeansSamplePerCluster: number;
  /**
   * Balance of each k-means split: no cluster may exceed this multiple of the mean cluster size
   * (0 = unconstrained). Default 1.5. Lower keeps posting lists more even, at some cost in locality.
   */
  kmeansMaxImbalance: number;

  // -- stage 2: head graph (hnswlib-node) ---------------------------------------------------------
  /** HNSW out-degree of the head graph. Default 16. */
  hnswM: number;
  /** HNSW construction beam. Default 200. */
  hnswEfConstruction: number;

  // -- stage 3: posting lists ---------------------------------------------------------------------
  /** Maximum lists a vector is replicated into (SPANN's R). Default 8. */
  replicas: number;
  /** Nearest heads considered when assigning a vector. Default 64. */
  candidateHeads: number;
  /** Closure bound: keep head c only if d(x,c) <= (1 + eps1) d(x, nearest head). Default 0.5. */
  closureEps: number;
  /**
   * RNG rule: skip head c when rngFactor * d(c, c') < d(x, c) for an already chosen head c'
   * (distances as in distance.ts, squared for l2). Default 1 (SPANN's rule); larger skips fewer heads.
   */
  rngFactor: number;
  /**
   * Maximum vectors in one posting list; an over-long list keeps its nearest vectors (a vector is
   * never dropped from its last list: it is moved to its next nearest head with room).
   * Default 0 = automatic: ceil(8 / headRatio), e.g. 267 for the default 3% head ratio.
   */
  postingLimit: number;

  // -- live updates (writer.ts, maintenance.ts) -------------------------------------------------------
  /**
   * After a list splits, the lists of this many heads nearest the old head are re-checked: their
   * vectors now nearer a new head move there, and the split list's vectors nearer one of those
   * heads move to it (SPFresh's LIRE). Default 8; 0 keeps the split list's vectors on its two halves.
   */
  splitNeighbors: number;
  /**
   * Live updates split a list once it holds more than splitFactor × postingLimit entries (and LIRE
   * and replicas fill lists up to that). Default 1.5: the build fills lists up to postingLimit, and
   * the gap absorbs churn (deleted vectors coming back) without splitting.
   */
  splitFactor: number;
  /**
   * Compaction merges a list holding fewer live vectors than mergeFraction × postingLimit into its
   * neighbours (its head is removed). Default 0.1; 0 never merges.
   */
  mergeFraction: number;

  // -- calibration (index/calibration.ts) ------------------------------------------------------------
  /**
   * Sample vectors used as queries to measure recall@10 against the search budget after a build (the
   * curve `targetRecall` is read from). Default 300; at most a tenth of the vectors; 0 = no calibration.
   */
  calibrationQueries: number;

  // -- execution -----------------------------------------------------------------------------------
  /** Seed of every random choice of the build, so builds are reproducible. Default 42. */
  seed: number;
}

/** What a posting list needs of its codec to be written: the bytes per entry and the encoder. */
export interface PostingEncoder {
  readonly name: CodecName;
  readonly bytesPerVector: number;
  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
}

/**
 * The index's recall calibration (`meta` db, key 'calibration', msgpack; index/calibration.ts): the
 * measured recall@k of each search budget, and the sample it was measured on, kept so the curve can
 * be measured again after compaction without the build's input.
 */
export interface CalibrationRecord {
  /** Record layout version (CALIBRATION_FORMAT). */
  format: number;
  /** Recall is recall@k. */
  k: number;
  /** Budgets measured (maxLists, ascending) and the mean recall@k of the sample at each. */
  maxLists: number[];
  recall: number[];
  /** Sample queries that could be scored (each had k live neighbours). */
  queries: number;
  /** Index version (commits) and live vectors when the curve was measured. */
  version: number;
  count: number;
  seconds: number;
  /** The sample: query vectors (float32 bytes), their own external ids, and their exact nearest other vectors (external ids, `truthK` per query, nearest first, 0xFFFFFFFF-padded). */
  sampleVectors: Uint8Array;
  sampleIds: Uint8Array;
  truth: Uint8Array;
  truthK: number;
}

/** The index's metadata record (`meta` db of strata.mdb, msgpack). */
export interface IndexMeta {
  formatVersion: number;
  /** The index spec string, canonical form (spec.ts); 'SPANN' = float32 posting lists. */
  spec: string;
  /** The posting-list codec with its trained state. */
  codec: CodecState;
  /** With Residual (spec): the slot blocks' codec, trained on the vectors themselves (`codec` is trained on residuals). */
  blockCodec?: CodecState;
  /** PCA applied to posting-list payloads, when the spec has a PCA stage. */
  pca?: PcaState;
  options: IndexOptions;
  /** 'empty' until a build commits, then 'built'. */
  state: 'empty' | 'built';
  /** Live vectors. */
  count: number;
  /** Head numbers ever allocated (the graph's label space; merged heads leave gaps). */
  headCount: number;
  /** Heads that exist (headCount minus merged ones). */
  liveHeads: number;
  postingLimit: number;
  /** Posting entries summed over lists (>= count: vectors are replicated). */
  postingEntries: number;
  longestList: number;
  buildSeconds: number;
  /** Slots ever allocated (>= count once vectors are deleted). */
  slotCount: number;
  /** Slots per block record (blockSlotsFor the entry size). */
  blockSlots: number;
  /** Coarse cells (cells.ts); their centres are the meta db's 'cells' record. */
  cellCount: number;
  createdAt: string;
  /** Committed write batches since creation (a build counts as one). */
  version: number;
  /** Commits that changed heads (splits, merges); headLog holds each one's heads. */
  headsVersion: number;
  /** Deleted slots whose entries may still sit in posting lists and blocks (0 after compaction). */
  tombstones: number;
}
