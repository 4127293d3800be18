import { describe, expect, it } from 'vitest';
import { peerUrls, resolveConfig } from '../src/server/config.js';
import { ownerOf, rankNodes } from '../src/server/rendezvous.js';

// Rendezvous hashing of collections to query nodes: every node computes the same owner, load spreads
// evenly, and a node joining or leaving moves only the collections it gains or loses.
const nodes = ['http://10.0.0.1:8701', 'http://10.0.0.2:8701', 'http://10.0.0.3:8701', 'http://10.0.0.4:8701'];
const keys = Array.from({ length: 4000 }, (_, i) => `collection-${i}`);

describe('rendezvous hashing of collections to nodes', () => {
  it('the owner does not depend on the order a node lists its peers in, and ranks hold every node once', () => {
    for (const k of keys.slice(0, 200)) {
      expect(ownerOf(k, nodes)).toBe(ownerOf(k, [...nodes].reverse()));
      expect([...rankNodes(k, nodes)].sort()).toEqual([...nodes].sort());
    }
  });

  it('spreads collections evenly: each of 4 nodes owns 25% ± 3 points of 4000', () => {
    const owned = new Map<string, number>();
    for (const k of keys) owned.set(ownerOf(k, nodes), (owned.get(ownerOf(k, nodes)) ?? 0) + 1);
    for (const n of nodes) expect(Math.abs((owned.get(n) ?? 0) / keys.length - 0.25)).toBeLessThan(0.03);
  });

  it('a node joining takes about 1/5 of the collections and moves no other; a node leaving moves only its own, each to its second choice', () => {
    const joined = [...nodes, 'http://10.0.0.5:8701'];
    let moved = 0;
    for (const k of keys) {
      const before = ownerOf(k, nodes), after = ownerOf(k, joined);
      if (before !== after) {
        expect(after).toBe('http://10.0.0.5:8701');
        moved++;
      }
    }
    expect(Math.abs(moved / keys.length - 0.2)).toBeLessThan(0.03);
    const left = nodes.filter((n) => n !== nodes[1]);
    for (const k of keys) {
      const rank = rankNodes(k, nodes);
      expect(ownerOf(k, left)).toBe(rank[0] === nodes[1] ? rank[1] : rank[0]);
    }
  });
});

describe('query node settings', () => {
  it('peers are trimmed URLs without the node itself; a malformed store, node URL or peer is a coded error naming the setting', () => {
    expect(peerUrls({ peers: ' http://a:1/, http://b:2 ,,http://self:3', nodeUrl: 'http://self:3' })).toEqual(['http://a:1', 'http://b:2']);
    const config = resolveConfig({ store: 's3://bucket/prefix', peers: 'http://127.0.0.1:8702', dataDir: '/tmp/x' }, {});
    expect(config.cacheDir).toBe('/tmp/x/node-cache');
    expect(config.cacheSize).toBe(1024);
    expect(() => resolveConfig({ store: 'bucket/prefix' }, {})).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'store' }));
    expect(() => resolveConfig({ peers: 'http://a:1/path' }, {})).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'peers' }));
    expect(() => resolveConfig({ nodeUrl: 'a:1' }, {})).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'nodeUrl' }));
  });
});
