/**
 * The parent/child plumbing every benchmark shares: each engine is built and measured in a child
 * process of its own (so memory readings do not mix), which takes its job as JSON in argv[2] and
 * answers over IPC with progress, an error or its result.
 */
import { fork } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import type { ProgressUi } from '../src/util/progress.js';
import type { MemoryCgroup } from './memory-cap.js';
import { workerFile } from '../src/util/workers.js';

/**
 * Parent side: run `script` (a bench module name, e.g. 'ann-engine') on `job`; resolves with its
 * result message. With `cgroup` the child runs inside it (memory-cap.ts), and a child the cgroup's
 * OOM killer ended resolves as `{ type: 'oom' }` instead of failing the benchmark.
 */
export function runEngineChild(script: string, job: { engine: string; mode: string }, ui: ProgressUi, cgroup?: MemoryCgroup): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // In a cgroup: a shell joins it, then becomes Node (fork runs execPath with execArgv, the module and args).
    const launch = cgroup
      ? { execPath: '/bin/sh', execArgv: ['-c', 'echo $$ > "$1" && shift 2 && exec "$0" "$@"', process.execPath, cgroup.procsFile, '--', '--expose-gc'] }
      : { execArgv: ['--expose-gc'] };
    const child = fork(workerFile(`../bench/${script}`), [JSON.stringify(job)], { ...launch, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: Record<string, unknown> | undefined;
    child.on('message', (m: Record<string, unknown>) => {
      if (m.type === 'progress') ui.update(String(m.stage), Number(m.done), Number(m.total));
      else if (m.type === 'error') reject(new Error(`${job.engine} ${job.mode} failed: ${m.message}`));
      else result = m;
    });
    child.on('exit', (code, signal) => {
      // Killed by the cap: say so, with what the child reported before (a 'partial' message), if anything.
      if (cgroup && (signal === 'SIGKILL' || cgroup.oomKills() > 0)) resolve({ type: 'oom', peakBytes: cgroup.peakBytes(), ...(result ? { partial: result } : {}) });
      else if (result && code === 0) resolve(result);
      else reject(new Error(`${job.engine} ${job.mode} child exited with ${signal ?? `code ${code}`}`));
    });
  });
}

/** Child side: a message to the parent. */
export function send(msg: unknown): void {
  process.send!(msg);
}

/** Child side: run `main` on the job from argv, report an error to the parent, and exit. */
export function runAsChild<J>(main: (job: J) => Promise<void>): void {
  main(JSON.parse(process.argv[2]) as J).then(
    () => process.exit(0),
    (err) => {
      send({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
      process.exit(1);
    },
  );
}

/** The q-quantile of ascending samples. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** A free loopback port for a child server: bind port 0, read it, let it go. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
