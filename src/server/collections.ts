/**
 * The service's collections, one folder each under <dataDir>/collections/<name>: the point store
 * (points.mdb) and the current index generation (index-<n>/; see ingest-worker.ts for rebuilds).
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
import { indexDir, type IngestFailure, type IngestResult, type IngestTask } from './ingest-worker.js';
import { PointStore } from './point-store.js';
import { SearchBatcher } from './search-batcher.js';
import { WriteAdmission } from './admission.js';

export const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface Collection {
  record: CollectionRecord;
  /** The collection folder: points.mdb and index-<generation>/. */
  dir: string;
  /** The index generation the read handle is on. */
  generation: number;
  /** Read-only handle on that generation's index. */
  reader: SpannIndex;
  /** Read-only handle on the point store (get by id, tenant checks). */
  points: PointStore;
  /** A rebuild in progress. */
  rebuilding: Promise<void> | null;
  /** The last rebuild since start: new generation, points it was built from, seconds, writes replayed. */
  lastRebuild?: { generation: number; points: number; seconds: number; replayedWrites: number };
}

export class Collections {
  private readonly open = new Map<string, Collection>();
  private readonly ingest: Piscina;
  readonly batcher: SearchBatcher;
  /** Rebuilds finished since start (metrics). */
  rebuilds = 0;
  /** Where rebuild progress is logged (the service sets its logger). */
  log: (msg: string, detail: Record<string, unknown>) => void = () => {};

  constructor(
    private readonly catalog: ServiceCatalog,
    private readonly config: ServerConfig,
    /** Write admission shared with the rest of the service. */
    readonly writes: WriteAdmission = new WriteAdmission(config.maxPendingWrites),
  ) {
    this.ingest = new Piscina({ filename: workerFile('server/ingest-worker'), minThreads: 0, maxThreads: 1, concurrentTasksPerWorker: 256, idleTimeout: 0x7fffffff });
    this.batcher = new SearchBatcher(config.maxPendingQueries);
  }

  private dirOf(name: string): string {
    return join(this.config.dataDir, 'collections', name);
  }

  /** Open the read handles of every catalogued collection. */
  async init(): Promise<void> {
    for (const rec of this.catalog.listCollections()) {
      const dir = this.dirOf(rec.name);
      if (!existsSync(dir)) throw createError('STRATA_INDEX_CORRUPT', `collection ${JSON.stringify(rec.name)} is catalogued but its folder ${dir} is missing`, 'dataDir');
      const r = await this.runIngest({ op: 'open', dir, dimension: rec.dimension }, false); // the writer opens the environments first
      this.open.set(rec.name, await this.handles(rec, dir, r.generation));
    }
  }

  private async handles(record: CollectionRecord, dir: string, generation: number): Promise<Collection> {
    return { record, dir, generation, reader: await openIndex(indexDir(dir, generation), { readOnly: true, threads: this.config.searchThreads }), points: PointStore.open(dir, record.dimension, { readOnly: true }), rebuilding: null };
  }

  list(): Collection[] {
    return [...this.open.values()].sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  get(name: string): Collection {
    const c = this.open.get(name);
    if (!c) throw createError('STRATA_COLLECTION_NOT_FOUND', `no collection named ${JSON.stringify(name)}`, 'collection');
    c.reader.refresh();
    c.points.refresh();
    return c;
  }

  async create(rec: Omit<CollectionRecord, 'createdAt'>): Promise<Collection> {
    if (!COLLECTION_NAME.test(rec.name)) throw createError('STRATA_INVALID_REQUEST', 'name must be 1-64 letters, digits, "_" or "-", starting with a letter or digit', 'name');
    if (rec.dimension > this.config.maxDimension) throw createError('STRATA_LIMIT_EXCEEDED', `dimension ${rec.dimension} is over the limit ${this.config.maxDimension}`, 'dimension');
    if (this.open.has(rec.name) || this.catalog.getCollection(rec.name)) throw createError('STRATA_COLLECTION_EXISTS', `a collection named ${JSON.stringify(rec.name)} exists`, 'name');
    const dir = this.dirOf(rec.name);
    rmSync(dir, { recursive: true, force: true }); // a leftover of a crash between mkdir and the catalogue
    mkdirSync(dir, { recursive: true });
    let generation: number;
    try {
      generation = (await this.runIngest({ op: 'create', dir, options: { dimension: rec.dimension, metric: rec.metric as 'l2', spec: rec.spec, threads: this.config.searchThreads } }, false)).generation;
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
    const c = await this.handles(full, dir, generation);
    this.open.set(rec.name, c);
    return c;
  }

  /** Remove a collection, its keys and its files. */
  async drop(name: string): Promise<void> {
    const c = this.get(name);
    this.open.delete(name);
    this.catalog.removeCollection(name);
    await c.rebuilding;
    await this.runIngest({ op: 'close', dir: c.dir }, false);
    await c.reader.close();
    await c.points.close();
    rmSync(c.dir, { recursive: true, force: true });
  }

  /**
   * Run a write on the ingest thread (admission-controlled: past maxPendingWrites it fails with
   * STRATA_OVERLOADED). Resolves once the write is committed and flushed, with the read handle on
   * the generation that holds it.
   */
  async write(c: Collection, task: IngestTask): Promise<IngestResult> {
    const r = await this.runIngest(task, true);
    await this.moveReader(c, r.generation, r.built === true);
    const growth = this.config.rebuildGrowth;
    if (growth > 0 && !c.rebuilding && r.builtCount > 0 && r.count >= growth * r.builtCount && this.open.get(c.record.name) === c) this.startRebuild(c);
    return r;
  }

  /**
   * Start re-clustering the collection into a new generation (the growth trigger, or an admin's
   * request); returns at once. A rebuild already running is left to finish. An empty collection has
   * nothing to re-cluster: STRATA_INDEX_NOT_BUILT.
   */
  startRebuild(c: Collection): void {
    if (c.rebuilding) return;
    if (!c.reader.built) throw createError('STRATA_INDEX_NOT_BUILT', `collection ${JSON.stringify(c.record.name)} is empty: its first upsert builds the index`, 'collection');
    c.rebuilding = this.rebuild(c).finally(() => {
      c.rebuilding = null;
    });
  }

  /** Re-cluster the collection from its points into a new generation (writes go on meanwhile). */
  private async rebuild(c: Collection): Promise<void> {
    try {
      this.log('rebuilding', { collection: c.record.name, generation: c.generation });
      const r = await this.runIngest({ op: 'rebuild', dir: c.dir }, false);
      await this.moveReader(c, r.generation);
      this.rebuilds++;
      if (r.rebuild) c.lastRebuild = { generation: r.generation, points: r.builtCount, seconds: r.rebuild.seconds, replayedWrites: r.rebuild.replayed };
      this.log('rebuilt', { collection: c.record.name, generation: r.generation, points: r.builtCount, seconds: r.rebuild?.seconds, replayedWrites: r.rebuild?.replayed });
    } catch (err) {
      this.log('rebuild failed', { collection: c.record.name, err });
    }
  }

  /** Point the read handle at `generation` (or reopen it on the same one, after the first build). */
  private async moveReader(c: Collection, generation: number, reopen = false): Promise<void> {
    if (generation < c.generation || (generation === c.generation && !reopen)) return;
    const oldGeneration = c.generation;
    const old = c.reader;
    c.generation = generation;
    c.reader = await openIndex(indexDir(c.dir, generation), { readOnly: true, threads: this.config.searchThreads });
    // Batches already queued on the old handle start before it closes (close waits for them).
    await new Promise((r) => setImmediate(r));
    await old.close();
    if (generation !== oldGeneration) await this.runIngest({ op: 'dropGeneration', dir: c.dir, generation: oldGeneration }, false);
  }

  private runIngest(task: IngestTask, admit: boolean): Promise<IngestResult> {
    return this.writes.run(
      async () => {
        const r = (await this.ingest.run(task)) as IngestResult | IngestFailure;
        if ('error' in r) {
          const code = (r.error.code in ERROR_CODES ? r.error.code : 'STRATA_INTERNAL') as ErrorCode;
          throw createError(code, r.error.message.replace(/^STRATA_[A-Z_]+: /, ''), r.error.field);
        }
        return r;
      },
      'points',
      admit,
    );
  }

  /**
   * Close every handle and the ingest thread (after the HTTP server stopped taking requests): writes
   * in flight and a rebuild in progress finish first.
   */
  async close(): Promise<void> {
    for (const c of this.open.values()) await c.rebuilding;
    await this.writes.drained();
    for (const c of this.open.values()) {
      await this.runIngest({ op: 'close', dir: c.dir }, false);
      await c.reader.close();
      await c.points.close();
    }
    this.open.clear();
    await this.ingest.destroy();
  }
}
