/**
 * The service's chunk KV cache (issue 8): one decoder model (config.kvModel: a shared model's name or
 * a profile JSON file) registered at first use, with its stores in <dataDir>/kv. Model compute runs
 * in onnxruntime's own threads (session.run is asynchronous); re-rotation, cache joins and store
 * writes run on the event loop (milliseconds for the models here). Generations count as writes
 * (admission.ts).
 *
 * Entries are keyed by the model, the caller's namespace (its corpus tenant, or the corpus when the
 * admin chose sharing; routes/kv.ts) and the chunk's token ids: a prompt reuses only what its own
 * namespace cached, and its report and stats say nothing of other namespaces.
 */
import { join } from 'node:path';
import { KvEngine } from '../kv/engine.js';
import type { ModelProfile } from '../kv/model-profile.js';
import { resolveProfile } from '../kv/profiles.js';
import type { ServerConfig } from './config.js';
import type { WriteAdmission } from './admission.js';

export class KvService {
  private engine: Promise<KvEngine> | null = null;
  constructor(
    private readonly config: ServerConfig,
    private readonly writes: WriteAdmission,
  ) {}

  get(): Promise<KvEngine> {
    if (!this.engine) {
      let profile: ModelProfile;
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

  /** One generation under the service's write admission (it computes and stores KV caches). */
  run<T>(fn: (engine: KvEngine) => Promise<T>): Promise<T> {
    return this.writes.run(async () => fn(await this.get()), 'generate');
  }

  async close(): Promise<void> {
    const e = this.engine;
    this.engine = null;
    if (e) await (await e.catch(() => null))?.close();
  }
}
