/**
 * V8 garbage-collector mode of processes that write while other threads search.
 *
 * By default V8 runs parts of every major GC (marking, sweeping, compaction) on helper threads
 * shared by the whole process. A writer that reads and rewrites posting lists allocates large
 * buffers, which triggers major GCs; on a small machine (2 cores) their helper threads take the
 * core a search thread runs on, and search p99 while ingesting doubled or tripled
 * (bench/results/*updates*, BENCHMARKS.md). With `--single-threaded-gc` each isolate collects on
 * its own thread: the writer pays its GC itself and readers keep their core.
 *
 * The flag cannot be set at run time (V8 aborts) nor through NODE_OPTIONS. The `strata` bin's shebang
 * and `npm start` pass it, so the usual ways in run ONE process; a plain `node …/strata.js serve`
 * relaunches itself with it, and that child is tied to its parent: it exits at once when the parent
 * dies (even by SIGKILL, which cannot be forwarded), so a supervisor that kills the PID it started
 * never leaves a server holding the port and the LMDB files.
 */
import { spawn } from 'node:child_process';

export const SINGLE_THREADED_GC_FLAG = '--single-threaded-gc';

const RELAUNCHED_ENV = 'STRATA_RELAUNCHED_CHILD';

/**
 * In a relaunched child: exit as soon as the parent is gone (its IPC channel closes when it dies,
 * however it died). A no-op elsewhere. Call it first thing in the entry point.
 */
export function exitWithParent(): void {
  if (process.env[RELAUNCHED_ENV] !== '1' || !process.send) return;
  process.on('disconnect', () => process.exit(137));
  process.channel?.unref(); // the channel alone must not keep the child alive
}

export function hasSingleThreadedGc(): boolean {
  return process.execArgv.includes(SINGLE_THREADED_GC_FLAG);
}

/**
 * Relaunch this script with single-threaded GC unless it already runs that way. Resolves to true
 * in the parent once the child has exited (the parent's exit code is set to the child's; signals
 * are forwarded), false when the current process already has the flag and should do the work.
 */
export async function relaunchWithSingleThreadedGc(): Promise<boolean> {
  if (hasSingleThreadedGc()) return false;
  const child = spawn(process.execPath, [SINGLE_THREADED_GC_FLAG, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [RELAUNCHED_ENV]: '1' },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const code = await new Promise<number>((resolve) =>
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1))),
  );
  for (const [s, h] of handlers) process.off(s, h);
  process.exitCode = code;
  return true;
}
