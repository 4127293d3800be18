/** Chunker invariants: every character lands in a chunk, sizes hold, boundaries are natural, ids are stable. */
import { DEFAULT_MODEL_DIR } from '../src/rag/defaults.js';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkText } from '../src/rag/chunker.js';
import { contentHash } from '../src/rag/passage-store.js';
import { loadTokenizer } from '../src/rag/tokenizer.js';

const glove = loadTokenizer({ type: 'wordlevel', file: join(DEFAULT_MODEL_DIR, 'vocab.txt') });
const count = (s: string) => glove.count(s);

const WORDS = ['protein', 'cells', 'the', 'of', 'immune', 'response', 'in', 'mice', 'was', 'measured', 'x', '3.5', 'well-known', "isn't"];
/** Documents of paragraphs (blank lines, Markdown headings) of sentences of words. */
const documentArb = fc
  .array(
    fc.tuple(
      fc.boolean(),
      fc.array(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 8 }),
      fc.constantFrom('\n\n', '\n\n\n', '\n  \n', '\n'),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((paras) => paras.map(([heading, sents, sep]) => `${heading ? '## Heading words here\n' : ''}${sents.map((w) => `${w.join(' ')}.`).join(' ')}${sep}`).join(''));

describe('chunkText', () => {
  it('covers every character, keeps chunks within maxTokens, and chunk texts are their trimmed spans (fast-check, seeded)', () => {
    fc.assert(
      fc.property(documentArb, fc.integer({ min: 8, max: 120 }), fc.integer({ min: 0, max: 40 }), (text, maxTokens, overlapRaw) => {
        const overlapTokens = Math.min(overlapRaw, maxTokens - 1);
        const chunks = chunkText(text, count, { maxTokens, overlapTokens });
        expect(chunks.length).toBeGreaterThan(0);
        const covered = new Uint8Array(text.length);
        let prevStart = -1;
        for (const c of chunks) {
          expect(c.start).toBeGreaterThan(prevStart); // progress, in document order
          prevStart = c.start;
          expect(c.text).toBe(text.slice(c.start, c.end).trim());
          expect(c.text.length).toBeGreaterThan(0);
          expect(count(c.text)).toBeLessThanOrEqual(maxTokens + 2); // unit counts add up to the whole, +-boundary effects
          for (let i = c.start; i < c.end; i++) covered[i] = 1;
        }
        expect(covered.every((x) => x === 1)).toBe(true);
        expect(chunks[0].start).toBe(0);
        expect(chunks.at(-1)!.end).toBe(text.length);
      }),
      { seed: 20261122, numRuns: 200 },
    );
  });

  it('ends chunks at sentence ends when sentences fit, and repeats about overlapTokens between chunks', () => {
    const sentence = (i: number) => `Sentence number ${i} talks about the immune response of mice.`;
    const text = Array.from({ length: 40 }, (_, i) => sentence(i)).join(' ');
    const chunks = chunkText(text, count, { maxTokens: 60, overlapTokens: 12 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.text.endsWith('mice.')).toBe(true);
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i].start).toBeLessThan(chunks[i - 1].end); // overlap
      const shared = text.slice(chunks[i].start, chunks[i - 1].end);
      expect(count(shared)).toBeLessThanOrEqual(12 + 1);
    }
  });

  it('breaks at a paragraph when the next paragraph would not fit whole', () => {
    const para = (n: number) => Array.from({ length: n }, () => 'The cells were measured.').join(' ');
    const text = `${para(8)}\n\n${para(8)}\n\n${para(8)}`; // 8 sentences x 5 tokens = 40 tokens each
    const chunks = chunkText(text, count, { maxTokens: 64, overlapTokens: 0 });
    expect(chunks.map((c) => c.text)).toEqual([para(8), para(8), para(8)]);
  });

  it('splits a sentence longer than a chunk at word boundaries', () => {
    const text = Array.from({ length: 300 }, () => 'protein').join(' ');
    const chunks = chunkText(text, count, { maxTokens: 100, overlapTokens: 0 });
    expect(chunks.map((c) => c.tokens)).toEqual([100, 100, 100]);
  });

  it('gives the same chunks, hence the same content-hash ids, on every run', () => {
    const text = '# Title\n\nFirst paragraph about proteins. It has two sentences.\n\nSecond paragraph: the immune response of mice was measured.';
    const ids = chunkText(text, count, { maxTokens: 10, overlapTokens: 2 }).map((c) => contentHash(c.text));
    expect(ids).toEqual(chunkText(text, count, { maxTokens: 10, overlapTokens: 2 }).map((c) => contentHash(c.text)));
    // Recorded once: a change here changes every stored passage id.
    expect(contentHash('First paragraph about proteins.')).toBe('07216fd6551efa3b8a9c81ec2477f06b');
  });

  it('rejects bad options with a coded error naming the option', () => {
    expect(() => chunkText('x', count, { maxTokens: 4 })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'chunk.maxTokens' }));
    expect(() => chunkText('x', count, { maxTokens: 16, overlapTokens: 16 })).toThrow(expect.objectContaining({ code: 'STRATA_INVALID_OPTION', field: 'chunk.overlapTokens' }));
    expect(chunkText('  \n\n ', count)).toEqual([]);
  });
});
