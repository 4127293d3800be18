/** Where the RAG layer finds its encoder when nobody names one. */
import { join } from 'node:path';
import { SHARED_DIR } from '../util/paths.js';

/** The GloVe sentence encoder in ../shared (STRATA_SHARED_DIR overrides ../shared). */
export const DEFAULT_MODEL_DIR = join(SHARED_DIR, 'models', 'glove-avg-100d');
