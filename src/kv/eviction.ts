/**
 * Which cached chunk to drop when a tier is over its byte budget.
 *
 *  - `gdsf`, Greedy-Dual-Size-Frequency (Cherkasova 1998; RAGCache's policy): an entry's priority is
 *    clock + frequency x cost / size, where cost is what a miss costs (recompute time or tokens) and
 *    size its bytes; the lowest priority goes first and the clock rises to it, so entries not used
 *    for a while age out. One-off chunks (frequency 1) cannot push out popular ones.
 *  - `lru`, least recently used, kept for comparison.
 *
 * Fair share between namespaces (tenants). Every entry belongs to a group (its namespace). With
 * `fair` on, a victim is taken only from a group holding more than its fair share, budget / (groups
 * holding entries): a namespace that stays within its share keeps its entries whatever the others
 * do, and space a namespace does not use is lent to the others (max-min fairness). Inside the groups
 * that are over their share the policy's own order decides. With `fair` off the policy runs over all
 * entries as one pool (one busy tenant can push out everyone else's entries).
 */
export type EvictionPolicyName = 'gdsf' | 'lru';

interface Item {
  bytes: number;
  cost: number;
  freq: number;
  priority: number;
  group: string;
}

export interface GroupUsage {
  entries: number;
  bytes: number;
}

export class EvictionPolicy {
  private readonly items = new Map<string, Item>();
  private readonly groups = new Map<string, GroupUsage>();
  private clock = 0;
  private tick = 0;
  bytes = 0;

  constructor(
    readonly name: EvictionPolicyName,
    /** The group (namespace) of a key. Default: one group for every key. */
    private readonly groupOf: (key: string) => string = () => '',
    /** Evict only from groups over their fair share of the budget. Default true. */
    readonly fair = true,
  ) {}

  private priorityOf(it: Item): number {
    return this.name === 'lru' ? ++this.tick : this.clock + (it.freq * it.cost) / Math.max(1, it.bytes);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  get size(): number {
    return this.items.size;
  }

  /** Entries and bytes of one group (zeros when it holds nothing). */
  usage(group: string): GroupUsage {
    const g = this.groups.get(group);
    return g ? { ...g } : { entries: 0, bytes: 0 };
  }

  /** Groups holding at least one entry. */
  get groupCount(): number {
    return this.groups.size;
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
    const it: Item = { bytes, cost, freq, priority: 0, group: this.groupOf(key) };
    it.priority = this.priorityOf(it);
    this.items.set(key, it);
    this.bytes += bytes;
    const g = this.groups.get(it.group);
    if (g) (g.entries++, (g.bytes += bytes));
    else this.groups.set(it.group, { entries: 1, bytes });
  }

  remove(key: string): boolean {
    const it = this.items.get(key);
    if (!it) return false;
    this.items.delete(key);
    this.bytes -= it.bytes;
    const g = this.groups.get(it.group) as GroupUsage;
    g.entries--;
    g.bytes -= it.bytes;
    if (g.entries === 0) this.groups.delete(it.group);
    return true;
  }

  frequency(key: string): number {
    return this.items.get(key)?.freq ?? 0;
  }

  /**
   * Keys to evict so that `bytes` <= budget, lowest priority first (they are removed from the policy).
   * A put usually evicts one or two entries, so each victim is found by a linear scan rather than by
   * sorting every entry. With fair share on, only groups over budget / groups are candidates (when
   * total > budget one always is); should that leave only `keep`, any other entry may go.
   */
  evict(budget: number, keep?: string): string[] {
    const out: string[] = [];
    while (this.bytes > budget) {
      const share = budget / Math.max(1, this.groups.size);
      let victim = this.fair ? this.lowest(keep, (it) => (this.groups.get(it.group) as GroupUsage).bytes > share) : undefined;
      victim ??= this.lowest(keep, () => true);
      if (victim === undefined) break;
      const it = this.items.get(victim) as Item;
      if (this.name === 'gdsf') this.clock = Math.max(this.clock, it.priority);
      this.remove(victim);
      out.push(victim);
    }
    return out;
  }

  private lowest(keep: string | undefined, eligible: (it: Item) => boolean): string | undefined {
    let victim: string | undefined;
    let lowest = Infinity;
    for (const [key, it] of this.items) {
      if (key !== keep && it.priority < lowest && eligible(it)) {
        lowest = it.priority;
        victim = key;
      }
    }
    return victim;
  }
}
