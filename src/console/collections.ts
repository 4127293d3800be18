/**
 * Collections and tenants: the list (admin) or the key's own collection (tenant), a collection's
 * stats, tenants, health report, points by id, upserts; create, compact, rebuild and delete (admin,
 * the destructive ones after a confirmation naming the collection).
 */
import { api, type WhoAmI } from './api.js';
import { errorBox, field, fmt, guarded, h, panel, show, submitted, table } from './dom.js';

interface Collection {
  name: string;
  dimension: number;
  metric: string;
  spec: string;
  state?: string;
  points: number;
  heads?: number;
  tenants?: number;
  tombstones?: number;
  diskBytes?: number;
  generation?: number;
  rebuilding?: boolean;
  tenant?: string;
}
interface Health {
  count: number;
  heads: number;
  postingEntries: number;
  replicasPerVector: number;
  deadEntries: number;
  postingLimit: number;
  listLengths: { bounds: number[]; lists: number[]; min: number; median: number; max: number };
  orphanedIds: number;
  overCap: number;
  problems: string[];
}

export async function collectionsPage(main: HTMLElement, who: WhoAmI, selected?: string): Promise<void> {
  const errors = h('div');
  const list = h('div');
  const detail = h('div', { id: 'collection-detail' });
  show(main, h('h1', {}, 'Collections'), errors, who.role === 'admin' ? createForm(() => collectionsPage(main, who)) : null, list, detail);
  const collections = await guarded(errors, async () =>
    who.role === 'admin' ? (await api<{ collections: Collection[] }>('/v1/collections')).collections : who.collection ? [await api<Collection>(`/v1/collections/${who.collection}`)] : [],
  );
  if (!collections) return;
  if (collections.length === 0) {
    show(list, h('p', { class: 'empty' }, who.role === 'admin' ? 'No collection yet: create one above.' : 'This key is bound to a corpus, not a collection: see Corpora.'));
    return;
  }
  const columns: Array<[string, (c: Collection) => Node | string | number]> = [
    ['name', (c) => h('a', { href: `#/collections/${c.name}` }, c.name)],
    ['dimension', (c) => c.dimension],
    ['metric', (c) => c.metric],
    ['points', (c) => fmt.int(c.points)],
  ];
  if (who.role === 'admin') {
    columns.push(['heads', (c) => fmt.int(c.heads)], ['tenants', (c) => fmt.int(c.tenants)], ['tombstones', (c) => fmt.int(c.tombstones)], ['disk', (c) => fmt.bytes(c.diskBytes)], ['generation', (c) => c.generation ?? '-'], ['state', (c) => (c.rebuilding ? 'rebuilding' : (c.state ?? '-'))]);
  } else {
    columns.push(['tenant', (c) => c.tenant ?? '-']);
  }
  show(list, table(collections, columns, { id: 'collections-table' }));
  const name = selected ?? (collections.length === 1 ? collections[0].name : undefined);
  const chosen = collections.find((c) => c.name === name);
  if (chosen) await collectionDetail(detail, who, chosen, () => collectionsPage(main, who, chosen.name));
}

function createForm(done: () => void): HTMLElement {
  const name = h('input', { name: 'name', placeholder: 'products', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]*' });
  const dimension = h('input', { name: 'dimension', type: 'number', min: 1, value: 8, required: true });
  const metric = h('select', { name: 'metric' }, h('option', { value: 'l2' }, 'l2'), h('option', { value: 'cosine' }, 'cosine'), h('option', { value: 'ip' }, 'ip'));
  const out = h('div');
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'create-collection',
      onsubmit: submitted(async () => {
        const ok = await guarded(out, () => api('/v1/collections', { body: { name: name.value, dimension: Number(dimension.value), metric: metric.value } }));
        if (ok) done();
      }),
    },
    field('name', name),
    field('dimension', dimension),
    field('metric', metric),
    h('button', { type: 'submit' }, 'Create collection'),
  );
  return panel('New collection', form, out);
}

async function collectionDetail(el: HTMLElement, who: WhoAmI, c: Collection, reload: () => void): Promise<void> {
  const admin = who.role === 'admin';
  const actions = h('div', { class: 'actions' });
  const status = h('div');
  const tenants = h('div');
  const health = h('div');
  show(
    el,
    h('h2', {}, `Collection ${c.name}`),
    h('p', { class: 'muted' }, `${c.dimension} dimensions, ${c.metric}, ${c.spec}`, who.role === 'tenant' ? ` — tenant ${who.tenant}: ${fmt.int(c.points)} points` : ''),
    actions,
    status,
    upsertForm(c, who, reload),
    pointsBrowser(c, who),
    pointLookup(c, who),
    tenants,
    health,
  );
  if (admin) {
    const confirmThen = (what: string, run: () => Promise<unknown>) => async () => {
      const typed = prompt(`${what} collection "${c.name}"? Type its name to confirm.`);
      if (typed !== c.name) return;
      const ok = await guarded(status, run);
      if (ok !== undefined) reload();
    };
    show(
      actions,
      h('button', { onclick: confirmThen('Compact', () => api(`/v1/collections/${c.name}/compact`, { method: 'POST' })) }, 'Compact'),
      h('button', { onclick: confirmThen('Rebuild', () => api(`/v1/collections/${c.name}/rebuild`, { method: 'POST' })) }, 'Rebuild'),
      h('button', { class: 'danger', onclick: confirmThen('Delete', () => api(`/v1/collections/${c.name}`, { method: 'DELETE' })) }, 'Delete…'),
      h('a', { class: 'button', href: `#/search/${c.name}` }, 'Search →'),
    );
    const list = await guarded(tenants, () => api<{ tenants: Array<{ name: string; count: number }> }>(`/v1/collections/${c.name}/tenants`));
    const dropTenant = (tenant: string) => async () => {
      if (prompt(`Delete tenant "${tenant}" of ${c.name}: all its points and its keys? Type the tenant's name to confirm.`) !== tenant) return;
      const ok = await guarded(status, () => api(`/v1/collections/${c.name}/tenants/${encodeURIComponent(tenant)}`, { method: 'DELETE' }));
      if (ok !== undefined) reload();
    };
    if (list) {
      show(
        tenants,
        h('h3', {}, 'Tenants'),
        list.tenants.length
          ? table(
              list.tenants,
              [
                ['tenant', (t) => t.name],
                ['points', (t) => fmt.int(t.count)],
                ['', (t) => h('button', { class: 'danger small', onclick: dropTenant(t.name) }, 'Delete…')],
              ],
              { id: 'tenants-table' },
            )
          : h('p', { class: 'empty' }, 'none yet'),
      );
    }
    if (c.state === 'built') {
      const report = await guarded(health, () => api<Health>(`/v1/collections/${c.name}/health`));
      if (report) show(health, healthView(report));
    }
  } else {
    show(actions, h('a', { class: 'button', href: `#/search/${c.name}` }, 'Search →'));
  }
}

function healthView(r: Health): HTMLElement {
  const max = Math.max(1, ...r.listLengths.lists);
  const bars = r.listLengths.lists.map((n, i) =>
    h('div', { class: 'bar-row' }, h('span', { class: 'bar-label' }, `${r.listLengths.bounds[i]}${i + 1 < r.listLengths.bounds.length ? `–${r.listLengths.bounds[i + 1] - 1}` : '+'}`), h('span', { class: 'bar', style: `width:${(100 * n) / max}%` }), h('span', {}, fmt.int(n))),
  );
  return h(
    'section',
    { id: 'health' },
    h('h3', {}, 'Health ', h('span', { class: r.problems.length ? 'badge bad' : 'badge ok' }, r.problems.length ? `${r.problems.length} problem(s)` : 'healthy')),
    table(
      [
        ['live vectors', fmt.int(r.count)],
        ['heads (in memory)', fmt.int(r.heads)],
        ['posting entries', fmt.int(r.postingEntries)],
        ['replicas per vector', fmt.num(r.replicasPerVector, 2)],
        ['tombstoned entries', fmt.int(r.deadEntries)],
        ['list length min / median / max', `${r.listLengths.min} / ${r.listLengths.median} / ${r.listLengths.max} (limit ${r.postingLimit})`],
        ['lists over the split limit', fmt.int(r.overCap)],
        ['orphaned ids', fmt.int(r.orphanedIds)],
      ],
      [
        ['', (row) => row[0]],
        ['', (row) => row[1]],
      ],
    ),
    h('h4', {}, 'Posting-list lengths'),
    h('div', { class: 'bars' }, ...bars),
    r.problems.length ? h('ul', { class: 'problems' }, ...r.problems.map((p) => h('li', {}, p))) : null,
  );
}

function upsertForm(c: Collection, who: WhoAmI, reload: () => void): HTMLElement {
  const example = JSON.stringify([{ id: 1, vector: Array.from({ length: Math.min(c.dimension, 8) }, (_, i) => Number((0.1 * (i + 1)).toFixed(1))), ...(who.role === 'admin' ? { tenant: 'acme' } : {}), metadata: { color: 'red' } }]);
  const points = h('textarea', { name: 'points', rows: 4, placeholder: example, spellcheck: false });
  const out = h('div');
  return panel(
    'Upsert points',
    h(
      'form',
      {
        id: 'upsert-form',
        onsubmit: submitted(async () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(points.value || '[]');
          } catch (err) {
            show(out, errorBox(new Error(`points: not JSON (${(err as Error).message})`)));
            return;
          }
          const r = await guarded(out, () => api<{ inserted: number; replaced: number }>(`/v1/collections/${c.name}/points`, { body: { points: parsed } }));
          if (r) {
            show(out, h('p', { class: 'ok', id: 'upsert-result' }, `inserted ${r.inserted}, replaced ${r.replaced}`));
            setTimeout(reload, 600);
          }
        }),
      },
      field('points (JSON array)', points, `each {id, vector of ${c.dimension} numbers${who.role === 'admin' ? ', tenant' : ''}, metadata}`),
      h('button', { type: 'submit' }, 'Upsert'),
    ),
    out,
  );
}

function pointLookup(c: Collection, who: WhoAmI): HTMLElement {
  const id = h('input', { name: 'id', type: 'number', min: 0, placeholder: '42' });
  const tenant = h('input', { name: 'tenant', placeholder: who.role === 'tenant' ? (who.tenant ?? '') : 'default', disabled: who.role === 'tenant' });
  const out = h('div');
  return panel(
    'Point by id',
    h(
      'form',
      {
        class: 'inline',
        onsubmit: submitted(async () => {
          const q = new URLSearchParams({ vector: 'true' });
          if (who.role === 'admin' && tenant.value) q.set('tenant', tenant.value);
          const p = await guarded(out, () => api<{ id: number; tenant: string; metadata: unknown; vector: number[] }>(`/v1/collections/${c.name}/points/${id.value}?${q}`));
          if (p) show(out, h('pre', { class: 'json' }, JSON.stringify({ ...p, vector: `[${p.vector.map((v) => Number(v.toPrecision(4))).join(', ')}]` }, null, 2)));
        }),
      },
      field('id', id),
      field('tenant', tenant),
      h('button', { type: 'submit' }, 'Look up'),
    ),
    out,
  );
}

interface PointRow {
  id: number;
  tenant: string;
  metadata: Record<string, unknown>;
}

/** Points a page at a time (GET …/points): id, tenant, metadata; one tenant's or every tenant's. */
function pointsBrowser(c: Collection, who: WhoAmI): HTMLElement {
  const tenant = h('input', { name: 'browseTenant', placeholder: who.role === 'tenant' ? (who.tenant ?? '') : 'every tenant', disabled: who.role === 'tenant' });
  const out = h('div', { id: 'points-page' });
  const cursors: string[] = [];
  const load = async (cursor?: string) => {
    const q = new URLSearchParams({ limit: '25' });
    if (who.role === 'admin' && tenant.value) q.set('tenant', tenant.value);
    if (cursor) q.set('cursor', cursor);
    const r = await guarded(out, () => api<{ points: PointRow[]; next?: string }>(`/v1/collections/${c.name}/points?${q}`));
    if (!r) return;
    const pageNo = cursors.length;
    show(
      out,
      r.points.length
        ? table(
            r.points,
            [
              ['id', (p) => p.id],
              ['tenant', (p) => p.tenant],
              ['metadata', (p) => h('code', {}, JSON.stringify(p.metadata))],
            ],
            { id: 'points-table' },
          )
        : h('p', { class: 'empty' }, 'no points'),
      h(
        'div',
        { class: 'actions' },
        pageNo > 0 ? h('button', { type: 'button', id: 'points-previous', onclick: () => { cursors.pop(); void load(cursors[cursors.length - 1]); } }, '← Previous') : null,
        h('span', { class: 'muted' }, `page ${pageNo + 1}`),
        r.next ? h('button', { type: 'button', id: 'points-next', onclick: () => { cursors.push(r.next as string); void load(r.next); } }, 'Next →') : null,
      ),
    );
  };
  const details = panel(
    'Browse points',
    h(
      'form',
      {
        class: 'inline',
        onsubmit: submitted(() => {
          cursors.length = 0;
          void load();
        }),
      },
      field('tenant', tenant),
      h('button', { type: 'submit' }, 'Show'),
    ),
    out,
  );
  details.addEventListener('toggle', () => {
    if (details.open && !out.hasChildNodes()) void load();
  });
  return details;
}
