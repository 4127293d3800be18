/**
 * Strata — the embedded library. A SPANN-style disk-hybrid vector index (heads and their graph in
 * memory, posting lists in LMDB) with exact search as the reference answer.
 */
export { createIndex, openIndex, SpannIndex, NO_ID } from './index/spann.js';
export type { BuildStats, BuildProgress, BuildCallOptions, SearchResult, BatchSearchResult, IndexStats, OpenOptions, CompactReport } from './index/spann.js';
export type { WriteCounts, WriteOptions } from './index/writer.js';
export type { HealthReport } from './index/maintenance.js';
export type { SearchStats } from './index/searcher.js';
export { DEFAULT_INDEX_OPTIONS, DEFAULT_SEARCH_PARAMS } from './index/options.js';
export type { IndexOptions, SearchParams } from './index/options.js';
export { exactSearch } from './index/exact.js';
export type { KnnResult, ExactSearchOptions } from './index/exact.js';
export type { Metric } from './index/distance.js';
export { ERROR_CODES, StrataError, createError, isStrataError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { FORMAT_VERSION } from './storage/index-store.js';
