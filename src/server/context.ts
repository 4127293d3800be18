/** What every route module gets: the service's parts, built once by app.ts. */
import type { ServiceCatalog } from './catalog.js';
import type { Collections } from './collections.js';
import type { Corpora } from './corpora.js';
import type { KvService } from './kv-service.js';
import type { ServerConfig } from './config.js';
import type { KeyRing, Principal } from './auth.js';
import type { ServiceMetrics } from './metrics.js';
import type { Schemas } from './schemas.js';

export interface ServiceContext {
  config: ServerConfig;
  catalog: ServiceCatalog;
  keys: KeyRing;
  collections: Collections;
  corpora: Corpora;
  kv: KvService;
  metrics: ServiceMetrics;
  schemas: Schemas;
  /** Set by SIGTERM: new requests get 503 while those in flight finish. */
  draining: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request (set by the auth hook; public routes leave it unset). */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Route needs no API key (health, readiness, docs). */
    public?: boolean;
  }
}
