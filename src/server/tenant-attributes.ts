/**
 * Metadata attributes in a tenant's own namespace. The index keeps one schema of attribute names and
 * types per collection; if tenants wrote into it directly, one tenant's attribute would fix the type
 * another tenant may use (an upsert refused with "attribute price holds keyword values" tells who
 * stores what). So the service stores each tenant's attributes in the index under names prefixed
 * with a tag of the tenant (the point store keeps them as sent), rewrites a search's filter into the
 * tenant's names, and strips the tags from any error before a client sees it. Filters therefore need
 * a tenant: a tenant key's own, or the one an admin names.
 */
import { createHash } from 'node:crypto';
import type { Attributes } from '../index/filter.js';

/** `<16 hex digits of SHA-256 of the tenant>:` (attribute names stay within the index's 256 characters). */
export function attributePrefix(tenant: string): string {
  return `${createHash('sha256').update(`strata-attributes\0${tenant}`).digest('hex').slice(0, 16)}:`;
}

/** A point's attributes as the index stores them. */
export function scopeAttributes(tenant: string, metadata: Attributes | null | undefined, prefix = attributePrefix(tenant)): Attributes | null {
  if (!metadata) return null;
  const out: Attributes = {};
  for (const [k, v] of Object.entries(metadata)) out[prefix + k] = v;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A filter (as the client wrote it) with every attribute name put in the tenant's namespace; operators are kept, malformed parts left for the parser to report. */
export function scopeFilter(tenant: string, filter: unknown, prefix = attributePrefix(tenant)): unknown {
  if (!isPlainObject(filter)) return filter;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and' || k === '$or') out[k] = Array.isArray(v) ? v.map((x) => scopeFilter(tenant, x, prefix)) : v;
    else if (k === '$not') out[k] = scopeFilter(tenant, v, prefix);
    else if (k.startsWith('$')) out[k] = v;
    else out[prefix + k] = v;
  }
  return out;
}

/** An error's message and field with the tenants' tags removed (and index row names as the route's). */
export function unscopeError(err: unknown, tenants: Iterable<string>, rows?: string): unknown {
  const e = err as { message?: unknown; field?: unknown };
  const tags = [...new Set(tenants)].map(attributePrefix);
  const clean = (text: string) => {
    let t = text;
    for (const tag of tags) t = t.split(tag).join('');
    return rows ? t.replace(/\battributes\[(\d+)\]\./g, `${rows}[$1].metadata.`).replace(/\battributes\[(\d+)\]/g, `${rows}[$1].metadata`) : t;
  };
  if (typeof e?.message === 'string') e.message = clean(e.message);
  if (typeof e?.field === 'string') e.field = clean(e.field);
  return err;
}
