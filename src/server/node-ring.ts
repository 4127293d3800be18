/**
 * The query nodes serving one store prefix, as this node sees them: itself and its peers (--peers).
 * A collection's queries go to its owner (rendezvous.ts) for cache affinity; a node that answered a
 * forward with a connection error, a timeout or a 503 is passed over for `downMillis`, and the node
 * that received the query answers it itself meanwhile — any node can answer any query.
 */
import { rankNodes } from './rendezvous.js';

/** The header a forwarded request carries (naming the node that forwarded it): its receiver never forwards again. */
export const FORWARDED_HEADER = 'x-strata-forwarded-by';
/** The log sequence a forwarded search must see (the forwarding node's own last write): read-your-writes across nodes. */
export const LOG_SEQUENCE_HEADER = 'x-strata-log-sequence';
/** The header naming the node that answered. */
export const NODE_HEADER = 'x-strata-node';

export interface ForwardAnswer {
  status: number;
  body: unknown;
  node: string;
}

export class NodeRing {
  readonly nodes: readonly string[];
  private readonly downUntil = new Map<string, number>();
  /** Queries sent to their owner, and queries answered here because the owner was down. */
  readonly counts = { forwarded: 0, ownerDown: 0 };

  constructor(
    readonly self: string,
    peers: readonly string[],
    private readonly timeoutMs: number,
    private readonly downMillis = 5000,
  ) {
    this.nodes = [self, ...peers.filter((p) => p !== self)];
  }

  /** The owner of a collection (or of `<collection>/<tenant>`: a tenant's queries). */
  ownerOf(key: string): string {
    return rankNodes(key, this.nodes)[0];
  }

  /**
   * Send the request to the owner of `key` (a collection, or a collection's tenant) when that is another node not marked down. Returns
   * its answer, or null when this node should answer (it owns the collection, the request was
   * forwarded already, or the owner did not answer in time).
   */
  async forward(key: string, path: string, headers: Record<string, string | string[] | undefined>, body: unknown, logSequence = 0): Promise<ForwardAnswer | null> {
    if (headers[FORWARDED_HEADER] !== undefined) return null;
    const owner = this.ownerOf(key);
    if (owner === this.self || (this.downUntil.get(owner) ?? 0) > Date.now()) {
      if (owner !== this.self) this.counts.ownerDown++;
      return null;
    }
    const pass: Record<string, string> = { 'content-type': 'application/json', [FORWARDED_HEADER]: this.self, [LOG_SEQUENCE_HEADER]: String(logSequence) };
    for (const h of ['authorization', 'x-api-key']) if (typeof headers[h] === 'string') pass[h] = headers[h] as string;
    try {
      const r = await fetch(owner + path, { method: 'POST', headers: pass, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
      if (r.status === 503) throw new Error('owner is draining or overloaded');
      const answer = { status: r.status, body: await r.json(), node: r.headers.get(NODE_HEADER) ?? owner };
      this.counts.forwarded++;
      return answer;
    } catch {
      this.downUntil.set(owner, Date.now() + this.downMillis);
      this.counts.ownerDown++;
      return null;
    }
  }
}
