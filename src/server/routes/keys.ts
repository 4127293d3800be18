/** API keys: issue a tenant key, list keys, revoke (admin key); whoami (any key). A key's secret is shown once. */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import { generateKey, requireAdmin } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';

export async function keyRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;
  app.post('/v1/keys', {
    schema: { tags: ['keys'], summary: 'Issue a key bound to one tenant of one collection or corpus (admin)', body: S.CreateKey, response: { 201: S.CreatedKey, ...errorResponses() } },
    handler: async (req, reply) => {
      requireAdmin(req.principal!);
      const b = req.body as { collection?: string; corpus?: string; tenant: string; label?: string };
      if ((b.collection === undefined) === (b.corpus === undefined)) throw createError('STRATA_INVALID_REQUEST', 'name exactly one of collection and corpus', b.collection === undefined ? 'collection' : 'corpus');
      if (b.collection !== undefined) ctx.collections.get(b.collection); // 404 for an unknown collection
      else ctx.corpora.record(b.corpus as string); // 404 for an unknown corpus
      const { key, record } = generateKey('tenant', b);
      ctx.catalog.putKey(record);
      reply.code(201);
      return { id: record.id, key, ...(b.collection !== undefined ? { collection: b.collection } : { corpus: b.corpus }), tenant: b.tenant };
    },
  });

  app.get('/v1/whoami', {
    schema: { tags: ['keys'], summary: 'What the presented key may do: admin, or the tenant (and collection or corpus) it is bound to', response: { 200: S.WhoAmI, ...errorResponses() } },
    handler: async (req) => {
      const p = req.principal!;
      if (p.role === 'admin') return { role: 'admin', keyId: p.keyId };
      return { role: 'tenant', keyId: p.keyId, tenant: p.tenant, ...(p.collection !== undefined ? { collection: p.collection } : {}), ...(p.corpus !== undefined ? { corpus: p.corpus } : {}) };
    },
  });

  app.get('/v1/keys', {
    schema: { tags: ['keys'], summary: 'Every stored key, without secrets (admin)', response: { 200: S.KeyList, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      return { keys: ctx.catalog.listKeys() };
    },
  });

  app.delete('/v1/keys/:id', {
    schema: { tags: ['keys'], summary: 'Revoke a key (admin)', params: S.KeyParams, response: { 200: S.Status, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const { id } = req.params as { id: string };
      if (!ctx.catalog.removeKey(id)) throw createError('STRATA_KEY_NOT_FOUND', `no key with id ${JSON.stringify(id)}`, 'id');
      return { status: 'revoked' };
    },
  });
}
