/** A service on a temporary data folder, driven through fastify's inject() (no socket). */
import { buildService, type Service } from '../src/server/app.js';
import { resolveConfig, type ServerConfig } from '../src/server/config.js';
import { mixture, tempDir } from './helpers.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const DIM = 8;

export interface TestService {
  service: Service;
  dir: string;
  cleanup(): Promise<void>;
  call(method: string, url: string, key?: string | null, body?: unknown): Promise<{ status: number; json: any; headers: Record<string, unknown> }>;
}

export async function startService(overrides: Partial<ServerConfig> = {}): Promise<TestService> {
  const { dir, cleanup } = tempDir('server');
  const config = resolveConfig({ dataDir: dir, adminKey: ADMIN_KEY, searchThreads: 1, logLevel: 'silent', ...overrides }, {});
  const service = await buildService(config, { logger: false });
  return {
    service,
    dir,
    async cleanup() {
      await service.close();
      cleanup();
    },
    async call(method, url, key = ADMIN_KEY, body) {
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      const res = await service.app.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
      let json: unknown ;
      try {
        json = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        json = res.body;
      }
      return { status: res.statusCode, json, headers: res.headers };
    },
  };
}

/** n points of dimension DIM (seeded): ids from `firstId`, tenants alternating over `tenants`, metadata { group: i % 3, even }. */
export function points(n: number, seed: number, tenants: string[], firstId = 0) {
  const v = mixture(n, DIM, seed, 8, 0.3);
  return Array.from({ length: n }, (_, i) => ({
    id: firstId + i,
    vector: Array.from(v.subarray(i * DIM, (i + 1) * DIM)),
    tenant: tenants[i % tenants.length],
    metadata: { group: `g${i % 3}`, even: i % 2 === 0 },
  }));
}

export type Point = ReturnType<typeof points>[number];

function l2(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

/** Ids of the k points nearest `q` by exact L2 (ties by id). */
export function exactIds(all: Point[], q: number[], k: number): number[] {
  return all
    .map((p) => ({ id: p.id, d: l2(p.vector, q) }))
    .sort((a, b) => a.d - b.d || a.id - b.id)
    .slice(0, k)
    .map((x) => x.id);
}
