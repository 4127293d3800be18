/** Process memory as the kernel reports it. RssAnon excludes file-backed pages (LMDB's memory map). */
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';

function statusField(field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Anonymous resident bytes (heap, stacks, native allocations), or NaN off Linux. */
export function rssAnonBytes(): number {
  return statusField('RssAnon');
}

/**
 * Peak anonymous resident bytes from now until `stop()`: a worker thread samples RssAnon every 20 ms,
 * whatever the main thread is doing. Unlike VmHWM it leaves out mapped file pages (an index's LMDB
 * map read by searches), which the kernel drops under pressure. NaN off Linux.
 */
export function watchPeakAnon(): { stop: () => Promise<number> } {
  const peak = new Float64Array(new SharedArrayBuffer(16)); // [peak, stop flag]
  peak[0] = rssAnonBytes();
  const code = `
    const { workerData } = require('node:worker_threads');
    const { readFileSync } = require('node:fs');
    const p = new Float64Array(workerData);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    while (p[1] === 0) {
      const m = /^RssAnon:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) p[0] = Math.max(p[0], Number(m[1]) * 1024);
      Atomics.wait(nap, 0, 0, 20);
    }`;
  const worker = new Worker(code, { eval: true, workerData: peak.buffer });
  return {
    stop: async () => {
      peak[0] = Math.max(peak[0], rssAnonBytes());
      peak[1] = 1;
      await new Promise((r) => worker.once('exit', r));
      return peak[0];
    },
  };
}

/** Bytes this process (all its threads) caused to be read from storage: /proc/self/io read_bytes, NaN off Linux. */
export function deviceReadBytes(): number {
  try {
    const m = /^read_bytes:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Major page faults of this process so far (all threads): each one waited for the device. */
export function majorFaults(): number {
  return process.resourceUsage().majorPageFault;
}

/** Device reads and major page faults so far; `since` gives the difference to an earlier reading. */
export function ioCounters(): { readBytes: number; majorFaults: number } {
  return { readBytes: deviceReadBytes(), majorFaults: majorFaults() };
}

/**
 * The memory this process may use: the machine's, or less when its memory cgroup (v2 memory.max, v1
 * memory.limit_in_bytes) sets a lower limit. Page cache counts against a cgroup's limit.
 */
export function memoryLimitBytes(): number {
  let limit = totalmem();
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = line.split(':');
      if (path === undefined) continue;
      const file = controllers === '' ? `/sys/fs/cgroup${path}/memory.max` : controllers.split(',').includes('memory') ? `/sys/fs/cgroup/memory${path}/memory.limit_in_bytes` : null;
      if (!file || !existsSync(file)) continue;
      const v = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(v) && v > 0) limit = Math.min(limit, v);
    }
  } catch {
    // not Linux, or no cgroup files: the machine's memory
  }
  return limit;
}
