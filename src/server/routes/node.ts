/**
 * A query node's routes (query-node.ts): list and describe the published collections, search them
 * (sent to the owner node of the collection — or of the tenant a search names — when that is
 * another node and it answers; here otherwise),
 * and write points and deletes to a collection's log on the store (acknowledged once the store
 * answered: durable whatever happens to this node next). Admin key only: a query node keeps no
 * tenant keys.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createError } from '../../errors.js';
import type { SearchOptions } from '../../index/spann.js';
import { requireAdmin } from '../auth.js';
import { readVector } from '../request-vectors.js';
import type { NodeCollection, StoreCollections } from '../node-collections.js';
import { LOG_SEQUENCE_HEADER, NODE_HEADER, type NodeRing } from '../node-ring.js';
import { errorResponses, type NodeQueryBody } from '../schemas.js';
import type { OpsContext } from './ops.js';

export interface NodeContext extends OpsContext {
  collections: StoreCollections;
  ring: NodeRing;
}

async function searchHere(c: NodeCollection, queries: NodeQueryBody[], field: (i: number) => string, mustSee: number) {
  const dim = c.index.dimension;
  const prepared = queries.map((q, i) => {
    const options: SearchOptions & { consistency?: 'strong' | 'eventual' } = { ...(q.params ?? {}) };
    if (q.tenant !== undefined) options.tenant = q.tenant;
    if (q.filter !== undefined) options.filter = q.filter as SearchOptions['filter'];
    if (q.consistency !== undefined) options.consistency = q.consistency;
    return { vector: readVector(q.vector, dim, `${field(i)}.vector`), k: q.k ?? 10, options };
  });
  // A strong read refreshes the log once for the whole batch, then every query searches; so does
  // any read after this node's own writes until the log was read past them (read-your-writes).
  if (prepared.some((q) => q.options.consistency === 'strong') || c.index.logSequence < mustSee) await c.index.refreshLog();
  let fetchRounds = 0;
  const results = await Promise.all(
    prepared.map(async (q) => {
      const { consistency: _, ...options } = q.options;
      const r = await c.index.search(q.vector, q.k, options);
      fetchRounds = Math.max(fetchRounds, r.fetchRounds);
      return Array.from(r.ids, (id, j) => ({ id, distance: r.distances[j] }));
    }),
  );
  return { results, fetchRounds };
}

export async function nodeRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const S = ctx.schemas;
  const { collections, ring } = ctx;

  /** Answer from the owner when it is another node that answers; else search here. */
  async function routed(req: FastifyRequest, reply: FastifyReply, queries: NodeQueryBody[], field: (i: number) => string) {
    requireAdmin(req.principal!);
    const { name } = req.params as { name: string };
    const written = collections.lastWrite(name);
    // A tenant's queries have an owner of their own, so a collection's large tenants spread over the nodes.
    const tenant = queries[0].tenant;
    const key = tenant !== undefined && queries.every((q) => q.tenant === tenant) ? `${name}/${tenant}` : name;
    const forwarded = await ring.forward(key, req.url, req.headers, req.body, written);
    if (forwarded) {
      reply.code(forwarded.status).header(NODE_HEADER, forwarded.node);
      return { forwarded: forwarded.body };
    }
    const c = await collections.get(name);
    const asked = Number(req.headers[LOG_SEQUENCE_HEADER]);
    const answer = await searchHere(c, queries, field, Math.max(written, Number.isSafeInteger(asked) ? asked : 0));
    ctx.metrics.queries.inc({ collection: name }, queries.length);
    reply.header(NODE_HEADER, ring.self);
    return { here: answer };
  }

  const describe = (name: string, c?: NodeCollection) => ({ name, owner: ring.ownerOf(name), open: c !== undefined, ...(c ? { ...c.index.describe(), cache: { ...c.index.cacheStats } } : {}) });

  app.get('/v1/collections', {
    schema: { tags: ['collections'], summary: 'The collections published under the node\'s store prefix (admin)', response: { 200: S.NodeCollectionList, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const open = new Map((await collections.opened()).map((c) => [c.name, c]));
      return { collections: (await collections.names(true)).map((n) => describe(n, open.get(n))) };
    },
  });

  app.get('/v1/collections/:name', {
    schema: { tags: ['collections'], summary: 'A collection as this node serves it: manifest, log tail, cache (admin)', params: S.CollectionName, response: { 200: S.NodeCollection, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const { name } = req.params as { name: string };
      return describe(name, await collections.get(name));
    },
  });

  app.post('/v1/collections', {
    schema: { tags: ['collections'], summary: 'Not on a query node: collections are published to the store', response: errorResponses() },
    handler: async () => {
      throw createError('STRATA_INVALID_REQUEST', 'a query node serves the indexes published under its store prefix: build one (strata index build) and publish it (strata index publish DIR --store s3://bucket/prefix/<name>)', 'url');
    },
  });

  app.post('/v1/collections/:name/search', {
    schema: { tags: ['search'], summary: 'k nearest points of one vector (on the collection\'s owner node when it answers)', params: S.CollectionName, body: S.NodeQuery, response: { 200: S.NodeSearchResult, ...errorResponses(502) } },
    handler: async (req, reply) => {
      const a = await routed(req, reply, [req.body as NodeQueryBody], () => 'body');
      return a.here ? { results: a.here.results[0], fetchRounds: a.here.fetchRounds } : a.forwarded;
    },
  });

  app.post('/v1/collections/:name/search/batch', {
    schema: { tags: ['search'], summary: 'Several searches in one request', params: S.CollectionName, body: S.NodeBatchSearch, response: { 200: S.NodeBatchSearchResult, ...errorResponses(502) } },
    handler: async (req, reply) => {
      const a = await routed(req, reply, (req.body as { searches: NodeQueryBody[] }).searches, (i) => `searches[${i}]`);
      return a.here ?? a.forwarded;
    },
  });

  app.post('/v1/collections/:name/points', {
    schema: { tags: ['points'], summary: "Upsert points into the collection's log on the store (durable when answered; searched exactly until the indexer applies the log)", params: S.CollectionName, body: S.NodeUpsert, response: { 200: S.NodeWriteResult, ...errorResponses(409, 502) } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const { name } = req.params as { name: string };
      const c = await collections.get(name);
      const points = (req.body as { points: Array<{ id: number; vector: number[] }> }).points;
      const dim = c.index.dimension;
      const vectors = new Float32Array(points.length * dim);
      const seen = new Set<number>();
      points.forEach((p, i) => {
        if (seen.has(p.id)) throw createError('STRATA_INVALID_ID', `points[${i}].id repeats an earlier point in this request`, `points[${i}].id`);
        seen.add(p.id);
        readVector(p.vector, dim, `points[${i}].vector`, vectors, i * dim);
      });
      const seq = await c.writer.insert(Uint32Array.from(points, (p) => p.id), vectors);
      collections.recordWrite(name, seq);
      ctx.metrics.writes.inc({ collection: name, op: 'upsert' }, points.length);
      return { accepted: points.length, logSequence: seq };
    },
  });

  app.post('/v1/collections/:name/points/delete', {
    schema: { tags: ['points'], summary: "Delete points by id through the collection's log (durable when answered)", params: S.CollectionName, body: S.NodeIds, response: { 200: S.NodeWriteResult, ...errorResponses(409, 502) } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const { name } = req.params as { name: string };
      const c = await collections.get(name);
      const ids = (req.body as { ids: number[] }).ids;
      if (new Set(ids).size !== ids.length) throw createError('STRATA_INVALID_ID', 'ids repeat', 'ids');
      const seq = await c.writer.delete(ids);
      collections.recordWrite(name, seq);
      ctx.metrics.writes.inc({ collection: name, op: 'delete' }, ids.length);
      return { accepted: ids.length, logSequence: seq };
    },
  });
}
