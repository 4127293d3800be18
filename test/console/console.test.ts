/**
 * The web console in a real browser: Debian's Chromium driven by playwright-core against a real
 * `strata serve` process on loopback (`npm run test:console`; scripts/test-console.sh finds the
 * browser, .ci/run installs it). Signs in, creates a collection, upserts, searches with a filter,
 * sees the service's coded error for a bad filter, opens a corpus and retrieves, generates through
 * the KV cache, reads metrics and a benchmark plot — and a tenant key sees only its own tenant.
 * With STRATA_CONSOLE_SCREENSHOTS=dir, a screenshot of each page is saved there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'strata.js');
const ADMIN = 'console-test-admin-key-0123456789';
const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.STRATA_CONSOLE_SCREENSHOTS;

let server: ChildProcess;
let base: string;
let browser: Browser;
let cleanup = () => {};

async function call(method: string, path: string, body?: unknown, key = ADMIN): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: await res.json() };
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(key: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto(`${base}/console/`);
  await page.fill('#sign-in input[name=key]', key);
  await page.click('#sign-in button[type=submit]');
  await page.waitForSelector('#principal');
  return page;
}

beforeAll(async () => {
  const tmp = tempDir('console-');
  cleanup = tmp.cleanup;
  server = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', join(tmp.dir, 'data'), '--search-threads', '1'], { env: { ...process.env, STRATA_ADMIN_KEY: ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] });
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"address":"(http:\/\/[^"]+)".*strata is listening/.exec(out);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`strata serve exited ${code}: ${out}`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  // A corpus for the retrieval page, ingested over the API (what the console shows, not what it does).
  expect((await call('POST', '/v1/corpora', { name: 'stories' })).status).toBe(201);
  const docs = [
    { id: 'fox', title: 'The fox', text: 'A quick brown fox jumps over the lazy dog near the river bank at dawn.' },
    { id: 'moon', title: 'The moon', text: 'The moon rose slowly above the quiet hills while the owls began to call.' },
  ];
  expect((await call('POST', '/v1/corpora/stories/documents', { documents: docs })).status).toBe(200);
});

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  cleanup();
});

describe('web console (Chromium)', () => {
  it('signs in with the admin key; a wrong key is refused with the coded error', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/console/`);
    await page.fill('#sign-in input[name=key]', 'sk_000000000000_wrongwrongwrongwrongwrongwrongwrongwrongwro');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#sign-in .error');
    expect(await page.getAttribute('#sign-in .error', 'data-code')).toBe('STRATA_UNAUTHORIZED');
    await context.close();
    const admin = await signIn(ADMIN);
    expect(await admin.textContent('#principal')).toBe('admin');
    expect(await admin.locator('#nav a').allTextContents()).toEqual(['Collections', 'Search', 'Corpora', 'KV cache', 'Metrics', 'Benchmarks']);
    await admin.context().close();
  });

  it('creates a collection, upserts, searches with a filter and shows the plan; a bad filter shows the service error', async () => {
    const page = await signIn(ADMIN);
    await page.click('summary:has-text("New collection")');
    await page.fill('#create-collection input[name=name]', 'products');
    await page.fill('#create-collection input[name=dimension]', '4');
    await page.click('#create-collection button[type=submit]');
    await page.waitForSelector('#collections-table >> text=products');
    await page.goto(`${base}/console/#/collections/products`);
    await page.click('summary:has-text("Upsert points")');
    const points = [
      ...Array.from({ length: 30 }, (_, i) => ({ id: i + 1, vector: [i, i % 3, 1, 0], tenant: 'acme', metadata: { color: i % 2 ? 'red' : 'blue' } })),
      ...Array.from({ length: 30 }, (_, i) => ({ id: i + 1, vector: [i, i % 3, 1, 0.5], tenant: 'globex', metadata: { color: 'red' } })),
    ];
    await page.fill('#upsert-form textarea[name=points]', JSON.stringify(points));
    await page.click('#upsert-form button[type=submit]');
    expect(await page.textContent('#upsert-result')).toBe('inserted 60, replaced 0');
    await page.waitForSelector('#tenants-table >> text=globex');
    await page.click('summary:has-text("Upsert points")');
    await page.fill('#upsert-form textarea[name=points]', JSON.stringify(points.slice(0, 1)));
    await page.click('#upsert-form button[type=submit]');
    expect(await page.textContent('#upsert-result')).toBe('inserted 0, replaced 1');
    await page.waitForSelector('#health .badge.ok');
    // Browse: 60 points, 25 a page: three pages, then back to the second.
    await page.click('summary:has-text("Browse points")');
    await page.waitForSelector('#points-table');
    const seen: string[] = [];
    for (let p = 1; p <= 3; p++) {
      await page.waitForSelector(`#points-page >> text=page ${p}`);
      seen.push(...(await page.locator('#points-table tbody tr').allTextContents()));
      if (p < 3) await page.click('#points-next');
    }
    expect(seen).toHaveLength(60);
    expect(new Set(seen).size).toBe(60);
    expect(await page.locator('#points-next').count()).toBe(0);
    await page.click('#points-previous');
    await page.waitForSelector('#points-page >> text=page 2');
    expect(await page.locator('#points-table tbody tr').count()).toBe(25);
    await shot(page, 'collections');

    await page.goto(`${base}/console/#/search/products`);
    await page.waitForSelector('#search-form');
    // The collection page's reload after the upsert must not land on the page the user moved to.
    await page.waitForTimeout(1500);
    expect(await page.locator('#search-form').count()).toBe(1);
    expect(await page.locator('#collections-table').count()).toBe(0);
    await page.fill('#search-form textarea[name=vector]', '[4, 1, 1, 0]');
    await page.fill('#search-form input[name=tenant]', 'acme');
    await page.fill('#search-form textarea[name=filter]', '{"color": "red"}');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#hits');
    const rows = await page.locator('#hits tbody tr').allTextContents();
    expect(rows).toHaveLength(10);
    const ids = await page.locator('#hits tbody tr td:nth-child(2)').allTextContents();
    expect(ids.map(Number).every((id) => id % 2 === 0)).toBe(true); // red points of acme have even ids (i odd)
    expect(await page.locator('#hits tbody tr td:nth-child(3)').allTextContents()).toEqual(Array(10).fill('acme'));
    expect(await page.textContent('#explain')).toMatch(/plan \w+/);
    // The hits are the API's for the same request.
    const api = await call('POST', '/v1/collections/products/search', { vector: [4, 1, 1, 0], tenant: 'acme', filter: { color: 'red' } });
    expect(ids.map(Number)).toEqual(api.json.results.map((r: { id: number }) => r.id));
    await shot(page, 'search');

    await page.fill('#search-form textarea[name=filter]', '{"color": {"$regex": "r.*"}}');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-result .error');
    expect(await page.getAttribute('#search-result .error', 'data-code')).toBe('STRATA_INVALID_FILTER');
    expect(await page.textContent('#search-result .error')).toContain('$regex');
    await page.fill('#search-form textarea[name=filter]', '{"color": ');
    await page.click('#search-form button[type=submit]');
    expect(await page.textContent('#search-result .error')).toContain('the filter is not JSON');
    await page.fill('#search-form textarea[name=filter]', '');
    await page.fill('#search-form textarea[name=vector]', '[1, 2]');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-result .error >> text=field');
    expect(await page.getAttribute('#search-result .error', 'data-code')).toBe('STRATA_DIMENSION_MISMATCH');
    await page.context().close();
  });

  it('creates a corpus, adds a document, and retrieves passages with their document and ranks', async () => {
    const page = await signIn(ADMIN);
    await page.goto(`${base}/console/#/corpora`);
    await page.click('summary:has-text("New corpus")');
    await page.fill('#create-corpus input[name=name]', 'notes');
    await page.click('#create-corpus button[type=submit]');
    await page.waitForSelector('h2:has-text("Corpus notes")');
    expect((await call('GET', '/v1/corpora/notes')).status).toBe(200);

    await page.goto(`${base}/console/#/corpora/stories`);
    await page.click('summary:has-text("Add a document")');
    await page.fill('#document-form input[name=docId]', 'bread');
    await page.fill('#document-form input[name=title]', 'Bread');
    await page.fill('#document-form textarea[name=text]', 'Lily baked fresh bread with her grandmother every Sunday morning.');
    await page.click('#document-form button[type=submit]');
    expect(await page.textContent('#ingest-result')).toMatch(/^1 document\(s\) \(0 replaced\): 1 passages added/);
    await page.waitForSelector('#retrieve-form');
    await page.fill('#retrieve-form input[name=query]', 'who baked bread with her grandmother?');
    await page.click('#retrieve-form button[type=submit]');
    await page.waitForSelector('#passages');
    expect(await page.textContent('#passages tbody tr:first-child td:nth-child(2)')).toBe('Bread');
    expect(await page.textContent('#passages tbody tr:first-child td:nth-child(6)')).toContain('grandmother');
    await shot(page, 'corpora');
    await page.context().close();
  });

  it('generates through the chunk KV cache: the TTFT report and which passages were reused', async () => {
    const page = await signIn(ADMIN);
    await page.goto(`${base}/console/#/kv`);
    await page.waitForSelector('#gate');
    expect(await page.textContent('#gate')).toBe('passed');
    for (const expected of ['computed, now stored', 'reused']) {
      await page.selectOption('#generate-form select[name=corpus]', 'stories');
      await page.fill('#generate-form input[name=query]', 'Lily baked bread');
      await page.fill('#generate-form input[name=maxTokens]', '8');
      await page.click('#generate-form button[type=submit]');
      await page.waitForSelector(`#chunk-sources >> text=${expected}`);
      expect(await page.textContent('#ttft')).toMatch(/TTFT [\d.]+ ms/);
    }
    await shot(page, 'kv');
    await page.context().close();
  });

  it('shows metrics from the service and plots a benchmark result', async () => {
    const page = await signIn(ADMIN);
    await page.goto(`${base}/console/#/metrics`);
    // Searches keep coming until the page shows them (the service samples every 5 s, the page refreshes every 5 s).
    let searching = true;
    const load = (async () => {
      while (searching) await call('POST', '/v1/collections/products/search', { vector: [1, 1, 1, 0] });
    })();
    await page.waitForFunction(() => Number(document.querySelector('#metric-qps .card-value')?.textContent) > 0, undefined, { timeout: 30_000 });
    searching = false;
    await load;
    expect(await page.textContent('#metric-p99 .card-value')).toMatch(/^[\d.]+ ms$/);
    expect(await page.locator('#metrics figure.plot').count()).toBe(2);
    await shot(page, 'metrics');
    await page.goto(`${base}/console/#/results`);
    await page.waitForSelector('#result-view figure.plot circle.point');
    const tip = await page.locator('#result-view circle.point').first().locator('title').textContent();
    expect(tip).toMatch(/recall: [\d.]+\nqps: /);
    await shot(page, 'results');
    await page.context().close();
  });

  it("a tenant key sees only its own tenant: its collection, its points, never another tenant's", async () => {
    const issued = await call('POST', '/v1/keys', { collection: 'products', tenant: 'acme' });
    const page = await signIn(issued.json.key);
    expect(await page.textContent('#principal')).toBe('tenant acme of collection products');
    expect(await page.locator('#nav a').allTextContents()).not.toContain('Metrics');
    await page.waitForSelector('#collections-table');
    expect(await page.locator('#collections-table tbody tr').count()).toBe(1);
    expect(await page.textContent('#collections-table tbody')).toContain('acme');
    expect(await page.locator('#tenants-table').count()).toBe(0);
    await page.goto(`${base}/console/#/search/products`);
    await page.waitForSelector('#search-form');
    expect(await page.isDisabled('#search-form input[name=tenant]')).toBe(true);
    await page.fill('#search-form textarea[name=vector]', '[4, 1, 1, 0.5]'); // nearest to globex's points
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#hits');
    expect(new Set(await page.locator('#hits tbody tr td:nth-child(3)').allTextContents())).toEqual(new Set(['acme']));
    expect(await page.locator('#explain').count()).toBe(0);
    await shot(page, 'tenant-search');
    // Another tenant's point by id: the API's 404 in its own tenant, shown.
    await page.goto(`${base}/console/#/collections/products`);
    await page.click('summary:has-text("Browse points")');
    await page.waitForSelector('#points-table');
    expect(new Set(await page.locator('#points-table tbody tr td:nth-child(2)').allTextContents())).toEqual(new Set(['acme']));
    await page.click('summary:has-text("Point by id")');
    await page.fill('input[name=id]', '999');
    await page.click('text=Look up');
    await page.waitForSelector('.error[data-code=STRATA_POINT_NOT_FOUND]');
    await page.context().close();
  });

  it('compacts, and deletes a tenant only after its name is typed', async () => {
    const page = await signIn(ADMIN);
    await page.goto(`${base}/console/#/collections/products`);
    await page.waitForSelector('#tenants-table >> text=globex');
    const answers = ['wrong name', 'globex', 'products'];
    page.on('dialog', (d) => void d.accept(answers.shift()));
    const deleteGlobex = page.locator('#tenants-table tr:has-text("globex") button');
    await deleteGlobex.click(); // a wrong name: nothing happens
    await page.waitForTimeout(300);
    expect((await call('GET', '/v1/collections/products/tenants')).json.tenants.map((t: { name: string }) => t.name)).toEqual(['acme', 'globex']);
    await deleteGlobex.click();
    await page.waitForFunction(() => !document.querySelector('#tenants-table')?.textContent?.includes('globex'));
    expect((await call('GET', '/v1/collections/products/tenants')).json.tenants.map((t: { name: string }) => t.name)).toEqual(['acme']);
    const compacted = page.waitForResponse((r) => r.url().endsWith('/v1/collections/products/compact'));
    await page.click('.actions button:has-text("Compact")');
    expect((await compacted).status()).toBe(200);
    expect((await call('GET', '/v1/collections/products')).json.tombstones).toBe(0);
    await page.context().close();
  });
});
