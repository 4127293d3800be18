import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVectors } from '../src/storage/vector-files.js';
import { mixture, tempDir } from './helpers.js';

// The benchmark CLIs run against a tiny dataset folder: they must produce complete, plausible rows.
const tmp = tempDir('bench');
const dim = 16;
let dataDir: string;

beforeAll(() => {
  process.env.STRATA_DATASETS_DIR = join(tmp.dir, 'prepared');
  dataDir = join(tmp.dir, 'tiny');
  mkdirSync(dataDir);
  writeVectors(join(dataDir, 'base.fbin'), mixture(3000, dim, 1), dim);
  writeVectors(join(dataDir, 'query.fbin'), mixture(60, dim, 2), dim);
});
afterAll(() => tmp.cleanup());

describe('strata bench ann', () => {
  it('measures strata, hnswlib and exact in child processes and writes JSON and SVG', async () => {
    const { runAnnBench } = await import('../bench/ann.js');
    const json = join(tmp.dir, 'ann.json');
    const svg = join(tmp.dir, 'ann.svg');
    const lines: string[] = [];
    const rows = await runAnnBench({ dataset: dataDir, k: 10, sweep: false, engines: ['strata', 'hnswlib', 'exact'], queries: 60, rebuild: true, threads: 2, json, svg, workDir: join(tmp.dir, 'work') }, (s) => lines.push(s));
    expect(new Set(rows.map((r) => r.engine))).toEqual(new Set(['strata', 'hnswlib', 'exact']));
    for (const r of rows) {
      for (const f of ['recall', 'qps', 'qpsAllCores', 'p50Ms', 'p99Ms', 'rssAnonBytes', 'diskBytes'] as const) expect(Number.isFinite(r[f]), `${r.engine} ${f}`).toBe(true);
      expect(r.qps).toBeGreaterThan(0);
    }
    expect(rows.find((r) => r.engine === 'exact')!.recall).toBe(1);
    expect(Math.max(...rows.filter((r) => r.engine === 'strata').map((r) => r.recall))).toBeGreaterThanOrEqual(0.95);
    const saved = JSON.parse(readFileSync(json, 'utf8'));
    expect(saved.rows.length).toBe(rows.length);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*strata[\s\S]*hnswlib[\s\S]*<\/svg>\n$/);
    expect(lines.join('\n')).toMatch(/RssAnon/);
    expect(lines.join('\n')).toMatch(/vs hnswlib\s+vs exact/); // strata against each peer at equal recall
  });

  it('interpolates a peer QPS at a recall between its sweep points, and none outside them', async () => {
    const { qpsAtRecall } = await import('../bench/report.js');
    const peer = [
      { recall: 0.97, qps: 1000 },
      { recall: 0.9, qps: 3000 },
      { recall: 0.95, qps: 2000 },
    ];
    expect(qpsAtRecall(peer, 0.925)).toBeCloseTo(2500, 6);
    expect(qpsAtRecall(peer, 0.96)).toBeCloseTo(1500, 6);
    expect(qpsAtRecall(peer, 0.95)).toBeCloseTo(2000, 6);
    expect(qpsAtRecall(peer, 0.89)).toBeNaN();
    expect(qpsAtRecall(peer, 0.98)).toBeNaN();
  });

  it('builds strata with another head ratio into a folder of its own, and times it by target recall', async () => {
    const { runAnnBench } = await import('../bench/ann.js');
    const { openIndex } = await import('../src/index/spann.js');
    const workDir = join(tmp.dir, 'work');
    const rows = await runAnnBench({ dataset: dataDir, k: 10, sweep: false, engines: ['strata'], queries: 60, rebuild: true, threads: 2, workDir, headRatio: 0.2 }, () => {});
    const index = await openIndex(join(workDir, 'strata-index-h0.2'), { readOnly: true });
    try {
      expect(index.options.headRatio).toBe(0.2);
      expect(index.stats().heads).toBe(600);
      expect(rows.map((r) => r.params.maxLists)).toEqual(rows.map((r) => index.budgetFor(r.params.targetRecall)));
    } finally {
      await index.close();
    }
  });
});

describe('strata bench ann in the SSD regime', async () => {
  const { memoryCgroupUnavailable } = await import('../bench/memory-cap.js');
  const noCgroup = memoryCgroupUnavailable();
  it.skipIf(noCgroup !== null)('an engine the memory cap kills is a "does not fit" row, not a failed benchmark', async () => {
    const { runAnnBench } = await import('../bench/ann.js');
    const lines: string[] = [];
    const rows = await runAnnBench({ dataset: dataDir, k: 10, sweep: false, engines: ['strata'], queries: 60, rebuild: false, threads: 2, workDir: join(tmp.dir, 'work'), memoryCap: '40' }, (s) => lines.push(s));
    const capped = rows.filter((r) => r.capBytes > 0);
    // Killed while opening (one "does not fit" row) or in the all-cores phase, where each batch worker
    // loads its own head graph (the single-thread rows stand, QPS all says OOM): either way, no crash.
    expect(capped.length).toBeGreaterThan(0);
    for (const r of capped) {
      expect(r.capBytes).toBe(40 * 2 ** 20);
      if (r.oom) expect(capped).toHaveLength(1);
      else expect(r.allCoresOom && Number.isNaN(r.qpsAllCores) && r.qps > 0).toBe(true);
    }
    expect(rows.filter((r) => r.capBytes === 0).length).toBeGreaterThan(0); // the uncapped baseline still ran
    expect(lines.join('\n')).toMatch(capped[0].oom ? /does not fit \(OOM at 40 MiB\)/ : /\bOOM\b/);
  });

  it.skipIf(noCgroup !== null)('capped and cold rows carry device reads, page faults, the cgroup peak and the time to a first answer', async () => {
    const { runAnnBench } = await import('../bench/ann.js');
    const rows = await runAnnBench({ dataset: dataDir, k: 10, sweep: false, engines: ['strata'], queries: 60, rebuild: false, threads: 2, workDir: join(tmp.dir, 'work'), memoryCap: '1GiB', cold: true }, () => {});
    const capped = rows.filter((r) => r.capBytes === 2 ** 30 && r.pass === 'warm');
    const cold = rows.filter((r) => r.pass === 'cold');
    // The default settings are target recalls (0.9, 0.95, 0.99; targets the curve gives the same
    // budget are one setting), each with and without prefetch, warm under the cap and cold.
    const targets = capped.map((r) => r.params.targetRecall);
    expect(targets.length % 2).toBe(0);
    expect(targets.length).toBeGreaterThanOrEqual(2);
    expect(capped.map((r) => r.params.prefetch)).toEqual(targets.map((_, i) => i % 2));
    for (let i = 2; i < capped.length; i += 2) expect(capped[i].params.maxLists).toBeGreaterThan(capped[i - 2].params.maxLists);
    expect(cold).toHaveLength(capped.length);
    for (const r of [...capped, ...cold]) {
      expect(r.oom).toBeUndefined();
      for (const f of ['deviceBytesPerQuery', 'majorFaultsPerQuery', 'cgroupPeakBytes', 'bytesReadPerQuery'] as const) expect(Number.isFinite(r[f]), f).toBe(true);
      expect(r.cgroupPeakBytes!).toBeLessThanOrEqual(2 ** 30);
    }
    for (const r of cold) expect(r.firstResultMs!).toBeGreaterThan(0);
    // Prefetching changes where pages are read, never the answer.
    for (let i = 0; i < capped.length; i += 2) expect(capped[i + 1].recall).toBe(capped[i].recall);
  });

  it('a cap in an unknown unit is refused with a coded error naming the option', async () => {
    const { parseMemoryCap } = await import('../bench/memory-cap.js');
    expect(parseMemoryCap('256', 0)).toBe(256 * 2 ** 20);
    expect(parseMemoryCap('1GiB', 0)).toBe(2 ** 30);
    expect(parseMemoryCap('15%raw', 2 ** 32)).toBe(Math.floor((0.15 * 2 ** 32) / 4096) * 4096);
    expect(() => parseMemoryCap('lots', 0)).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'memoryCap' }));
    expect(() => parseMemoryCap('8', 0)).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION' }));
  });
});

describe('strata bench codecs', () => {
  it('builds one index per spec and reports size, recall and QPS per setting', async () => {
    const { runCodecBench } = await import('../bench/codecs.js');
    const json = join(tmp.dir, 'codecs.json');
    const rows = await runCodecBench({ dataset: dataDir, specs: ['SPANN', 'SPANN,F8E4M3', 'PCA50%,SPANN,INT8,Refine'], k: 10, maxLists: [4, 16], queries: 60, rebuild: true, json }, () => {});
    expect(rows.map((r) => `${r.spec}@${r.maxLists}`)).toEqual(['SPANN@4', 'SPANN@16', 'SPANN,F8E4M3@4', 'SPANN,F8E4M3@16', 'PCA50%,SPANN,INT8,Refine@4', 'PCA50%,SPANN,INT8,Refine@16']);
    expect(rows.map((r) => r.bytesPerVector)).toEqual([64, 64, 16, 16, 8, 8]);
    expect([rows[2].compression, rows[4].compression]).toEqual([4, 8]);
    for (const r of rows) expect(r.qps).toBeGreaterThan(0);
    const saved = JSON.parse(readFileSync(json, 'utf8'));
    for (const r of saved.rows) for (const f of ['spec', 'bytesPerVector', 'recall', 'qps']) expect(r).toHaveProperty(f);
    expect(existsSync(join(tmp.dir, 'prepared', 'tiny', 'indexes'))).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)('under --memory-cap: each spec again in a cgroup, with the same answers and its device reads', async () => {
    const { memoryCgroupUnavailable } = await import('../bench/memory-cap.js');
    if (memoryCgroupUnavailable()) return;
    const { runCodecBench } = await import('../bench/codecs.js');
    const rows = await runCodecBench({ dataset: dataDir, specs: ['SPANN,F8E4M3'], k: 10, maxLists: [4, 16], queries: 60, rebuild: false, memoryCap: '1GiB' }, () => {});
    const free = rows.filter((r) => r.capBytes === 0);
    const capped = rows.filter((r) => r.capBytes === 2 ** 30);
    expect(capped.map((r) => r.maxLists)).toEqual([4, 16]);
    for (let i = 0; i < 2; i++) {
      expect(capped[i].recall).toBe(free[i].recall); // the cap changes where bytes come from, not the answers
      expect(capped[i].bytesPerVector).toBe(16);
      expect(Number.isFinite(capped[i].deviceBytesPerQuery)).toBe(true);
    }
  }, 60_000);
});

describe('strata bench filter', () => {
  it('measures every engine on every case it serves, with the JSON fields the issue asks for', async () => {
    const { runFilterBench } = await import('../bench/filter.js');
    const json = join(tmp.dir, 'filter.json');
    const lines: string[] = [];
    const rows = await runFilterBench(
      { dataset: dataDir, tenants: 40, seed: 3, k: 10, queries: 60, maxLists: [8], ef: [64], engines: ['strata', 'strata-plain', 'hnswlib', 'per-tenant'], rebuild: true, threads: 2, json },
      (s) => lines.push(s),
    );
    const cases = ['unfiltered', 'filter 99%', 'filter 1%', 'tenant ~1%', 'tenant by traffic'];
    // strata engines: the defaults a user gets (targetRecall 0.95), then each --max-lists setting.
    const strataRows = (engine: string, p: Record<string, number>) => rows.filter((r) => r.engine === engine && JSON.stringify(r.params) === JSON.stringify(p)).map((r) => r.case);
    for (const p of [{ targetRecall: 0.95 }, { maxLists: 8 }] as Record<string, number>[]) {
      expect(strataRows('strata', p)).toEqual(cases);
      expect(strataRows('strata-plain', p)).toEqual(['unfiltered']);
      expect(strataRows('per-tenant', p)).toEqual(['tenant ~1%']);
    }
    expect(rows.filter((r) => r.engine === 'hnswlib').map((r) => r.case)).toEqual(cases);
    for (const r of rows.filter((x) => x.engine === 'strata')) expect(r.recall, r.case).toBeGreaterThanOrEqual(0.9);
    const saved = JSON.parse(readFileSync(json, 'utf8'));
    for (const r of saved.rows) for (const f of ['engine', 'selectivity', 'recall', 'qps', 'p50Ms', 'p99Ms', 'rssAnonBytes']) expect(r).toHaveProperty(f);
    expect(lines.join('\n')).toMatch(/memory overhead of tenancy/);
  }, 120_000);

  it.skipIf(process.getuid?.() !== 0)('under --memory-cap: the same cases with the cap and device reads, or a "does not fit" row', async () => {
    const { memoryCgroupUnavailable } = await import('../bench/memory-cap.js');
    if (memoryCgroupUnavailable()) return;
    const { runFilterBench } = await import('../bench/filter.js');
    const settings = { dataset: dataDir, tenants: 40, seed: 3, k: 10, queries: 60, maxLists: [8], ef: [64], rebuild: false, threads: 2 };
    const capped = await runFilterBench({ ...settings, engines: ['strata'], memoryCap: '1GiB' }, () => {});
    expect(capped.filter((r) => r.params.maxLists === 8).map((r) => r.case)).toEqual(['unfiltered', 'filter 99%', 'filter 1%', 'tenant ~1%', 'tenant by traffic']);
    for (const r of capped) {
      expect(r.capBytes).toBe(2 ** 30);
      expect(Number.isFinite(r.deviceBytesPerQuery) && Number.isFinite(r.majorFaultsPerQuery)).toBe(true);
      expect(r.recall, r.case).toBeGreaterThanOrEqual(0.9);
    }
    const lines: string[] = [];
    const oom = await runFilterBench({ ...settings, engines: ['per-tenant'], memoryCap: '32' }, (s) => lines.push(s));
    expect(oom).toEqual([expect.objectContaining({ engine: 'per-tenant', oom: true, capBytes: 32 * 2 ** 20 })]);
    expect(lines.join('\n')).toMatch(/does not fit \(OOM at 32 MiB\)/);
  }, 120_000);
});
