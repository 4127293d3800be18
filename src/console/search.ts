/**
 * Search playground: a collection, a vector (pasted, or a stored point's), k, tenant, a filter in
 * the JSON filter language, recall target or lists; the hits with distances and (admin) how the
 * search ran — plan, vectors allowed, lists probed, bytes read. The service's coded errors show
 * under the form with the field they name.
 */
import { ApiError, api, type WhoAmI } from './api.js';
import { errorBox, field, fmt, guarded, h, show, submitted, table } from './dom.js';

interface Hit {
  id: number;
  tenant: string;
  distance: number;
}
interface Explain {
  plan: string;
  matched: number;
  listsProbed: number;
  vectorsScanned: number;
  bytesRead: number;
  milliseconds: number;
}

export async function searchPage(main: HTMLElement, who: WhoAmI, selected?: string): Promise<void> {
  const errors = h('div');
  show(main, h('h1', {}, 'Search'), errors);
  const names = await guarded(errors, async () => (who.role === 'admin' ? (await api<{ collections: Array<{ name: string }> }>('/v1/collections')).collections.map((c) => c.name) : who.collection ? [who.collection] : []));
  if (!names) return;
  if (names.length === 0) {
    show(errors, h('p', { class: 'empty' }, 'No collection to search: create one under Collections.'));
    return;
  }
  const collection = h('select', { name: 'collection' }, ...names.map((n) => h('option', { value: n, selected: n === selected }, n)));
  const vector = h('textarea', { name: 'vector', rows: 3, placeholder: '[0.1, 0.2, …] as many numbers as the collection has dimensions', spellcheck: false });
  const pointId = h('input', { name: 'pointId', type: 'number', min: 0, placeholder: 'id' });
  const k = h('input', { name: 'k', type: 'number', min: 1, max: 1000, value: 10 });
  const tenant = h('input', { name: 'tenant', placeholder: who.role === 'tenant' ? (who.tenant ?? '') : 'every tenant', value: who.role === 'tenant' ? who.tenant : undefined, disabled: who.role === 'tenant' });
  const filter = h('textarea', { name: 'filter', rows: 2, placeholder: '{"color": {"$in": ["red", "blue"]}, "price": {"$lt": 20}}', spellcheck: false });
  const targetRecall = h('input', { name: 'targetRecall', type: 'number', step: 0.01, min: 0.01, max: 1, placeholder: '0.95' });
  const out = h('div', { id: 'search-result' });

  const usePoint = async () => {
    const q = new URLSearchParams({ vector: 'true' });
    if (who.role === 'admin' && tenant.value) q.set('tenant', tenant.value);
    const p = await guarded(out, () => api<{ vector: number[] }>(`/v1/collections/${collection.value}/points/${pointId.value}?${q}`));
    if (p) vector.value = JSON.stringify(p.vector.map((v) => Number(v.toPrecision(6))));
  };

  const run = async () => {
    const body: Record<string, unknown> = { k: Number(k.value) };
    try {
      body.vector = JSON.parse(vector.value);
    } catch {
      show(out, errorBox(new ApiError(400, 'STRATA_INVALID_REQUEST', 'the vector is not a JSON array of numbers', 'vector')));
      return;
    }
    if (filter.value.trim()) {
      try {
        body.filter = JSON.parse(filter.value);
      } catch (err) {
        show(out, errorBox(new ApiError(400, 'STRATA_INVALID_FILTER', `the filter is not JSON: ${(err as Error).message}`, 'filter')));
        return;
      }
    }
    if (who.role === 'admin' && tenant.value) body.tenant = tenant.value;
    if (targetRecall.value) body.params = { targetRecall: Number(targetRecall.value) };
    if (who.role === 'admin') body.explain = true;
    const r = await guarded(out, () => api<{ results: Hit[]; explain?: Explain }>(`/v1/collections/${collection.value}/search`, { body }));
    if (!r) return;
    show(
      out,
      r.explain
        ? h(
            'div',
            { class: 'explain', id: 'explain' },
            h('span', {}, 'plan ', h('strong', {}, r.explain.plan)),
            h('span', {}, `allowed ${fmt.int(r.explain.matched)}`),
            h('span', {}, `lists probed ${fmt.int(r.explain.listsProbed)}`),
            h('span', {}, `vectors scanned ${fmt.int(r.explain.vectorsScanned)}`),
            h('span', {}, `read ${fmt.bytes(r.explain.bytesRead)}`),
            h('span', {}, `${fmt.num(r.explain.milliseconds, 2)} ms`),
          )
        : null,
      r.results.length
        ? table(
            r.results,
            [
              ['#', (x) => r.results.indexOf(x) + 1],
              ['id', (x) => x.id],
              ['tenant', (x) => x.tenant],
              ['distance', (x) => fmt.num(x.distance, 5)],
            ],
            { id: 'hits' },
          )
        : h('p', { class: 'empty', id: 'hits-empty' }, 'no hits (nothing this key may see matches)'),
    );
  };

  main.append(
    h(
      'form',
      { id: 'search-form', onsubmit: submitted(run) },
      field('collection', collection),
      field('vector', vector),
      h('div', { class: 'inline' }, field('or a stored point', pointId), h('button', { type: 'button', onclick: usePoint }, 'Use its vector')),
      h('div', { class: 'inline' }, field('k', k), field('tenant', tenant), field('target recall', targetRecall)),
      field('filter', filter, 'the JSON filter language: {"field": value}, $in, $nin, $ne, $gt, $gte, $lt, $lte, $and, $or, $not (needs a tenant)'),
      h('button', { type: 'submit' }, 'Search'),
    ),
    out,
  );
}
