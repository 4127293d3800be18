/**
 * Which cached chunk to drop when a tier is over its byte budget.
 *
 *  - `gdsf`, Greedy-Dual-Size-Frequency (Cherkasova 1998; RAGCache's policy): an entry's priority is
 *    clock + frequency x cost / size, where cost is what a miss costs (recompute time or tokens) and
 *    size its bytes; the lowest priority goes first and the clock rises to it, so entries not used
 *    for a while age out. One-off chunks (frequency 1) cannot push out popular ones.
 *  - `lru`, least recently used, kept for comparison.
 */
export type EvictionPolicyName = 'gdsf' | 'lru';

interface Item {
  bytes: number;
  cost: number;
  freq: number;
  priority: number;
}

export class EvictionPolicy {
  private readonly items = new Map<string, Item>();
  private clock = 0;
  private tick = 0;
  bytes = 0;

  constructor(readonly name: EvictionPolicyName) {}

  private priorityOf(it: Item): number {
    return this.name === 'lru' ? ++this.tick : this.clock + (it.freq * it.cost) / Math.max(1, it.bytes);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  get size(): number {
    return this.items.size;
  }

  /** Record a use (a hit). */
  touch(key: string): void {
    const it = this.items.get(key);
    if (!it) return;
    it.freq++;
    it.priority = this.priorityOf(it);
  }

  /** Add (or replace) an entry; `freq` carries a count known from elsewhere (e.g. another tier). */
  add(key: string, bytes: number, cost: number, freq = 1): void {
    this.remove(key);
    const it: Item = { bytes, cost, freq, priority: 0 };
    it.priority = this.priorityOf(it);
    this.items.set(key, it);
    this.bytes += bytes;
  }

  remove(key: string): boolean {
    const it = this.items.get(key);
    if (!it) return false;
    this.items.delete(key);
    this.bytes -= it.bytes;
    return true;
  }

  frequency(key: string): number {
    return this.items.get(key)?.freq ?? 0;
  }

  /**
   * Keys to evict so that `bytes` <= budget, lowest priority first (they are removed from the policy).
   * A put usually evicts one or two entries, so each victim is found by a linear scan rather than by
   * sorting every entry.
   */
  evict(budget: number, keep?: string): string[] {
    const out: string[] = [];
    while (this.bytes > budget) {
      let victim: string | undefined;
      let lowest = Infinity;
      for (const [key, it] of this.items) {
        if (key !== keep && it.priority < lowest) {
          lowest = it.priority;
          victim = key;
        }
      }
      if (victim === undefined) break;
      if (this.name === 'gdsf') this.clock = Math.max(this.clock, lowest);
      this.remove(victim);
      out.push(victim);
    }
    return out;
  }
}
