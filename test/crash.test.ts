import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createIndex, openIndex } from '../src/index/spann.js';
import { createRng } from '../src/util/random.js';
import { tempDir } from './helpers.js';
// @ts-expect-error plain ESM fixture shared with the child process
import { vectorOf } from './fixtures/crash-vectors.mjs';

const DIM = 16;
const BASE = 1500;
const CHILD = fileURLToPath(new URL('./fixtures/crash-writer.mjs', import.meta.url));

/** Run the writer child, SIGKILL it after `ms`, return the lines it acknowledged. */
function runAndKill(dir: string, seed: number, firstId: number, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed), String(firstId), String(DIM), String(BASE)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    let timer: NodeJS.Timeout | undefined;
    // the kill comes `ms` after the first acknowledged write (opening the index takes a while on a
    // loaded machine), so every round kills a writer in the middle of its work
    child.stdout.on('data', (b) => {
      out += b;
      timer ??= setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (b) => (err += b));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited early (${code}): ${err}`));
      // only whole lines were acknowledged (a line cut by the kill is not)
      resolve(out.split('\n').slice(0, -1));
    });
  });
}

describe('crash safety', () => {
  const tmp = tempDir('crash');
  afterAll(() => tmp.cleanup());

  it('every write acknowledged before kill -9 survives it; invariants hold after each of several kills', async () => {
    const dir = `${tmp.dir}/index`;
    const index = await createIndex(dir, { dimension: DIM, postingLimit: 40 });
    const base = new Float32Array(BASE * DIM);
    for (let id = 0; id < BASE; id++) base.set(vectorOf(id, DIM), id * DIM);
    await index.build(base);
    await index.close();

    const rng = createRng(2026);
    const inserted = new Set<number>();
    const deleted = new Set<number>();
    let firstId = 1_000_000;
    for (let round = 0; round < 4; round++) {
      const lines = await runAndKill(dir, 100 + round, firstId, 300 + rng.int(900));
      for (const line of lines) {
        const [op, ...rest] = line.split(' ').map((x, i) => (i === 0 ? x : Number(x)));
        if (op === 'I') for (let i = 0; i < (rest[1] as number); i++) inserted.add((rest[0] as number) + i);
        else for (const id of rest as number[]) deleted.add(id);
      }
      firstId += 1_000_000;
      expect(lines.length).toBeGreaterThan(0);

      const reopened = await openIndex(dir);
      const h = reopened.health();
      expect(h.problems).toEqual([]);
      expect(h.orphanedIds).toBe(0);
      expect(h.overCap).toBe(0);
      for (const id of deleted) expect(reopened.get(id)).toBeNull();
      // Every acknowledged insert is stored (get) and, by health() above, in at least one posting
      // list. Finding it by searching its own vector is approximate: after many live inserts and
      // splits a vector's list need not be among the 64 nearest heads, so that part is a recall floor.
      let unreachable = 0;
      for (const id of inserted) {
        expect(reopened.get(id)).not.toBeNull();
        const r = reopened.search(vectorOf(id, DIM), 10, { maxLists: 64, eps2: 1000 });
        if (!Array.from(r.ids).includes(id)) unreachable++;
      }
      expect(unreachable / inserted.size).toBeLessThan(0.01);
      const q = vectorOf(7, DIM);
      for (const id of reopened.search(q, 50, { maxLists: 64 }).ids) expect(deleted.has(id)).toBe(false);
      await reopened.close();
    }
    expect(inserted.size).toBeGreaterThan(100);
    expect(deleted.size).toBeGreaterThan(10);
  });
});
