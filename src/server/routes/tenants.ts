/** Tenants of a collection: list, delete (admin key). Deleting a tenant also revokes its keys. */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import { requireAdmin } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';

export async function tenantRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;
  app.get('/v1/collections/:name/tenants', {
    schema: { tags: ['tenants'], summary: 'Tenants and their point counts (admin)', params: S.CollectionName, response: { 200: S.TenantList, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const c = ctx.collections.get((req.params as { name: string }).name);
      return { tenants: c.reader.built ? c.reader.listTenants().map((t) => ({ name: t.name, count: t.count })) : [] };
    },
  });

  app.delete('/v1/collections/:name/tenants/:tenant', {
    schema: { tags: ['tenants'], summary: 'Delete a tenant, all its points and its keys (admin)', params: S.TenantParams, response: { 200: S.TenantDeleted, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const { name, tenant } = req.params as { name: string; tenant: string };
      const c = ctx.collections.get(name);
      if (!c.reader.built || !c.reader.listTenants().some((t) => t.name === tenant)) throw createError('STRATA_UNKNOWN_TENANT', `collection ${JSON.stringify(name)} has no tenant ${JSON.stringify(tenant)}`, 'tenant');
      const r = await ctx.collections.write(c, { op: 'deleteTenant', dir: c.dir, tenant });
      const keysRevoked = ctx.catalog.removeTenantKeys(name, tenant);
      return { removed: r.removed ?? 0, keysRevoked };
    },
  });
}
