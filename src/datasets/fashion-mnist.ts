/**
 * Fashion-MNIST as ann-benchmarks uses it (fashion-mnist-784-euclidean): the 60,000 training images
 * are the base set, the 10,000 test images the queries, raw pixel values 0..255 as float32, L2.
 * Source: the Debian package dataset-fashion-mnist (IDX files, gzip).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createError } from '../errors.js';
import { sharedFloat32 } from '../util/workers.js';

export const FASHION_MNIST_DIR = process.env.STRATA_FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_INSTALL = 'apt-get update && apt-get install -y dataset-fashion-mnist';

/** Parse an IDX3 (unsigned byte images) file into float32 rows. */
export function parseIdxImages(bytes: Uint8Array, source: string): { data: Float32Array; count: number; dim: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 16 || dv.getUint32(0, false) !== 0x00000803) {
    throw createError('STRATA_FILE_FORMAT', `${source}: not an IDX3 unsigned-byte image file`, 'path');
  }
  const count = dv.getUint32(4, false);
  const dim = dv.getUint32(8, false) * dv.getUint32(12, false);
  if (bytes.length !== 16 + count * dim) throw createError('STRATA_FILE_FORMAT', `${source}: ${bytes.length} bytes for ${count} images of ${dim} pixels`, 'path');
  const data = sharedFloat32(count * dim);
  for (let i = 0; i < count * dim; i++) data[i] = bytes[16 + i];
  return { data, count, dim };
}

export function loadFashionMnist(dir = FASHION_MNIST_DIR) {
  const file = (name: string) => {
    const p = join(dir, name);
    if (!existsSync(p)) {
      throw createError('STRATA_DATASET_MISSING', `fashion-mnist source ${p} is missing; install it with: ${FASHION_MNIST_INSTALL}`, 'dataset');
    }
    return parseIdxImages(gunzipSync(readFileSync(p)), p);
  };
  return { base: file('train-images-idx3-ubyte.gz'), queries: file('t10k-images-idx3-ubyte.gz') };
}
