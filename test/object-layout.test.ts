import { describe, expect, it } from 'vitest';
import { createCodec } from '../src/index/codecs/codec.js';
import { decodeVersions, encodeVersions, manifestKey, manifestNumber, OBJECT_LAYOUT_VERSION, parseManifest } from '../src/storage/object-layout.js';
import { concatPostings, encodePosting, PostingReader } from '../src/storage/posting-format.js';
import { createRng } from '../src/util/random.js';

// The pure parts of the object-store layout (the cluster suite covers the rest against Ceph).
describe('object layout', () => {
  it('a list with its appends folded in reads as one list: entries in order, checksum sealed anew', () => {
    const dim = 8, rng = createRng(3);
    const data = Float32Array.from({ length: 30 * dim }, () => rng.gaussian());
    const codec = createCodec('INT8', dim);
    codec.train(data);
    const a = encodePosting([0, 1, 2, 3, 4], 5, Uint32Array.from({ length: 30 }, (_, i) => 10 + i), data, dim, codec);
    const b = encodePosting([20, 21, 22], 3, Uint32Array.from({ length: 30 }, (_, i) => 10 + i), data, dim, codec);
    const folded = concatPostings(a, b);
    const view = new PostingReader(dim, codec).read(folded, 7);
    expect(view.count).toBe(8);
    expect(Array.from(view.ids)).toEqual([10, 11, 12, 13, 14, 30, 31, 32]);
    const ra = new PostingReader(dim, codec).read(a, 1), rb = new PostingReader(dim, codec).read(b, 2);
    expect(Array.from(view.codes)).toEqual([...ra.codes, ...rb.codes]);
    const other = encodePosting([0], 1, null, new Float32Array(4), 4, createCodec('INT8', 4));
    expect(() => concatPostings(a, other)).toThrow(expect.objectContaining({ code: 'STRATA_INDEX_CORRUPT' }));
  });

  it('manifests: numbered keys, version tables round-trip, and a manifest of another layout or not JSON is refused', () => {
    expect(manifestNumber(manifestKey(42))).toBe(42);
    expect(manifestNumber('manifest/latest')).toBeNaN();
    const ids = Uint32Array.from([0, 7, 0xffffffff, 3]);
    expect(Array.from(decodeVersions(encodeVersions(ids), 'lists'))).toEqual(Array.from(ids));
    expect(() => decodeVersions('AAA', 'lists')).toThrow(expect.objectContaining({ code: 'STRATA_INDEX_CORRUPT', field: 'lists' }));
    const ok = { layout: OBJECT_LAYOUT_VERSION, version: 1, skeleton: 's', graph: 'g', lists: '', blocks: '', listHashes: '', blockHashes: '' };
    expect(parseManifest(new TextEncoder().encode(JSON.stringify(ok)), 'm').version).toBe(1);
    expect(() => parseManifest(new TextEncoder().encode(JSON.stringify({ ...ok, layout: 99 })), 'm')).toThrow(expect.objectContaining({ code: 'STRATA_FORMAT_VERSION' }));
    expect(() => parseManifest(new TextEncoder().encode('{'), 'm')).toThrow(expect.objectContaining({ code: 'STRATA_INDEX_CORRUPT' }));
    expect(() => parseManifest(new TextEncoder().encode(JSON.stringify({ ...ok, graph: 3 })), 'm')).toThrow(expect.objectContaining({ code: 'STRATA_INDEX_CORRUPT' }));
  });
});
