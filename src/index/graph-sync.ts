/**
 * Keeping the in-memory head graph in step with the heads in LMDB (the source of truth).
 *
 * Every commit that changes heads (a split adds one and moves another, a merge removes one) bumps
 * meta.headsVersion and logs the changed head numbers under that version (headLog db). The graph
 * file is saved with the version it reflects (heads.hnsw.version); on open, a file older than
 * meta.headsVersion is patched by replaying the log, or rebuilt from the heads when the log no
 * longer reaches back that far or the file is missing or unreadable. Batch-search workers patch
 * their own graph copies the same way before each task.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadGraph } from './head-graph.js';
import { GRAPH_FILE, GRAPH_VERSION_FILE, type IndexStore } from '../storage/index-store.js';
import type { IndexMeta } from '../storage/records.js';

/** The heads version a saved graph file reflects, or -1 when there is none or it is unreadable. */
export function savedGraphVersion(dir: string): number {
  try {
    const v = Number(readFileSync(join(dir, GRAPH_VERSION_FILE), 'utf8').trim());
    return Number.isInteger(v) && v >= 0 ? v : -1;
  } catch {
    return -1;
  }
}

/** Write the graph, then its version, each through a rename (a crash leaves the old pair or a stale version: both are detected). */
export function saveGraph(graph: HeadGraph, dir: string): void {
  const file = join(dir, GRAPH_FILE);
  const vfile = join(dir, GRAPH_VERSION_FILE);
  rmSync(vfile, { force: true }); // a graph without its version file is rebuilt, never trusted
  graph.save(`${file}.tmp`);
  renameSync(`${file}.tmp`, file);
  writeFileSync(`${vfile}.tmp`, `${graph.version}\n`);
  renameSync(`${vfile}.tmp`, vfile);
}

/** Remove a graph file and its version (a new index). */
export function removeGraph(dir: string): void {
  rmSync(join(dir, GRAPH_FILE), { force: true });
  rmSync(join(dir, GRAPH_VERSION_FILE), { force: true });
}

/** Apply the heads' current LMDB state to the graph: present heads are put (added or moved), absent ones removed. */
export function applyHeads(graph: HeadGraph, store: IndexStore, heads: ArrayLike<number>, dim: number, scratch = new Float32Array(dim)): void {
  for (let i = 0; i < heads.length; i++) {
    const h = heads[i];
    if (store.heads.get(h, dim, scratch, 0)) graph.put(h, scratch, 0);
    else graph.remove(h);
  }
}

/**
 * Replay the head log from the graph's version up to meta.headsVersion. Returns false (graph
 * untouched beyond what was replayed) when an entry is missing: the caller rebuilds.
 */
export function replayHeadLog(graph: HeadGraph, store: IndexStore, meta: IndexMeta): boolean {
  const dim = meta.options.dimension;
  const scratch = new Float32Array(dim);
  for (let v = graph.version + 1; v <= meta.headsVersion; v++) {
    const heads = store.heads.log(v);
    if (!heads) return false;
    applyHeads(graph, store, heads, dim, scratch);
    graph.version = v;
  }
  graph.count = Math.max(graph.count, meta.headCount);
  return true;
}

/**
 * A reader's graph brought to meta.headsVersion: `graph` itself, patched from the head log, or —
 * when the log no longer reaches back to it — a graph loaded afresh (never written).
 */
export function followHeads(graph: HeadGraph, store: IndexStore, dir: string, meta: IndexMeta): HeadGraph {
  if (meta.headsVersion === graph.version || replayHeadLog(graph, store, meta)) return graph;
  return loadGraph(store, dir, meta, false);
}

/** A graph over the heads in LMDB, built from scratch. */
export function rebuildGraph(store: IndexStore, meta: IndexMeta): HeadGraph {
  const { dimension, metric } = meta.options;
  const { vectors, live } = store.heads.readAll(meta.headCount, dimension);
  const g = HeadGraph.build(vectors, dimension, metric, { m: meta.options.hnswM, efConstruction: meta.options.hnswEfConstruction, seed: meta.options.seed, live });
  g.version = meta.headsVersion;
  return g;
}

/**
 * The head graph of a built index: the saved file when it reflects meta.headsVersion, patched from
 * the head log when it is older, else rebuilt from the heads (and, when `mayWrite`, saved).
 */
export function loadGraph(store: IndexStore, dir: string, meta: IndexMeta, mayWrite: boolean): HeadGraph {
  const file = join(dir, GRAPH_FILE);
  const { dimension, metric } = meta.options;
  const version = savedGraphVersion(dir);
  if (existsSync(file) && version >= 0 && version <= meta.headsVersion) {
    try {
      const g = HeadGraph.load(file, dimension, metric);
      g.version = version;
      if (version === meta.headsVersion && g.count <= meta.headCount) {
        g.count = meta.headCount;
        return g;
      }
      if (replayHeadLog(g, store, meta)) {
        if (mayWrite) saveGraph(g, dir);
        return g;
      }
    } catch {
      // fall through to the rebuild
    }
  }
  const g = rebuildGraph(store, meta);
  if (mayWrite) saveGraph(g, dir);
  return g;
}
