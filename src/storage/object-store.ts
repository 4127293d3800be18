/**
 * Objects on S3-compatible storage (AWS S3, Ceph RGW, MinIO, R2 …) through the maintained AWS SDK,
 * for the object-store backend: durable data lives there, query nodes keep only caches.
 *
 * The one conditional write used is create-if-absent (`If-None-Match: *`), the most widely supported
 * (AWS since 2024, RGW, MinIO, R2): every object the backend writes is immutable and named by a
 * sequence number or a version, so claiming the next log sequence or the next manifest version is a
 * create that exactly one writer wins — a single-writer log and a manifest swap with no consensus
 * service of our own. (Ceph 16.2's RGW also takes `If-Match` on PUT but only with the ETag
 * unquoted, unlike AWS: nothing here relies on it.)
 *
 * Several endpoints (e.g. two RGWs in front of one cluster) are tried in turn: a request that cannot
 * reach one (connection refused or reset, a timeout, a 5xx after the SDK's own retry) goes to the
 * next, and an endpoint that failed is skipped for `downMillis` unless every one has failed. Sockets
 * are kept alive (a probe fetches many lists at once).
 */
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createError, isStrataError } from '../errors.js';

export interface ObjectStoreStats {
  gets: number;
  puts: number;
  lists: number;
  bytesIn: number;
  bytesOut: number;
  /** Requests sent again to another endpoint after one failed. */
  failovers: number;
}

/** What the backend needs of an object store: immutable objects, created once. */
export interface ObjectStore {
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Several objects at once (at most `concurrency` requests in flight), in the order asked. */
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** Create the object if no object has this key: true if this call created it, false if one existed. */
  create(key: string, body: Uint8Array): Promise<boolean>;
  /** Write the object, replacing any (hints only: nothing that must not be lost). */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Keys under `prefix` in ascending order, after `startAfter`, at most `limit` (default all). */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<string[]>;
  /** The names of the "folders" directly under `prefix` (keys' next path segment before a "/"), ascending. */
  folders(prefix: string): Promise<string[]>;
  delete(keys: readonly string[]): Promise<void>;
  /** The same store with `name/` prepended to every key (shares connections and counters; close is the parent's). */
  within(name: string): ObjectStore;
  readonly stats: ObjectStoreStats;
  close(): void;
}

export interface S3StoreOptions {
  /** One or more endpoint URLs of the same storage (tried in turn); empty for AWS's own. */
  endpoints: readonly string[];
  bucket: string;
  /** Prepended to every key ("" or ending without a slash: "a/b" → "a/b/<key>"). */
  prefix?: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** Create the bucket when it does not exist (open). Default false. */
  createBucket?: boolean;
  /** Requests in flight for getMany, and sockets per endpoint. Default 32. */
  concurrency?: number;
  /** A request's time limit before the next endpoint is tried. Default 10 s. */
  timeoutMillis?: number;
  /** How long an endpoint that failed is passed over. Default 5 s. */
  downMillis?: number;
}

interface Endpoint {
  url: string;
  client: S3Client;
  downUntil: number;
}

/** Errors that say "this endpoint did not answer", as opposed to an answer (404, 412, 403 …). */
function unreachable(err: unknown): boolean {
  if (err instanceof S3ServiceException) return (err.$metadata?.httpStatusCode ?? 0) >= 500;
  const e = err as { code?: string; name?: string };
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(e.code ?? '') || e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'AbortError';
}

function status(err: unknown): number {
  return err instanceof S3ServiceException ? (err.$metadata?.httpStatusCode ?? 0) : 0;
}

export class S3ObjectStore implements ObjectStore {
  readonly stats: ObjectStoreStats = { gets: 0, puts: 0, lists: 0, bytesIn: 0, bytesOut: 0, failovers: 0 };
  private readonly endpoints: Endpoint[];
  private readonly prefix: string;
  private readonly concurrency: number;
  private readonly downMillis: number;
  /** The endpoint tried first (moves on when it fails). */
  private preferred = 0;

  private constructor(
    private readonly options: S3StoreOptions,
    private readonly agents: Array<Agent | HttpsAgent>,
  ) {
    this.concurrency = options.concurrency ?? 32;
    this.downMillis = options.downMillis ?? 5000;
    this.prefix = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
    const urls = options.endpoints.length > 0 ? options.endpoints : [''];
    this.endpoints = urls.map((url, i) => ({
      url: url || 'aws',
      downUntil: 0,
      client: new S3Client({
        ...(url ? { endpoint: url, forcePathStyle: true } : {}),
        region: options.region ?? 'us-east-1',
        credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
        // One retry on the endpoint itself; after that the next endpoint is tried.
        maxAttempts: 2,
        requestHandler: { httpAgent: agents[i], httpsAgent: agents[i], connectionTimeout: 2000, requestTimeout: options.timeoutMillis ?? 10_000 },
        // Checksums only when the operation requires one: not every S3-compatible store speaks the new ones.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    }));
  }

  /** Connect (and check the bucket: created when asked, else STRATA_STORE_ERROR if it is missing). */
  static async open(options: S3StoreOptions): Promise<S3ObjectStore> {
    if (!options.bucket) throw createError('STRATA_INVALID_OPTION', 'an object store needs a bucket', 'bucket');
    for (const url of options.endpoints) {
      if (!/^https?:\/\//.test(url)) throw createError('STRATA_INVALID_OPTION', `endpoint ${JSON.stringify(url)} is not an http(s) URL`, 'endpoints');
    }
    const n = Math.max(1, options.endpoints.length);
    const agents = Array.from({ length: n }, (_, i) => {
      const https = (options.endpoints[i] ?? 'https:').startsWith('https:');
      return https ? new HttpsAgent({ keepAlive: true, maxSockets: options.concurrency ?? 32 }) : new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 32 });
    });
    const store = new S3ObjectStore(options, agents);
    try {
      await store.send((c) => c.send(new HeadBucketCommand({ Bucket: options.bucket })));
    } catch (err) {
      const code = status(err);
      if ((code === 404 || (err as Error).name === 'NotFound') && options.createBucket) {
        await store.send((c) => c.send(new CreateBucketCommand({ Bucket: options.bucket }))).catch((e) => {
          if (status(e) !== 409) throw e; // created meanwhile by another node
        });
      } else {
        store.close();
        throw storeError(`bucket ${options.bucket}`, err);
      }
    }
    return store;
  }

  /**
   * Run `op` on each endpoint at most once until one answers: from the preferred one on, those not
   * marked down first, then the down ones (all down: try them anyway).
   */
  private async send<T>(op: (client: S3Client) => Promise<T>): Promise<T> {
    const n = this.endpoints.length;
    const now = Date.now();
    const ring = Array.from({ length: n }, (_, j) => (this.preferred + j) % n);
    const order = [...ring.filter((i) => this.endpoints[i].downUntil <= now), ...ring.filter((i) => this.endpoints[i].downUntil > now)];
    let lastErr: unknown;
    for (let attempt = 0; attempt < n; attempt++) {
      const i = order[attempt];
      const e = this.endpoints[i];
      try {
        const r = await op(e.client);
        this.preferred = i;
        return r;
      } catch (err) {
        if (!unreachable(err)) throw err;
        lastErr = err;
        e.downUntil = Date.now() + this.downMillis;
        if (attempt + 1 < n) this.stats.failovers++;
      }
    }
    throw createError('STRATA_STORE_UNAVAILABLE', `no endpoint of the object store answered (${this.endpoints.map((e) => e.url).join(', ')}): ${(lastErr as Error)?.message ?? lastErr}`, 'endpoints');
  }

  private key(k: string): string {
    return this.prefix + k;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.stats.gets++;
    try {
      const r = await this.send((c) => c.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) })));
      const bytes = await r.Body!.transformToByteArray();
      this.stats.bytesIn += bytes.length;
      return bytes;
    } catch (err) {
      if (status(err) === 404 || (err as Error).name === 'NoSuchKey') return undefined;
      throw storeError(`get ${key}`, err);
    }
  }

  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    const out = new Array<Uint8Array | undefined>(keys.length);
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        out[i] = await this.get(keys[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, keys.length) }, worker));
    return out;
  }

  async create(key: string, body: Uint8Array): Promise<boolean> {
    this.stats.puts++;
    try {
      await this.send((c) => c.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.key(key), Body: body, IfNoneMatch: '*' })));
      this.stats.bytesOut += body.length;
      return true;
    } catch (err) {
      // 412: the key exists. 409 (ConditionalRequestConflict): a concurrent create of the same key won.
      if (status(err) === 412 || status(err) === 409) return false;
      throw storeError(`create ${key}`, err);
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    this.stats.puts++;
    try {
      await this.send((c) => c.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.key(key), Body: body })));
      this.stats.bytesOut += body.length;
    } catch (err) {
      throw storeError(`put ${key}`, err);
    }
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    const keys: string[] = [];
    const limit = options.limit ?? Infinity;
    let token: string | undefined;
    do {
      this.stats.lists++;
      const r = await this.send((c) =>
        c.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: this.key(prefix),
            ...(options.startAfter && !token ? { StartAfter: this.key(options.startAfter) } : {}),
            ...(token ? { ContinuationToken: token } : {}),
            MaxKeys: Math.min(1000, limit - keys.length),
          }),
        ),
      ).catch((err) => {
        throw storeError(`list ${prefix}`, err);
      });
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key.slice(this.prefix.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token && keys.length < limit);
    return keys;
  }

  async folders(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      this.stats.lists++;
      const r = await this.send((c) => c.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.key(prefix), Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }))).catch((err) => {
        throw storeError(`list folders of ${prefix || '/'}`, err);
      });
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix.slice(this.key(prefix).length).replace(/\/$/, ''));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  within(name: string): ObjectStore {
    return new PrefixedStore(this, name);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.send((c) => c.send(new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.key(k) })), Quiet: true } }))).catch((err) => {
        throw storeError(`delete ${batch.length} objects`, err);
      });
    }
  }

  close(): void {
    for (const e of this.endpoints) e.client.destroy();
    for (const a of this.agents) a.destroy();
  }
}

/** A store's view under `name/` (one collection of a store that holds several). */
class PrefixedStore implements ObjectStore {
  private readonly at: string;

  constructor(
    private readonly parent: ObjectStore,
    name: string,
  ) {
    if (!name || name.includes('/')) throw createError('STRATA_INVALID_OPTION', `a store folder name must be one non-empty path segment, got ${JSON.stringify(name)}`, 'store');
    this.at = `${name}/`;
  }

  get stats(): ObjectStoreStats {
    return this.parent.stats;
  }

  get(key: string) {
    return this.parent.get(this.at + key);
  }

  getMany(keys: readonly string[]) {
    return this.parent.getMany(keys.map((k) => this.at + k));
  }

  create(key: string, body: Uint8Array) {
    return this.parent.create(this.at + key, body);
  }

  put(key: string, body: Uint8Array) {
    return this.parent.put(this.at + key, body);
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}) {
    const keys = await this.parent.list(this.at + prefix, { ...options, ...(options.startAfter !== undefined ? { startAfter: this.at + options.startAfter } : {}) });
    return keys.map((k) => k.slice(this.at.length));
  }

  folders(prefix: string) {
    return this.parent.folders(this.at + prefix);
  }

  delete(keys: readonly string[]) {
    return this.parent.delete(keys.map((k) => this.at + k));
  }

  within(name: string): ObjectStore {
    return new PrefixedStore(this, name);
  }

  close(): void {}
}

/** Whether a string names an object-store location (s3://bucket/prefix). */
export function isStoreUrl(s: string): boolean {
  return s.startsWith('s3://');
}

/**
 * The store at s3://bucket[/prefix], its endpoints and credentials from the environment:
 * STRATA_S3_ENDPOINTS (comma-separated URLs; empty for AWS itself), STRATA_S3_ACCESS_KEY,
 * STRATA_S3_SECRET_KEY, STRATA_S3_REGION.
 */
export async function openS3Url(url: string, options: { createBucket?: boolean } = {}): Promise<S3ObjectStore> {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw createError('STRATA_INVALID_OPTION', `store ${JSON.stringify(url)} is not s3://bucket[/prefix]`, 'store');
  const accessKeyId = process.env.STRATA_S3_ACCESS_KEY ?? '';
  const secretAccessKey = process.env.STRATA_S3_SECRET_KEY ?? '';
  if (!accessKeyId || !secretAccessKey) throw createError('STRATA_INVALID_OPTION', 'set STRATA_S3_ACCESS_KEY and STRATA_S3_SECRET_KEY (and STRATA_S3_ENDPOINTS for a store other than AWS)', 'store');
  return S3ObjectStore.open({
    endpoints: (process.env.STRATA_S3_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    bucket: m[1],
    prefix: m[2],
    accessKeyId,
    secretAccessKey,
    ...(process.env.STRATA_S3_REGION ? { region: process.env.STRATA_S3_REGION } : {}),
    createBucket: options.createBucket ?? false,
  });
}

/** The store's answer as a coded error (a coded error — no endpoint answered — passes through). */
function storeError(what: string, err: unknown) {
  if (isStrataError(err)) return err;
  const code = status(err);
  return createError('STRATA_STORE_ERROR', `object store: ${what}: ${code ? `HTTP ${code} ` : ''}${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? String(err)}`.trim(), 'store');
}
