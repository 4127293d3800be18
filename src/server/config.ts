/**
 * Every setting of the HTTP service, defined once: its default, its environment variable and its
 * command-line flag. Flags win over the environment, the environment over defaults. The admin key
 * is read from the environment only (a flag would show in `ps`).
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { createError } from '../errors.js';
import { DEFAULT_MODEL_DIR } from '../rag/defaults.js';
import { DEFAULT_MIN_FREE_DISK } from '../storage/lmdb.js';

export interface ServerConfig {
  /** TCP port. 0 picks a free one. */
  port: number;
  /** Interface to listen on. The default serves this machine only. */
  host: string;
  /** Folder of the service's state: keys, collection catalogue, one LMDB index per collection. */
  dataDir: string;
  /** Search worker threads per collection (piscina). */
  searchThreads: number;
  /** Queries admitted (running or queued) across the service before searches get 503 + Retry-After. */
  maxPendingQueries: number;
  /** Writes admitted (running or queued) across collections, corpora and generations before more get 503 + Retry-After. */
  maxPendingWrites: number;
  /** Largest request body, bytes. */
  bodyLimit: number;
  /** Most points in one upsert, ids in one delete or get. */
  maxBatchPoints: number;
  /** Most queries in one batch search. */
  maxBatchQueries: number;
  /** Largest k (and limit) of a search. */
  maxK: number;
  /** Largest vector dimension of a collection. */
  maxDimension: number;
  /** Rebuild a collection once it holds this many times the points its index was built from (0: never). */
  rebuildGrowth: number;
  /** Free bytes the data's disk must keep; below it writes are refused with 507 (storage/lmdb.ts). */
  minFreeDisk: number;
  /** Seconds a client is asked to wait (Retry-After) when the service sheds load. */
  retryAfterSeconds: number;
  /** Milliseconds SIGTERM waits for requests in flight before closing anyway. */
  shutdownTimeoutMs: number;
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  logLevel: string;
  /** Sentence-encoder folder every corpus (RAG routes) embeds with. */
  ragModel: string;
  /** Embedding worker threads shared by the corpora. */
  embedThreads: number;
  /** Most documents in one ingest request. */
  maxBatchDocuments: number;
  /** Decoder model of the KV-cache routes: a shared model's name or a profile JSON file. */
  kvModel: string;
  /** Serve as a query node on the indexes under this s3://bucket/prefix instead of the data folder's ("" = embedded). */
  store: string;
  /** A query node's cache folder (skeletons, graphs, posting lists); "" = <dataDir>/node-cache. */
  cacheDir: string;
  /** A query node's posting-cache bound per collection, MiB. */
  cacheSize: number;
  /** This query node's URL as its peers reach it ("" = http://<host>:<port>). */
  nodeUrl: string;
  /** The other query nodes' URLs, comma-separated: collections are spread over all of them by rendezvous hashing. */
  peers: string;
  /** How often a query node reads the logs and looks for new manifests, ms. */
  followMs: number;
  /** How long a query node waits for a collection's owner before answering itself, ms. */
  forwardTimeoutMs: number;
  /** Admin key (STRATA_ADMIN_KEY). Unset: the one stored in dataDir, or a new one printed once. */
  adminKey?: string;
}

interface Setting {
  key: keyof ServerConfig;
  env: string;
  flag: string;
  kind: 'int' | 'string';
  default: () => number | string | undefined;
  help: string;
  min?: number;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'port', env: 'STRATA_PORT', flag: '--port', kind: 'int', default: () => 8700, min: 0, help: 'TCP port (0 = any free port)' },
  { key: 'host', env: 'STRATA_HOST', flag: '--host', kind: 'string', default: () => '127.0.0.1', help: 'interface to listen on (0.0.0.0 for every interface)' },
  { key: 'dataDir', env: 'STRATA_DATA_DIR', flag: '--data-dir', kind: 'string', default: () => 'data', help: 'folder of keys, catalogue and one LMDB index per collection' },
  { key: 'searchThreads', env: 'STRATA_SEARCH_THREADS', flag: '--search-threads', kind: 'int', default: () => availableParallelism(), min: 1, help: 'search worker threads per collection' },
  { key: 'maxPendingQueries', env: 'STRATA_MAX_PENDING_QUERIES', flag: '--max-pending-queries', kind: 'int', default: () => 512, min: 1, help: 'queries in flight before searches are shed (503)' },
  { key: 'maxPendingWrites', env: 'STRATA_MAX_PENDING_WRITES', flag: '--max-pending-writes', kind: 'int', default: () => 64, min: 1, help: 'writes in flight (upserts, deletes, document ingests, generations) before more are shed (503)' },
  { key: 'bodyLimit', env: 'STRATA_BODY_LIMIT', flag: '--body-limit', kind: 'int', default: () => 16 * 1024 * 1024, min: 1024, help: 'largest request body in bytes' },
  { key: 'maxBatchPoints', env: 'STRATA_MAX_BATCH_POINTS', flag: '--max-batch-points', kind: 'int', default: () => 1000, min: 1, help: 'most points per upsert, ids per delete or get' },
  { key: 'maxBatchQueries', env: 'STRATA_MAX_BATCH_QUERIES', flag: '--max-batch-queries', kind: 'int', default: () => 256, min: 1, help: 'most queries per batch search' },
  { key: 'maxK', env: 'STRATA_MAX_K', flag: '--max-k', kind: 'int', default: () => 1000, min: 1, help: 'largest k of a search' },
  { key: 'maxDimension', env: 'STRATA_MAX_DIMENSION', flag: '--max-dimension', kind: 'int', default: () => 4096, min: 1, help: 'largest vector dimension of a collection' },
  { key: 'minFreeDisk', env: 'STRATA_MIN_FREE_DISK', flag: '--min-free-disk', kind: 'int', default: () => DEFAULT_MIN_FREE_DISK, min: 0, help: 'free bytes the data disk must keep: below it writes answer 507 (STRATA_DISK_FULL) and reads go on (0 = no check)' },
  { key: 'rebuildGrowth', env: 'STRATA_REBUILD_GROWTH', flag: '--rebuild-growth', kind: 'int', default: () => 4, min: 0, help: 're-cluster a collection into a new index generation once it holds this many times the points its index was built from (0 = never)' },
  { key: 'retryAfterSeconds', env: 'STRATA_RETRY_AFTER', flag: '--retry-after', kind: 'int', default: () => 1, min: 0, help: 'Retry-After seconds sent with a 503' },
  { key: 'shutdownTimeoutMs', env: 'STRATA_SHUTDOWN_TIMEOUT_MS', flag: '--shutdown-timeout-ms', kind: 'int', default: () => 10_000, min: 0, help: 'how long SIGTERM waits for requests in flight' },
  { key: 'ragModel', env: 'STRATA_RAG_MODEL', flag: '--rag-model', kind: 'string', default: () => DEFAULT_MODEL_DIR, help: 'sentence-encoder folder the corpora (RAG routes) embed with' },
  { key: 'embedThreads', env: 'STRATA_EMBED_THREADS', flag: '--embed-threads', kind: 'int', default: () => availableParallelism(), min: 1, help: 'embedding worker threads shared by the corpora' },
  { key: 'maxBatchDocuments', env: 'STRATA_MAX_BATCH_DOCUMENTS', flag: '--max-batch-documents', kind: 'int', default: () => 256, min: 1, help: 'most documents per ingest request' },
  { key: 'kvModel', env: 'STRATA_KV_MODEL', flag: '--kv-model', kind: 'string', default: () => 'stories260K', help: 'decoder model of the KV-cache routes (stories260K, llama-random-6M, llama-random-25M, llama-random-86M, tiny-random-gpt2, or a profile JSON file)' },
  { key: 'store', env: 'STRATA_STORE', flag: '--store', kind: 'string', default: () => '', help: 'run as a stateless query node on the indexes published under s3://bucket/prefix (one folder per collection; S3 settings from STRATA_S3_*) instead of the embedded LMDB indexes' },
  { key: 'cacheDir', env: 'STRATA_CACHE_DIR', flag: '--cache-dir', kind: 'string', default: () => '', help: 'query node: cache folder of skeletons, graphs and posting lists (never stale: objects are immutable)' },
  { key: 'cacheSize', env: 'STRATA_CACHE_SIZE', flag: '--cache-size', kind: 'int', default: () => 1024, min: 1, help: 'query node: posting-cache bound per collection, MiB (least recently used evicted)' },
  { key: 'nodeUrl', env: 'STRATA_NODE_URL', flag: '--node-url', kind: 'string', default: () => '', help: 'query node: this node\'s URL as its peers reach it' },
  { key: 'peers', env: 'STRATA_PEERS', flag: '--peers', kind: 'string', default: () => '', help: 'query node: the other nodes\' URLs, comma-separated; each collection\'s queries go to its owner by rendezvous hashing, and any node answers when the owner is down' },
  { key: 'followMs', env: 'STRATA_FOLLOW_MS', flag: '--follow-ms', kind: 'int', default: () => 1000, min: 10, help: 'query node: how often the logs are read and new manifests followed' },
  { key: 'forwardTimeoutMs', env: 'STRATA_FORWARD_TIMEOUT_MS', flag: '--forward-timeout-ms', kind: 'int', default: () => 2000, min: 1, help: 'query node: how long a query waits for its collection\'s owner before this node answers it' },
  { key: 'logLevel', env: 'STRATA_LOG_LEVEL', flag: '--log-level', kind: 'string', default: () => 'info', help: 'fatal | error | warn | info | debug | trace | silent' },
];

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The configuration from defaults, then `env`, then `overrides` (parsed flags); checked. */
export function resolveConfig(overrides: Partial<ServerConfig> = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    let value: unknown = overrides[s.key];
    let source = s.flag;
    if (value === undefined && env[s.env] !== undefined && env[s.env] !== '') {
      value = env[s.env];
      source = s.env;
    }
    if (value === undefined) value = s.default();
    if (s.kind === 'int') {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(n) || n < (s.min ?? 0)) throw createError('STRATA_INVALID_OPTION', `${source} must be an integer >= ${s.min ?? 0}, got ${JSON.stringify(value)}`, s.key);
      value = n;
    } else value = String(value);
    out[s.key] = value;
  }
  const config = out as unknown as ServerConfig;
  if (!LOG_LEVELS.has(config.logLevel)) throw createError('STRATA_INVALID_OPTION', `log level must be one of ${[...LOG_LEVELS].join(', ')}, got ${JSON.stringify(config.logLevel)}`, 'logLevel');
  if (config.port > 65535) throw createError('STRATA_INVALID_OPTION', `port must be <= 65535, got ${config.port}`, 'port');
  config.dataDir = resolve(config.dataDir);
  config.cacheDir = config.cacheDir ? resolve(config.cacheDir) : join(config.dataDir, 'node-cache');
  if (config.store && !/^s3:\/\/[^/]+/.test(config.store)) throw createError('STRATA_INVALID_OPTION', `--store must be s3://bucket[/prefix], got ${JSON.stringify(config.store)}`, 'store');
  for (const url of [config.nodeUrl, ...peerUrls(config)]) {
    if (url && !/^https?:\/\/[^/]+$/.test(url)) throw createError('STRATA_INVALID_OPTION', `node URLs are http(s)://host:port with no path, got ${JSON.stringify(url)}`, url === config.nodeUrl ? 'nodeUrl' : 'peers');
  }
  config.ragModel = resolve(config.ragModel);
  const adminKey = overrides.adminKey ?? env.STRATA_ADMIN_KEY;
  if (adminKey !== undefined && adminKey !== '') {
    if (adminKey.length < 16) throw createError('STRATA_INVALID_OPTION', 'STRATA_ADMIN_KEY must be at least 16 characters', 'adminKey');
    config.adminKey = adminKey;
  }
  return config;
}

/** The other query nodes' URLs (--peers), without this node's own. */
export function peerUrls(config: Pick<ServerConfig, 'peers' | 'nodeUrl'>): string[] {
  return config.peers
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u && u !== config.nodeUrl);
}

/** A setting's default as people read it (--help, the README's table). */
export function defaultText(s: Pick<Setting, 'key' | 'default'>): string {
  switch (s.key) {
    case 'searchThreads':
    case 'embedThreads':
      return 'CPU cores';
    case 'ragModel':
      return 'assets/models/glove-100d-100k-int8';
    case 'cacheDir':
      return '<data-dir>/node-cache';
    case 'nodeUrl':
      return 'http://<host>:<port>';
  }
  const v = s.default();
  return v === '' ? 'none' : String(v);
}

/** The settings table for --help. */
export function describeSettings(): string {
  return SETTINGS.map((s) => `  ${(s.flag + ' <v>').padEnd(28)} ${s.env.padEnd(28)} ${s.help} (default ${defaultText(s)})`).join('\n');
}
