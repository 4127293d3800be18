/**
 * A full disk, as the service meets it: its data folder on a tmpfs of a few MiB. Writes past the free
 * space reserve answer 507 STRATA_DISK_FULL before anything is written (LMDB itself aborts the
 * process when the disk fills in the middle of a commit), every acknowledged point stays readable
 * and searchable, and writes work again once space is freed. Needs root to mount the tmpfs (CI and
 * the project's machines run as root).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { ADMIN_KEY, startService, type TestService } from './server-helpers.js';

const root = process.getuid?.() === 0;

describe.runIf(root)('a full disk', () => {
  const tmp = tempDir('full-disk');
  const mount = join(tmp.dir, 'tmpfs');
  let s: TestService;
  beforeAll(() => {
    mkdirSync(mount, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount]);
  });
  afterAll(async () => {
    await s?.service.close().catch(() => undefined);
    execFileSync('umount', [mount]);
    tmp.cleanup();
  });

  it('refuses writes with 507 below the reserve, keeps every acknowledged point, and writes again once space is freed', async () => {
    // A filler file the test frees later, and a service whose data lives beside it.
    writeFileSync(join(mount, 'filler'), Buffer.alloc(3 * 2 ** 20, 1));
    s = await startService({ dataDir: join(mount, 'data'), minFreeDisk: 2 * 2 ** 20 });
    expect((await s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'c', dimension: 64 })).status).toBe(201);
    const acked: number[] = [];
    let refused: { status: number; json: any } | undefined;
    for (let b = 0; b < 100 && !refused; b++) {
      const points = Array.from({ length: 200 }, (_, i) => ({ id: b * 200 + i, vector: Array.from({ length: 64 }, (_, j) => Math.sin(b * 200 + i + j * 0.1)) }));
      const r = await s.call('POST', '/v1/collections/c/points', ADMIN_KEY, { points });
      if (r.status === 200) acked.push(...points.map((p) => p.id));
      else refused = r;
    }
    expect(refused?.status).toBe(507);
    expect(refused?.json.error.code).toBe('STRATA_DISK_FULL');
    expect(acked.length).toBeGreaterThan(0);
    // Reads go on: every acknowledged point is there.
    expect((await s.call('GET', '/v1/collections/c')).json.points).toBe(acked.length);
    for (const id of [acked[0], acked[acked.length - 1]]) expect((await s.call('GET', `/v1/collections/c/points/${id}`)).status).toBe(200);
    const hit = await s.call('POST', '/v1/collections/c/search', ADMIN_KEY, { vector: Array.from({ length: 64 }, (_, j) => Math.sin(acked[5] + j * 0.1)), k: 1 });
    expect(hit.json.results[0]).toMatchObject({ id: acked[5], distance: 0 });
    // Other writes are refused too (a corpus, a collection) without damage.
    expect((await s.call('POST', '/v1/collections', ADMIN_KEY, { name: 'd', dimension: 4 })).status).toBe(507);
    // Space freed: writes work again.
    rmSync(join(mount, 'filler'));
    const again = await s.call('POST', '/v1/collections/c/points', ADMIN_KEY, { points: [{ id: 999_999, vector: Array.from({ length: 64 }, () => 0.5) }] });
    expect(again.status).toBe(200);
    expect((await s.call('GET', '/v1/collections/c')).json.points).toBe(acked.length + 1);
  }, 120_000);
});
