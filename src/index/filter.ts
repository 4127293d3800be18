/**
 * Metadata filters: the JSON a caller writes, checked and turned into a small tree once per query.
 *
 *   { genre: 'news' }                          equality (keyword, number or boolean)
 *   { genre: { $in: ['news', 'sport'] } }      membership; $nin is its negation
 *   { year: { $gte: 2000, $lt: 2010 } }        numeric range ($gt, $gte, $lt, $lte; several = and)
 *   { lang: { $ne: 'en' } }                    not equal (also true where the attribute is missing)
 *   { $and: [f, g] }, { $or: [f, g] }, { $not: f }
 *
 * Several fields in one object are and-ed. A keyword attribute holding a list matches a value when
 * any element equals it. Attribute names are index-wide schema: a filter on a name the index has
 * never seen matches nothing (it is not an error, so a filter cannot probe what other tenants store).
 */
import { createError } from '../errors.js';

export type Scalar = string | number | boolean;
/** One vector's attributes: keyword (string or list of strings), number or boolean values. */
export type Attributes = Record<string, string | string[] | number | boolean>;

export interface FieldCondition {
  $eq?: Scalar;
  $ne?: Scalar;
  $in?: Scalar[];
  $nin?: Scalar[];
  $gt?: number;
  $gte?: number;
  $lt?: number;
  $lte?: number;
}

export type Filter = { $and: Filter[] } | { $or: Filter[] } | { $not: Filter } | { [field: string]: Scalar | FieldCondition };

export type FilterNode =
  | { kind: 'and'; items: FilterNode[] }
  | { kind: 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  | { kind: 'in'; field: string; values: Scalar[] }
  | { kind: 'range'; field: string; lo: number; loOpen: boolean; hi: number; hiOpen: boolean };

/** Nesting deeper than this is refused (a filter is user input). */
const MAX_DEPTH = 32;
/** Most leaves (values in $in lists included) one filter may hold. */
const MAX_TERMS = 10_000;

const OPS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte']);

function bad(path: string, what: string): never {
  throw createError('STRATA_INVALID_FILTER', `${path} ${what}`, path);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Check a filter and turn it into a tree; errors are STRATA_INVALID_FILTER naming the path (e.g. `filter.$and[1].year.$gt`). */
export function parseFilter(filter: unknown, path = 'filter'): FilterNode {
  let terms = 0;
  const count = (n: number, at: string) => {
    terms += n;
    if (terms > MAX_TERMS) bad(at, `makes the filter longer than ${MAX_TERMS} terms`);
  };

  const node = (f: unknown, at: string, depth: number): FilterNode => {
    if (depth > MAX_DEPTH) bad(at, `nests deeper than ${MAX_DEPTH} levels`);
    if (!isPlainObject(f)) bad(at, `must be an object, got ${JSON.stringify(f) ?? String(f)}`);
    const keys = Object.keys(f);
    if (keys.length === 0) bad(at, 'is an empty object');
    const items: FilterNode[] = [];
    for (const key of keys) {
      const v = f[key];
      const here = `${at}.${key}`;
      if (key === '$and' || key === '$or') {
        if (!Array.isArray(v) || v.length === 0) bad(here, 'must be a non-empty array of filters');
        const sub = v.map((x, i) => node(x, `${here}[${i}]`, depth + 1));
        items.push(sub.length === 1 ? sub[0] : { kind: key === '$and' ? 'and' : 'or', items: sub });
      } else if (key === '$not') {
        items.push({ kind: 'not', item: node(v, here, depth + 1) });
      } else if (key.startsWith('$')) {
        bad(here, 'is not an operator here (use $and, $or, $not, or a field name)');
      } else items.push(...field(key, v, here));
    }
    return items.length === 1 ? items[0] : { kind: 'and', items };
  };

  const field = (name: string, v: unknown, at: string): FilterNode[] => {
    if (isScalar(v)) {
      count(1, at);
      return [{ kind: 'in', field: name, values: [v] }];
    }
    if (!isPlainObject(v)) bad(at, `must be a string, finite number, boolean or an operator object, got ${JSON.stringify(v) ?? String(v)}`);
    const ops = Object.keys(v);
    if (ops.length === 0) bad(at, 'is an empty operator object');
    const out: FilterNode[] = [];
    let lo = -Infinity, loOpen = false, hi = Infinity, hiOpen = false, ranged = false;
    for (const op of ops) {
      const x = v[op];
      const here = `${at}.${op}`;
      if (!OPS.has(op)) bad(here, `is not an operator (use ${[...OPS].join(', ')})`);
      if (op === '$eq' || op === '$ne') {
        if (!isScalar(x)) bad(here, `must be a string, finite number or boolean, got ${JSON.stringify(x) ?? String(x)}`);
        count(1, here);
        const eq: FilterNode = { kind: 'in', field: name, values: [x] };
        out.push(op === '$eq' ? eq : { kind: 'not', item: eq });
      } else if (op === '$in' || op === '$nin') {
        if (!Array.isArray(x)) bad(here, 'must be an array of values');
        x.forEach((e, i) => {
          if (!isScalar(e)) bad(`${here}[${i}]`, `must be a string, finite number or boolean, got ${JSON.stringify(e) ?? String(e)}`);
        });
        count(x.length, here);
        const inNode: FilterNode = { kind: 'in', field: name, values: x as Scalar[] };
        out.push(op === '$in' ? inNode : { kind: 'not', item: inNode });
      } else {
        if (typeof x !== 'number' || Number.isNaN(x)) bad(here, `must be a number, got ${JSON.stringify(x) ?? String(x)}`);
        count(1, here);
        ranged = true;
        if (op === '$gt' || op === '$gte') {
          if (x > lo || (x === lo && op === '$gt')) [lo, loOpen] = [x, op === '$gt'];
        } else if (x < hi || (x === hi && op === '$lt')) [hi, hiOpen] = [x, op === '$lt'];
      }
    }
    if (ranged) out.push({ kind: 'range', field: name, lo, loOpen, hi, hiOpen });
    return out;
  };

  return node(filter, path, 0);
}

/** Attribute names are non-empty strings of at most 256 characters that do not start with `$`. */
export function checkAttributeName(name: string, path: string): void {
  if (name.length === 0 || name.length > 256 || name.startsWith('$')) {
    throw createError('STRATA_INVALID_ATTRIBUTE', `${path}: attribute names must be 1-256 characters and must not start with "$", got ${JSON.stringify(name)}`, path);
  }
}
