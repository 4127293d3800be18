/**
 * Every build and search parameter of the SPANN index, defined once with its default, grouped by
 * pipeline stage (select heads -> build head graph -> write posting lists -> search).
 */
import { createError } from '../errors.js';
import { parseMetric } from './distance.js';
import type { IndexOptions } from '../storage/records.js';
export type { IndexOptions } from '../storage/records.js';
import { formatSpec, parseSpec } from './spec.js';


export const DEFAULT_INDEX_OPTIONS: Omit<IndexOptions, 'dimension'> = {
  metric: 'l2',
  spec: 'SPANN',
  headRatio: 0.03,
  kmeansBranching: 32,
  kmeansIterations: 10,
  kmeansSamplePerCluster: 256,
  kmeansMaxImbalance: 1.5,
  hnswM: 16,
  hnswEfConstruction: 200,
  replicas: 8,
  candidateHeads: 64,
  closureEps: 0.5,
  rngFactor: 1,
  postingLimit: 0,
  splitNeighbors: 8,
  splitFactor: 1.5,
  mergeFraction: 0.1,
  calibrationQueries: 300,
  seed: 42,
};

/**
 * Settings of one open handle, never stored with the index: they belong to the machine it runs on.
 * `threads`: worker threads of builds and batch searches; 0 = one per core.
 * `postings`: where posting lists live (storage/posting-store.ts): 'lmdb' (default) or 'memory' (this
 * handle's memory only: for tests and as the seam of other backends; batch searches run in-thread).
 */
export interface RuntimeOptions {
  threads: number;
  postings: 'lmdb' | 'memory';
  /**
   * Kernel readahead on the LMDB map. Default false: posting lists are read at random, and when the
   * file is larger than the memory the process may use, readahead fills the page cache with pages
   * no query asked for (storage/lmdb.ts).
   */
  readAhead: boolean;
  /**
   * Who searches the head graph in a batch search. 'per-worker': every worker thread loads its own
   * copy of the graph (fastest when memory is plentiful: the graph search runs in parallel too).
   * 'shared': the calling thread chooses every query's lists with its graph and the workers only scan
   * them, loading no graph (one copy in memory: what lets a 10M index's batch run under a 1 GiB cap).
   * 'auto' (default): 'shared' when the index file is larger than half the memory the process may use.
   */
  batchGraph: 'auto' | 'per-worker' | 'shared';
}

export const BATCH_GRAPH_MODES: readonly RuntimeOptions['batchGraph'][] = ['auto', 'per-worker', 'shared'];

export const DEFAULT_RUNTIME_OPTIONS: RuntimeOptions = { threads: 0, postings: 'lmdb', readAhead: false, batchGraph: 'auto' };

/** What createIndex takes: the index's options and, beside them, the handle's runtime settings. */
export type CreateOptions = Partial<IndexOptions> & { dimension: number } & Partial<RuntimeOptions>;

/** The runtime part of createIndex/openIndex options, checked. */
export function resolveRuntimeOptions(user: Partial<RuntimeOptions>): RuntimeOptions {
  const postings = user.postings ?? DEFAULT_RUNTIME_OPTIONS.postings;
  if (postings !== 'lmdb' && postings !== 'memory') fail('postings', "'lmdb' or 'memory'", postings);
  const readAhead = user.readAhead ?? DEFAULT_RUNTIME_OPTIONS.readAhead;
  if (typeof readAhead !== 'boolean') fail('readAhead', 'a boolean', readAhead);
  const batchGraph = user.batchGraph ?? DEFAULT_RUNTIME_OPTIONS.batchGraph;
  if (!BATCH_GRAPH_MODES.includes(batchGraph)) fail('batchGraph', `one of ${BATCH_GRAPH_MODES.join(', ')}`, batchGraph);
  return { threads: positiveInt({ threads: user.threads ?? DEFAULT_RUNTIME_OPTIONS.threads }, 'threads', 0), postings, readAhead, batchGraph };
}

export interface SearchParams {
  /**
   * Most posting lists read per query: the search budget. Default: the budget the index measured for
   * `targetRecall` (calibration.ts), which may be fractional (5.14: 14% of queries, chosen by a hash
   * of the query, read 6 lists and the others 5); 32 on an index without a calibration. Give one of
   * the two (a given maxLists is a whole number).
   */
  maxLists: number;
  /**
   * The recall@10 to aim for, in (0, 1]: the index reads the fewest lists its calibration curve says
   * reach it (`strata tune` prints the curve). Default 0.95. Ignored by an index without a calibration.
   */
  targetRecall: number;
  /**
   * Query-aware pruning: read list c only if d(q,c) <= (1 + eps2) d(q, h2), h2 the second-nearest head
   * (SPANN uses the nearest; a query sitting on a head would then read only that head's list). Default 1.0.
   */
  eps2: number;
  /**
   * hnswlib ef for the head-graph search (raised to the heads wanted when lower). Default 0 = auto:
   * maxLists + min(maxLists, 16), at least 16 (scoped probes: 64).
   */
  efSearch: number;
  /** Skip the index and answer by exact search over the stored vectors. Default false. */
  bypassIndex: boolean;
  /** With Refine: candidates re-ranked at full precision, as a multiple of k. Default 4. */
  refineFactor: number;
  /**
   * Scoped searches (tenant or filter): most posting lists one query may read. 0 (default) = no budget:
   * the probe widens until k matches are found and falls back to an exact scan of the allowed set, so
   * a search returns k results whenever k vectors match. A budget may return fewer.
   */
  maxProbes: number;
  /**
   * Scoped searches: allowed-set size at or below which the planner scans the allowed vectors exactly
   * instead of probing. 0 (default) = automatic (scope.ts choosePlan): 2 × maxLists × mean list
   * length for a tenant; for a filter alone, when reading the slot blocks holding its matches costs
   * fewer bytes than the lists a probe would read.
   */
  exactScanMax: number;
  /**
   * Scoped searches: 'auto' (default) lets the planner choose; 'exact', 'cells' (a tenant's own
   * inverted lists) or 'probe' (shared heads) force a plan — for measurements and tests.
   */
  plan: 'auto' | 'exact' | 'cells' | 'probe';
  /**
   * Before scanning, ask the kernel to start reading every posting list the probe will read (and,
   * with Refine, every candidate's full-precision vector): one read per value, all in flight at once,
   * instead of one page fault at a time. Pays off when values come from the device (an index larger
   * than the memory it may use: 6x the QPS under a 256 MiB cap on 1M x 96); costs ~10% when they are
   * cached. 'auto' (default): on when the index file is larger than half the memory this process may
   * use (its memory cgroup's limit, or the machine's), decided when the index is opened, and otherwise
   * for as long as searches keep taking major page faults (a cold start). Unscoped probes.
   */
  prefetch: boolean | 'auto';
}

export const DEFAULT_SEARCH_PARAMS: SearchParams = {
  maxLists: 32,
  targetRecall: 0.95,
  eps2: 1.0,
  efSearch: 0,
  bypassIndex: false,
  refineFactor: 4,
  maxProbes: 0,
  exactScanMax: 0,
  plan: 'auto',
  prefetch: 'auto',
};

function fail(field: string, rule: string, value: unknown): never {
  throw createError('STRATA_INVALID_OPTION', `options.${field} must be ${rule}, got ${JSON.stringify(value)}`, field);
}

function positiveInt(o: Record<string, unknown>, field: string, min = 1): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(field, `an integer >= ${min}`, v);
  return v;
}

function numberIn(o: Record<string, unknown>, field: string, lo: number, hi: number, loOpen = false): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v) || v > hi || (loOpen ? v <= lo : v < lo)) {
    fail(field, `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`, v);
  }
  return v;
}

const KNOWN_INDEX_OPTIONS = new Set(['dimension', ...Object.keys(DEFAULT_INDEX_OPTIONS)]);
const RUNTIME_KEYS = new Set(Object.keys(DEFAULT_RUNTIME_OPTIONS));

/** Merge user options over the defaults and validate every field, naming the offending one. */
export function resolveIndexOptions(user: Partial<IndexOptions> & { dimension: number }): IndexOptions {
  if (user === null || typeof user !== 'object') fail('(root)', 'an object', user);
  for (const key of Object.keys(user)) {
    if (!KNOWN_INDEX_OPTIONS.has(key) && !RUNTIME_KEYS.has(key)) fail(key, `one of the known options (${[...KNOWN_INDEX_OPTIONS, ...RUNTIME_KEYS].join(', ')})`, key);
  }
  const o = { ...DEFAULT_INDEX_OPTIONS, ...user } as Record<string, unknown>;
  const resolved: IndexOptions = {
    dimension: positiveInt(o, 'dimension'),
    metric: parseMetric(o.metric, 'metric'),
    spec: formatSpec(parseSpec(o.spec)),
    headRatio: numberIn(o, 'headRatio', 0, 1, true),
    kmeansBranching: positiveInt(o, 'kmeansBranching', 2),
    kmeansIterations: positiveInt(o, 'kmeansIterations'),
    kmeansSamplePerCluster: positiveInt(o, 'kmeansSamplePerCluster', 8),
    kmeansMaxImbalance: o.kmeansMaxImbalance === 0 ? 0 : numberIn(o, 'kmeansMaxImbalance', 1, 100),
    hnswM: positiveInt(o, 'hnswM', 2),
    hnswEfConstruction: positiveInt(o, 'hnswEfConstruction'),
    replicas: positiveInt(o, 'replicas'),
    candidateHeads: positiveInt(o, 'candidateHeads'),
    closureEps: numberIn(o, 'closureEps', 0, 1000),
    rngFactor: numberIn(o, 'rngFactor', 0, 100),
    postingLimit: positiveInt(o, 'postingLimit', 0),
    splitNeighbors: positiveInt(o, 'splitNeighbors', 0),
    splitFactor: numberIn(o, 'splitFactor', 1, 4),
    mergeFraction: numberIn(o, 'mergeFraction', 0, 0.5),
    calibrationQueries: positiveInt(o, 'calibrationQueries', 0),
    seed: positiveInt(o, 'seed', 0),
  };
  if (resolved.candidateHeads < resolved.replicas) fail('candidateHeads', `>= replicas (${resolved.replicas})`, resolved.candidateHeads);
  return resolved;
}

/** The posting-list cap in force for these options. */
export function effectivePostingLimit(o: IndexOptions): number {
  return o.postingLimit > 0 ? o.postingLimit : Math.ceil(8 / o.headRatio);
}

const KNOWN_SEARCH_PARAMS = new Set(Object.keys(DEFAULT_SEARCH_PARAMS));
const PLANS = ['auto', 'exact', 'cells', 'probe'];
/** Keys of a search call's options that scope it rather than tune it (see SearchScope). */
const SCOPE_KEYS = new Set(['tenant', 'filter']);

/**
 * Validate search params over the defaults; `tenant` and `filter` are allowed and ignored here.
 * `budget` maps a target recall to maxLists (the index's calibration), or gives null when the index
 * has none; it decides maxLists unless the caller gave one.
 */
export function resolveSearchParams(user: Partial<SearchParams> | undefined, budget: (targetRecall: number) => number | null = () => null): SearchParams {
  if (user === undefined) return withBudget(DEFAULT_SEARCH_PARAMS, budget);
  if (user === null || typeof user !== 'object') fail('params', 'an object', user);
  if (user.maxLists !== undefined && user.targetRecall !== undefined) fail('targetRecall', 'left out when maxLists is given (one search budget per search)', user.targetRecall);
  for (const key of Object.keys(user)) {
    if (!KNOWN_SEARCH_PARAMS.has(key) && !SCOPE_KEYS.has(key)) fail(key, `one of the known search params (${[...KNOWN_SEARCH_PARAMS].join(', ')})`, key);
  }
  const o = { ...DEFAULT_SEARCH_PARAMS, ...user } as Record<string, unknown>;
  if (typeof o.bypassIndex !== 'boolean') fail('bypassIndex', 'a boolean', o.bypassIndex);
  if (typeof o.prefetch !== 'boolean' && o.prefetch !== 'auto') fail('prefetch', "a boolean or 'auto'", o.prefetch);
  const params: SearchParams = {
    maxLists: positiveInt(o, 'maxLists'),
    targetRecall: numberIn(o, 'targetRecall', 0, 1, true),
    eps2: numberIn(o, 'eps2', 0, 1000),
    efSearch: positiveInt(o, 'efSearch', 0),
    bypassIndex: o.bypassIndex as boolean,
    refineFactor: positiveInt(o, 'refineFactor'),
    maxProbes: positiveInt(o, 'maxProbes', 0),
    exactScanMax: positiveInt(o, 'exactScanMax', 0),
    plan: PLANS.includes(o.plan as string) ? (o.plan as SearchParams['plan']) : fail('plan', `one of ${PLANS.join(', ')}`, o.plan),
    prefetch: o.prefetch as boolean | 'auto',
  };
  return user.maxLists === undefined ? withBudget(params, budget) : params;
}

/** maxLists from the calibration for params.targetRecall, when the index has one. */
function withBudget(params: SearchParams, budget: (targetRecall: number) => number | null): SearchParams {
  const lists = budget(params.targetRecall);
  return lists === null ? params : { ...params, maxLists: lists };
}
