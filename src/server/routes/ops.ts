/** Liveness, readiness (public) and Prometheus metrics (admin key: labels name collections). */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import { requireAdmin } from '../auth.js';
import type { HttpMetrics } from '../metrics.js';
import { errorResponses, type Schemas } from '../schemas.js';

/** What the ops routes need of a service (the embedded one or a query node). */
export interface OpsContext {
  draining: boolean;
  metrics: HttpMetrics;
  schemas: Schemas;
  /** Throws when the service cannot serve yet (a query node: its store does not answer). */
  ready?: () => Promise<void>;
}

export async function opsRoutes(app: FastifyInstance, ctx: OpsContext): Promise<void> {
  const S = ctx.schemas;
  app.get('/healthz', {
    config: { public: true },
    schema: { tags: ['ops'], summary: 'Liveness: the process answers', response: { 200: S.Status } },
    handler: async () => ({ status: 'ok' }),
  });

  app.get('/readyz', {
    config: { public: true },
    schema: { tags: ['ops'], summary: 'Readiness: collections open (a query node: its store answers) and not draining', response: { 200: S.Status, 503: { $ref: 'ErrorBody' } } },
    handler: async () => {
      if (ctx.draining) throw createError('STRATA_SHUTTING_DOWN', 'the service is draining', 'service');
      await ctx.ready?.();
      return { status: 'ready' };
    },
  });

  app.get('/metrics', {
    schema: { tags: ['ops'], summary: 'Prometheus metrics (admin key)', produces: ['text/plain'], response: { 200: { type: 'string' }, ...errorResponses() } },
    handler: async (req, reply) => {
      requireAdmin(req.principal!);
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  });
}
