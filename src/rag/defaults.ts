/** Where the RAG layer finds its encoder when nobody names one. */
import { assetModel } from '../util/paths.js';

/** The bundled GloVe sentence encoder (README: "Bundled models and data"). */
export const DEFAULT_MODEL_DIR = assetModel('glove-100d-100k-int8');
