/**
 * The service's collections: one SPANN index per collection under <dataDir>/collections/<name>.
 *
 * Threads. The HTTP event loop never runs index CPU work:
 *   - writes go to the ingest pool (ingest-worker.ts), one thread that owns every writable handle;
 *   - searches go through the SearchBatcher to the collection's read-only handle, whose searchBatch
 *     runs on that collection's search pool (piscina, searchThreads workers).
 * The main thread keeps a read-only handle per collection for planning (tenants, filters), point
 * lookups and stats; it follows the writer's commits (SpannIndex.refresh) before each use.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { createError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { openIndex, type SpannIndex } from '../index/spann.js';
import { workerFile } from '../util/workers.js';
import type { CollectionRecord, ServiceCatalog } from './catalog.js';
import type { ServerConfig } from './config.js';
import type { IngestFailure, IngestResult, IngestTask } from './ingest-worker.js';
import { SearchBatcher } from './search-batcher.js';

export const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface Collection {
  record: CollectionRecord;
  dir: string;
  /** Read-only handle (null while the collection is being dropped). */
  reader: SpannIndex;
}

export class Collections {
  private readonly open = new Map<string, Collection>();
  private readonly ingest: Piscina;
  readonly batcher: SearchBatcher;
  pendingWrites = 0;

  constructor(
    private readonly catalog: ServiceCatalog,
    private readonly config: ServerConfig,
  ) {
    this.ingest = new Piscina({ filename: workerFile('server/ingest-worker'), minThreads: 0, maxThreads: 1, concurrentTasksPerWorker: 256, idleTimeout: 0x7fffffff });
    this.batcher = new SearchBatcher(config.maxPendingQueries);
  }

  private dirOf(name: string): string {
    return join(this.config.dataDir, 'collections', name);
  }

  /** Open the read handle of every catalogued collection. */
  async init(): Promise<void> {
    for (const rec of this.catalog.listCollections()) {
      const dir = this.dirOf(rec.name);
      if (!existsSync(dir)) throw createError('STRATA_INDEX_CORRUPT', `collection ${JSON.stringify(rec.name)} is catalogued but its folder ${dir} is missing`, 'dataDir');
      await this.runIngest({ op: 'open', dir }, false); // the writer opens the environment first
      this.open.set(rec.name, { record: rec, dir, reader: await openIndex(dir, { readOnly: true }) });
    }
  }

  list(): Collection[] {
    return [...this.open.values()].sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  get(name: string): Collection {
    const c = this.open.get(name);
    if (!c) throw createError('STRATA_COLLECTION_NOT_FOUND', `no collection named ${JSON.stringify(name)}`, 'collection');
    c.reader.refresh();
    return c;
  }

  async create(rec: Omit<CollectionRecord, 'createdAt'>): Promise<Collection> {
    if (!COLLECTION_NAME.test(rec.name)) throw createError('STRATA_INVALID_REQUEST', 'name must be 1-64 letters, digits, "_" or "-", starting with a letter or digit', 'name');
    if (rec.dimension > this.config.maxDimension) throw createError('STRATA_LIMIT_EXCEEDED', `dimension ${rec.dimension} is over the limit ${this.config.maxDimension}`, 'dimension');
    if (this.open.has(rec.name) || this.catalog.getCollection(rec.name)) throw createError('STRATA_COLLECTION_EXISTS', `a collection named ${JSON.stringify(rec.name)} exists`, 'name');
    const dir = this.dirOf(rec.name);
    rmSync(dir, { recursive: true, force: true }); // a leftover of a crash between mkdir and the catalogue
    mkdirSync(dir, { recursive: true });
    try {
      await this.runIngest({ op: 'create', dir, options: { dimension: rec.dimension, metric: rec.metric as 'l2', spec: rec.spec, threads: this.config.searchThreads } }, false);
    } catch (e) {
      await this.runIngest({ op: 'close', dir }, false).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const full: CollectionRecord = { ...rec, createdAt: new Date().toISOString() };
    if (!this.catalog.addCollection(full)) {
      await this.runIngest({ op: 'close', dir }, false);
      rmSync(dir, { recursive: true, force: true });
      throw createError('STRATA_COLLECTION_EXISTS', `a collection named ${JSON.stringify(rec.name)} exists`, 'name');
    }
    const c: Collection = { record: full, dir, reader: await openIndex(dir, { readOnly: true }) };
    this.open.set(rec.name, c);
    return c;
  }

  /** Remove a collection, its keys and its files. */
  async drop(name: string): Promise<void> {
    const c = this.get(name);
    this.open.delete(name);
    this.catalog.removeCollection(name);
    await this.runIngest({ op: 'close', dir: c.dir }, false);
    await c.reader.close();
    rmSync(c.dir, { recursive: true, force: true });
  }

  /**
   * Run a write on the ingest thread (admission-controlled: past maxPendingWrites it fails with
   * STRATA_OVERLOADED). Resolves once the write is committed and flushed.
   */
  async write(c: Collection, task: IngestTask): Promise<IngestResult> {
    const r = await this.runIngest(task, true);
    if (r.built) {
      // The read handle was opened on the empty index: reopen it on the built one.
      const reader = await openIndex(c.dir, { readOnly: true });
      const old = c.reader;
      c.reader = reader;
      await old.close();
    }
    return r;
  }

  private async runIngest(task: IngestTask, admit: boolean): Promise<IngestResult> {
    if (admit && this.pendingWrites >= this.config.maxPendingWrites) {
      throw createError('STRATA_OVERLOADED', `${this.pendingWrites} writes are in flight (limit ${this.config.maxPendingWrites})`, 'points');
    }
    this.pendingWrites++;
    try {
      const r = (await this.ingest.run(task)) as IngestResult | IngestFailure;
      if ('error' in r) {
        const code = (r.error.code in ERROR_CODES ? r.error.code : 'STRATA_INTERNAL') as ErrorCode;
        throw createError(code, r.error.message.replace(/^STRATA_[A-Z_]+: /, ''), r.error.field);
      }
      return r;
    } finally {
      this.pendingWrites--;
    }
  }

  /** Close every handle and the ingest thread (after the HTTP server stopped taking requests). */
  async close(): Promise<void> {
    for (const c of this.open.values()) {
      await this.runIngest({ op: 'close', dir: c.dir }, false);
      await c.reader.close();
    }
    this.open.clear();
    await this.ingest.destroy();
  }
}
