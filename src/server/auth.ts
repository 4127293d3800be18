/**
 * API keys. A key reads `sk_<id>_<secret>`: the id (12 hex digits) finds the record, and the
 * SHA-256 of the secret is compared with the stored hash in constant time (crypto.timingSafeEqual).
 * Secrets are 32 random bytes, so a plain hash is enough (no password stretching needed) and the
 * service never stores or logs a secret.
 *
 * Two roles: the admin key manages collections and keys and may act in any tenant; a tenant key is
 * bound server-side to one tenant of one collection, and every read and write made with it is
 * confined there (routes call `scopeOf`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createError } from '../errors.js';
import { LruCache } from '../util/lru.js';
import type { KeyRecord, ServiceCatalog } from './catalog.js';

/** A tenant key is bound to one tenant of one collection, or of one corpus (RAG routes). */
export type Principal = { role: 'admin'; keyId: string } | { role: 'tenant'; keyId: string; collection?: string; corpus?: string; tenant: string };

const KEY_PATTERN = /^sk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** Key id of an admin key given by STRATA_ADMIN_KEY (any string of 16+ characters). */
export const ENV_ADMIN_KEY_ID = 'env';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** A new key: its full text (shown once) and its record (stored). */
export function generateKey(role: KeyRecord['role'], scope: { collection?: string; corpus?: string; tenant?: string; label?: string } = {}): { key: string; record: KeyRecord } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: KeyRecord = { id, role, hash: sha256(secret).toString('hex'), createdAt: new Date().toISOString() };
  if (scope.collection !== undefined) record.collection = scope.collection;
  if (scope.corpus !== undefined) record.corpus = scope.corpus;
  if (scope.tenant !== undefined) record.tenant = scope.tenant;
  if (scope.label !== undefined) record.label = scope.label;
  return { key: `sk_${id}_${secret}`, record };
}

/** The key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : auth;
  }
  const k = headers['x-api-key'];
  return typeof k === 'string' ? k : undefined;
}

/** Authenticated keys remembered (a hash map lookup instead of SHA-256 + LMDB per request). */
const CACHED_KEYS = 10_000;

export class KeyRing {
  private readonly envAdminHash: Buffer | null;
  /**
   * Keys that authenticated, and who they are: valid while the catalogue's keysVersion is the one
   * they were checked at (any key change empties it, so a revoked key stops at once). Only keys
   * that passed are kept: a wrong key always takes the constant-time path.
   */
  private readonly known = new LruCache<string, Principal>(CACHED_KEYS);
  private knownVersion = -1;

  constructor(
    private readonly catalog: ServiceCatalog,
    envAdminKey: string | undefined,
  ) {
    this.envAdminHash = envAdminKey ? sha256(envAdminKey) : null;
  }

  /**
   * Make sure an admin key exists. Returns a new key's text when one had to be generated (the
   * caller prints it once); undefined when STRATA_ADMIN_KEY is set or an admin key is stored.
   */
  ensureAdmin(): string | undefined {
    if (this.envAdminHash) return undefined;
    if (this.catalog.listKeys().some((k) => k.role === 'admin')) return undefined;
    const { key, record } = generateKey('admin', { label: 'generated at first start' });
    this.catalog.putKey(record);
    return key;
  }

  /** Who presents `key`; STRATA_UNAUTHORIZED when nobody. A key not seen since the last key change takes the same time wrong or right. */
  authenticate(key: string | undefined): Principal {
    if (key === undefined || key === '') throw createError('STRATA_UNAUTHORIZED', 'no API key: send "Authorization: Bearer <key>" or "x-api-key: <key>"', 'authorization');
    if (this.knownVersion !== this.catalog.keysVersion) {
      this.known.clear();
      this.knownVersion = this.catalog.keysVersion;
    }
    const cached = this.known.get(key);
    if (cached) return cached;
    const p = this.check(key);
    this.known.set(key, p);
    return p;
  }

  private check(key: string): Principal {
    const m = KEY_PATTERN.exec(key);
    if (!m) {
      if (this.envAdminHash && timingSafeEqual(sha256(key), this.envAdminHash)) return { role: 'admin', keyId: ENV_ADMIN_KEY_ID };
      throw createError('STRATA_UNAUTHORIZED', 'the API key is not valid', 'authorization');
    }
    const rec = this.catalog.getKey(m[1]);
    // Hash and compare even when the id is unknown, so timing does not tell ids apart.
    const presented = sha256(m[2]);
    const stored = rec ? Buffer.from(rec.hash, 'hex') : Buffer.alloc(32);
    const same = timingSafeEqual(presented, stored);
    if (!rec || !same) {
      if (this.envAdminHash && timingSafeEqual(sha256(key), this.envAdminHash)) return { role: 'admin', keyId: ENV_ADMIN_KEY_ID };
      throw createError('STRATA_UNAUTHORIZED', 'the API key is not valid', 'authorization');
    }
    if (rec.role === 'admin') return { role: 'admin', keyId: rec.id };
    return { role: 'tenant', keyId: rec.id, ...(rec.collection !== undefined ? { collection: rec.collection } : {}), ...(rec.corpus !== undefined ? { corpus: rec.corpus } : {}), tenant: rec.tenant! };
  }
}

/** STRATA_FORBIDDEN unless the principal is the admin. */
export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw createError('STRATA_FORBIDDEN', 'this route needs the admin key', 'authorization');
}

/**
 * The tenant a request acts in. An admin acts in the tenant the request names (or none: every
 * tenant). A tenant key acts in its own tenant only: another collection, or a body naming another
 * tenant, is STRATA_FORBIDDEN.
 */
export function scopeOf(p: Principal, collection: string, requested: string | undefined): string | undefined {
  if (p.role === 'admin') return requested;
  if (p.collection === undefined || p.collection !== collection) throw createError('STRATA_FORBIDDEN', `this key is bound to another collection or corpus, not collection ${JSON.stringify(collection)}`, 'collection');
  if (requested !== undefined && requested !== p.tenant) throw createError('STRATA_FORBIDDEN', 'this key is bound to another tenant than the one the request names', 'tenant');
  return p.tenant;
}

/** scopeOf for the RAG routes: a tenant key acts only in its own tenant of its own corpus. */
export function corpusScopeOf(p: Principal, corpus: string, requested: string | undefined): string | undefined {
  if (p.role === 'admin') return requested;
  if (p.corpus === undefined || p.corpus !== corpus) throw createError('STRATA_FORBIDDEN', `this key is bound to another corpus or collection, not corpus ${JSON.stringify(corpus)}`, 'corpus');
  if (requested !== undefined && requested !== p.tenant) throw createError('STRATA_FORBIDDEN', 'this key is bound to another tenant than the one the request names', 'tenant');
  return p.tenant;
}
