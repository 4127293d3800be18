/**
 * A query node's collections: every folder under the node's store prefix that holds a published
 * index (`strata index publish DIR --store s3://bucket/prefix/<name>`) is a collection. A collection
 * is opened on first use (its skeleton and graph are downloaded into <cacheDir>/<name>, its posting
 * lists fetched per query into that folder's cache) and then followed: every `followMs` the node
 * reads the log's new batches and moves to a newer manifest when one was published.
 *
 * Writes go to the collection's log on the store (one LogWriter per collection and node: several
 * nodes may write the same log, the store's create-if-absent orders their batches); the indexer
 * (`strata index apply`) folds the log into new manifests.
 */
import { join } from 'node:path';
import { createError, isStrataError } from '../errors.js';
import { ObjectIndex } from '../index/object-index.js';
import { LogWriter } from '../storage/object-log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { COLLECTION_NAME } from './collections.js';

export interface NodeCollection {
  name: string;
  index: ObjectIndex;
  writer: LogWriter;
}

export class StoreCollections {
  private readonly open = new Map<string, Promise<NodeCollection>>();
  /** Folder names under the prefix at the last listing, and when it was taken. */
  private known: string[] = [];
  private listedAt = 0;
  /**
   * The last log sequence this node wrote per collection: a search here, or forwarded from here
   * (node-ring.ts LOG_SEQUENCE_HEADER), reads the log up to it first — read-your-writes.
   */
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private following: Promise<void> | null = null;
  private closed = false;
  /** Where follow errors are logged (the service sets its logger). */
  log: (msg: string, detail: Record<string, unknown>) => void = () => {};

  /** A write this node made to `name`'s log was acknowledged at `seq`. */
  recordWrite(name: string, seq: number): void {
    this.written.set(name, Math.max(this.written.get(name) ?? 0, seq));
  }

  /** The last log sequence this node wrote to `name` (0: none). */
  lastWrite(name: string): number {
    return this.written.get(name) ?? 0;
  }

  constructor(
    readonly root: ObjectStore,
    private readonly cacheDir: string,
    /** Posting-cache bytes per collection. */
    private readonly cacheBytes: number,
    /** How often open collections read the log and look for a new manifest; also how long a listing of collections is trusted. */
    private readonly followMs: number,
  ) {}

  /** The collection names under the prefix (listed again when the last listing is older than followMs). */
  async names(fresh = false): Promise<string[]> {
    if (fresh || Date.now() - this.listedAt > this.followMs) {
      this.known = (await this.root.folders('')).filter((n) => COLLECTION_NAME.test(n));
      this.listedAt = Date.now();
    }
    return this.known;
  }

  /** The collection, opened on first use; STRATA_COLLECTION_NOT_FOUND when the prefix holds no index by that name. */
  get(name: string): Promise<NodeCollection> {
    const had = this.open.get(name);
    if (had) return had;
    const opening = this.openOne(name);
    this.open.set(name, opening);
    opening.catch(() => this.open.delete(name)); // a failed open is tried again next time
    return opening;
  }

  private async openOne(name: string): Promise<NodeCollection> {
    if (this.closed) throw createError('STRATA_SHUTTING_DOWN', 'the node is closing', 'service');
    const missing = () => createError('STRATA_COLLECTION_NOT_FOUND', `no collection named ${JSON.stringify(name)} under the node's store prefix (publish one with strata index publish)`, 'collection');
    if (!COLLECTION_NAME.test(name) || !(await this.names()).includes(name)) throw missing();
    const store = this.root.within(name);
    let index: ObjectIndex;
    try {
      index = await ObjectIndex.open({ store, cacheDir: join(this.cacheDir, name), cacheBytes: this.cacheBytes });
    } catch (err) {
      if (isStrataError(err) && err.code === 'STRATA_INDEX_NOT_FOUND') throw missing();
      throw err;
    }
    await index.refreshLog();
    return { name, index, writer: new LogWriter(store, index.dimension) };
  }

  /** The collections opened so far (those that opened). */
  async opened(): Promise<NodeCollection[]> {
    const all = await Promise.allSettled(this.open.values());
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  /** Start following: open collections read the log and move to new manifests every followMs. */
  start(): void {
    const tick = () => {
      this.following = this.followAll().finally(() => {
        this.following = null;
        if (!this.closed) this.timer = setTimeout(tick, this.followMs);
      });
    };
    this.timer = setTimeout(tick, this.followMs);
  }

  /** One follow round over the open collections (errors are logged: the store may be away for a while). */
  async followAll(): Promise<void> {
    for (const c of await this.opened()) {
      try {
        if (await c.index.follow()) this.log('moved to a new manifest', { collection: c.name, manifest: c.index.manifest.version });
        await c.index.refreshLog();
      } catch (err) {
        this.log('follow failed', { collection: c.name, err });
      }
    }
  }

  /** Stop following, wait for writes in flight to be acknowledged, close every index (not the store). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.following;
    for (const c of await this.opened()) {
      await c.writer.flushed();
      await c.index.close();
    }
    this.open.clear();
  }
}
