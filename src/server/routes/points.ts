/**
 * Points: batch upsert, delete, get by id, browse a page at a time. Point ids live in their tenant's own id space
 * (point-store.ts): a tenant key writes, deletes and reads ids of its own tenant only, and whether
 * another tenant uses the same id changes nothing in what it is answered. A tenant key naming another
 * tenant is refused (403) before anything is written. The admin addresses a point as (tenant, id),
 * the tenant defaulting to "default".
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import type { Attributes } from '../../index/filter.js';
import { DEFAULT_TENANT } from '../../index/tenants.js';
import { scopeOf } from '../auth.js';
import { readVector } from '../request-vectors.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { unscopeError } from '../tenant-attributes.js';

interface PointBody {
  id: number;
  vector: number[];
  tenant?: string;
  metadata?: Attributes;
}

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
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const pt = points[i];
        tenants[i] = scopeOf(p, name, pt.tenant) ?? DEFAULT_TENANT;
        readVector(pt.vector, dim, `points[${i}].vector`, vectors, i * dim);
        ids[i] = pt.id;
        attributes[i] = pt.metadata ?? null;
        const key = `${tenants[i]}\0${pt.id}`;
        if (seen.has(key)) throw createError('STRATA_INVALID_ID', `points[${i}].id repeats an earlier point of the same tenant in this request`, `points[${i}].id`);
        seen.add(key);
      }
      const r = await ctx.collections.write(c, { op: 'upsert', dir: c.dir, vectors, ids, tenants, attributes }).catch((e) => {
        throw unscopeError(e, tenants, 'points');
      });
      ctx.metrics.writes.inc({ collection: name, op: 'upsert' }, n);
      // Whether this write built the index depends on every tenant's writes: the admin's to know.
      return { inserted: r.counts!.inserted, replaced: r.counts!.replaced, ...(p.role === 'admin' ? { built: r.built === true } : {}) };
    },
  });

  app.post('/v1/collections/:name/points/delete', {
    schema: { tags: ['points'], summary: 'Delete points by id (durable when answered)', params: S.CollectionName, body: S.Ids, response: { 200: S.DeleteResult, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const body = req.body as { ids: number[]; tenant?: string };
      const tenant = scopeOf(req.principal!, name, body.tenant) ?? DEFAULT_TENANT;
      const c = ctx.collections.get(name);
      if (new Set(body.ids).size !== body.ids.length) throw createError('STRATA_INVALID_ID', 'ids repeat', 'ids');
      const r = await ctx.collections.write(c, { op: 'delete', dir: c.dir, tenant, ids: Uint32Array.from(body.ids) });
      ctx.metrics.writes.inc({ collection: name, op: 'delete' }, r.counts!.deleted);
      return { deleted: r.counts!.deleted };
    },
  });

  app.get('/v1/collections/:name/points', {
    schema: {
      tags: ['points'],
      summary: "Browse points without their vectors, a page at a time, in key order (tenant, then the id's decimal text): one tenant's (a tenant key: its own), or every tenant's (admin)",
      params: S.CollectionName,
      querystring: S.PointPageQuery,
      response: { 200: S.PointPage, ...errorResponses() },
    },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const query = req.query as { tenant?: string; limit?: string; cursor?: string };
      const tenant = scopeOf(req.principal!, name, query.tenant);
      const limit = query.limit === undefined ? 100 : Number(query.limit);
      if (!(limit >= 1 && limit <= 1000)) throw createError('STRATA_INVALID_REQUEST', `limit must be 1-1000, got ${query.limit}`, 'limit');
      const c = ctx.collections.get(name);
      const after = query.cursor ? Buffer.from(query.cursor, 'base64url').toString('utf8') : undefined;
      const page = c.points.page(tenant, after, limit);
      return { points: page.points.map((p) => ({ ...p, metadata: p.metadata ?? {} })), ...(page.next !== undefined ? { next: Buffer.from(page.next, 'utf8').toString('base64url') } : {}) };
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
      const query = req.query as { vector?: string; tenant?: string };
      const tenant = scopeOf(req.principal!, name, query.tenant) ?? DEFAULT_TENANT;
      const c = ctx.collections.get(name);
      const id = Number(idText);
      const found = id <= 0xffffffff ? c.points.get(tenant, id) : null;
      if (!found) throw createError('STRATA_POINT_NOT_FOUND', `no point ${idText} in tenant ${JSON.stringify(tenant)}`, 'id');
      const vector = query.vector === 'true';
      return { id: found.id, tenant: found.tenant, metadata: found.metadata ?? {}, ...(vector ? { vector: Array.from(found.vector) } : {}) };
    },
  });
}
