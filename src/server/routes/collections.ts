/** Collections: create, list, stats, health, drop, compact, rebuild. Admin key, except stats (a tenant key sees its own tenant). */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import { requireAdmin, scopeOf } from '../auth.js';
import type { Collection } from '../collections.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';

function describe(c: Collection, tenant?: string) {
  const r = c.reader;
  const base = { name: c.record.name, dimension: c.record.dimension, metric: c.record.metric, spec: c.record.spec };
  if (tenant !== undefined) {
    const t = r.built ? r.listTenants().find((x) => x.name === tenant) : undefined;
    return { ...base, tenant, points: t ? t.count : 0 };
  }
  const s = r.built ? r.stats() : null;
  return {
    ...base,
    createdAt: c.record.createdAt,
    state: r.built ? 'built' : 'empty',
    points: r.count,
    heads: s ? s.heads : 0,
    tenants: s ? s.tenants : 0,
    tombstones: s ? s.tombstones : 0,
    diskBytes: r.diskBytes() + c.points.diskBytes(),
    generation: c.generation,
    rebuilding: c.rebuilding !== null,
    ...(c.lastRebuild ? { lastRebuild: c.lastRebuild } : {}),
  };
}

export async function collectionRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;
  app.post('/v1/collections', {
    schema: { tags: ['collections'], summary: 'Create a collection (admin)', body: S.CreateCollection, response: { 201: S.Collection, ...errorResponses(409) } },
    handler: async (req, reply) => {
      requireAdmin(req.principal!);
      const b = req.body as { name: string; dimension: number; metric?: string; spec?: string };
      const c = await ctx.collections.create({ name: b.name, dimension: b.dimension, metric: b.metric ?? 'l2', spec: b.spec ?? 'SPANN' });
      reply.code(201);
      return describe(c);
    },
  });

  app.get('/v1/collections', {
    schema: { tags: ['collections'], summary: 'List collections (admin)', response: { 200: S.CollectionList, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      return { collections: ctx.collections.list().map((c) => describe(ctx.collections.get(c.record.name))) };
    },
  });

  app.get('/v1/collections/:name', {
    schema: { tags: ['collections'], summary: 'Collection stats (a tenant key sees its own tenant only)', params: S.CollectionName, response: { 200: S.Collection, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const p = req.principal!;
      const tenant = scopeOf(p, name, undefined);
      return describe(ctx.collections.get(name), p.role === 'tenant' ? tenant : undefined);
    },
  });

  app.get('/v1/collections/:name/health', {
    schema: { tags: ['collections'], summary: "The index's health report: list lengths, replicas per vector, tombstones, broken invariants (admin; reads every list)", params: S.CollectionName, response: { 200: S.Health, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const c = ctx.collections.get((req.params as { name: string }).name);
      if (!c.reader.built) throw createError('STRATA_INDEX_NOT_BUILT', `collection ${JSON.stringify(c.record.name)} is empty: its first upsert builds the index`, 'collection');
      c.reader.refresh();
      return c.reader.health();
    },
  });

  app.delete('/v1/collections/:name', {
    schema: { tags: ['collections'], summary: 'Drop a collection, its points and its keys (admin)', params: S.CollectionName, response: { 200: S.Status, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      await ctx.collections.drop((req.params as { name: string }).name);
      return { status: 'dropped' };
    },
  });

  app.post('/v1/collections/:name/compact', {
    schema: { tags: ['collections'], summary: 'Apply tombstones and merge small lists (admin)', params: S.CollectionName, response: { 200: S.CompactResult, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const c = ctx.collections.get((req.params as { name: string }).name);
      const r = await ctx.collections.write(c, { op: 'compact', dir: c.dir });
      return r.compact!;
    },
  });

  app.post('/v1/collections/:name/rebuild', {
    schema: {
      tags: ['collections'],
      summary: 'Re-cluster the collection from its points into a new index generation, in the background; searches and writes go on (admin)',
      params: S.CollectionName,
      response: { 202: S.Collection, ...errorResponses(409) },
    },
    handler: async (req, reply) => {
      requireAdmin(req.principal!);
      const c = ctx.collections.get((req.params as { name: string }).name);
      ctx.collections.startRebuild(c);
      reply.code(202);
      return describe(c);
    },
  });
}
