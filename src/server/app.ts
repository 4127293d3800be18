/**
 * The HTTP service on the embedded default (LMDB indexes under the data folder): its parts and
 * routes on the shared fastify instance (http-app.ts). `buildService` opens the data folder;
 * `listen` is the caller's (main.ts, tests use inject()).
 */
import type { FastifyInstance } from 'fastify';
import { KeyRing } from './auth.js';
import { ServiceCatalog } from './catalog.js';
import { WriteAdmission } from './admission.js';
import { Collections } from './collections.js';
import { Corpora } from './corpora.js';
import { KvService } from './kv-service.js';
import type { ServerConfig } from './config.js';
import type { ServiceContext } from './context.js';
import { closeOnce, createHttpApp } from './http-app.js';
import { ServiceMetrics } from './metrics.js';
import { buildSchemas } from './schemas.js';
import { collectionRoutes } from './routes/collections.js';
import { consoleRoutes } from './routes/console.js';
import { corpusRoutes } from './routes/corpora.js';
import { kvRoutes } from './routes/kv.js';
import { keyRoutes } from './routes/keys.js';
import { opsRoutes } from './routes/ops.js';
import { pointRoutes } from './routes/points.js';
import { searchRoutes } from './routes/search.js';
import { tenantRoutes } from './routes/tenants.js';

export interface Service {
  app: FastifyInstance;
  ctx: ServiceContext;
  /** A newly generated admin key (first start without STRATA_ADMIN_KEY): show it once. */
  generatedAdminKey?: string;
  /** Stop taking requests, finish those in flight, close every index and the catalogue. */
  close(): Promise<void>;
}

export async function buildService(config: ServerConfig, options: { logger?: boolean } = {}): Promise<Service> {
  // Every store checks the disk reserve at each write, in this thread and in the worker threads
  // (which copy the environment when they start: set before any pool exists).
  process.env.STRATA_MIN_FREE_DISK = String(config.minFreeDisk);
  const catalog = ServiceCatalog.open(config.dataDir);
  const keys = new KeyRing(catalog, config.adminKey);
  const generatedAdminKey = keys.ensureAdmin();
  const writes = new WriteAdmission(config.maxPendingWrites);
  const collections = new Collections(catalog, config, writes);
  await collections.init();
  const metrics = new ServiceMetrics(collections);
  const corpora = new Corpora(catalog, config, writes);
  const kv = new KvService(config, writes);
  const ctx: ServiceContext = { config, catalog, keys, collections, corpora, kv, metrics, schemas: buildSchemas(config), draining: false };

  const app = await createHttpApp({
    config,
    keys,
    metrics,
    draining: () => ctx.draining,
    description: 'Disk-hybrid vector search: collections, tenant-scoped keys, filtered search; RAG corpora: documents in, passages out.',
    ...(options.logger === false ? { logger: false } : {}),
  });
  collections.log = (msg, detail) => app.log.info(detail, msg);
  for (const routes of [opsRoutes, collectionRoutes, pointRoutes, searchRoutes, tenantRoutes, keyRoutes, corpusRoutes, kvRoutes]) await app.register(async (scope) => routes(scope, ctx));
  await app.register(async (scope) => consoleRoutes(scope, ctx));
  await app.ready();
  metrics.history.start();

  return {
    app,
    ctx,
    ...(generatedAdminKey ? { generatedAdminKey } : {}),
    close: closeOnce(app, ctx, [() => metrics.history.stop(), () => collections.close(), () => corpora.close(), () => kv.close(), () => catalog.close()]),
  };
}
