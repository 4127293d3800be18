/**
 * KV-cache routes: generate with retrieval and chunk-cache reuse, the cache's stats, and a chunk's
 * cache as a binary blob (entry-codec.ts format) for an external serving engine.
 */
import type { FastifyInstance } from 'fastify';
import { createError } from '../../errors.js';
import type { RetrievalMode } from '../../rag/corpus.js';
import type { RecomputeStrategy } from '../../kv/recompute.js';
import { corpusScopeOf, requireAdmin } from '../auth.js';
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
        const tenant = corpusScopeOf(p, b.corpus, b.tenant) ?? 'default';
        if (b.k > 0) {
          const corpus = await ctx.corpora.get(b.corpus);
          passages = (await corpus.retrieve(b.query, { tenant, k: b.k, mode: b.mode })).map((x) => ({ id: x.id, document: x.document.id, text: x.text }));
        }
      } else if (b.tenant !== undefined) {
        throw createError('STRATA_INVALID_REQUEST', 'tenant needs a corpus to retrieve from', 'tenant');
      }
      return ctx.kv.run(async (engine) => {
        const parts = engine.encodePrompt({ system: b.system, passages: passages.map((x) => x.text), question: b.query });
        const a = await engine.assemble(parts, { strategy: b.strategy, fraction: b.fraction });
        const tokens = await engine.generate(a, { maxTokens: b.maxTokens, temperature: b.temperature, seed: b.seed });
        return {
          text: engine.tokenizer.decode(tokens),
          tokens,
          passages: passages.map((x, i) => ({ id: x.id, document: x.document, chunkKey: engine.chunkKey(parts.chunks[i]) })),
          report: a.report,
        };
      });
    },
  });

  app.get('/v1/kv/stats', {
    schema: { tags: ['kv'], summary: 'The chunk and prefix stores: entries, bytes, hits per tier; the model\'s gate (admin)', response: { 200: S.KvStats, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const engine = await ctx.kv.get();
      return { model: engine.profile.name, rerotation: engine.gate.rerotation, gateRelError: engine.gate.relError, chunks: engine.chunks.stats(), prefixes: engine.prefixes.stats() };
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
