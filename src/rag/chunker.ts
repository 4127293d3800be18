/**
 * Token-aware chunking. A document is cut into units that end on natural boundaries — paragraphs
 * (blank lines, Markdown headings), then sentences, then words for a sentence longer than a chunk —
 * and the units are packed greedily into chunks of at most `maxTokens` tokens (counted by the
 * embedder's tokenizer, special tokens excluded). A chunk ends early at a paragraph break when it is
 * at least half full and the next paragraph would not fit whole. Consecutive chunks share up to
 * `overlapTokens` tokens of whole units.
 *
 * Invariant: the units tile the text ([0, length) with no gap), and every unit lands in a chunk, so
 * every character of the document is inside some chunk's [start, end) span.
 */
import { createError } from '../errors.js';

export interface ChunkOptions {
  /** Most tokens in one chunk. Default 256. */
  maxTokens: number;
  /** Tokens of whole units repeated at the start of the next chunk. Default 32. */
  overlapTokens: number;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { maxTokens: 256, overlapTokens: 32 };

export interface TextChunk {
  /** Character span in the document, [start, end). */
  start: number;
  end: number;
  /** The span's text, trimmed. */
  text: string;
  tokens: number;
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
  /** The unit begins a paragraph. */
  para: boolean;
}

/** Paragraph spans tiling the text: breaks at blank lines and before Markdown heading lines. */
function paragraphs(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const re = /\n[ \t]*\n\s*|\n(?=#{1,6} )/g;
  let start = 0;
  for (const m of text.matchAll(re)) {
    const end = m.index + m[0].length;
    if (end > start) out.push([start, end]);
    start = end;
  }
  if (start < text.length) out.push([start, text.length]);
  return out;
}

/** Sentence spans tiling [start, end): a break after . ! ? (and closing quotes) followed by space. */
function sentences(text: string, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const re = /[.!?]+["'’”)\]]*\s+(?=\S)/g;
  re.lastIndex = start;
  const slice = text.slice(0, end);
  let s = start;
  for (let m = re.exec(slice); m; m = re.exec(slice)) {
    const e = m.index + m[0].length;
    out.push([s, e]);
    s = e;
  }
  if (s < end) out.push([s, end]);
  return out;
}

/** Split an over-long span at word boundaries into pieces of at most maxTokens tokens. */
function splitWords(text: string, start: number, end: number, maxTokens: number, count: (s: string) => number): Unit[] {
  const out: Unit[] = [];
  const words = [...text.slice(start, end).matchAll(/\S+\s*/g)].map((m) => [start + m.index, start + m.index + m[0].length] as const);
  if (words.length === 0) return [{ start, end, tokens: 0, para: false }];
  words[0] = [start, words[0][1]];
  let pieceStart = start;
  let tokens = 0;
  for (const [ws, we] of words) {
    const t = count(text.slice(ws, we));
    if (tokens > 0 && tokens + t > maxTokens) {
      out.push({ start: pieceStart, end: ws, tokens, para: false });
      pieceStart = ws;
      tokens = 0;
    }
    tokens += t;
  }
  out.push({ start: pieceStart, end, tokens, para: false });
  return out;
}

function units(text: string, maxTokens: number, count: (s: string) => number): Unit[] {
  const out: Unit[] = [];
  for (const [ps, pe] of paragraphs(text)) {
    let first = true;
    for (const [ss, se] of sentences(text, ps, pe)) {
      const tokens = count(text.slice(ss, se));
      const pieces = tokens > maxTokens ? splitWords(text, ss, se, maxTokens, count) : [{ start: ss, end: se, tokens, para: false }];
      for (const u of pieces) {
        u.para = first;
        first = false;
        out.push(u);
      }
    }
  }
  return out;
}

function check(options: ChunkOptions): void {
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 8) throw createError('STRATA_INVALID_OPTION', `chunk.maxTokens must be an integer >= 8, got ${options.maxTokens}`, 'chunk.maxTokens');
  if (!Number.isInteger(options.overlapTokens) || options.overlapTokens < 0 || options.overlapTokens >= options.maxTokens) {
    throw createError('STRATA_INVALID_OPTION', `chunk.overlapTokens must be an integer in [0, maxTokens), got ${options.overlapTokens}`, 'chunk.overlapTokens');
  }
}

/** Chunk `text`; `count` gives a string's token count. Whitespace-only text gives no chunks. */
export function chunkText(text: string, count: (s: string) => number, options: Partial<ChunkOptions> = {}): TextChunk[] {
  const o = { ...DEFAULT_CHUNK_OPTIONS, ...options };
  check(o);
  if (text.trim() === '') return [];
  const us = units(text, o.maxTokens, count);
  const chunks: TextChunk[] = [];
  let i = 0;
  while (i < us.length) {
    let j = i;
    let tokens = 0;
    while (j < us.length && (j === i || tokens + us[j].tokens <= o.maxTokens)) {
      if (j > i && us[j].para && tokens >= o.maxTokens / 2) {
        // Would the whole paragraph starting at j fit? If not, end here, at the paragraph break.
        let para = us[j].tokens;
        for (let q = j + 1; q < us.length && !us[q].para; q++) para += us[q].tokens;
        if (tokens + para > o.maxTokens) break;
      }
      tokens += us[j].tokens;
      j++;
    }
    const start = us[i].start;
    const end = us[j - 1].end;
    const body = text.slice(start, end);
    if (body.trim() !== '') chunks.push({ start, end, text: body.trim(), tokens });
    else if (chunks.length > 0) chunks[chunks.length - 1].end = end; // trailing whitespace joins the last chunk
    if (j >= us.length) break;
    // Overlap: back up over whole trailing units worth at most overlapTokens, never to i itself.
    let back = j;
    let carried = 0;
    while (back - 1 > i && carried + us[back - 1].tokens <= o.overlapTokens) {
      carried += us[back - 1].tokens;
      back--;
    }
    i = back;
  }
  // Leading whitespace before the first non-empty chunk belongs to it.
  if (chunks.length > 0) chunks[0].start = 0;
  return chunks;
}
