/**
 * The service's own state, in one small LMDB environment at <dataDir>/service: the collections
 * (name -> dimension, metric, spec) and the API keys (key id -> hash of the secret, role, scope).
 * Every change is a synchronous LMDB commit, so a collection or key acknowledged to a client
 * survives a crash.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';

export interface CollectionRecord {
  name: string;
  dimension: number;
  metric: string;
  spec: string;
  createdAt: string;
}

export type KeyRole = 'admin' | 'tenant';

export interface KeyRecord {
  id: string;
  role: KeyRole;
  /** SHA-256 of the secret part, hex. The secret itself is never stored. */
  hash: string;
  /** Set for tenant keys: the one collection and tenant the key may touch. */
  collection?: string;
  tenant?: string;
  /** A caller's label (e.g. who holds the key). */
  label?: string;
  createdAt: string;
}

export class ServiceCatalog {
  private constructor(
    private readonly root: RootDatabase,
    private readonly collections: Database<CollectionRecord, string>,
    private readonly keys: Database<KeyRecord, string>,
  ) {}

  static open(dataDir: string): ServiceCatalog {
    const path = join(dataDir, 'service');
    mkdirSync(path, { recursive: true });
    const root = open({ path, maxDbs: 4 });
    return new ServiceCatalog(root, root.openDB({ name: 'collections' }), root.openDB({ name: 'keys' }));
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
  }

  removeKey(id: string): boolean {
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
        }
      }
      return n;
    });
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
