/**
 * Chunk KV cache: the model and its re-rotation gate, entries / bytes / hits per tier (the admin sees
 * totals, a tenant key its own namespace), and generation — a question (optionally retrieving from a
 * corpus), a recompute strategy and fraction; the answer, the TTFT report and where each passage's
 * K/V came from.
 */
import { api, type WhoAmI } from './api.js';
import { field, fmt, guarded, h, show, submitted, table } from './dom.js';

interface Tier {
  entries: number;
  bytes: number;
  budget?: number;
  hits: number;
}
interface StoreStats {
  policy: string;
  dtype: string;
  lookups: number;
  misses: number;
  hitRate: number;
  memory: Tier;
  disk: Tier;
}
interface KvStats {
  model: string;
  rerotation: boolean;
  gateRelError: number;
  scope: string;
  chunks: StoreStats;
  prefixes: StoreStats;
}
interface Report {
  strategy: string;
  promptTokens: number;
  prefixReused: number;
  chunkHits: number;
  chunkMisses: number;
  chunkSources: string[];
  reusedTokens: number;
  recomputedTokens: number;
  onnxCalls: number;
  ttftMs: number;
  lookupMs: number;
  rotateMs: number;
  computeMs: number;
  probeMs: number;
  storeMs: number;
}

const STRATEGIES = ['cache-craft', 'kv-deviation', 'first-k', 'none', 'full'];

export async function kvPage(main: HTMLElement, who: WhoAmI): Promise<void> {
  const errors = h('div');
  const stats = h('div', { id: 'kv-stats' });
  show(main, h('h1', {}, 'Chunk KV cache'), errors, stats);
  const s = await guarded(errors, () => api<KvStats>('/v1/kv/stats'));
  if (s) {
    const tiers = (name: string, t: StoreStats) => [
      { store: name, tier: 'memory', ...t.memory, rate: t.lookups ? t.memory.hits / t.lookups : 0 },
      { store: name, tier: 'disk', ...t.disk, rate: t.lookups ? t.disk.hits / t.lookups : 0 },
    ];
    show(
      stats,
      h(
        'p',
        {},
        `model ${s.model} — re-rotation gate `,
        h('span', { class: s.rerotation ? 'badge ok' : 'badge bad', id: 'gate' }, s.rerotation ? 'passed' : 'failed (prefix reuse only)'),
        ` (relative error ${s.gateRelError.toExponential(1)}); ${s.scope === 'all' ? 'every namespace' : 'this key\u2019s namespace only'}`,
      ),
      table(
        [...tiers('chunks', s.chunks), ...tiers('prefixes', s.prefixes)],
        [
          ['store', (r) => r.store],
          ['tier', (r) => r.tier],
          ['entries', (r) => fmt.int(r.entries)],
          ['bytes', (r) => fmt.bytes(r.bytes)],
          ['budget', (r) => (r.budget ? fmt.bytes(r.budget) : '-')],
          ['hits', (r) => fmt.int(r.hits)],
          ['hit rate', (r) => `${(100 * r.rate).toFixed(1)}%`],
        ],
      ),
      h('p', { class: 'muted' }, `chunk lookups ${fmt.int(s.chunks.lookups)}, hit rate ${(100 * s.chunks.hitRate).toFixed(1)}% (${s.chunks.policy}, ${s.chunks.dtype})`),
    );
  }

  const corpora = who.role === 'admin' ? ((await guarded(errors, () => api<{ corpora: Array<{ name: string }> }>('/v1/corpora')))?.corpora.map((c) => c.name) ?? []) : who.corpus ? [who.corpus] : [];
  const query = h('input', { name: 'query', required: true, size: 60, value: 'Once upon a time' });
  const corpus = h('select', { name: 'corpus' }, h('option', { value: '' }, '(no retrieval)'), ...corpora.map((c, i) => h('option', { value: c, selected: i === 0 }, c)));
  const k = h('input', { name: 'k', type: 'number', min: 0, max: 16, value: 3 });
  const strategy = h('select', { name: 'strategy' }, ...STRATEGIES.map((x) => h('option', { value: x }, x)));
  const fraction = h('input', { name: 'fraction', type: 'number', min: 0, max: 1, step: 0.05, value: 0.15 });
  const maxTokens = h('input', { name: 'maxTokens', type: 'number', min: 1, max: 512, value: 48 });
  const out = h('div', { id: 'generate-result' });
  main.append(
    h('h2', {}, 'Generate'),
    h(
      'form',
      {
        id: 'generate-form',
        onsubmit: submitted(async () => {
          const body: Record<string, unknown> = { query: query.value, strategy: strategy.value, fraction: Number(fraction.value), maxTokens: Number(maxTokens.value), k: Number(k.value) };
          if (corpus.value) body.corpus = corpus.value;
          const r = await guarded(out, () => api<{ text: string; passages: Array<{ id: string; document: string; chunkKey: string }>; report: Report }>('/v1/kv/generate', { body }));
          if (!r) return;
          const rep = r.report;
          show(
            out,
            h('blockquote', { id: 'generated' }, r.text),
            h(
              'div',
              { class: 'explain', id: 'ttft' },
              h('span', {}, 'TTFT ', h('strong', {}, `${fmt.num(rep.ttftMs, 1)} ms`)),
              h('span', {}, `lookup ${fmt.num(rep.lookupMs, 1)}`),
              h('span', {}, `rotate ${fmt.num(rep.rotateMs, 1)}`),
              h('span', {}, `model ${fmt.num(rep.computeMs, 1)}`),
              h('span', {}, `probe ${fmt.num(rep.probeMs, 1)}`),
              h('span', {}, `ONNX calls ${rep.onnxCalls}`),
              h('span', {}, `${rep.promptTokens} prompt tokens: prefix ${rep.prefixReused}, reused ${rep.reusedTokens}, recomputed ${rep.recomputedTokens}`),
            ),
            r.passages.length
              ? table(
                  r.passages.map((p, i) => ({ ...p, source: rep.chunkSources[i] ?? '-' })),
                  [
                    ['passage', (p) => p.id.slice(0, 12)],
                    ['document', (p) => p.document],
                    ['K/V', (p) => h('span', { class: `badge ${p.source === 'computed' ? 'bad' : 'ok'}` }, p.source === 'cached' ? 'reused (re-rotated)' : p.source === 'prefix' ? 'reused (prefix)' : 'computed, now stored')],
                  ],
                  { id: 'chunk-sources' },
                )
              : null,
          );
        }),
      },
      field('question', query),
      h('div', { class: 'inline' }, field('corpus', corpus), field('passages', k), field('strategy', strategy), field('recompute fraction', fraction), field('tokens', maxTokens)),
      h('button', { type: 'submit' }, 'Generate'),
    ),
    out,
  );
}
