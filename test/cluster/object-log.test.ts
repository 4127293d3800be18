import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLog, ObjectIndex, publishIndex } from '../../src/index/object-index.js';
import { createIndex } from '../../src/index/spann.js';
import { decodeBatch, LogWriter, logKey, readLog } from '../../src/storage/object-log.js';
import { S3ObjectStore } from '../../src/storage/object-store.js';
import { mixture, tempDir } from '../helpers.js';
import { clusterStore } from './cluster-env.js';
// @ts-expect-error plain ESM fixture shared with the child process
import { vectorOf } from '../fixtures/log-vectors.mjs';

// The write-ahead log on the loopback Ceph cluster: one total order of batches across racing
// writers, every acknowledged write survives kill -9 of its writer and is served by another node,
// and the indexer folds the log into the next manifest.
const DIM = 16;
const CHILD = fileURLToPath(new URL('../fixtures/log-writer.mjs', import.meta.url));
const tmp = tempDir('object-log');
const dir = join(tmp.dir, 'embedded');
const prefix = `log-${Date.now().toString(36)}`;
const stores: S3ObjectStore[] = [];
async function store(p = prefix): Promise<S3ObjectStore> {
  const s = await S3ObjectStore.open({ ...clusterStore, prefix: p });
  stores.push(s);
  return s;
}

beforeAll(async () => {
  const index = await createIndex(dir, { dimension: DIM, threads: 2 });
  await index.build(mixture(3000, DIM, 3));
  await index.close();
  await publishIndex(dir, await store());
});
afterAll(() => {
  for (const s of stores) s.close();
  tmp.cleanup();
});

describe('the write-ahead log on Ceph RGW', () => {
  it('two writers racing: every batch gets its own sequence number, 1..n with no gap, and reads back as written', async () => {
    const p = `${prefix}-race`;
    const [a, b] = [new LogWriter(await store(p), DIM, 0), new LogWriter(await store(p), DIM, 0)];
    const acks: Array<Promise<number>> = [];
    for (let i = 0; i < 20; i++) {
      for (const [w, base] of [[a, 1000], [b, 2000]] as const) acks.push(w.insert([base + i], vectorOf(base + i, DIM)));
      await Promise.all(acks.slice(-2)); // each writer one batch at a time, both at once
    }
    const seqs = await Promise.all(acks);
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const log = await readLog(await store(p), 0);
    expect(log.map((l) => l.seq)).toEqual(seqs.slice().sort((x, y) => x - y));
    for (let i = 0; i < acks.length; i++) {
      const batch = log[seqs[i] - 1];
      const id = (i % 2 === 0 ? 1000 : 2000) + Math.floor(i / 2);
      expect(Array.from(batch.ids)).toEqual([id]);
      expect(Array.from(batch.vectors)).toEqual(Array.from(vectorOf(id, DIM)));
    }
    // A damaged batch is refused, named.
    const raw = (await (await store(p)).get(logKey(1)))!;
    raw[20] ^= 0xff;
    expect(() => decodeBatch(raw, 1)).toThrow(expect.objectContaining({ code: 'STRATA_CORRUPT', field: 'log' }));
  });

  it('kill -9 of a writer right after acknowledgements: another node serves every acknowledged write; the indexer folds them in', async () => {
    const child = spawn(process.execPath, [CHILD, prefix, String(DIM)], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const acked: Array<[number, number]> = [];
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the writer acknowledged too few writes in 60 s')), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const l of lines) {
          const [, , first, count] = l.split(' ').map(Number);
          for (let i = 0; i < count; i++) acked.push([first + i, first]);
        }
        if (acked.length >= 200) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code) => code !== null && code !== 0 && reject(new Error(`writer exited with ${code}`)));
    });
    await new Promise((r) => child.once('close', r));
    // Another node, never in touch with the writer: strong reads see every acknowledged id.
    const node = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'node') });
    try {
      for (const [id] of acked) {
        const r = await node.search(vectorOf(id, DIM), 1, { consistency: 'strong' });
        expect(r.ids[0], `acknowledged id ${id}`).toBe(id);
        expect(r.distances[0]).toBeLessThan(1e-4);
      }
    } finally {
      await node.close();
    }
    // The indexer applies the log to the embedded index and publishes; a fresh node answers from the index.
    const manifest = await applyLog(dir, await store());
    expect(manifest?.appliedLog).toBeGreaterThan(0);
    const fresh = await ObjectIndex.open({ store: await store(), cacheDir: join(tmp.dir, 'fresh') });
    try {
      expect(await fresh.refreshLog()).toBe(0); // nothing past what the manifest holds
      for (const [id] of acked.slice(0, 50)) expect((await fresh.search(vectorOf(id, DIM), 1, { targetRecall: 0.99 })).ids[0]).toBe(id);
    } finally {
      await fresh.close();
    }
  });
});
