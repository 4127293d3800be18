/**
 * A memory cap for a benchmark's engine process: a memory cgroup whose limit counts the page cache
 * the process brings in (cgroup v2 `memory.max`, or the v1 memory controller's
 * `memory.limit_in_bytes` where only v1 is mounted writable). The engine's child process is started
 * inside it (a shell writes its own pid into the cgroup, then execs Node), so everything it allocates
 * or reads through the page cache is charged to the cap from its first instruction.
 *
 * Page cache that another cgroup brought in stays charged there: a capped run therefore drops the
 * engine's files from the page cache first (page-cache.ts), or the cap would not see them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../src/errors.js';
import { dropPageCache } from '../src/storage/page-cache.js';

const MiB = 2 ** 20;

/**
 * "256" or "256MiB" (MiB), "1GiB", "512MB" (10^6), or "15%raw" (a share of the dataset's raw float32
 * bytes). Returns bytes.
 */
export function parseMemoryCap(text: string, rawBytes: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%raw|MiB|GiB|MB|GB|M|G)?\s*$/i.exec(text);
  if (!m) throw createError('STRATA_INVALID_OPTION', `--memory-cap must be MiB (e.g. 256), a size with a unit (1GiB) or a share of the raw vectors (15%raw), got ${JSON.stringify(text)}`, 'memoryCap');
  const v = Number(m[1]);
  const unit = (m[2] ?? 'MiB').toLowerCase();
  const bytes = unit === '%raw' ? (v / 100) * rawBytes : unit === 'gib' || unit === 'g' ? v * 1024 * MiB : unit === 'gb' ? v * 1e9 : unit === 'mb' ? v * 1e6 : v * MiB;
  if (!(bytes >= 32 * MiB)) throw createError('STRATA_INVALID_OPTION', `--memory-cap must be at least 32 MiB (Node alone needs about 40), got ${JSON.stringify(text)}`, 'memoryCap');
  return Math.floor(bytes / 4096) * 4096;
}

type Version = 'v1' | 'v2';

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

/** Which writable memory controller this machine has, or a sentence saying why there is none. */
function detect(): { version: Version; root: string } | string {
  const v2 = join(V2_ROOT, 'cgroup.controllers');
  if (existsSync(v2) && readFileSync(v2, 'utf8').split(/\s+/).includes('memory')) {
    const subtree = join(V2_ROOT, 'cgroup.subtree_control');
    try {
      if (!readFileSync(subtree, 'utf8').split(/\s+/).includes('memory')) writeFileSync(subtree, '+memory');
      accessSync(V2_ROOT, constants.W_OK);
      return { version: 'v2', root: V2_ROOT };
    } catch (err) {
      return `cgroup v2 is mounted but its memory controller cannot be delegated here (${(err as Error).message})`;
    }
  }
  if (existsSync(join(V1_ROOT, 'memory.limit_in_bytes'))) {
    try {
      accessSync(V1_ROOT, constants.W_OK);
      return { version: 'v1', root: V1_ROOT };
    } catch {
      return `the cgroup v1 memory controller at ${V1_ROOT} is not writable by this user`;
    }
  }
  return 'no memory cgroup controller is mounted (neither cgroup v2 with "memory" nor v1 at /sys/fs/cgroup/memory)';
}

/** Why no memory cgroup can be made here, or null when one can. */
export function memoryCgroupUnavailable(): string | null {
  const found = detect();
  return typeof found === 'string' ? found : null;
}

let serial = 0;

export class MemoryCgroup {
  private constructor(
    readonly version: Version,
    readonly dir: string,
    readonly limitBytes: number,
  ) {}

  /** A new cgroup limited to `limitBytes` (memory and page cache; no swap). Throws a coded error when none can be made. */
  static create(limitBytes: number): MemoryCgroup {
    const found = detect();
    if (typeof found === 'string') {
      throw createError(
        'STRATA_NO_CGROUP',
        `--memory-cap needs a memory cgroup this process may create: ${found}. Run as root (or with a delegated cgroup v2 subtree), or leave --memory-cap out.`,
        'memoryCap',
      );
    }
    const dir = join(found.root, `strata-bench-${process.pid}-${serial++}`);
    mkdirSync(dir);
    const cg = new MemoryCgroup(found.version, dir, limitBytes);
    if (found.version === 'v2') {
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    } else {
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      // Without swap accounting the anonymous part could otherwise spill to swap unseen.
      if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes));
      writeFileSync(join(dir, 'memory.swappiness'), '0');
    }
    return cg;
  }

  /** The file a process writes its pid into to join. */
  get procsFile(): string {
    return join(this.dir, 'cgroup.procs');
  }

  /** Peak bytes charged (page cache included), or NaN when the kernel does not say. */
  peakBytes(): number {
    const f = join(this.dir, this.version === 'v2' ? 'memory.peak' : 'memory.max_usage_in_bytes');
    return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN;
  }

  /** Times the cgroup's OOM killer ran. */
  oomKills(): number {
    const f = join(this.dir, this.version === 'v2' ? 'memory.events' : 'memory.oom_control');
    if (!existsSync(f)) return 0;
    const m = /oom_kill\s+(\d+)/.exec(readFileSync(f, 'utf8'));
    return m ? Number(m[1]) : 0;
  }

  /** Remove the cgroup (its processes have exited). */
  remove(): void {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // the last process is still leaving
      }
    }
  }
}

/** Human form of a cap: "256 MiB". */
export function capLabel(bytes: number): string {
  return bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

/**
 * Drop every file under these paths (files or folders; missing ones are skipped) from the page cache,
 * so a capped process reads them itself and the cap is charged for them.
 */
export function evictFromPageCache(...paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) continue;
    if (statSync(path).isDirectory()) evictFromPageCache(...readdirSync(path).map((name) => join(path, name)));
    else dropPageCache(path);
  }
}
