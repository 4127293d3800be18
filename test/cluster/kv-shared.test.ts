import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkKvStore, chunkKey } from '../../src/kv/chunk-store.js';
import { KvEngine, type PromptParts } from '../../src/kv/engine.js';
import type { ChunkEntry } from '../../src/kv/entry-codec.js';
import { generate } from '../../src/kv/generate.js';
import { builtinProfiles } from '../../src/kv/profiles.js';
import { S3ObjectStore, type S3StoreOptions } from '../../src/storage/object-store.js';
import { createRng } from '../../src/util/random.js';
import { tempDir } from '../helpers.js';
import { clusterStore, endpoints } from './cluster-env.js';

// Chunk KV entries shared through the loopback Ceph cluster: a node that never saw a chunk reuses the
// KV another node computed, and a namespace fetches only its own entries.
const base: S3StoreOptions = clusterStore;
const prefix = `kv-${Date.now().toString(36)}`;
const tmp = tempDir('kv-shared');
const opened: Array<{ close(): unknown }> = [];
afterAll(async () => {
  for (const o of opened) await o.close();
  tmp.cleanup();
});

/** A node's view of the shared tier, through one gateway of its own. */
async function remote(gateway: number): Promise<S3ObjectStore> {
  const s = await S3ObjectStore.open({ ...base, endpoints: [endpoints[gateway % endpoints.length]], prefix });
  opened.push(s);
  return s;
}

function entry(n: number, seed: number): ChunkEntry {
  const rng = createRng(seed);
  const t = () => Float32Array.from({ length: 2 * n * 8 }, () => rng.gaussian());
  return { tokens: Int32Array.from({ length: n }, () => rng.int(512)), basePosition: 1, cache: { layers: 2, kvHeads: 2, headDim: 8, length: n, keys: [t(), t()], values: [t(), t()] }, deviation: Float32Array.from({ length: n }, () => rng.next()), recomputeMs: 9 };
}

describe('chunk KV entries shared through object storage', () => {
  it('node B finds what node A stored, bit for bit at the stored precision; another namespace finds nothing', async () => {
    const a = ChunkKvStore.open(join(tmp.dir, 'a'), { dtype: 'f32' }, await remote(0));
    const b = ChunkKvStore.open(join(tmp.dir, 'b'), { dtype: 'f32' }, await remote(1));
    opened.push(a, b);
    const e = entry(24, 5);
    const key = chunkKey('model', e.tokens, 'tenant-1');
    await a.put(key, e, 9);
    expect(b.get(key)).toBeUndefined(); // not fetched yet: a local miss
    expect(await b.fetchRemote([key])).toBe(1);
    const got = b.get(key)!;
    expect(Array.from(got.tokens)).toEqual(Array.from(e.tokens));
    for (let l = 0; l < 2; l++) expect(Array.from(got.cache.keys[l])).toEqual(Array.from(e.cache.keys[l]));
    expect(b.stats().remote).toEqual({ hits: 1, errors: 0 });
    // The same tokens in another namespace have another key: nothing to fetch.
    const other = chunkKey('model', e.tokens, 'tenant-2');
    expect(await b.fetchRemote([other])).toBe(0);
    expect(b.get(other)).toBeUndefined();
    expect(b.stats('tenant-2').remote).toEqual({ hits: 0, errors: 0 });
  });

  it('a KvEngine on a second node reuses the chunks the first node computed instead of recomputing them', async () => {
    const profile = builtinProfiles().stories260K;
    const nodeA = await KvEngine.open(profile, join(tmp.dir, 'engine-a'), { sharedChunks: await remote(0) });
    const nodeB = await KvEngine.open(profile, join(tmp.dir, 'engine-b'), { sharedChunks: await remote(1) });
    opened.push(nodeA, nodeB);
    const passages: number[][] = [];
    for (let seed = 0; passages.length < 3; seed++) {
      const story = (await generate(nodeA.model, [1], { maxTokens: 60, temperature: 1, seed })).tokens.filter((t) => t > 2);
      if (story.length >= 30) passages.push(story);
    }
    const parts = (order: number[]): PromptParts => ({ prefix: [1], chunks: order.map((i) => passages[i]), question: nodeA.tokenizer.encode('The end', false) });
    const first = await nodeA.assemble(parts([0, 1, 2]), { strategy: 'none' });
    expect(first.report.chunkHits).toBe(0); // computed on A, stored locally and in the shared tier
    const onB = await nodeB.assemble(parts([2, 0, 1]), { strategy: 'none' });
    expect(onB.report.chunkHits).toBe(3); // B never saw them: all three came from A through the store
    expect(nodeB.chunks.stats().remote?.hits).toBe(3);
  });
});
