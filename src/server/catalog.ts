/**
 * The service's own state, in one small LMDB environment at <dataDir>/service: the collections
 * (name -> dimension, metric, spec) and the API keys (key id -> hash of the secret, role, scope).
 * Every change is a synchronous LMDB commit, so a collection or key acknowledged to a client
 * survives a crash.
 */
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment } from '../storage/lmdb.js';
import type { CorpusSharing } from '../rag/passage-store.js';

export interface CollectionRecord {
  name: string;
  dimension: number;
  metric: string;
  spec: string;
  createdAt: string;
}

export interface CorpusRecord {
  name: string;
  /** Encoder folder the corpus embeds with (fixed at creation). */
  model: string;
  chunkTokens: number;
  overlapTokens: number;
  /** Who shares texts, embeddings and KV caches (fixed at creation; absent in records older than it: 'tenant'). */
  sharing?: CorpusSharing;
  createdAt: string;
}

export type KeyRole = 'admin' | 'tenant';

export interface KeyRecord {
  id: string;
  role: KeyRole;
  /** SHA-256 of the secret part, hex. The secret itself is never stored. */
  hash: string;
  /** Set for tenant keys: the one collection (or corpus) and tenant the key may touch. */
  collection?: string;
  corpus?: string;
  tenant?: string;
  /** A caller's label (e.g. who holds the key). */
  label?: string;
  createdAt: string;
}

export class ServiceCatalog {
  /** Bumped by every change to the keys (KeyRing drops its cache of authenticated keys when it moves). */
  keysVersion = 0;

  private constructor(
    private readonly root: RootDatabase,
    private readonly collections: Database<CollectionRecord, string>,
    private readonly keys: Database<KeyRecord, string>,
    private readonly corpora: Database<CorpusRecord, string>,
  ) {}

  static open(dataDir: string): ServiceCatalog {
    const path = join(dataDir, 'service');
    const root = openEnvironment(path, { store: 'catalog', create: true, folder: true, maxDbs: 4 });
    return new ServiceCatalog(root, root.openDB({ name: 'collections' }), root.openDB({ name: 'keys' }), root.openDB({ name: 'corpora' }));
  }

  listCollections(): CollectionRecord[] {
    return [...this.collections.getRange()].map((e) => e.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  getCollection(name: string): CollectionRecord | undefined {
    return this.collections.get(name);
  }

  /** Adds the record; false when the name is taken. */
  addCollection(rec: CollectionRecord): boolean {
    return this.collections.transactionSync(() => {
      if (this.collections.get(rec.name) !== undefined) return false;
      this.collections.putSync(rec.name, rec);
      return true;
    });
  }

  /** Removes a collection and every key bound to it (one transaction). */
  removeCollection(name: string): boolean {
    return this.collections.transactionSync(() => {
      if (this.collections.get(name) === undefined) return false;
      this.collections.removeSync(name);
      for (const { key, value } of this.keys.getRange()) if (value.collection === name) this.keys.removeSync(key);
      this.keysVersion++;
      return true;
    });
  }

  listCorpora(): CorpusRecord[] {
    return [...this.corpora.getRange()].map((e) => e.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  getCorpus(name: string): CorpusRecord | undefined {
    return this.corpora.get(name);
  }

  /** Adds the record; false when the name is taken. */
  addCorpus(rec: CorpusRecord): boolean {
    return this.corpora.transactionSync(() => {
      if (this.corpora.get(rec.name) !== undefined) return false;
      this.corpora.putSync(rec.name, rec);
      return true;
    });
  }

  /** Removes a corpus and every key bound to it (one transaction). */
  removeCorpus(name: string): boolean {
    return this.corpora.transactionSync(() => {
      if (this.corpora.get(name) === undefined) return false;
      this.corpora.removeSync(name);
      for (const { key, value } of this.keys.getRange()) if (value.corpus === name) this.keys.removeSync(key);
      this.keysVersion++;
      return true;
    });
  }

  getKey(id: string): KeyRecord | undefined {
    return this.keys.get(id);
  }

  listKeys(): KeyRecord[] {
    return [...this.keys.getRange()].map((e) => e.value);
  }

  putKey(rec: KeyRecord): void {
    this.keys.putSync(rec.id, rec);
    this.keysVersion++;
  }

  removeKey(id: string): boolean {
    this.keysVersion++;
    return this.keys.removeSync(id);
  }

  /** Removes the tenant keys of one tenant (after the tenant is deleted). */
  removeTenantKeys(collection: string, tenant: string): number {
    return this.keys.transactionSync(() => {
      let n = 0;
      for (const { key, value } of this.keys.getRange()) {
        if (value.collection === collection && value.tenant === tenant) {
          this.keys.removeSync(key);
          n++;
          this.keysVersion++;
        }
      }
      return n;
    });
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
