/** A few DOM helpers: elements from a tag and attributes, tables from rows, the coded-error box. */
import { ApiError } from './api.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

/** An element: attributes (on* keys become listeners; false/undefined are left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value' && 'value' in el) (el as HTMLInputElement).value = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replace an element's content. */
export function show(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A table of `rows` with the given columns (header, cell). */
export function table<T>(rows: readonly T[], columns: Array<[string, (row: T) => Child]>, attrs: Attrs = {}): HTMLTableElement {
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, ...columns.map(([title]) => h('th', {}, title)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map(([, cell]) => h('td', {}, cell(r)))))),
  );
}

/** A form's submit listener: the browser's own submit (a page load) prevented, `run` instead. */
export function submitted(run: () => unknown): EventListener {
  return (e: Event) => {
    e.preventDefault();
    void run();
  };
}

/** A collapsed panel: `title` as its summary, then `children` when opened. */
export function panel(title: string, ...children: Child[]): HTMLDetailsElement {
  return h('details', { class: 'panel' }, h('summary', {}, title), ...children);
}

/** A labelled input row of a form. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', {}, hint) : null);
}

/** The service's coded error as a page shows it: code, message, and the field it names. */
export function errorBox(err: unknown): HTMLElement {
  if (err instanceof ApiError) {
    return h('div', { class: 'error', role: 'alert', 'data-code': err.code }, h('strong', {}, err.code), ' ', err.message.replace(`${err.code}: `, ''), err.field ? h('span', { class: 'field-name' }, ` (field: ${err.field})`) : null);
  }
  return h('div', { class: 'error', role: 'alert' }, String((err as Error)?.message ?? err));
}

/** Run `work`, showing its error (if any) in `slot`; resolves to its value or undefined. */
export async function guarded<T>(slot: Element, work: () => Promise<T>): Promise<T | undefined> {
  show(slot);
  try {
    return await work();
  } catch (err) {
    show(slot, errorBox(err));
    return undefined;
  }
}

export const fmt = {
  int: (n: number | undefined): string => (n === undefined ? '-' : Math.round(n).toLocaleString('en-US')),
  num: (n: number | undefined, digits = 3): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits)),
  bytes(n: number | undefined): string {
    if (n === undefined) return '-';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return `${v.toFixed(u ? 1 : 0)} ${units[u]}`;
  },
};
