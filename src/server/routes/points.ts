/**
 * Points: batch upsert, delete, get by id. A tenant key writes only into its tenant: a point naming
 * another tenant, or an id held by another tenant, is refused (403) before anything is written; its
 * deletes and lookups see only its own points (another tenant's id reads as absent).
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import type { Attributes } from '../../index/filter.js';
import { scopeOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';

interface PointBody {
  id: number;
  vector: number[];
  tenant?: string;
  metadata?: Attributes;
}

export const DEFAULT_TENANT = 'default';

export async function pointRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;
  app.post('/v1/collections/:name/points', {
    schema: { tags: ['points'], summary: 'Upsert points (durable when answered)', params: S.CollectionName, body: S.Upsert, response: { 200: S.UpsertResult, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const p = req.principal!;
      scopeOf(p, name, undefined); // a tenant key's other collections are 403 whether they exist or not
      const c = ctx.collections.get(name);
      const points = (req.body as { points: PointBody[] }).points;
      const dim = c.record.dimension;
      const n = points.length;
      const vectors = new Float32Array(n * dim);
      const ids = new Uint32Array(n);
      const tenants: string[] = new Array(n);
      const attributes: Array<Attributes | null> = new Array(n);
      for (let i = 0; i < n; i++) {
        const pt = points[i];
        tenants[i] = scopeOf(p, name, pt.tenant) ?? DEFAULT_TENANT;
        if (pt.vector.length !== dim) throw createError('STRATA_DIMENSION_MISMATCH', `points[${i}].vector has ${pt.vector.length} components, the collection ${dim}`, `points[${i}].vector`);
        for (let j = 0; j < dim; j++) {
          const v = pt.vector[j];
          if (!Number.isFinite(v)) throw createError('STRATA_NON_FINITE', `points[${i}].vector[${j}] is not a finite number`, `points[${i}].vector`);
          vectors[i * dim + j] = v;
        }
        ids[i] = pt.id;
        attributes[i] = pt.metadata ?? null;
        if (p.role === 'tenant') {
          const held = c.points.tenantOf(pt.id);
          if (held !== undefined && held !== tenants[i]) throw createError('STRATA_FORBIDDEN', `points[${i}].id is held outside this key's tenant`, `points[${i}].id`);
        }
      }
      const r = await ctx.collections.write(c, { op: 'upsert', dir: c.dir, vectors, ids, tenants, attributes });
      ctx.metrics.writes.inc({ collection: name, op: 'upsert' }, n);
      return { inserted: r.counts!.inserted, replaced: r.counts!.replaced, built: r.built === true };
    },
  });

  app.post('/v1/collections/:name/points/delete', {
    schema: { tags: ['points'], summary: 'Delete points by id (durable when answered)', params: S.CollectionName, body: S.Ids, response: { 200: S.DeleteResult, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const p = req.principal!;
      const tenant = scopeOf(p, name, undefined);
      const c = ctx.collections.get(name);
      let ids = (req.body as { ids: number[] }).ids;
      if (new Set(ids).size !== ids.length) throw createError('STRATA_INVALID_ID', 'ids repeat', 'ids');
      if (p.role === 'tenant') ids = ids.filter((id) => c.points.tenantOf(id) === tenant);
      if (ids.length === 0) return { deleted: 0 };
      const r = await ctx.collections.write(c, { op: 'delete', dir: c.dir, ids: Uint32Array.from(ids) });
      ctx.metrics.writes.inc({ collection: name, op: 'delete' }, r.counts!.deleted);
      return { deleted: r.counts!.deleted };
    },
  });

  app.get('/v1/collections/:name/points/:id', {
    schema: {
      tags: ['points'],
      summary: 'A point by id: its tenant and metadata (and its vector with ?vector=true)',
      params: S.PointParams,
      querystring: S.PointQuery,
      response: { 200: S.Point, ...errorResponses() },
    },
    handler: async (req) => {
      const { name, id: idText } = req.params as { name: string; id: string };
      const vector = (req.query as { vector?: string }).vector === 'true';
      const tenant = scopeOf(req.principal!, name, undefined);
      const c = ctx.collections.get(name);
      const id = Number(idText);
      const found = id <= 0xffffffff ? c.points.get(id) : null;
      if (!found || (tenant !== undefined && found.tenant !== tenant)) throw createError('STRATA_POINT_NOT_FOUND', `no point ${idText}`, 'id');
      return { id: found.id, tenant: found.tenant, metadata: found.metadata ?? {}, ...(vector ? { vector: Array.from(found.vector) } : {}) };
    },
  });
}
