/**
 * The ceiling `strata bench http` measures beside the service: the service's own fastify instance
 * (http-app.ts: API-key auth, error mapping, the same request and response schemas) with one route,
 * POST /v1/collections/:name/search, that validates the same body and answers a fixed result of k
 * hits without searching. Its QPS is what HTTP alone allows on this machine; its CPU per request is
 * what HTTP alone costs. Run as a child process: `node bare-server.js <port> <dataDir>` (admin key
 * from STRATA_ADMIN_KEY), prints "ready" when listening.
 */
import { KeyRing } from '../src/server/auth.js';
import { ServiceCatalog } from '../src/server/catalog.js';
import { resolveConfig } from '../src/server/config.js';
import { createHttpApp } from '../src/server/http-app.js';
import { HttpMetrics } from '../src/server/metrics.js';
import { buildSchemas, errorResponses, type QueryBody } from '../src/server/schemas.js';

const [port, dataDir] = process.argv.slice(2);
const config = resolveConfig({ port: Number(port), dataDir, logLevel: 'warn' });
const catalog = ServiceCatalog.open(config.dataDir);
const keys = new KeyRing(catalog, config.adminKey);
const state = { draining: false };
const app = await createHttpApp({ config, keys, metrics: new HttpMetrics(), draining: () => state.draining, description: 'bench: the bare route' });
const S = buildSchemas(config);
app.post('/v1/collections/:name/search', {
  schema: { params: S.CollectionName, body: S.Query, response: { 200: S.SearchResult, ...errorResponses() } },
  handler: async (req) => {
    const q = req.body as QueryBody;
    return { results: Array.from({ length: q.k ?? 10 }, (_, i) => ({ id: 1000 + i, tenant: 'default', distance: 0.5 + i / 16 })) };
  },
});
await app.listen({ port: config.port, host: '127.0.0.1' });
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  state.draining = true;
  void app.close().then(() => catalog.close());
});
