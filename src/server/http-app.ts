/**
 * The fastify instance both kinds of service share (the embedded service, app.ts, and the query
 * node on object storage, query-node.ts): API-key auth hook, draining, request metrics, OpenAPI + docs
 * UI, and the mapping of every error into the one table.
 *
 * Every error answer is { error: { code, message, field? } } with the status of its code in the one
 * table (src/errors.ts); fastify's own errors (bad JSON, schema mismatch, body too large, wrong
 * content type) are mapped into that table, and anything unexpected is STRATA_INTERNAL (500, logged).
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createError, isStrataError, type ErrorCode } from '../errors.js';
import { FORMAT_VERSION } from '../storage/index-store.js';
import { presentedKey, type KeyRing } from './auth.js';
import type { ServerConfig } from './config.js';
import type { HttpMetrics } from './metrics.js';
import { ErrorBody } from './schemas.js';

interface ErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  field?: string;
}

/** Map any error a request can raise to the one error table. */
export function toErrorAnswer(err: unknown): ErrorAnswer {
  if (isStrataError(err)) return { status: err.status, code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}) };
  const e = err as FastifyError & { validation?: Array<{ instancePath?: string; params?: { missingProperty?: string } }>; validationContext?: string };
  if (e?.validation) {
    const v = e.validation[0];
    const where = (v?.instancePath ?? '').replace(/^\//, '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
    const missing = v?.params?.missingProperty;
    const field = [where, missing].filter(Boolean).join('.') || e.validationContext || 'body';
    return { status: 400, code: 'STRATA_INVALID_REQUEST', message: `STRATA_INVALID_REQUEST: ${e.message}`, field };
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'STRATA_PAYLOAD_TOO_LARGE', message: 'STRATA_PAYLOAD_TOO_LARGE: the request body is over the body limit', field: 'body' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'STRATA_UNSUPPORTED_MEDIA_TYPE', message: 'STRATA_UNSUPPORTED_MEDIA_TYPE: send the body as application/json', field: 'content-type' };
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: 400, code: 'STRATA_INVALID_REQUEST', message: `STRATA_INVALID_REQUEST: ${e.message}`, field: 'body' };
  }
  return { status: 500, code: 'STRATA_INTERNAL', message: 'STRATA_INTERNAL: an unexpected error; it is logged' };
}

export interface HttpAppOptions {
  config: ServerConfig;
  keys: KeyRing;
  metrics: HttpMetrics;
  /** Set once SIGTERM came: new requests get 503 while those in flight finish. */
  draining: () => boolean;
  /** The OpenAPI page's description of the service. */
  description: string;
  logger?: boolean;
}

export async function createHttpApp(o: HttpAppOptions): Promise<FastifyInstance> {
  const { config, keys, metrics } = o;
  const app = Fastify({
    bodyLimit: config.bodyLimit,
    logger:
      o.logger === false
        ? false
        : {
            level: config.logLevel,
            // Never log keys; bodies (vectors) are not logged at all.
            redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]'], censor: '[redacted]' },
          },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
  });
  app.removeContentTypeParser('text/plain'); // bodies are JSON only: anything else is 415
  app.addSchema(ErrorBody);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Strata', description: o.description, version: `v1 (index format ${FORMAT_VERSION})` },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer sk_…' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  app.addHook('onRequest', async (req, reply) => {
    if (o.draining()) {
      reply.header('retry-after', String(config.retryAfterSeconds));
      throw createError('STRATA_SHUTTING_DOWN', 'the service is draining before it stops', 'service');
    }
    const cfg = req.routeOptions.config as { public?: boolean } | undefined;
    if (cfg?.public || req.url.startsWith('/docs')) return;
    if (!req.routeOptions.url) return; // unknown route: the not-found handler answers
    req.principal = keys.authenticate(presentedKey(req.headers));
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.requestSeconds.observe({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err, req, reply) => {
    const a = toErrorAnswer(err);
    if (a.status >= 500 && a.code === 'STRATA_INTERNAL') req.log.error({ err }, 'unexpected error');
    if (a.status === 503) {
      reply.header('retry-after', String(config.retryAfterSeconds));
      if (a.code === 'STRATA_OVERLOADED') metrics.shed.inc({ kind: req.method === 'GET' ? 'read' : 'request' });
    }
    reply.code(a.status);
    return { error: { code: a.code, message: a.message, ...(a.field !== undefined ? { field: a.field } : {}) } };
  });

  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404);
    return { error: { code: 'STRATA_ROUTE_NOT_FOUND', message: `STRATA_ROUTE_NOT_FOUND: no route ${req.method} ${req.url.split('?')[0]}`, field: 'url' } };
  });
  return app;
}

/**
 * A service's close(): mark it draining (new requests 503), let fastify finish the requests in
 * flight, then close `parts` in order. Runs once; later calls get the same promise.
 */
export function closeOnce(app: FastifyInstance, state: { draining: boolean }, parts: Array<() => unknown>): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () => {
    closing ??= (async () => {
      state.draining = true;
      await app.close();
      for (const close of parts) await close();
    })();
    return closing;
  };
}
