/**
 * RAG routes: corpora (admin creates, lists, drops), documents in (ingest, get, delete) and passages
 * out (retrieve). A tenant key bound to a corpus acts only in its tenant there, whatever the body says.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createError } from '../../errors.js';
import type { RagDocument } from '../../rag/documents.js';
import { DEFAULT_TENANT } from '../../index/tenants.js';
import type { RetrieveOptions } from '../../rag/corpus.js';
import type { CorpusSharing } from '../../rag/passage-store.js';
import { corpusScopeOf, requireAdmin } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { errorResponses } from '../schemas.js';

export async function corpusRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const S = ctx.schemas;
  const corpora = ctx.corpora;

  app.post('/v1/corpora', {
    schema: { tags: ['rag'], summary: 'Create a corpus embedded with the service\'s encoder (admin)', body: S.CreateCorpus, response: { 201: S.Corpus, ...errorResponses(409) } },
    handler: async (req, reply) => {
      requireAdmin(req.principal!);
      const b = req.body as { name: string; chunkTokens: number; overlapTokens: number; sharing: CorpusSharing };
      if (b.overlapTokens >= b.chunkTokens) throw createError('STRATA_INVALID_OPTION', `overlapTokens must be < chunkTokens, got ${b.overlapTokens} >= ${b.chunkTokens}`, 'overlapTokens');
      const { record, corpus } = await corpora.create(b.name, { maxTokens: b.chunkTokens, overlapTokens: b.overlapTokens }, b.sharing);
      reply.code(201);
      return { ...record, dimension: corpus.dimension, documents: 0, passages: 0, tenants: 0 };
    },
  });

  app.get('/v1/corpora', {
    schema: { tags: ['rag'], summary: 'Every corpus (admin)', response: { 200: S.CorpusList, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      return { corpora: corpora.list() };
    },
  });

  app.get('/v1/corpora/:name', {
    schema: { tags: ['rag'], summary: 'A corpus and its sizes (documents/passages of the key\'s tenant for a tenant key)', params: S.CorpusName, response: { 200: S.Corpus, ...errorResponses() } },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const tenant = corpusScopeOf(req.principal!, name, undefined);
      const corpus = await corpora.get(name);
      const rec = corpora.record(name);
      if (tenant !== undefined) return { ...rec, dimension: corpus.dimension, documents: corpus.store.hasTenant(tenant) ? corpus.listDocuments({ tenant }).length : 0 };
      const s = corpus.stats();
      return { ...rec, dimension: s.dimension, documents: s.documents, passages: s.chunks, tenants: s.tenants };
    },
  });

  app.delete('/v1/corpora/:name', {
    schema: { tags: ['rag'], summary: 'Drop a corpus, its data and its keys (admin)', params: S.CorpusName, response: { 200: S.Status, ...errorResponses() } },
    handler: async (req) => {
      requireAdmin(req.principal!);
      await corpora.drop((req.params as { name: string }).name);
      return { status: 'dropped' };
    },
  });

  app.post('/v1/corpora/:name/documents', {
    schema: {
      tags: ['rag'],
      summary: 'Ingest documents into a tenant: chunk, embed (worker pool), store once, index; a known id is replaced',
      params: S.CorpusName,
      body: S.Ingest,
      response: { 200: S.IngestReport, ...errorResponses() },
    },
    handler: async (req) => {
      const { name } = req.params as { name: string };
      const b = req.body as { tenant?: string; documents: RagDocument[] };
      const tenant = corpusScopeOf(req.principal!, name, b.tenant) ?? DEFAULT_TENANT;
      const corpus = await corpora.get(name);
      return corpora.write(() => corpus.ingest(b.documents, { tenant }));
    },
  });

  app.get('/v1/corpora/:name/documents/:id', {
    schema: { tags: ['rag'], summary: 'A stored document: metadata and its passages\' spans', params: S.DocumentParams, querystring: S.TenantQuery, response: { 200: S.DocumentOut, ...errorResponses() } },
    handler: async (req) => {
      const { name, id } = req.params as { name: string; id: string };
      const tenant = corpusScopeOf(req.principal!, name, (req.query as { tenant?: string }).tenant) ?? DEFAULT_TENANT;
      const doc = (await corpora.get(name)).getDocument(id, { tenant });
      if (!doc) throw createError('STRATA_DOCUMENT_NOT_FOUND', `no document ${JSON.stringify(id)} in tenant ${JSON.stringify(tenant)}`, 'id');
      return doc;
    },
  });

  app.delete('/v1/corpora/:name/documents/:id', {
    schema: { tags: ['rag'], summary: 'Remove a document and the passages only it held', params: S.DocumentParams, querystring: S.TenantQuery, response: { 200: S.Removed, ...errorResponses() } },
    handler: async (req) => {
      const { name, id } = req.params as { name: string; id: string };
      const tenant = corpusScopeOf(req.principal!, name, (req.query as { tenant?: string }).tenant) ?? DEFAULT_TENANT;
      const corpus = await corpora.get(name);
      const removed = await corpora.write(() => corpus.removeDocuments([id], { tenant }));
      if (removed === 0) throw createError('STRATA_DOCUMENT_NOT_FOUND', `no document ${JSON.stringify(id)} in tenant ${JSON.stringify(tenant)}`, 'id');
      return { removed };
    },
  });

  app.post('/v1/corpora/:name/retrieve', {
    schema: { tags: ['rag'], summary: 'Passages for a question: dense, BM25 or hybrid, in the key\'s tenant', params: S.CorpusName, body: S.Retrieve, response: { 200: S.RetrieveResult, ...errorResponses() } },
    handler: async (req) => {
      const [passages] = await retrieve(req, [(req.body as { query: string }).query]);
      return { passages };
    },
  });

  app.post('/v1/corpora/:name/retrieve/batch', {
    schema: { tags: ['rag'], summary: 'Passages for several questions with the same options (embedded in one batch)', params: S.CorpusName, body: S.RetrieveBatch, response: { 200: S.RetrieveBatchResult, ...errorResponses() } },
    handler: async (req) => ({ results: await retrieve(req, (req.body as { queries: string[] }).queries) }),
  });

  /** The questions' passages in the key's tenant, with the body's options. */
  async function retrieve(req: FastifyRequest, queries: string[]) {
    const { name } = req.params as { name: string };
    const b = req.body as RetrieveOptions & { query?: string; queries?: string[]; params?: RetrieveOptions['search'] };
    const tenant = corpusScopeOf(req.principal!, name, b.tenant) ?? DEFAULT_TENANT;
    const corpus = await corpora.get(name);
    const { query: _q, queries: _qs, params, ...rest } = b;
    return corpus.retrieveMany(queries, { ...rest, tenant, ...(params ? { search: params } : {}) });
  }
}
