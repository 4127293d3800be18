/**
 * Search and batch search. A tenant key's searches are scoped to its tenant whatever the body says
 * (naming another tenant is 403). The work runs on the collection's search pool through the
 * micro-batcher; an empty collection answers with no hits. Hits carry the point's id in its tenant
 * (the index's internal labels are mapped back through the point store).
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import type { SearchOptions } from '../../index/spann.js';
import { scopeOf, type Principal } from '../auth.js';
import type { Collection } from '../collections.js';
import type { ServiceContext } from '../context.js';
import type { Hit } from '../search-batcher.js';
import { readVector } from '../request-vectors.js';
import { errorResponses, type QueryBody } from '../schemas.js';
import { scopeFilter, unscopeError } from '../tenant-attributes.js';

function optionsOf(q: QueryBody, tenant: string | undefined, field: string): SearchOptions {
  const o: SearchOptions = { ...(q.params ?? {}) };
  if (tenant !== undefined) o.tenant = tenant;
  if (q.filter !== undefined) {
    // Attributes live in each tenant's namespace (tenant-attributes.ts): a filter is a tenant's.
    if (tenant === undefined) throw createError('STRATA_INVALID_FILTER', `${field}.filter needs ${field}.tenant: metadata attributes belong to a tenant`, `${field}.tenant`);
    o.filter = scopeFilter(tenant, q.filter) as SearchOptions['filter'];
  }
  return o;
}

/** A hit as clients see it: the point's id in its tenant. */
interface ClientHit {
  id: number;
  tenant: string;
  distance: number;
}

/** Index labels back to (tenant, id); a point deleted since the search ran is left out. */
function toClientHits(c: Collection, hits: Hit[]): ClientHit[] {
  const out: ClientHit[] = [];
  for (const h of hits) {
    const owner = c.points.owner(h.id);
    if (owner) out.push({ id: owner.id, tenant: owner.tenant, distance: h.distance });
  }
  return out;
}

async function runQueries(ctx: ServiceContext, c: Collection, p: Principal, queries: QueryBody[], field: (i: number) => string): Promise<ClientHit[][]> {
  const name = c.record.name;
  const prepared = queries.map((q, i) => ({ vector: readVector(q.vector, c.record.dimension, `${field(i)}.vector`), k: q.k ?? 10, options: optionsOf(q, scopeOf(p, name, q.tenant), field(i)) }));
  // An empty collection, or a tenant key whose tenant holds nothing (whether the index exists depends
  // on other tenants' writes: the answer must not), finds nothing.
  if (!c.reader.built || (p.role === 'tenant' && !c.reader.hasTenant(p.tenant))) return prepared.map(() => []);
  // Queries with the same k and options travel together.
  const out: ClientHit[][] = new Array(queries.length);
  const groups = new Map<string, number[]>();
  prepared.forEach((q, i) => {
    const key = `${q.k}\u0000${JSON.stringify(q.options)}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  try {
    await Promise.all(
      [...groups.values()].map(async (rows) => {
        const first = prepared[rows[0]];
        const hits = await ctx.collections.batcher.search(name, c.reader, rows.map((i) => prepared[i].vector), first.k, first.options);
        c.points.refresh();
        rows.forEach((row, j) => (out[row] = toClientHits(c, hits[j])));
      }),
    );
  } catch (e) {
    if ((e as { code?: string }).code === 'STRATA_OVERLOADED') ctx.metrics.shed.inc({ kind: 'search' });
    throw unscopeError(e, prepared.flatMap((q) => (q.options.tenant !== undefined ? [q.options.tenant] : [])));
  }
  ctx.metrics.queries.inc({ collection: name }, queries.length);
  return out;
}

/** One search run alone on the collection's reader, with how it ran (admin: the console's playground, "why these hits"). */
async function explained(ctx: ServiceContext, c: Collection, p: Principal, q: QueryBody) {
  const vector = readVector(q.vector, c.record.dimension, 'body.vector');
  const options = optionsOf(q, scopeOf(p, c.record.name, q.tenant), 'body');
  if (!c.reader.built) {
    return { results: [], explain: { plan: 'empty', matched: 0, listsProbed: 0, vectorsScanned: 0, bytesRead: 0, milliseconds: 0 } };
  }
  const started = performance.now();
  let r: ReturnType<Collection['reader']['search']>;
  try {
    r = c.reader.search(vector, q.k ?? 10, options);
  } catch (e) {
    throw unscopeError(e, options.tenant !== undefined ? [options.tenant] : []);
  }
  const milliseconds = performance.now() - started;
  c.points.refresh();
  ctx.metrics.queries.inc({ collection: c.record.name }, 1);
  const hits: Hit[] = Array.from(r.ids, (id, i) => ({ id, distance: r.distances[i] }));
  return {
    results: toClientHits(c, hits),
    explain: { plan: r.plan, matched: r.matched, listsProbed: r.stats.listsProbed, vectorsScanned: r.stats.vectorsScanned, bytesRead: r.stats.bytesRead, milliseconds },
  };
}

export async function searchRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;
  app.post('/v1/collections/:name/search', {
    schema: { tags: ['search'], summary: 'k nearest points of one vector, optionally within a tenant and a filter', params: S.CollectionName, body: S.SingleQuery, response: { 200: S.SearchResult, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      scopeOf(req.principal!, name, undefined);
      const c = ctx.collections.get(name);
      const body = req.body as QueryBody & { explain?: boolean };
      if (body.explain) {
        // Lists, bytes and the plan depend on every tenant's data in the shared lists: not a tenant's to see.
        if (req.principal!.role !== 'admin') throw createError('STRATA_FORBIDDEN', 'explain reports work on lists other tenants share: admin key only', 'explain');
        return explained(ctx, c, req.principal!, body);
      }
      const [results] = await runQueries(ctx, c, req.principal!, [body], () => 'body');
      return { results };
    },
  });

  app.post('/v1/collections/:name/search/batch', {
    schema: { tags: ['search'], summary: 'Several searches in one request', params: S.CollectionName, body: S.BatchSearch, response: { 200: S.BatchSearchResult, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      scopeOf(req.principal!, name, undefined);
      const c = ctx.collections.get(name);
      const results = await runQueries(ctx, c, req.principal!, (req.body as { searches: QueryBody[] }).searches, (i) => `searches[${i}]`);
      return { results };
    },
  });
}
