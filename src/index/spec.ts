/**
 * The index spec string, parsed by one factory (faiss index_factory style): comma-separated stages,
 * e.g. `SPANN` (float32 lists), `SPANN,F8E4M3`, `PCA48,SPANN,F8E4M3,Refine`.
 *
 *   PCA<n> | PCA<p>%   reduce what posting lists store to n dimensions (or p% of them), before SPANN
 *   SPANN          the index structure (required, once)
 *   F32 | F8E4M3 | F8E5M2 | F8E4M3S | F8E5M2S | INT8   the posting-list codec (default F32, at most
 *                  one; the S variants scale each dimension by a power of two before the cast)
 *   Residual       after a compressed codec: each list entry is encoded relative to its list's
 *                  head (x − head: values near zero, where float8 and int8 steps are fine); slot
 *                  blocks keep plain codes
 *   Refine         also keep full-precision vectors (LMDB `vectors` db) and re-rank
 *                  refineFactor × k candidates exactly
 */
import { createError } from '../errors.js';
import { CODEC_NAMES, type CodecName } from './codecs/codec.js';
import type { PcaTarget } from './codecs/pca.js';

export interface IndexSpec {
  pca: PcaTarget | null;
  codec: CodecName;
  residual: boolean;
  refine: boolean;
}

function bad(spec: string, why: string): never {
  throw createError('STRATA_INVALID_OPTION', `options.spec ${JSON.stringify(spec)}: ${why}`, 'spec');
}

export function parseSpec(spec: unknown): IndexSpec {
  if (typeof spec !== 'string' || spec.trim() === '') bad(String(spec), 'must be a non-empty string such as "SPANN,F8E4M3,Refine"');
  const parts = spec.split(',').map((p) => p.trim());
  let spann = false;
  let codec: CodecName | undefined;
  let refine = false;
  let residual = false;
  let pca: PcaTarget | null = null;
  for (const p of parts) {
    const pcaMatch = /^PCA(\d+)(%?)$/.exec(p);
    if (pcaMatch) {
      if (spann) bad(spec, `${p} must come before SPANN`);
      if (pca) bad(spec, 'PCA appears twice');
      const v = Number(pcaMatch[1]);
      if (pcaMatch[2] === '%') {
        if (v < 1 || v > 100) bad(spec, `${p}: the percentage must be 1..100`);
        pca = { fraction: v / 100 };
      } else {
        if (v < 1) bad(spec, `${p}: keep at least one dimension`);
        pca = { dims: v };
      }
      continue;
    }
    if (p === 'SPANN') {
      if (spann) bad(spec, 'SPANN appears twice');
      spann = true;
    } else if ((CODEC_NAMES as readonly string[]).includes(p)) {
      if (codec) bad(spec, `more than one codec (${codec}, ${p})`);
      if (!spann) bad(spec, `the codec ${p} must follow SPANN`);
      codec = p as CodecName;
    } else if (p === 'Residual') {
      if (residual) bad(spec, 'Residual appears twice');
      if (!codec || codec === 'F32') bad(spec, 'Residual must follow a compressed codec (F8E4M3, F8E5M2, F8E4M3S, F8E5M2S or INT8): float32 lists gain nothing from it');
      residual = true;
    } else if (p === 'Refine') {
      if (refine) bad(spec, 'Refine appears twice');
      refine = true;
    } else bad(spec, `unknown stage ${JSON.stringify(p)} (known: PCA<n>, PCA<p>%, SPANN, ${CODEC_NAMES.join(', ')}, Residual, Refine)`);
  }
  if (!spann) bad(spec, 'needs the SPANN stage');
  return { pca, codec: codec ?? 'F32', residual, refine };
}

/** The canonical spelling of a spec (what the index stores and reports). */
export function formatSpec(s: IndexSpec): string {
  const pca = s.pca ? ['dims' in s.pca ? `PCA${s.pca.dims}` : `PCA${Math.round(s.pca.fraction * 100)}%`] : [];
  return [...pca, 'SPANN', ...(s.codec === 'F32' ? [] : [s.codec]), ...(s.residual ? ['Residual'] : []), ...(s.refine ? ['Refine'] : [])].join(',');
}
