/** The RAG commands of the `strata` CLI: ingest documents, query passages, evaluate on a judged corpus. */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { nonNegativeInt, nonNegativeNumber, positiveInt } from '../util/cli-args.js';
import { loadDocuments } from '../rag/documents.js';
import { Corpus, DEFAULT_RETRIEVAL_MODE, RETRIEVAL_MODES, type RetrievalMode } from '../rag/corpus.js';
import type { FusionMethod } from '../rag/fusion.js';
import { createProgress } from '../util/progress.js';
import { DEFAULT_MODEL_DIR } from '../rag/defaults.js';
import { assetCorpus } from '../util/paths.js';

export const DEFAULT_CORPUS_DIR = '.strata-corpus';

/** --model, else the model the corpus was built with, else the bundled GloVe encoder. */
async function modelFor(corpusDir: string, model: string | undefined): Promise<string> {
  if (model) return resolve(model);
  return (await Corpus.storedModelDir(corpusDir)) ?? DEFAULT_MODEL_DIR;
}

const MODEL_HELP = `sentence-encoder folder: model.onnx plus tokenizer.json or vocab.txt, optional strata-model.json (default: the corpus's own model, else ${DEFAULT_MODEL_DIR})`;

export function addRagCommands(program: Command): void {
  program
    .command('ingest')
    .description('Chunk, embed and index documents into a corpus folder (LMDB + SPANN index). Re-ingesting a changed document replaces it; unchanged ones are skipped.')
    .argument('<path>', 'a .txt / .md / .jsonl file, or a folder searched recursively for them')
    .option('--corpus <dir>', 'corpus folder', DEFAULT_CORPUS_DIR)
    .option('--model <dir>', MODEL_HELP)
    .option('--tenant <name>', 'tenant the documents belong to', 'default')
    .option('--chunk-tokens <n>', 'largest chunk, in model tokens (default 256, capped by the model)', positiveInt('--chunk-tokens'))
    .option('--overlap-tokens <n>', 'tokens a chunk repeats from the previous one (default 32)', nonNegativeInt('--overlap-tokens'))
    .option('--threads <n>', 'embedding worker threads (0 = one per core)', nonNegativeInt('--threads'), 0)
    .addHelpText('after', `
JSONL lines are {"id" or "_id", "title"?, "text", "metadata"?} (BEIR's corpus.jsonl works as is); a
.txt/.md file is one document whose id is its path under <path>.
Example:
  strata ingest assets/corpora/scifact/corpus.jsonl.gz --corpus ./scifact-corpus   (the bundled SciFact; .gz is read as is)`)
    .action(async (path: string, opts) => {
      const docs = loadDocuments(path);
      const corpus = await Corpus.open(opts.corpus, {
        model: await modelFor(opts.corpus, opts.model),
        chunk: { ...(opts.chunkTokens !== undefined ? { maxTokens: opts.chunkTokens } : {}), ...(opts.overlapTokens !== undefined ? { overlapTokens: opts.overlapTokens } : {}) },
        embedder: { threads: opts.threads },
      });
      try {
        const ui = createProgress();
        const r = await corpus.ingest(docs, { tenant: opts.tenant, onProgress: ui.update });
        ui.stop();
        console.log(
          `${r.documents} documents (${r.unchanged} unchanged, ${r.replaced} replaced): +${r.chunksAdded} / -${r.chunksRemoved} passages, ${r.embedded} embedded, ${r.chunksDeduplicated} deduplicated; index ${r.index}; ${r.seconds.toFixed(1)} s`,
        );
        const s = corpus.stats();
        console.log(`corpus ${resolve(opts.corpus)}: ${s.documents} documents, ${s.chunks} passages, ${s.tenants} tenant(s), ${s.dimension}-d`);
      } finally {
        await corpus.close();
      }
    });

  program
    .command('query')
    .description('Retrieve passages for a question from a corpus folder made by `strata ingest`.')
    .argument('<text>', 'the question')
    .option('--corpus <dir>', 'corpus folder', DEFAULT_CORPUS_DIR)
    .option('--model <dir>', MODEL_HELP)
    .option('--tenant <name>', 'tenant to search', 'default')
    .option('--k <n>', 'passages to return', positiveInt('--k'), 5)
    .addOption(new Option('--mode <mode>', 'dense (vector index), bm25 (lexical) or hybrid (both, fused)').choices([...RETRIEVAL_MODES]).default(DEFAULT_RETRIEVAL_MODE))
    .addOption(new Option('--fusion <method>', 'hybrid: rrf (reciprocal rank fusion) or convex (normalised scores)').choices(['rrf', 'convex']).default('rrf'))
    .option('--dense-weight <w>', 'hybrid: weight of the dense ranking (BM25 has 1)', nonNegativeNumber('--dense-weight'), 1)
    .option('--exact', 'dense by exact search instead of the index')
    .option('--json', 'print the passages as JSON')
    .action(async (text: string, opts) => {
      const corpus = await Corpus.open(opts.corpus, { model: await modelFor(opts.corpus, opts.model), embedder: { threads: 1 } });
      try {
        const passages = await corpus.retrieve(text, {
          tenant: opts.tenant,
          k: opts.k,
          mode: opts.mode as RetrievalMode,
          fusion: opts.fusion as FusionMethod,
          weights: { dense: opts.denseWeight, bm25: 1 },
          exact: Boolean(opts.exact),
        });
        if (opts.json) {
          console.log(JSON.stringify(passages, null, 2));
          return;
        }
        passages.forEach((p, i) => {
          const where = `${p.document.id}${p.document.title ? ` "${p.document.title.slice(0, 70)}"` : ''} [${p.document.start}, ${p.document.end})`;
          const ranks = Object.entries(p.ranks).map(([k, v]) => `${k} #${v}`).join(', ');
          console.log(`${i + 1}. ${p.score.toFixed(4)}  ${where}  (${ranks})`);
          console.log(`   ${p.text.replace(/\s+/g, ' ').slice(0, 300)}${p.text.length > 300 ? '...' : ''}`);
        });
      } finally {
        await corpus.close();
      }
    });

  program
    .command('eval')
    .description('Retrieval quality on a judged corpus: nDCG@10, recall@100, MRR@10 for dense, BM25, hybrid and exact dense (the ANN loss).')
    .argument('<format>', 'beir (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) or cranfield (cran.all.1400, cran.qry, cranqrel)')
    .option('--dir <dir>', 'the dataset folder (default: the bundled SciFact or Cranfield, assets/corpora/)')
    .option('--split <name>', 'beir: judged split to report', 'test')
    .option('--tune-split <name>', "beir: split the hybrid fusion is chosen on ('none' = equal-weight RRF); default train when present")
    .option('--model <dir>', `sentence-encoder folder (default ${DEFAULT_MODEL_DIR})`, DEFAULT_MODEL_DIR)
    .option('--chunk-tokens <n>', 'largest chunk in tokens (default 512: documents are scored whole)', positiveInt('--chunk-tokens'), 512)
    .option('--threads <n>', 'embedding worker threads (0 = one per core)', nonNegativeInt('--threads'), 0)
    .option('--max-lists <n>', 'vector index: posting lists read per query (default: what the index measured for recall@10 0.95)', positiveInt('--max-lists'))
    .option('--queries <n>', 'only the first n judged queries', positiveInt('--queries'))
    .option('--data <dir>', 'keep the ingested corpus here (a re-run skips unchanged documents); default a temporary folder')
    .option('--json <file>', 'write {dense, bm25, hybrid, denseExact, ...} each with ndcg10, recall100, mrr10')
    .addHelpText('after', `
Examples:
  strata eval beir --json scifact.json            # the bundled SciFact (assets/corpora/scifact), test split
  strata eval cranfield                            # the bundled Cranfield
  strata eval beir --dir ~/beir/nfcorpus           # any BEIR-format folder`)
    .action(async (format: string, opts) => {
      if (format !== 'beir' && format !== 'cranfield') throw new InvalidArgumentError('format must be beir or cranfield');
      const { runRetrievalEval } = await import('../../bench/retrieval-eval.js');
      await runRetrievalEval({
        format,
        dir: opts.dir ?? assetCorpus(format === 'beir' ? 'scifact' : 'cranfield'),
        split: opts.split,
        tuneSplit: opts.tuneSplit === 'none' ? null : opts.tuneSplit,
        model: resolve(opts.model),
        chunkTokens: opts.chunkTokens,
        threads: opts.threads,
        maxLists: opts.maxLists,
        queries: opts.queries,
        data: opts.data,
        json: opts.json,
      });
    });
}
