/**
 * Group commit: writes queued while the event loop turns are applied together, in one transaction,
 * at the next turn; each caller's promise settles with its own result. A write that sinks its group
 * (a duplicate id, say) is retried alone with every other member of the group, so only it fails. The
 * queue can be held (a file rewrite in progress): writes keep queueing and run once released.
 */
import { createError } from '../errors.js';

interface Pending<R, T> {
  req: R;
  resolve: (t: T) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<R, T> {
  private pending: Array<Pending<R, T>> = [];
  private running: Promise<void> | null = null;
  private held: Promise<void> | null = null;

  constructor(
    /** Apply a group in one transaction; returns each request's result, in order, or throws (nothing committed). */
    private readonly apply: (reqs: R[]) => T[],
    /** Why writes must fail now (the index was closed), or null. */
    private readonly refusal: () => string | null,
  ) {}

  /** Queue one write; it commits with the others of this event-loop turn. */
  submit(req: R): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ req, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** Resolves when every write submitted so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.running || this.held || this.pending.length > 0) {
      if (this.held) await this.held;
      else {
        this.running ??= this.run();
        await this.running;
      }
    }
  }

  /** Run `fn` with the queue held: it starts after every queued write, and writes wait for it. */
  async exclusive(fn: () => Promise<void>): Promise<void> {
    await this.flush();
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    try {
      await fn();
    } finally {
      this.held = null;
      release();
      if (this.pending.length > 0) this.running ??= this.run();
    }
  }

  private async run(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    try {
      if (this.held) await this.held;
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.pending.length);
        const why = this.refusal();
        if (why !== null) {
          for (const p of group) p.reject(createError('STRATA_INDEX_CLOSED', why, 'index'));
          continue;
        }
        try {
          const results = this.apply(group.map((p) => p.req));
          group.forEach((p, i) => p.resolve(results[i]));
        } catch (err) {
          if (group.length === 1) group[0].reject(err);
          else {
            for (const p of group) {
              try {
                p.resolve(this.apply([p.req])[0]);
              } catch (e) {
                p.reject(e);
              }
            }
          }
        }
      }
    } finally {
      this.running = null;
    }
  }
}
