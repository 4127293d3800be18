/**
 * Corpora: the list (admin) or the key's own corpus (tenant), a corpus's counts, and retrieval —
 * type a question, see the passages with their document, dense and BM25 ranks and the fused score.
 */
import { api, type WhoAmI } from './api.js';
import { field, fmt, guarded, h, panel, show, submitted, table } from './dom.js';

interface Corpus {
  name: string;
  model: string;
  chunkTokens: number;
  overlapTokens: number;
  sharing: string;
  dimension?: number;
  documents?: number;
  passages?: number;
  tenants?: number;
}
interface Passage {
  id: string;
  score: number;
  text: string;
  document: { id: string; title?: string; start: number; end: number };
  ranks: { dense?: number; bm25?: number };
}

export async function corporaPage(main: HTMLElement, who: WhoAmI, selected?: string): Promise<void> {
  const errors = h('div');
  const detail = h('div');
  show(main, h('h1', {}, 'Corpora'), errors, detail);
  const names = await guarded(errors, async () => (who.role === 'admin' ? (await api<{ corpora: Corpus[] }>('/v1/corpora')).corpora.map((c) => c.name) : who.corpus ? [who.corpus] : []));
  if (!names) return;
  if (who.role === 'admin') main.insertBefore(createForm(), errors);
  if (names.length === 0) {
    show(errors, h('p', { class: 'empty' }, who.role === 'admin' ? 'No corpus yet: create one above, then add documents.' : 'This key is bound to a collection, not a corpus.'));
    return;
  }
  errors.append(h('nav', { class: 'tabs' }, ...names.map((n) => h('a', { href: `#/corpora/${n}`, class: n === selected ? 'active' : undefined }, n))));
  const name = selected ?? names[0];
  const corpus = await guarded(detail, () => api<Corpus>(`/v1/corpora/${name}`));
  if (!corpus) return;

  const query = h('input', { name: 'query', placeholder: 'a question', required: true, size: 60 });
  const k = h('input', { name: 'k', type: 'number', min: 1, max: 100, value: 5 });
  const mode = h('select', { name: 'mode' }, ...['hybrid', 'dense', 'bm25'].map((m) => h('option', { value: m }, m)));
  const tenant = h('input', { name: 'tenant', placeholder: who.role === 'tenant' ? (who.tenant ?? '') : 'default', disabled: who.role === 'tenant' });
  const out = h('div', { id: 'retrieve-result' });
  show(
    detail,
    h('h2', {}, `Corpus ${corpus.name}`),
    h(
      'p',
      { class: 'muted' },
      `model ${corpus.model.split('/').pop()}${corpus.dimension ? ` (${corpus.dimension} dimensions)` : ''}, chunks of ${corpus.chunkTokens} tokens (${corpus.overlapTokens} overlap), sharing: ${corpus.sharing}`,
      corpus.documents !== undefined ? ` — documents ${fmt.int(corpus.documents)}, passages ${fmt.int(corpus.passages)}${corpus.tenants !== undefined ? `, tenants ${fmt.int(corpus.tenants)}` : ''}` : '',
    ),
    documentsForm(corpus.name, who, () => corporaPage(main, who, corpus.name)),
    h(
      'form',
      {
        id: 'retrieve-form',
        onsubmit: submitted(async () => {
          const body: Record<string, unknown> = { query: query.value, k: Number(k.value), mode: mode.value };
          if (who.role === 'admin' && tenant.value) body.tenant = tenant.value;
          const r = await guarded(out, () => api<{ passages: Passage[] }>(`/v1/corpora/${corpus.name}/retrieve`, { body }));
          if (!r) return;
          show(
            out,
            r.passages.length
              ? table(
                  r.passages,
                  [
                    ['#', (p) => r.passages.indexOf(p) + 1],
                    ['document', (p) => h('span', { title: p.document.id }, p.document.title ?? p.document.id)],
                    ['dense rank', (p) => p.ranks.dense ?? '-'],
                    ['BM25 rank', (p) => p.ranks.bm25 ?? '-'],
                    ['score', (p) => fmt.num(p.score, 4)],
                    ['passage', (p) => h('div', { class: 'passage' }, p.text)],
                  ],
                  { id: 'passages' },
                )
              : h('p', { class: 'empty' }, 'no passages (nothing this key may see)'),
          );
        }),
      },
      field('question', query),
      h('div', { class: 'inline' }, field('k', k), field('mode', mode), field('tenant', tenant)),
      h('button', { type: 'submit' }, 'Retrieve'),
    ),
    out,
  );
}

function createForm(): HTMLElement {
  const name = h('input', { name: 'name', placeholder: 'handbook', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]*' });
  const chunkTokens = h('input', { name: 'chunkTokens', type: 'number', min: 8, max: 8192, value: 256 });
  const sharing = h('select', { name: 'sharing' }, h('option', { value: 'tenant' }, 'tenant (each tenant alone)'), h('option', { value: 'corpus' }, 'corpus (public documents)'));
  const out = h('div');
  return panel(
    'New corpus',
    h(
      'form',
      {
        class: 'inline',
        id: 'create-corpus',
        onsubmit: submitted(async () => {
          const ok = await guarded(out, () => api('/v1/corpora', { body: { name: name.value, chunkTokens: Number(chunkTokens.value), sharing: sharing.value } }));
          if (ok) location.hash = `#/corpora/${encodeURIComponent(name.value)}`;
        }),
      },
      field('name', name),
      field('chunk tokens', chunkTokens),
      field('sharing', sharing),
      h('button', { type: 'submit' }, 'Create corpus'),
    ),
    out,
  );
}

function documentsForm(corpus: string, who: WhoAmI, reload: () => void): HTMLElement {
  const id = h('input', { name: 'docId', placeholder: 'doc-1', required: true });
  const title = h('input', { name: 'title', placeholder: 'optional' });
  const text = h('textarea', { name: 'text', rows: 5, required: true, placeholder: 'The document text: it is chunked, embedded and indexed for dense and BM25 retrieval.' });
  const tenant = h('input', { name: 'tenant', placeholder: who.role === 'tenant' ? (who.tenant ?? '') : 'default', disabled: who.role === 'tenant' });
  const out = h('div');
  return panel(
    'Add a document',
    h(
      'form',
      {
        id: 'document-form',
        onsubmit: submitted(async () => {
          const body: Record<string, unknown> = { documents: [{ id: id.value, text: text.value, ...(title.value ? { title: title.value } : {}) }] };
          if (who.role === 'admin' && tenant.value) body.tenant = tenant.value;
          const r = await guarded(out, () => api<{ documents: number; replaced: number; chunksAdded: number; embedded: number; seconds: number }>(`/v1/corpora/${corpus}/documents`, { body }));
          if (r) {
            show(out, h('p', { class: 'ok', id: 'ingest-result' }, `${r.documents} document(s) (${r.replaced} replaced): ${r.chunksAdded} passages added, ${r.embedded} embedded in ${r.seconds.toFixed(2)} s`));
            setTimeout(reload, 800);
          }
        }),
      },
      h('div', { class: 'inline' }, field('id', id), field('title', title), field('tenant', tenant)),
      field('text', text),
      h('button', { type: 'submit' }, 'Add'),
    ),
    out,
  );
}
