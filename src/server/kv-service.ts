/**
 * The service's chunk KV cache (issue 8): one decoder model (config.kvModel: a shared model's name or
 * a profile JSON file) registered at first use, with its stores in <dataDir>/kv. Model compute runs
 * in onnxruntime's own threads (session.run is asynchronous); re-rotation, cache joins and store
 * writes run on the event loop (milliseconds for the models here). Requests past maxPendingWrites
 * in flight are shed (503).
 *
 * The cache is shared across tenants: an entry is keyed by the model and the chunk's token ids, so it
 * is only ever used for a prompt that already holds that exact text.
 */
import { join } from 'node:path';
import { createError } from '../errors.js';
import { KvEngine } from '../kv/engine.js';
import { resolveProfile } from '../kv/profiles.js';
import type { ServerConfig } from './config.js';

export class KvService {
  private engine: Promise<KvEngine> | null = null;
  pending = 0;

  constructor(private readonly config: ServerConfig) {}

  get(): Promise<KvEngine> {
    if (!this.engine) {
      let profile;
      try {
        profile = resolveProfile(this.config.kvModel);
      } catch (err) {
        return Promise.reject(err);
      }
      this.engine = KvEngine.open(profile, join(this.config.dataDir, 'kv'));
      this.engine.catch(() => {
        this.engine = null;
      });
    }
    return this.engine;
  }

  /** Admission control around one generation. */
  async run<T>(fn: (engine: KvEngine) => Promise<T>): Promise<T> {
    if (this.pending >= this.config.maxPendingWrites) throw createError('STRATA_OVERLOADED', `${this.pending} generations are in flight (limit ${this.config.maxPendingWrites})`, 'generate');
    this.pending++;
    try {
      return await fn(await this.get());
    } finally {
      this.pending--;
    }
  }

  async close(): Promise<void> {
    const e = this.engine;
    this.engine = null;
    if (e) await (await e.catch(() => null))?.close();
  }
}
