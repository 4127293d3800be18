import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/index/object-gc.js';
import { applyLog, ObjectIndex, publishIndex } from '../../src/index/object-index.js';
import { createIndex, openIndex } from '../../src/index/spann.js';
import { LogWriter, readLog } from '../../src/storage/object-log.js';
import { blockKey, decodeVersions, listKey, manifestKey, parseManifest } from '../../src/storage/object-layout.js';
import { S3ObjectStore } from '../../src/storage/object-store.js';
import { mixture, tempDir } from '../helpers.js';
import { clusterStore } from './cluster-env.js';
// @ts-expect-error plain ESM fixture shared with the child process
import { vectorOf } from '../fixtures/log-vectors.mjs';

// Garbage collection of an index on the loopback Ceph cluster: after publishes that replace lists
// and a log the indexer applied, what is left is exactly what the kept manifests name (and the log
// from the oldest kept manifest's applied batch on); a node answers as before, and the log goes on.
const DIM = 16, N = 3000, NQ = 20, K = 10;
const tmp = tempDir('object-gc');
const dir = join(tmp.dir, 'embedded');
const prefix = `gc-${Date.now().toString(36)}`;
let store: S3ObjectStore;

/** Every object key the manifest numbered `v` names. */
async function named(v: number): Promise<Set<string>> {
  const m = parseManifest((await store.get(manifestKey(v)))!, manifestKey(v));
  const keys = new Set([m.skeleton, m.graph]);
  decodeVersions(m.lists, 'lists').forEach((id, h) => id && keys.add(listKey(h, id)));
  decodeVersions(m.blocks, 'blocks').forEach((id, b) => id && keys.add(blockKey(b, id)));
  return keys;
}

async function objects(): Promise<Set<string>> {
  const all = await Promise.all(['lists/', 'blocks/', 'skeleton/', 'graph/'].map((p) => store.list(p)));
  return new Set(all.flat());
}

beforeAll(async () => {
  store = await S3ObjectStore.open({ ...clusterStore, prefix });
  const built = await createIndex(dir, { dimension: DIM, threads: 2 });
  await built.build(mixture(N, DIM, 41));
  await built.close(); // publishing reads the saved graph
  await publishIndex(dir, store); // 1
  for (const [round, seed] of [[1, 42], [2, 43]]) {
    const index = await openIndex(dir);
    await index.insert(mixture(300, DIM, seed), Uint32Array.from({ length: 300 }, (_, i) => 100_000 * round + i));
    await index.close();
    await publishIndex(dir, store); // 2, 3
  }
  const writer = new LogWriter(store, DIM, 0);
  for (let i = 0; i < 5; i++) await writer.insert([500_000 + i], vectorOf(500_000 + i, DIM));
  await applyLog(dir, store); // 4, appliedLog 5
}, 180_000);
afterAll(() => {
  store?.close();
  tmp.cleanup();
});

describe('garbage collection of an index on Ceph RGW', () => {
  it('keep 2, then keep 1: left is exactly what the kept manifests name; a node answers as the embedded index; the log goes on after its tail', async () => {
    const before = await objects();
    const r2 = await collectGarbage(store, { keep: 2 });
    expect(r2.kept).toEqual([4, 3]);
    const live2 = new Set([...(await named(4)), ...(await named(3))]);
    expect(await objects()).toEqual(live2);
    expect(r2.objectsDeleted).toBe(before.size - live2.size);
    expect(r2.objectsDeleted).toBeGreaterThan(0); // publishes 2 and 3 replaced lists
    expect(r2.logBatchesDeleted).toBe(0); // manifest 3 holds no log batch

    const r1 = await collectGarbage(store, { keep: 1 });
    expect(r1.kept).toEqual([4]);
    expect(await objects()).toEqual(await named(4));
    expect(await store.list('manifest/0')).toEqual([manifestKey(4)]);
    expect(r1.logBatchesDeleted).toBe(4);
    expect((await readLog(store, 0)).map((b) => b.seq)).toEqual([5]);

    const embedded = await openIndex(dir, { readOnly: true });
    const node = await ObjectIndex.open({ store, cacheDir: join(tmp.dir, 'node') });
    try {
      const queries = mixture(NQ, DIM, 44);
      for (let q = 0; q < NQ; q++) {
        const query = queries.subarray(q * DIM, (q + 1) * DIM);
        expect(Array.from((await node.search(query, K)).ids)).toEqual(Array.from(embedded.search(query, K).ids));
      }
      // A new writer finds the tail the collector kept and continues after it; nodes see the write.
      expect(await new LogWriter(store, DIM, 0).insert([600_000], vectorOf(600_000, DIM))).toBe(6);
      expect((await node.search(vectorOf(600_000, DIM), 1, { consistency: 'strong' })).ids[0]).toBe(600_000);
    } finally {
      await node.close();
      await embedded.close();
    }
    expect((await collectGarbage(store, { keep: 1 })).objectsDeleted).toBe(0); // nothing more to do
  });
});
