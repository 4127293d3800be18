/**
 * Strata — the embedded library. A SPANN-style disk-hybrid vector index (heads and their graph in
 * memory, posting lists in LMDB) with exact search as the reference answer, and the RAG layer on top
 * (documents in, passages out: chunking, ONNX embeddings, BM25, hybrid retrieval, evaluation).
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
// Scale-out: an index on S3-compatible object storage, served by stateless query nodes.
export { S3ObjectStore } from './storage/object-store.js';
export type { ObjectStore, S3StoreOptions, ObjectStoreStats } from './storage/object-store.js';
export { ObjectIndex, publishIndex, applyLog, latestManifest } from './index/object-index.js';
export type { ObjectIndexOptions, ObjectSearchOptions, ObjectSearchResult, PublishProgress } from './index/object-index.js';
export { LogWriter, readLog } from './storage/object-log.js';
export type { LogBatch } from './storage/object-log.js';
export type { ObjectManifest } from './storage/object-layout.js';
export type { ObjectCacheStats } from './storage/object-posting-store.js';
// RAG layer: documents in, passages out.
export { Corpus } from './rag/corpus.js';
export { DEFAULT_MODEL_DIR } from './rag/defaults.js';
export type { CorpusSharing } from './rag/passage-store.js';
export type { CorpusOptions, RetrieveOptions, RetrievalMode, Passage, IngestReport, IngestOptions, IngestStage } from './rag/corpus.js';
export { Embedder } from './rag/embedder.js';
export type { EmbedderOptions } from './rag/embedder.js';
export { EmbedderPool } from './rag/embedder-pool.js';
export type { EmbedderPoolOptions } from './rag/embedder-pool.js';
export type { ModelConfigFile, Pooling } from './rag/model-config.js';
export { chunkText, DEFAULT_CHUNK_OPTIONS } from './rag/chunker.js';
export type { ChunkOptions, TextChunk } from './rag/chunker.js';
export { loadDocuments, parseJsonl } from './rag/documents.js';
export type { RagDocument } from './rag/documents.js';
export { DEFAULT_FUSION, DEFAULT_RRF_K, reciprocalRankFusion, convexFusion, fuseCandidates } from './rag/fusion.js';
export type { FusionMethod, FusionWeights } from './rag/fusion.js';
export { DEFAULT_BM25 } from './rag/lexical-index.js';
export type { Bm25Params } from './rag/lexical-index.js';
export { evaluateRetrieval, evaluateFusions, scoreRuns } from './rag/evaluation.js';
export type { RetrievalScores } from './rag/evaluation.js';
export { loadBeir } from './datasets/beir.js';
export type { Qrels, RetrievalCorpus, TextQuery } from './rag/evaluation.js';
export { loadCranfield } from './datasets/cranfield.js';
// Chunk KV cache: reuse (and patch) the KV caches of retrieved passages.
export { KvEngine } from './kv/engine.js';
export type { PromptParts, AssembleOptions, AssemblyReport, Assembled, KvEngineOptions } from './kv/engine.js';
export { DecoderModel } from './kv/decoder.js';
export type { DecoderOptions, KvNaming } from './kv/decoder.js';
export { generate, decodeFrom } from './kv/generate.js';
export type { SamplingOptions } from './kv/generate.js';
export { Llama2cTokenizer } from './kv/llama2c-tokenizer.js';
export { checkRerotation } from './kv/gate.js';
export type { GateReport } from './kv/gate.js';
export { rerotateKeys } from './kv/rope.js';
export type { ModelProfile, PositionalScheme } from './kv/model-profile.js';
export { builtinProfiles, resolveProfile } from './kv/profiles.js';
export { ensureRandomLlama, randomLlamaOnnx, randomLlamaProfile, materializeProfile } from './kv/random-llama.js';
export type { RandomLlamaSpec } from './kv/random-llama.js';
export { ChunkKvStore, chunkKey, DEFAULT_CHUNK_STORE } from './kv/chunk-store.js';
export type { ChunkStoreOptions, ChunkStoreStats } from './kv/chunk-store.js';
export { encodeEntry, decodeEntry } from './kv/entry-codec.js';
export type { ChunkEntry, KvDtype } from './kv/entry-codec.js';
export type { KvCache } from './kv/kv-cache.js';
export type { RecomputeStrategy } from './kv/recompute.js';
