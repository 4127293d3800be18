/**
 * The HTTP load generator of `strata bench http`: `connections` keep-alive connections (undici),
 * each with one request in flight at a time (closed loop), cycling through the request bodies for
 * `seconds`. Latencies are taken with the monotonic clock in microseconds (autocannon's whole
 * milliseconds hide what matters at low concurrency).
 *
 * The server's CPU time is read from /proc/<pid>/stat around the run (every thread of the server
 * process, none of the client's), so a row can say what one request cost the server.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface LoadOptions {
  /** http://host:port */
  origin: string;
  path: string;
  bodies: string[];
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** The server's pid, for its CPU time (omit: not measured). */
  serverPid?: number;
  /** Requests per second across all connections (open loop with this pacing); omit: as fast as answered. */
  rate?: number;
}

export interface LoadResult {
  seconds: number;
  /** 2xx answers. */
  ok: number;
  /** Answers by status (non-2xx). */
  statuses: Record<string, number>;
  /** Requests that got no answer (connection errors, resets). */
  errors: number;
  /** Latency of every 2xx answer, µs, ascending. */
  latencyUs: Float64Array;
  /** Server CPU seconds (user + system) spent during the run; NaN when not measured. */
  serverCpuSeconds: number;
}

/** CPU seconds (user + system, all threads) the process has used, from /proc; NaN where there is no /proc. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
/** USER_HZ: 100 on every Linux configuration Node supports. */
const CLOCK_TICKS = 100;

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(o.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0, errors = 0, next = 0;
  const headers = { ...o.headers, 'content-type': 'application/json' };
  const cpu0 = o.serverPid ? processCpuSeconds(o.serverPid) : Number.NaN;
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  const interval = o.rate ? (1000 * o.connections) / o.rate : 0;
  try {
    await Promise.all(
      Array.from({ length: o.connections }, async (_, c) => {
        let due = t0 + (interval * c) / o.connections;
        while (performance.now() < end) {
          if (interval > 0) {
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            due += interval;
          }
          const body = o.bodies[next++ % o.bodies.length];
          const s = performance.now();
          try {
            const r = await pool.request({ path: o.path, method: 'POST', headers, body });
            await r.body.dump({ limit: Number.POSITIVE_INFINITY });
            if (r.statusCode >= 200 && r.statusCode < 300) {
              latencies.push((performance.now() - s) * 1000);
              ok++;
            } else statuses[String(r.statusCode)] = (statuses[String(r.statusCode)] ?? 0) + 1;
          } catch {
            errors++;
          }
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const serverCpuSeconds = o.serverPid ? processCpuSeconds(o.serverPid) - cpu0 : Number.NaN;
  const latencyUs = Float64Array.from(latencies).sort();
  return { seconds, ok, statuses, errors, latencyUs, serverCpuSeconds };
}
