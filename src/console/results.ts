/**
 * Benchmark results: a `strata bench … --json` file from bench/results (or one picked from disk)
 * plotted from its rows — recall against QPS by engine by default, any numeric column against any
 * other, grouped by any text column — with every row's fields in the hover tip, and the rows as a table.
 */
import { api } from './api.js';
import { errorBox, field, guarded, h, show, table } from './dom.js';
import { plot, type Series } from './plot.js';

type Row = Record<string, unknown>;

/** The rows of a result file: its `rows` array, or the file itself when it is one flat record. */
function rowsOf(json: unknown): Row[] {
  if (Array.isArray(json)) return json.filter((r): r is Row => !!r && typeof r === 'object');
  const o = json as Row;
  if (Array.isArray(o?.rows)) return rowsOf(o.rows);
  return o && typeof o === 'object' ? [o] : [];
}

const numericKeys = (rows: Row[]) => [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number')))];
const textKeys = (rows: Row[]) => [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'string' || typeof r[k] === 'boolean')))];
const pick = (keys: string[], wanted: string[], fallback: string) => wanted.find((w) => keys.includes(w)) ?? fallback;

export async function resultsPage(main: HTMLElement, selected?: string): Promise<void> {
  const errors = h('div');
  const view = h('div', { id: 'result-view' });
  const files = h('select', { name: 'file' });
  const upload = h('input', { type: 'file', accept: '.json,application/json', name: 'upload' });
  show(main, h('h1', {}, 'Benchmark results'), h('div', { class: 'inline' }, field('result file (bench/results)', files), field('or a file of yours', upload)), errors, view);
  const list = await guarded(errors, () => api<{ results: Array<{ name: string; bytes: number }> }>('/v1/console/results'));
  if (list) {
    show(files, h('option', { value: '' }, list.results.length ? 'choose…' : '(none in this installation)'), ...list.results.map((r) => h('option', { value: r.name, selected: r.name === selected }, r.name)));
  }
  const open = async (name: string) => {
    const json = await guarded(errors, () => api<unknown>(`/v1/console/results/${encodeURIComponent(name)}`));
    if (json !== undefined) render(view, name, json);
  };
  files.addEventListener('change', () => {
    if (files.value) location.hash = `#/results/${encodeURIComponent(files.value)}`;
  });
  upload.addEventListener('change', async () => {
    const f = upload.files?.[0];
    if (!f) return;
    try {
      render(view, f.name, JSON.parse(await f.text()));
      show(errors);
    } catch (err) {
      show(errors, errorBox(new Error(`${f.name}: not a JSON result file (${(err as Error).message})`)));
    }
  });
  const first = selected ?? list?.results.find((r) => /-ann-/.test(r.name))?.name;
  if (first) {
    files.value = first;
    await open(first);
  }
}

function render(view: HTMLElement, name: string, json: unknown): void {
  const rows = rowsOf(json);
  const nums = numericKeys(rows);
  const texts = textKeys(rows);
  if (rows.length === 0 || nums.length < 2) {
    show(view, h('p', { class: 'empty' }, `${name}: no rows with two numeric columns to plot`));
    return;
  }
  const select = (name: string, keys: string[], value: string) => h('select', { name }, ...keys.map((k) => h('option', { value: k, selected: k === value }, k)));
  const x = select('x', nums, pick(nums, ['recall', 'recomputeFraction', 'concurrency', 'selectivity'], nums[0]));
  const y = select('y', nums, pick(nums, ['qps', 'kl', 'ttftMs', 'p99Ms'], nums[1]));
  const by = select('group', ['(none)', ...texts], pick(texts, ['engine', 'strategy', 'spec', 'load', 'case'], '(none)'));
  const logY = h('input', { type: 'checkbox', name: 'logY', checked: y.value === 'qps' });
  const chart = h('div');
  const draw = () => {
    const groups = new Map<string, Row[]>();
    for (const r of rows) {
      if (typeof r[x.value] !== 'number' || typeof r[y.value] !== 'number') continue;
      const g = by.value === '(none)' ? name : String(r[by.value]);
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    const series: Series[] = [...groups].map(([g, rs]) => ({
      name: g,
      points: rs.map((r) => ({
        x: r[x.value] as number,
        y: r[y.value] as number,
        detail: Object.entries(r)
          .filter(([k, v]) => k !== x.value && k !== y.value && v !== null && typeof v !== 'object')
          .slice(0, 12)
          .map(([k, v]) => `${k}: ${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`)
          .concat(r.params && typeof r.params === 'object' ? [`params: ${JSON.stringify(r.params)}`] : [])
          .join('\n'),
      })),
    }));
    show(chart, plot(series, { title: name, x: { label: x.value }, y: { label: y.value, log: logY.checked }, width: 760, height: 380 }));
  };
  for (const el of [x, y, by, logY]) el.addEventListener('change', draw);
  const cols = Object.keys(rows[0]).filter((k) => rows.some((r) => r[k] !== null && typeof r[k] !== 'object')).slice(0, 12);
  show(
    view,
    h('div', { class: 'inline' }, field('x', x), field('y', y), field('group by', by), field('log y', logY)),
    chart,
    h('details', {}, h('summary', {}, `${rows.length} rows`), table(rows, cols.map((c) => [c, (r: Row) => { const v = r[c]; return typeof v === 'number' ? Number(v.toPrecision(5)) : v === undefined ? '' : String(v); }] as [string, (r: Row) => string | number]))),
  );
  draw();
}
