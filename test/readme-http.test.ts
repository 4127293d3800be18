/**
 * The README's HTTP examples stay true: every `curl` line of the "HTTP service" section is run, in
 * order, against a real `strata serve` configuration (the defaults: bundled encoder and decoder) on
 * loopback, and must answer 2xx with real results.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startService, type TestService } from './server-helpers.js';

interface Curl {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** The curl commands of the README's HTTP section (backslash continuations joined). */
function readmeCurls(): Curl[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('<!-- readme-http:');
  const section = readme.slice(start, readme.indexOf('| route | who | what |', start));
  const joined = section.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('curl '))
    .map((line) => {
      const method = /-X(\w+)/.exec(line)?.[1] ?? 'GET';
      const path = (/localhost:8700(\S+)/.exec(line) as RegExpExecArray)[1];
      const headers: Record<string, string> = {};
      for (const m of line.matchAll(/-H (["'])(.*?)\1/g)) {
        const [k, v] = m[2].split(/:\s*/, 2);
        headers[k.toLowerCase()] = v.replace('$KEY', ADMIN_KEY);
      }
      const body = /-d '(.*?)'(?:\s|$)/.exec(line)?.[1];
      return { method, path, headers, ...(body !== undefined ? { body } : {}) };
    });
}

describe('the README\'s HTTP flow on the default configuration', () => {
  let s: TestService;
  let base: string;
  beforeAll(async () => {
    s = await startService({ embedThreads: 1 }); // default ragModel and kvModel
    base = await s.service.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => s.cleanup());

  it('runs every curl example with a 2xx answer and real results', async () => {
    const curls = readmeCurls();
    expect(curls.map((c) => c.path)).toEqual([
      '/v1/collections',
      '/v1/collections/docs/points',
      '/v1/collections/docs/search',
      '/v1/corpora',
      '/v1/corpora/stories/documents',
      '/v1/corpora/stories/retrieve',
      '/v1/kv/generate',
    ]);
    const answers: Record<string, any> = {};
    for (const c of curls) {
      const r = await fetch(base + c.path, { method: c.method, headers: c.headers, body: c.body });
      const json = await r.json();
      expect(r.status, `${c.method} ${c.path}: ${JSON.stringify(json)}`).toBeLessThan(300);
      answers[c.path] = json;
    }
    expect(answers['/v1/collections/docs/search'].results).toEqual([{ id: 1, tenant: 'acme', distance: expect.any(Number) }]);
    expect(answers['/v1/corpora/stories/documents']).toMatchObject({ documents: 2, chunksAdded: 2, embedded: 2 });
    expect(answers['/v1/corpora/stories/retrieve'].passages[0].document.id).toBe('max');
    const gen = answers['/v1/kv/generate'];
    expect(gen.tokens.length).toBeGreaterThan(0);
    expect(gen.text.length).toBeGreaterThan(0);
    expect(gen.passages[0].document).toBe('max');
    // The second call reuses the cached passage and prefix.
    const last = curls[curls.length - 1];
    const again = await (await fetch(base + last.path, { method: last.method, headers: last.headers, body: last.body })).json();
    expect(again.report.prefixReused).toBeGreaterThan(0);
    expect(again.tokens).toEqual(gen.tokens);
  });
});
