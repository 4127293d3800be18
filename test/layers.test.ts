/**
 * Dependencies point one way (ARCHITECTURE.md, "Layers"):
 *   cli -> bench -> server -> datasets -> kv -> rag -> index -> storage -> util (and errors.ts)
 * and the web console (src/console) apart: a browser program importing only itself.
 * A module may import its own layer or any layer below it, never above. The shipped CLI reaches the
 * benchmarks only through dynamic import() (so their dependencies are not the CLI's), and src/storage
 * imports nothing above util.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Layer of a repository path, lowest first. */
const LAYERS: Array<[string, number]> = [
  ['src/util/', 0],
  ['src/errors.ts', 0],
  ['src/storage/', 1],
  ['src/index/', 2],
  ['src/rag/', 3],
  ['src/kv/', 4],
  ['src/datasets/', 5],
  ['src/server/', 6],
  ['bench/', 7],
  ['src/cli/', 8],
  ['src/strata.ts', 8],
  // The web console runs in the browser: nothing imports it, and it imports only itself (below).
  ['src/console/', 9],
];

function layerOf(path: string): number {
  const hit = LAYERS.find(([prefix]) => path === prefix || path.startsWith(prefix));
  if (!hit) throw new Error(`${path} belongs to no layer: add its folder to LAYERS (and to ARCHITECTURE.md)`);
  return hit[1];
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (rel.endsWith('.ts')) out.push(rel);
  }
  return out;
}

interface Edge {
  from: string;
  to: string;
  dynamic: boolean;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of [...sources('src'), ...sources('bench')]) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) {
      const spec = m[1] ?? m[2];
      const target = relative(ROOT, resolve(dirname(join(ROOT, file)), spec)).replace(/\.js$/, '.ts');
      out.push({ from: file, to: target, dynamic: m[2] !== undefined });
    }
  }
  return out;
}

describe('layers', () => {
  const all = edges();

  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(300);
    expect(all.some((e) => e.from.startsWith('src/cli/') && e.to.startsWith('bench/') && e.dynamic)).toBe(true);
  });

  it('no module imports a layer above its own', () => {
    const up = all.filter((e) => layerOf(e.to) > layerOf(e.from)).map((e) => `${e.from} -> ${e.to}`);
    expect(up).toEqual([]);
  });

  it('the console (a browser program) imports only its own modules', () => {
    const out = all.filter((e) => e.from.startsWith('src/console/') && !e.to.startsWith('src/console/')).map((e) => `${e.from} -> ${e.to}`);
    expect(out).toEqual([]);
    expect(all.some((e) => e.from === 'src/console/app.ts')).toBe(true);
  });

  it('the CLI reaches the benchmarks only lazily', () => {
    const eager = all.filter((e) => e.from.startsWith('src/') && e.to.startsWith('bench/') && !e.dynamic).map((e) => `${e.from} -> ${e.to}`);
    expect(eager).toEqual([]);
  });
});
