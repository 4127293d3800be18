/**
 * The web console (src/console): its static files at /console/ (public: the page asks for a key and
 * keeps it in the browser session; every call it makes goes through the API's auth like curl's), the
 * last minutes of the service's metrics (admin; metrics-history.ts), and the benchmark results it
 * plots (any key): the JSON files under bench/results.
 *
 * Only the files the build produced are served — the page, its stylesheet and the compiled modules,
 * listed once at startup by name; nothing a URL names outside that list is read.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { createError } from '../../errors.js';
import { repoRoot } from '../../util/paths.js';
import { requireAdmin } from '../auth.js';
import type { ServiceContext } from '../context.js';
import { HISTORY_EVERY_MS } from '../metrics-history.js';
import { errorResponses } from '../schemas.js';

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' };

/** The console's files by URL name: the page and stylesheet from src/console, the modules tsc compiled into dist/src/console. */
function consoleFiles(): Map<string, { path: string; type: string }> {
  const root = repoRoot();
  const files = new Map<string, { path: string; type: string }>();
  const add = (dir: string, pattern: RegExp) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (pattern.test(name)) files.set(name, { path: join(dir, name), type: TYPES[name.slice(name.lastIndexOf('.') + 1)] });
    }
  };
  add(join(root, 'src', 'console'), /^[a-z-]+\.(html|css)$/);
  add(join(root, 'dist', 'src', 'console'), /^[a-z-]+\.js$/);
  return files;
}

/** Where `strata bench … --json` results are kept in a checkout. */
const RESULTS_DIR = join(repoRoot(), 'bench', 'results');
const RESULT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.json$/;

export async function consoleRoutes(app: FastifyInstance, ctx: ServiceContext): Promise<void> {
  const files = consoleFiles();
  const send = (name: string) => {
    const f = files.get(name);
    if (!f) throw createError('STRATA_ROUTE_NOT_FOUND', `no console file ${JSON.stringify(name)}`, 'url');
    return { body: readFileSync(f.path), type: f.type };
  };
  app.get('/console', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    const f = send('index.html');
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  });
  app.get('/console/:file', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const f = send((req.params as { file: string }).file);
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  });

  app.get('/v1/console/metrics', {
    schema: {
      tags: ['console'],
      summary: "The last ten minutes of the service's own metrics, sampled every 5 s: cumulative request-latency buckets, queries, shed, queue depths (admin)",
      response: {
        200: Type.Object({
          everyMs: Type.Integer(),
          bounds: Type.Array(Type.Union([Type.Number(), Type.Null()]), { description: 'bucket upper bounds in seconds; null = +Inf' }),
          samples: Type.Array(
            Type.Object({ t: Type.Integer(), requests: Type.Number(), queries: Type.Number(), shed: Type.Number(), pendingQueries: Type.Number(), pendingWrites: Type.Number(), buckets: Type.Array(Type.Number()) }),
          ),
        }),
        ...errorResponses(),
      },
    },
    handler: async (req) => {
      requireAdmin(req.principal!);
      const h = ctx.metrics.history;
      return { everyMs: HISTORY_EVERY_MS, bounds: h.bounds.map((b) => (Number.isFinite(b) ? b : null)), samples: h.samples };
    },
  });

  app.get('/v1/console/results', {
    schema: {
      tags: ['console'],
      summary: 'Benchmark result files (bench/results/*.json) the console can plot',
      response: { 200: Type.Object({ results: Type.Array(Type.Object({ name: Type.String(), bytes: Type.Integer() })) }), ...errorResponses() },
    },
    handler: async () => {
      if (!existsSync(RESULTS_DIR)) return { results: [] };
      const names = readdirSync(RESULTS_DIR).filter((n) => RESULT_NAME.test(n)).sort().reverse();
      return { results: names.map((name) => ({ name, bytes: statSync(join(RESULTS_DIR, name)).size })) };
    },
  });

  app.get('/v1/console/results/:file', {
    schema: { tags: ['console'], summary: 'One benchmark result file, as written by strata bench --json', params: Type.Object({ file: Type.String({ pattern: RESULT_NAME.source }) }), ...errorResponses() },
    handler: async (req, reply) => {
      const { file } = req.params as { file: string };
      const path = join(RESULTS_DIR, file);
      if (!existsSync(path)) throw createError('STRATA_RESULT_NOT_FOUND', `no result file ${JSON.stringify(file)} under bench/results`, 'file');
      return reply.type('application/json').send(readFileSync(path));
    },
  });
}
