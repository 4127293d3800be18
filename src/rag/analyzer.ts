/**
 * Text analysis for the lexical (BM25) index, after Lucene's EnglishAnalyzer (what the published
 * BEIR BM25 numbers use through Anserini): lowercase, split into letter/digit runs, drop the
 * possessive 's, drop Lucene's 33 English stop words, Porter-stem (the `stemmer` package).
 */
import { stemmer } from 'stemmer';

/** Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words; too short a list to need a package). */
const STOP_WORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(' '),
);

const TOKEN = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;
const DIGITS = /^\p{N}+$/u;

/** Word -> term (stemmed, or null for a stop word), memoised: corpora repeat words endlessly. */
const terms = new Map<string, string | null>();
const MAX_MEMO = 200_000;

function term(word: string): string | null {
  let t = terms.get(word);
  if (t !== undefined) return t;
  let w = word;
  const apos = w.search(/['’]/);
  if (apos >= 0) w = /['’]s$/.test(w) ? w.slice(0, apos) : w.replace('’', "'");
  t = w.length === 0 || STOP_WORDS.has(w) ? null : DIGITS.test(w) ? w : stemmer(w);
  if (terms.size >= MAX_MEMO) terms.clear();
  terms.set(word, t);
  return t;
}

/** Terms of `text` in order (repeats kept: term frequency counts them). */
export function analyze(text: string): string[] {
  const out: string[] = [];
  for (const word of text.toLowerCase().match(TOKEN) ?? []) {
    const t = term(word);
    if (t !== null) out.push(t);
  }
  return out;
}

/** Term -> frequency for one text. */
export function termFrequencies(text: string): Map<string, number> {
  const tf = new Map<string, number>();
  for (const t of analyze(text)) tf.set(t, (tf.get(t) ?? 0) + 1);
  return tf;
}
