/**
 * Admission control for writes: collection upserts and deletes, corpus ingests and removals, and
 * generations (which compute and store KV caches) share one count of requests in flight and one
 * limit (config.maxPendingWrites). Past it a request is shed with STRATA_OVERLOADED (503 +
 * Retry-After) instead of queueing. Internal work (closing, dropping a generation) is counted but
 * never refused, so shutdown can wait for everything in flight.
 */
import { createError } from '../errors.js';

export class WriteAdmission {
  pending = 0;

  constructor(private readonly limit: number) {}

  /** Run `fn` as one write; `field` names what was refused. `admit: false` counts without checking the limit. */
  async run<T>(fn: () => Promise<T>, field: string, admit = true): Promise<T> {
    if (admit && this.pending >= this.limit) throw createError('STRATA_OVERLOADED', `${this.pending} writes are in flight (limit ${this.limit})`, field);
    this.pending++;
    try {
      return await fn();
    } finally {
      this.pending--;
    }
  }

  /** Resolves once nothing is in flight. */
  async drained(): Promise<void> {
    while (this.pending > 0) await new Promise((r) => setTimeout(r, 5));
  }
}
