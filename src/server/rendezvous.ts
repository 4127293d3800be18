/**
 * Which query node owns a collection: rendezvous (highest-random-weight) hashing. Every node
 * computes a weight for each (node, collection) pair and the heaviest node owns the collection, so
 * all nodes agree without talking to each other, and adding or removing a node moves only the
 * collections that node gains or loses (about 1/n of them). The owner serves its collections' queries
 * from a warm cache; when it is down the next heaviest node answers (rankNodes gives the order).
 */
import { createHash } from 'node:crypto';

/** A pair's weight: the first 6 bytes of SHA-256(node, NUL, key) as an integer (uniform, stable across versions). */
function weight(node: string, key: string): number {
  return createHash('sha256').update(node).update('\u0000').update(key).digest().readUIntBE(0, 6);
}

/** `nodes` from the heaviest (the owner of `key`) to the lightest; ties (never in practice) by name. */
export function rankNodes(key: string, nodes: readonly string[]): string[] {
  return nodes
    .map((n) => [n, weight(n, key)] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map((x) => x[0]);
}

/** The node that owns `key`. */
export function ownerOf(key: string, nodes: readonly string[]): string {
  return rankNodes(key, nodes)[0];
}
