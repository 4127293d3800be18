/**
 * SIGTERM during batch upserts: `strata serve` runs as a child process (compiled CLI, as `npm start`
 * runs it) while four clients upsert batches; SIGTERM arrives after the first acknowledgements. The
 * process must exit 0 having closed LMDB cleanly, and every acknowledged point must be in the index
 * when it is opened again.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openIndex } from '../src/index/spann.js';
import { indexDir } from '../src/server/ingest-worker.js';
import { PointStore } from '../src/server/point-store.js';
import { mixture, tempDir } from './helpers.js';
import { ADMIN_KEY } from './server-helpers.js';

const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'src', 'cli', 'strata.js');
const DIM = 16;

describe('graceful shutdown', () => {
  it('SIGTERM during batch upserts: acknowledged points survive, the process exits 0', async () => {
    const { dir, cleanup } = tempDir('shutdown');
    try {
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dir, '--search-threads', '1'], {
        env: { ...process.env, STRATA_ADMIN_KEY: ADMIN_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let out = '';
      const address = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /"address":"(http:\/\/[^"]+)".*strata is listening/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
      });
      // No key in the logs.
      const post = (path: string, body: unknown) =>
        fetch(`${address}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post('/v1/collections', { name: 'c', dimension: DIM })).status).toBe(201);
      const data = mixture(4000, DIM, 5);
      const batch = (first: number, n: number) => ({
        points: Array.from({ length: n }, (_, i) => ({ id: first + i, vector: Array.from(data.subarray((first + i) * DIM, (first + i + 1) * DIM)), tenant: `t${(first + i) % 3}` })),
      });
      expect((await post('/v1/collections/c/points', batch(0, 200))).status).toBe(200); // builds
      const acknowledged: number[] = [];
      let refused = 0;
      let signalled = false;
      const client = async (c: number) => {
        for (let b = 0; b < 20; b++) {
          const first = 200 + (c * 20 + b) * 40;
          try {
            const r = await post('/v1/collections/c/points', batch(first, 40));
            if (r.status === 200) {
              for (let i = 0; i < 40; i++) acknowledged.push(first + i);
              if (!signalled && acknowledged.length >= 400) {
                signalled = true;
                child.kill('SIGTERM');
              }
            } else {
              expect(r.status).toBe(503); // draining: refused, not half-done
              refused++;
            }
          } catch {
            refused++; // connection closed after the drain
          }
        }
      };
      await Promise.all([0, 1, 2, 3].map(client));
      expect(signalled).toBe(true);
      expect(await exited).toBe(0);
      expect(out).not.toContain(ADMIN_KEY);
      expect(refused).toBeGreaterThan(0);
      const collection = join(dir, 'collections', 'c');
      const store = PointStore.open(collection, DIM, { readOnly: true });
      const generation = store.generation;
      const labels: number[] = [];
      try {
        for (const id of [...Array(200).keys(), ...acknowledged]) {
          expect(store.get(`t${id % 3}`, id), `id ${id} in the point store`).not.toBeNull();
          labels.push(store.label(`t${id % 3}`, id) as number);
        }
      } finally {
        await store.close();
      }
      const index = await openIndex(indexDir(collection, generation));
      try {
        for (const label of labels) expect(index.get(label), `label ${label}`).not.toBeNull();
        expect(index.count).toBeGreaterThanOrEqual(200 + acknowledged.length);
        expect(index.health().problems).toEqual([]);
      } finally {
        await index.close();
      }
    } finally {
      cleanup();
    }
  }, 60_000);
});
