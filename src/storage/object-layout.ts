/**
 * How an index lives on object storage (object-store.ts): immutable objects under one prefix per
 * index, found through numbered manifests.
 *
 *   manifest/<v:16 digits>   ObjectManifest (JSON), created with If-None-Match: * — the manifest
 *                            with the highest number is the index; a writer that loses the create
 *                            of number v lost the race to publish v
 *   manifest/latest          a hint: the newest number a writer published (readers list past it)
 *   skeleton/<v>-<id>.mdb    the index's LMDB file without its posting values (lists, appends,
 *                            blocks, full-precision vectors): meta, heads, slots, ids, tenants,
 *                            attributes, calibration — opened read-only by query nodes
 *   graph/<v>-<id>.hnsw      the head graph file
 *   lists/<head>/<id>        the posting list of a head, its appends folded in (posting format)
 *   blocks/<block>/<id>      a slot block (posting format)
 *
 * <id> is a random 32-bit number (hex) drawn by each publish: two publishers racing for manifest v
 * upload disjoint objects and only the manifest create decides between them (the loser's objects
 * are unreferenced garbage). A list or block object is never overwritten: a new version gets a new
 * name, so a query node's cache, keyed by (head, id), is never stale and never invalidated.
 */
import { createHash } from 'node:crypto';
import { createError } from '../errors.js';

/** Bumped when the layout or the manifest's fields change. */
export const OBJECT_LAYOUT_VERSION = 1;

export interface ObjectManifest {
  layout: number;
  /** This manifest's number. */
  version: number;
  createdAt: string;
  /** The index's on-disk format (index-store.ts FORMAT_VERSION) the skeleton is in. */
  indexFormat: number;
  skeleton: string;
  graph: string;
  /** The heads version the graph reflects (written beside it on the node). */
  graphVersion: number;
  /** The publish id of each head's list object (base64 of a little-endian Uint32Array; 0 = no list). */
  lists: string;
  /** The publish id of each slot block's object (same encoding; 0 = no block). */
  blocks: string;
  /**
   * The first 8 bytes of the SHA-256 of each list's and block's bytes (base64, 8 bytes per entry):
   * the next publish reuses an object whose content did not change instead of uploading it again.
   */
  listHashes: string;
  blockHashes: string;
  /** The last log sequence (object-log.ts) whose writes this manifest's index holds; 0 = none. */
  appliedLog?: number;
  /** Objects and bytes this publish uploaded, and objects it named again from the previous manifest. */
  objects: number;
  bytes: number;
  reused: number;
}

const pad = (n: number) => String(n).padStart(16, '0');

export const MANIFESTS = 'manifest/';
export const manifestKey = (v: number) => `${MANIFESTS}${pad(v)}`;
export const LATEST_HINT = `${MANIFESTS}latest`;
const hex = (id: number) => id.toString(16).padStart(8, '0');
export const skeletonKey = (v: number, id: number) => `skeleton/${pad(v)}-${hex(id)}.mdb`;
export const graphKey = (v: number, id: number) => `graph/${pad(v)}-${hex(id)}.hnsw`;
export const listKey = (head: number, id: number) => `lists/${head}/${hex(id)}`;
export const blockKey = (block: number, id: number) => `blocks/${block}/${hex(id)}`;

/** The number of a manifest key (NaN for the hint or anything else). */
export function manifestNumber(key: string): number {
  const m = /^manifest\/(\d{16})$/.exec(key);
  return m ? Number(m[1]) : Number.NaN;
}

export function encodeVersions(v: Uint32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function decodeVersions(s: string, field: string): Uint32Array {
  const b = Buffer.from(s, 'base64');
  if (b.length % 4 !== 0) throw createError('STRATA_INDEX_CORRUPT', `manifest: ${field} is not a list of 32-bit versions`, field);
  const out = new Uint32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export const HASH_BYTES = 8;

/** The content digest a manifest keeps per object. */
export function contentHash(bytes: Uint8Array, out: Uint8Array, at: number): void {
  out.set(createHash('sha256').update(bytes).digest().subarray(0, HASH_BYTES), at * HASH_BYTES);
}

/** Parse and check a manifest object's bytes. */
export function parseManifest(bytes: Uint8Array, key: string): ObjectManifest {
  let m: ObjectManifest;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as ObjectManifest;
  } catch (err) {
    throw createError('STRATA_INDEX_CORRUPT', `${key} is not JSON: ${(err as Error).message}`, 'manifest');
  }
  if (!m || m.layout !== OBJECT_LAYOUT_VERSION) throw createError('STRATA_FORMAT_VERSION', `${key} has object layout ${m?.layout}, this build reads ${OBJECT_LAYOUT_VERSION}`, 'manifest');
  for (const f of ['skeleton', 'graph', 'lists', 'blocks', 'listHashes', 'blockHashes'] as const) {
    if (typeof m[f] !== 'string') throw createError('STRATA_INDEX_CORRUPT', `${key} lacks ${f}`, 'manifest');
  }
  return m;
}
