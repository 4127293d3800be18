/**
 * Request and response schemas of every route (TypeBox, i.e. JSON Schema). Fastify validates each
 * request against them before a handler runs, and serialises responses with the schema of their
 * status code, so a field not listed here never leaves the service. Limits come from the config.
 */
import { DEFAULT_RECOMPUTE, RECOMPUTE_STRATEGIES } from '../kv/recompute.js';
import { DEFAULT_RETRIEVAL_MODE, RETRIEVAL_MODES } from '../rag/corpus.js';
import { CORPUS_SHARING, DEFAULT_SHARING } from '../rag/passage-store.js';
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import type { ServerConfig } from './config.js';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'one of the codes in ERROR_CODES (src/errors.ts)' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the request field the error is about' })),
    }),
  },
  { $id: 'ErrorBody', description: 'every 4xx and 5xx answer' },
);

/** The error answers every authenticated route may give. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of [400, 401, 403, 404, 413, 415, 500, 503, ...statuses]) out[s] = Type.Ref('ErrorBody');
  return out;
}

const Id = Type.Integer({ minimum: 0, maximum: 4294967295, description: 'unsigned 32-bit point id' });
const TenantName = Type.String({ minLength: 1, maxLength: 128 });
const NameParam = Type.String({ minLength: 1, maxLength: 64 });
const AttributeValue = Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean(), Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 256 })]);
const Metadata = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), AttributeValue, { maxProperties: 64, description: 'filterable attributes: keyword, list of keywords, number, boolean' });

export function buildSchemas(config: ServerConfig) {
  const Vector = Type.Array(Type.Number(), { minItems: 1, maxItems: config.maxDimension, description: 'the vector, as many numbers as the collection dimension' });
  const SearchParams = Type.Object(
    {
      targetRecall: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: "recall@10 to aim for (default 0.95): the collection reads the fewest lists its measured recall curve says reach it; give this or maxLists" })),
      maxLists: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'posting lists read: a fixed budget instead of targetRecall (default: from targetRecall; 32 without a recall curve)' })),
      eps2: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'query-aware list pruning (default 1.0)' })),
      efSearch: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, description: 'head-graph beam (default: the lists read + min(lists, 16), at least 16)' })),
    },
    { additionalProperties: false },
  );
  const Query = Type.Object(
    {
      vector: Vector,
      k: Type.Optional(Type.Integer({ minimum: 1, maximum: config.maxK, default: 10 })),
      tenant: Type.Optional(TenantName),
      filter: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'metadata filter ($and, $or, $not, $in, $nin, $ne, $gt, $gte, $lt, $lte; see src/index/filter.ts)' })),
      params: Type.Optional(SearchParams),
    },
    { additionalProperties: false },
  );
  const Hit = Type.Object({ id: Type.Integer({ description: 'the point\'s id in its tenant' }), tenant: Type.String(), distance: Type.Number() });
  const CollectionName = Type.Object({ name: NameParam });
  const Collection = Type.Object({
    name: Type.String(),
    dimension: Type.Integer(),
    metric: Type.String(),
    spec: Type.String(),
    createdAt: Type.Optional(Type.String()),
    state: Type.Optional(Type.String({ description: 'empty until the first upsert builds the index, then built' })),
    points: Type.Integer({ description: 'live points (in the key\'s tenant for a tenant key)' }),
    tenant: Type.Optional(Type.String({ description: 'the tenant a tenant key is bound to' })),
    heads: Type.Optional(Type.Integer()),
    tenants: Type.Optional(Type.Integer()),
    tombstones: Type.Optional(Type.Integer()),
    diskBytes: Type.Optional(Type.Integer()),
    generation: Type.Optional(Type.Integer({ description: 'index generation (grows with each rebuild)' })),
    rebuilding: Type.Optional(Type.Boolean({ description: 'a rebuild into the next generation is running' })),
    lastRebuild: Type.Optional(
      Type.Object(
        { generation: Type.Integer(), points: Type.Integer(), seconds: Type.Number(), replayedWrites: Type.Integer({ description: 'writes made during the rebuild, replayed into the new generation' }) },
        { description: 'the last rebuild since the service started' },
      ),
    ),
  });
  const Key = Type.Object({
    id: Type.String(),
    role: Type.String(),
    collection: Type.Optional(Type.String()),
    corpus: Type.Optional(Type.String()),
    tenant: Type.Optional(Type.String()),
    label: Type.Optional(Type.String()),
    createdAt: Type.String(),
  });
  return {
    Query,
    Hit,
    CollectionName,
    Collection,
    CreateCollection: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$' }),
        dimension: Type.Integer({ minimum: 1, maximum: config.maxDimension }),
        metric: Type.Optional(Type.Union([Type.Literal('l2'), Type.Literal('ip'), Type.Literal('cosine')], { default: 'l2' })),
        spec: Type.Optional(Type.String({ minLength: 1, maxLength: 200, default: 'SPANN', description: 'index spec, e.g. SPANN, SPANN,F8E4M3,Refine, PCA50%,SPANN,F8E4M3S' })),
      },
      { additionalProperties: false },
    ),
    CollectionList: Type.Object({ collections: Type.Array(Collection) }),
    Upsert: Type.Object(
      {
        points: Type.Array(
          Type.Object({ id: Id, vector: Vector, tenant: Type.Optional(TenantName), metadata: Type.Optional(Metadata) }, { additionalProperties: false }),
          { minItems: 1, maxItems: config.maxBatchPoints },
        ),
      },
      { additionalProperties: false },
    ),
    UpsertResult: Type.Object({ inserted: Type.Integer(), replaced: Type.Integer(), built: Type.Optional(Type.Boolean({ description: 'admin key only: this upsert built the index (the first one into an empty collection)' })) }),
    Ids: Type.Object({ ids: Type.Array(Id, { minItems: 1, maxItems: config.maxBatchPoints }), tenant: Type.Optional(TenantName) }, { additionalProperties: false }),
    DeleteResult: Type.Object({ deleted: Type.Integer() }),
    PointParams: Type.Object({ name: NameParam, id: Type.String({ pattern: '^[0-9]{1,10}$' }) }),
    PointQuery: Type.Object(
      { vector: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'true: also return the vector' })), tenant: Type.Optional(TenantName) },
      { additionalProperties: false },
    ),
    Point: Type.Object({ id: Type.Integer(), tenant: Type.String(), metadata: Metadata, vector: Type.Optional(Type.Array(Type.Number())) }),
    PointPageQuery: Type.Object(
      {
        tenant: Type.Optional(TenantName),
        limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'points per page, 1-1000 (default 100)' })),
        cursor: Type.Optional(Type.String({ maxLength: 2048, pattern: '^[A-Za-z0-9_-]*$', description: "the previous page's next" })),
      },
      { additionalProperties: false },
    ),
    PointPage: Type.Object({
      points: Type.Array(Type.Object({ id: Type.Integer(), tenant: Type.String(), metadata: Metadata })),
      next: Type.Optional(Type.String({ description: 'pass as cursor for the next page; absent on the last page' })),
    }),
    SingleQuery: Type.Composite([Query, Type.Object({ explain: Type.Optional(Type.Boolean({ description: 'also report the plan, lists probed and bytes read (the search then runs alone, outside the micro-batcher)' })) })], { additionalProperties: false }),
    SearchResult: Type.Object({
      results: Type.Array(Hit),
      explain: Type.Optional(
        Type.Object(
          {
            plan: Type.String({ description: "what ran: probe (posting lists), exact (scan of the allowed vectors), cells (the tenant's nearest cells), probe+exact, or empty" }),
            matched: Type.Integer({ description: 'vectors the query was allowed to return (its tenant and filter)' }),
            listsProbed: Type.Integer(),
            vectorsScanned: Type.Integer(),
            bytesRead: Type.Integer(),
            milliseconds: Type.Number(),
          },
          { description: 'with "explain": true — how the search ran' },
        ),
      ),
    }),
    BatchSearch: Type.Object({ searches: Type.Array(Query, { minItems: 1, maxItems: config.maxBatchQueries }) }, { additionalProperties: false }),
    BatchSearchResult: Type.Object({ results: Type.Array(Type.Array(Hit)) }),
    TenantList: Type.Object({ tenants: Type.Array(Type.Object({ name: Type.String(), count: Type.Integer() })) }),
    TenantParams: Type.Object({ name: NameParam, tenant: TenantName }),
    TenantDeleted: Type.Object({ removed: Type.Integer({ description: 'points removed' }), keysRevoked: Type.Integer() }),
    CompactResult: Type.Object({ entriesRemoved: Type.Integer(), headsMerged: Type.Integer(), seconds: Type.Number() }),
    CreateKey: Type.Object(
      {
        collection: Type.Optional(NameParam),
        corpus: Type.Optional(NameParam),
        tenant: TenantName,
        label: Type.Optional(Type.String({ maxLength: 200 })),
      },
      { additionalProperties: false, description: 'exactly one of collection and corpus' },
    ),
    CreatedKey: Type.Object({ id: Type.String(), key: Type.String({ description: 'shown once; the service stores only its hash' }), collection: Type.Optional(Type.String()), corpus: Type.Optional(Type.String()), tenant: Type.String() }),
    Key,
    KeyList: Type.Object({ keys: Type.Array(Key) }),
    KeyParams: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
    Status: Type.Object({ status: Type.String() }),
    WhoAmI: Type.Object({ role: Type.Union([Type.Literal('admin'), Type.Literal('tenant')]), keyId: Type.String(), tenant: Type.Optional(Type.String()), collection: Type.Optional(Type.String()), corpus: Type.Optional(Type.String()) }),
    Health: Type.Object({
      count: Type.Integer({ description: 'live vectors' }),
      heads: Type.Integer(),
      postingEntries: Type.Integer(),
      replicasPerVector: Type.Number({ description: 'posting entries per live vector' }),
      deadEntries: Type.Integer({ description: 'tombstoned entries still in lists (compaction removes them)' }),
      postingLimit: Type.Integer(),
      listLengths: Type.Object({ bounds: Type.Array(Type.Integer()), lists: Type.Array(Type.Integer()), min: Type.Integer(), median: Type.Number(), max: Type.Integer() }, { description: 'lists[i] lists have a length in [bounds[i], bounds[i + 1])' }),
      orphanedIds: Type.Integer({ description: 'live ids in no list (0 when healthy)' }),
      overCap: Type.Integer({ description: 'lists over the split limit' }),
      problems: Type.Array(Type.String(), { description: 'each broken invariant, in words (empty when healthy)' }),
    }),
    ...ragSchemas(config, SearchParams),
    ...nodeSchemas(config, Vector, Query),
  };
}

/** Schemas of a query node's routes (query-node.ts): published indexes on object storage. */
function nodeSchemas<Q extends TObject>(config: ServerConfig, Vector: TSchema, Query: Q) {
  const NodeQuery = Type.Composite(
    [
      Query,
      Type.Object({
        consistency: Type.Optional(
          Type.Union([Type.Literal('eventual'), Type.Literal('strong')], { description: "strong: read the collection's log first, so the answer holds every write acknowledged before the request (one LIST more); eventual (default): the log as last followed" }),
        ),
      }),
    ],
    { additionalProperties: false },
  );
  const NodeHit = Type.Object({ id: Type.Integer({ description: 'the id the point was published or upserted under' }), distance: Type.Number() });
  const NodeCollection = Type.Object({
    name: Type.String(),
    owner: Type.String({ description: 'the node that serves its queries from a warm cache (rendezvous hashing)' }),
    open: Type.Boolean({ description: 'this node has opened it (downloaded its skeleton and graph)' }),
    dimension: Type.Optional(Type.Integer()),
    metric: Type.Optional(Type.String()),
    spec: Type.Optional(Type.String()),
    points: Type.Optional(Type.Integer({ description: 'points the manifest holds (the log rows not applied yet are logRows)' })),
    heads: Type.Optional(Type.Integer()),
    manifest: Type.Optional(Type.Integer({ description: 'the manifest version served' })),
    appliedLog: Type.Optional(Type.Integer({ description: 'the last log sequence that manifest holds' })),
    logSequence: Type.Optional(Type.Integer({ description: 'the last log sequence this node has read' })),
    logRows: Type.Optional(Type.Integer({ description: 'vectors searched exactly from the log (written after the manifest)' })),
    cache: Type.Optional(
      Type.Object({
        hits: Type.Integer(),
        misses: Type.Integer(),
        fetchRounds: Type.Integer(),
        fetchedObjects: Type.Integer(),
        fetchedBytes: Type.Integer(),
        evicted: Type.Integer(),
        bytes: Type.Integer(),
      }),
    ),
    });
  return {
    NodeCollection,
    NodeCollectionList: Type.Object({ collections: Type.Array(NodeCollection) }),
    NodeQuery,
    NodeBatchSearch: Type.Object({ searches: Type.Array(NodeQuery, { minItems: 1, maxItems: config.maxBatchQueries }) }, { additionalProperties: false }),
    NodeSearchResult: Type.Object({ results: Type.Array(NodeHit), fetchRounds: Type.Integer({ description: 'rounds of object fetches the search waited for (0: answered from the cache)' }) }),
    NodeBatchSearchResult: Type.Object({ results: Type.Array(Type.Array(NodeHit)), fetchRounds: Type.Integer() }),
    NodeUpsert: Type.Object(
      { points: Type.Array(Type.Object({ id: Id, vector: Vector }, { additionalProperties: false }), { minItems: 1, maxItems: config.maxBatchPoints }) },
      { additionalProperties: false, description: "a query node's log holds ids and vectors (no tenant, no metadata)" },
    ),
    NodeIds: Type.Object({ ids: Type.Array(Id, { minItems: 1, maxItems: config.maxBatchPoints }) }, { additionalProperties: false }),
    NodeWriteResult: Type.Object({
      accepted: Type.Integer({ description: 'points (or ids) written to the log: durable on the store when answered' }),
      logSequence: Type.Integer({ description: 'the log batch holding them' }),
    }),
  };
}

/** Schemas of the RAG routes (corpora, documents, retrieve). */
function ragSchemas(config: ServerConfig, SearchParams: TSchema) {
  const DocId = Type.String({ minLength: 1, maxLength: 512 });
  const DocumentIn = Type.Object(
    {
      id: DocId,
      title: Type.Optional(Type.String({ maxLength: 4096 })),
      text: Type.String({ maxLength: config.bodyLimit }),
      metadata: Type.Optional(Metadata),
      source: Type.Optional(Type.String({ maxLength: 1024 })),
    },
    { additionalProperties: false },
  );
  const Query = Type.String({ minLength: 1, maxLength: 8192 });
  const RetrieveOptions = {
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: config.maxK, default: 10 })),
    tenant: Type.Optional(TenantName),
    mode: Type.Optional(Type.Union(RETRIEVAL_MODES.map((m) => Type.Literal(m)), { default: DEFAULT_RETRIEVAL_MODE })),
    fusion: Type.Optional(Type.Union([Type.Literal('rrf'), Type.Literal('convex')], { default: 'rrf' })),
    weights: Type.Optional(Type.Object({ dense: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })), bm25: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false })),
    candidates: Type.Optional(Type.Integer({ minimum: 1, maximum: config.maxK, description: 'hybrid: candidates per retriever (default 100)' })),
    params: Type.Optional(SearchParams),
  };
  const PassageOut = Type.Object({
    id: Type.String({ description: 'content hash of the passage text' }),
    score: Type.Number(),
    text: Type.String(),
    document: Type.Object({ id: Type.String(), title: Type.Optional(Type.String()), metadata: Type.Optional(Metadata), source: Type.Optional(Type.String()), start: Type.Integer(), end: Type.Integer() }),
    documents: Type.Array(Type.String(), { description: 'every document of the tenant holding this passage text' }),
    ranks: Type.Object({ dense: Type.Optional(Type.Integer()), bm25: Type.Optional(Type.Integer()) }),
  });
  return {
    CorpusName: Type.Object({ name: NameParam }),
    CreateCorpus: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$' }),
        chunkTokens: Type.Optional(Type.Integer({ minimum: 8, maximum: 8192, default: 256, description: 'largest chunk in model tokens (capped by the model)' })),
        overlapTokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 8191, default: 32, description: 'tokens repeated from the previous chunk' })),
        sharing: Type.Optional(
          Type.Union(
            CORPUS_SHARING.map((x) => Type.Literal(x)),
            { default: DEFAULT_SHARING, description: 'who shares stored texts, embeddings and chunk KV caches: each tenant alone (tenant, the default) or every tenant of the corpus (corpus: for public documents; a tenant can then tell which texts another tenant ingested). Fixed at creation.' },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    Corpus: Type.Object({
      name: Type.String(),
      model: Type.String(),
      chunkTokens: Type.Integer(),
      overlapTokens: Type.Integer(),
      sharing: Type.String(),
      createdAt: Type.String(),
      dimension: Type.Optional(Type.Integer()),
      documents: Type.Optional(Type.Integer()),
      passages: Type.Optional(Type.Integer()),
      tenants: Type.Optional(Type.Integer()),
    }),
    CorpusList: Type.Object({ corpora: Type.Array(Type.Object({ name: Type.String(), model: Type.String(), chunkTokens: Type.Integer(), overlapTokens: Type.Integer(), sharing: Type.String(), createdAt: Type.String() })) }),
    Ingest: Type.Object(
      { tenant: Type.Optional(TenantName), documents: Type.Array(DocumentIn, { minItems: 1, maxItems: config.maxBatchDocuments }) },
      { additionalProperties: false },
    ),
    IngestReport: Type.Object({
      documents: Type.Integer(),
      unchanged: Type.Integer(),
      replaced: Type.Integer(),
      chunksAdded: Type.Integer(),
      chunksRemoved: Type.Integer(),
      chunksDeduplicated: Type.Integer(),
      embedded: Type.Integer(),
      index: Type.Union([Type.Literal('updated'), Type.Literal('none')], { description: 'whether the tenant\'s passages in the vector index changed' }),
      seconds: Type.Number(),
    }),
    Retrieve: Type.Object({ query: Query, ...RetrieveOptions }, { additionalProperties: false }),
    RetrieveBatch: Type.Object(
      { queries: Type.Array(Query, { minItems: 1, maxItems: config.maxBatchQueries, description: 'questions answered with the same options, embedded together' }), ...RetrieveOptions },
      { additionalProperties: false },
    ),
    RetrieveResult: Type.Object({ passages: Type.Array(PassageOut) }),
    RetrieveBatchResult: Type.Object({ results: Type.Array(Type.Array(PassageOut), { description: 'the passages of each question, in the order asked' }) }),
    DocumentParams: Type.Object({ name: NameParam, id: DocId }),
    TenantQuery: Type.Object({ tenant: Type.Optional(TenantName) }, { additionalProperties: false }),
    DocumentOut: Type.Object({
      id: Type.String(),
      hash: Type.String(),
      title: Type.Optional(Type.String()),
      metadata: Type.Optional(Metadata),
      source: Type.Optional(Type.String()),
      chunks: Type.Array(Type.Object({ passage: Type.String(), start: Type.Integer(), end: Type.Integer() })),
    }),
    Removed: Type.Object({ removed: Type.Integer() }),
    Generate: Type.Object(
      {
        query: Type.String({ minLength: 1, maxLength: 4096, description: 'the question; also the retrieval query' }),
        corpus: Type.Optional(NameParam),
        tenant: Type.Optional(TenantName),
        k: Type.Optional(Type.Integer({ minimum: 0, maximum: 16, default: 3, description: 'passages retrieved' })),
        mode: Type.Optional(Type.Union(RETRIEVAL_MODES.map((m) => Type.Literal(m)), { default: DEFAULT_RETRIEVAL_MODE })),
        system: Type.Optional(Type.String({ maxLength: 4096, default: '' })),
        strategy: Type.Optional(Type.Union(RECOMPUTE_STRATEGIES.map((s) => Type.Literal(s)), { default: DEFAULT_RECOMPUTE.strategy })),
        fraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: DEFAULT_RECOMPUTE.fraction })),
        maxTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 512, default: 64 })),
        temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 5, default: 0 })),
        seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1 })),
      },
      { additionalProperties: false },
    ),
    Generated: Type.Object({
      text: Type.String(),
      tokens: Type.Array(Type.Integer()),
      passages: Type.Array(Type.Object({ id: Type.String(), document: Type.String(), chunkKey: Type.String({ description: 'the chunk store key of this passage\'s tokens in the caller\'s namespace' }) })),
      report: Type.Object({}, { additionalProperties: true, description: 'assembly report: reuse, recompute, TTFT and where it went' }),
    }),
    KvStats: Type.Object({
      model: Type.String(),
      rerotation: Type.Boolean(),
      gateRelError: Type.Number(),
      scope: Type.String({ description: 'all (the admin: totals over every namespace) or namespace (a tenant key: its own namespace only)' }),
      chunks: Type.Object({}, { additionalProperties: true }),
      prefixes: Type.Object({}, { additionalProperties: true }),
    }),
    ChunkKeyParams: Type.Object({ key: Type.String({ pattern: '^[0-9a-f]{16}:[0-9a-f]{16}:[0-9a-f]{32}$' }) }),
  };
}

export type Schemas = ReturnType<typeof buildSchemas>;
export type QueryBody = Static<Schemas['Query']>;
export type NodeQueryBody = Static<Schemas['NodeQuery']>;
