/** Process memory as the kernel reports it. RssAnon excludes file-backed pages (LMDB's memory map). */
import { readFileSync } from 'node:fs';

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

/** Peak resident set size of this process so far (VmHWM). */
export function peakRssBytes(): number {
  return statusField('VmHWM');
}
