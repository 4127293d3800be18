/**
 * One process per service, as an operator sees it: SIGKILL of the PID that was started frees the
 * port and the data at once, whether `strata serve` ran with the GC flag already (the bin's shebang,
 * `npm start`) or relaunched itself to get it (a plain `node strata.js serve`): no orphan keeps
 * answering or holding LMDB, and a new instance serves the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'src', 'cli', 'strata.js');
const KEY = 'process-test-admin-key-0123456789';

function start(args: string[], dataDir: string): { child: ChildProcess; address: Promise<string> } {
  const child = spawn(process.execPath, [...args, CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--search-threads', '1'], { env: { ...process.env, STRATA_ADMIN_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const address = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"address":"(http:\/\/[^"]+)".*strata is listening/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  return { child, address };
}

/** Whether something accepts TCP connections at the address. */
function listening(address: string): Promise<boolean> {
  const u = new URL(address);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await check()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Infinity;
}

describe('strata serve is one process to its supervisor', () => {
  for (const [how, flags] of [
    ['started with --single-threaded-gc (the bin, npm start)', ['--single-threaded-gc']],
    ['relaunched by a plain node strata.js serve', []],
  ] as const) {
    it(`SIGKILL of the started PID frees the port and the data at once: ${how}`, async () => {
      const { dir, cleanup } = tempDir('process');
      const procs: ChildProcess[] = [];
      try {
        const first = start([...flags], dir);
        procs.push(first.child);
        const address = await first.address;
        expect((await fetch(`${address}/healthz`)).status).toBe(200);
        const created = await fetch(`${address}/v1/collections`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'c', dimension: 4 }) });
        expect(created.status).toBe(201);
        first.child.kill('SIGKILL');
        // No orphan keeps answering: the old address goes quiet (an orphan would answer for ever;
        // the time it takes is logged, not asserted — these machines are shared).
        const freed = await waitUntil(async () => !(await listening(address)), 10_000);
        expect(freed, 'the old address stops answering').toBeLessThan(Infinity);
        const t0 = performance.now();
        const second = start([...flags], dir);
        procs.push(second.child);
        const again = await second.address;
        const r = await fetch(`${again}/v1/collections/c`, { headers: { authorization: `Bearer ${KEY}` } });
        expect(r.status).toBe(200);
        const reopened = performance.now() - t0;
        console.log(`${how}: port free after ${freed.toFixed(0)} ms, a new instance served the data after ${reopened.toFixed(0)} ms`);
      } finally {
        for (const p of procs) p.kill('SIGKILL');
        cleanup();
      }
    }, 30_000);
  }
});
