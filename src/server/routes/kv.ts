/**
 * KV-cache routes: generate with retrieval and chunk-cache reuse, the cache's stats, and a chunk's
 * cache as a binary blob (entry-codec.ts format) for an external serving engine.
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import type { RetrievalMode } from '../../rag/corpus.js';
import type { RecomputeStrategy } from '../../kv/recompute.js';
import { DEFAULT_TENANT } from '../../index/tenants.js';
import { DEFAULT_KV_NAMESPACE } from '../../kv/chunk-store.js';
import { corpusScopeOf, requireAdmin, type Principal } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';

interface GenerateBody {
  query: string;
  corpus?: string;
  tenant?: string;
  k: number;
  mode: RetrievalMode;
  system: string;
  strategy: RecomputeStrategy;
  fraction: number;
  maxTokens: number;
  temperature: number;
  seed: number;
}

/**
 * The KV cache namespace a request works in (chunk-store.ts): the corpus tenant it retrieves for (the
 * corpus as a whole when its admin chose sharing 'corpus'); without a corpus, a tenant key's own
 * binding; the admin's requests without a corpus share the default namespace.
 */
async function namespaceOf(ctx: ServiceContext, p: Principal, corpus: string | undefined, tenant: string | undefined): Promise<string> {
  if (corpus !== undefined) return (await ctx.corpora.get(corpus)).kvNamespace(corpusScopeOf(p, corpus, tenant) ?? DEFAULT_TENANT);
  if (p.role === 'admin') return DEFAULT_KV_NAMESPACE;
  if (p.corpus !== undefined) return (await ctx.corpora.get(p.corpus)).kvNamespace(p.tenant);
  return JSON.stringify(['collection', p.collection, p.tenant]);
}

export async function kvRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;

  app.post('/v1/kv/generate', {
    schema: {
      tags: ['kv'],
      summary: 'Retrieve passages (optional corpus, in the key\'s tenant), assemble the prompt from cached chunk KV caches, generate',
      body: S.Generate,
      response: { 200: S.Generated, ...errorResponses() },
    },
    handler: async (req) => {
      const b = req.body as GenerateBody;
      const p = req.principal!;
      let passages: Array<{ id: string; document: string; text: string }> = [];
      if (b.corpus !== undefined) {
        const tenant = corpusScopeOf(p, b.corpus, b.tenant) ?? DEFAULT_TENANT;
        if (b.k > 0) {
          const corpus = await ctx.corpora.get(b.corpus);
          passages = (await corpus.retrieve(b.query, { tenant, k: b.k, mode: b.mode })).map((x) => ({ id: x.id, document: x.document.id, text: x.text }));
        }
      } else if (b.tenant !== undefined) {
        throw createError('STRATA_INVALID_REQUEST', 'tenant needs a corpus to retrieve from', 'tenant');
      }
      const namespace = await namespaceOf(ctx, p, b.corpus, b.tenant);
      return ctx.kv.run(async (engine) => {
        const parts = engine.encodePrompt({ system: b.system, passages: passages.map((x) => x.text), question: b.query });
        const a = await engine.assemble(parts, { strategy: b.strategy, fraction: b.fraction, namespace });
        const tokens = await engine.generate(a, { maxTokens: b.maxTokens, temperature: b.temperature, seed: b.seed });
        return {
          text: engine.tokenizer.decode(tokens),
          tokens,
          passages: passages.map((x, i) => ({ id: x.id, document: x.document, chunkKey: engine.chunkKey(parts.chunks[i], namespace) })),
          report: a.report,
        };
      });
    },
  });

  app.get('/v1/kv/stats', {
    schema: {
      tags: ['kv'],
      summary: 'The chunk and prefix stores: entries, bytes, hits per tier; the model\'s gate. The admin sees totals; a tenant key its own namespace only',
      response: { 200: S.KvStats, ...errorResponses() },
    },
    handler: async (req) => {
      const p = req.principal!;
      const engine = await ctx.kv.get();
      const gate = { model: engine.profile.name, rerotation: engine.gate.rerotation, gateRelError: engine.gate.relError };
      if (p.role === 'admin') return { ...gate, scope: 'all', chunks: engine.chunks.stats(), prefixes: engine.prefixes.stats() };
      const namespace = await namespaceOf(ctx, p, undefined, undefined);
      return { ...gate, scope: 'namespace', chunks: engine.chunks.stats(namespace), prefixes: engine.prefixes.stats(namespace) };
    },
  });

  app.get('/v1/kv/chunks/:key', {
    schema: {
      tags: ['kv'],
      summary: 'A cached chunk as application/octet-stream: header, token ids, statistics, per-layer K/V (fp16 by default; see src/kv/entry-codec.ts) (admin)',
      params: S.ChunkKeyParams,
      response: { 200: { type: 'string', format: 'binary', description: 'the stored entry' }, ...errorResponses() },
    },
    handler: async (req, reply) => {
      requireAdmin(req.principal!);
      const engine = await ctx.kv.get();
      const { key } = req.params as { key: string };
      const blob = engine.chunks.getBlob(key);
      if (!blob) throw createError('STRATA_KV_ENTRY_NOT_FOUND', `no cached chunk ${key}`, 'key');
      reply.type('application/octet-stream');
      return blob;
    },
  });
}
