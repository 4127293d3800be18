/**
 * The HTTP service as a stateless query node (`strata serve --store s3://bucket/prefix`): it serves
 * the indexes published under the prefix (one folder per collection), keeps only caches on its own
 * disk (--cache-dir, bounded by --cache-size), follows new manifests and the collections' logs, and
 * with --peers shares the collections with other nodes by rendezvous hashing (node-ring.ts).
 * Durable state is on the store; the node's data folder holds only its API keys.
 */
import type { FastifyInstance } from 'fastify';
import { openS3Url, type ObjectStore } from '../storage/object-store.js';
import { KeyRing } from './auth.js';
import { ServiceCatalog } from './catalog.js';
import { peerUrls, type ServerConfig } from './config.js';
import { closeOnce, createHttpApp } from './http-app.js';
import { NodeMetrics } from './metrics.js';
import { StoreCollections } from './node-collections.js';
import { NodeRing } from './node-ring.js';
import { nodeRoutes, type NodeContext } from './routes/node.js';
import { opsRoutes } from './routes/ops.js';
import { buildSchemas } from './schemas.js';

export interface QueryNode {
  app: FastifyInstance;
  ctx: NodeContext;
  generatedAdminKey?: string;
  /** Stop taking requests, let those in flight (and writes being acknowledged) finish, close the caches and the store. */
  close(): Promise<void>;
}

/** This node's name among its peers: --node-url, or http://<host>:<port>. */
export function nodeUrlOf(config: ServerConfig): string {
  return config.nodeUrl || `http://${config.host}:${config.port}`;
}

export async function buildQueryNode(config: ServerConfig, options: { logger?: boolean; store?: ObjectStore } = {}): Promise<QueryNode> {
  const store = options.store ?? (await openS3Url(config.store));
  const catalog = ServiceCatalog.open(config.dataDir);
  const keys = new KeyRing(catalog, config.adminKey);
  const generatedAdminKey = keys.ensureAdmin();
  const collections = new StoreCollections(store, config.cacheDir, config.cacheSize * 2 ** 20, config.followMs);
  const ring = new NodeRing(nodeUrlOf(config), peerUrls(config), config.forwardTimeoutMs);
  const metrics = new NodeMetrics(collections, ring);
  const ctx: NodeContext = {
    collections,
    ring,
    metrics,
    schemas: buildSchemas(config),
    draining: false,
    ready: async () => {
      await collections.names();
    },
  };
  const app = await createHttpApp({
    config,
    keys,
    metrics,
    draining: () => ctx.draining,
    description: `A stateless query node on the indexes published under ${config.store}: search, and writes through each collection's log on the store.`,
    ...(options.logger === false ? { logger: false } : {}),
  });
  collections.log = (msg, detail) => app.log.warn(detail, msg);
  for (const routes of [opsRoutes, nodeRoutes]) await app.register(async (scope) => routes(scope, ctx));
  await app.ready();
  collections.start();
  return {
    app,
    ctx,
    ...(generatedAdminKey ? { generatedAdminKey } : {}),
    close: closeOnce(app, ctx, [() => collections.close(), () => options.store || store.close(), () => catalog.close()]),
  };
}
