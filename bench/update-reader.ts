/**
 * worker_threads side of `strata bench updates`: a reader with its own read-only handle on the index
 * (as a second process or service thread would have), searching the queries in a loop and timing
 * each search, while the main thread writes. Messages: {type:'start'} begins a measured phase,
 * {type:'stop'} ends it and answers {type:'latencies', ms}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openIndex } from '../src/index/spann.js';

interface ReaderData {
  dir: string;
  queries: Float32Array;
  dim: number;
  k: number;
  maxLists: number;
}

const { dir, queries, dim, k, maxLists } = workerData as ReaderData;
const index = await openIndex(dir, { readOnly: true });
const nq = queries.length / dim;
let running = false;
let stopping = false;
let latencies: number[] = [];

parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'start') {
    latencies = [];
    running = true;
  } else if (m.type === 'stop') {
    running = false;
    parentPort!.postMessage({ type: 'latencies', ms: latencies });
  } else if (m.type === 'exit') stopping = true;
});
// Warm up before the first measured phase: one untimed pass over the queries, so the idle phase
// does not time this thread's JIT warm-up (that inflated idle p99 up to 4x at 1M).
for (let q = 0; q < nq; q++) index.search(queries.subarray(q * dim, (q + 1) * dim), k, { maxLists });
parentPort!.postMessage({ type: 'ready' });

const tick = () => new Promise<void>((r) => setImmediate(r));
let q = 0;
while (!stopping) {
  if (!running) {
    await new Promise<void>((r) => setTimeout(r, 5));
    continue;
  }
  for (let i = 0; i < 32 && running; i++) {
    const t = performance.now();
    index.search(queries.subarray(q * dim, (q + 1) * dim), k, { maxLists });
    latencies.push(performance.now() - t);
    q = (q + 1) % nq;
  }
  await tick(); // let 'stop' messages in
}
await index.close();
parentPort!.close(); // the message listener would keep the thread alive
