/*
 * Batch distance kernels for Strata, as a tiny N-API addon built from source at install
 * (binding.gyp). They read the query and a packed n x dim block in place -- a Float32Array view of an
 * LMDB value or of a shared buffer -- and write one distance per row. The loops are plain C with
 * `omp simd` reductions, so the compiler vectorises them for the machine it builds on (-march=native).
 *
 *   l2Batch(q, qOff, base, baseOff, count, dim, out, outOff)   out[i] = sum_j (q_j - b_ij)^2
 *   ipBatch(q, qOff, base, baseOff, count, dim, out, outOff)   out[i] = 1 - sum_j q_j b_ij
 * Offsets and counts are in float elements. Every range is checked against the arrays' lengths.
 *
 * Code-domain kernels (posting lists stored with a codec; see src/index/codecs/codec.ts):
 *   lutL2Batch(q, table, codes, off, count, dim, out)    out[i] = sum_j (q_j - table[c_ij])^2
 *   lutIpBatch(q, table, codes, off, count, dim, out)    out[i] = 1 - sum_j q_j table[c_ij]
 *     (float8: `table` is the format's 256-entry decode table)
 *   lutL2WBatch(q, table, w, codes, off, count, dim, out) out[i] = sum_j ((q_j - table[c_ij]) w_j)^2
 *     (scaled float8: q is the query times the per-dimension scale, w the inverse scale)
 *   u8L2Batch(q, step, codes, off, count, dim, out)      out[i] = sum_j ((q_j - c_ij) step_j)^2
 *   u8IpBatch(q, bias, codes, off, count, dim, out)      out[i] = 1 - (bias + sum_j q_j c_ij)
 *     (int8: q is the query pre-transformed by the codec)
 */
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

static float l2_one(const float *restrict a, const float *restrict b, uint32_t dim) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (uint32_t j = 0; j < dim; j++) {
    float d = a[j] - b[j];
    s += d * d;
  }
  return s;
}

static float dot_one(const float *restrict a, const float *restrict b, uint32_t dim) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (uint32_t j = 0; j < dim; j++) s += a[j] * b[j];
  return s;
}

/* The data pointer and element count of a typed array of the given type; 0 if `v` is anything else. */
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != want) return 0;
  return 1;
}

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  return get_typed(env, v, napi_float32_array, (void **)data, len);
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static napi_value run(napi_env env, napi_callback_info info, int metric) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *q, *base, *out;
  size_t qLen, baseLen, outLen;
  uint32_t qOff, baseOff, count, dim, outOff;
  if (argc < 8 || !get_f32(env, argv[0], &q, &qLen) || !get_u32(env, argv[1], &qOff) || !get_f32(env, argv[2], &base, &baseLen) ||
      !get_u32(env, argv[3], &baseOff) || !get_u32(env, argv[4], &count) || !get_u32(env, argv[5], &dim) ||
      !get_f32(env, argv[6], &out, &outLen) || !get_u32(env, argv[7], &outOff)) {
    napi_throw_type_error(env, NULL, "expected (Float32Array q, qOff, Float32Array base, baseOff, count, dim, Float32Array out, outOff)");
    return NULL;
  }
  if ((size_t)qOff + dim > qLen || (size_t)baseOff + (size_t)count * dim > baseLen || (size_t)outOff + count > outLen) {
    napi_throw_range_error(env, NULL, "distance batch range exceeds an array");
    return NULL;
  }
  const float *qp = q + qOff;
  const float *bp = base + baseOff;
  float *op = out + outOff;
  if (metric == 0) {
    for (uint32_t i = 0; i < count; i++) op[i] = l2_one(qp, bp + (size_t)i * dim, dim);
  } else {
    for (uint32_t i = 0; i < count; i++) op[i] = 1.0f - dot_one(qp, bp + (size_t)i * dim, dim);
  }
  return NULL;
}

static int get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  return get_typed(env, v, napi_uint8_array, (void **)data, len);
}

/* kind: 0 lut-l2, 1 lut-ip, 2 u8-l2, 3 u8-ip */
static napi_value run_codes(napi_env env, napi_callback_info info, int kind) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *q, *aux = NULL, *out;
  uint8_t *codes;
  size_t qLen, auxLen = 0, codesLen, outLen;
  uint32_t off, count, dim;
  double bias = 0;
  int auxOk = kind == 3 ? napi_get_value_double(env, argv[1], &bias) == napi_ok : get_f32(env, argv[1], &aux, &auxLen);
  if (argc < 7 || !get_f32(env, argv[0], &q, &qLen) || !auxOk || !get_u8(env, argv[2], &codes, &codesLen) || !get_u32(env, argv[3], &off) ||
      !get_u32(env, argv[4], &count) || !get_u32(env, argv[5], &dim) || !get_f32(env, argv[6], &out, &outLen)) {
    napi_throw_type_error(env, NULL, "expected (Float32Array q, Float32Array table|step or number bias, Uint8Array codes, off, count, dim, Float32Array out)");
    return NULL;
  }
  if (dim > qLen || (size_t)off + (size_t)count * dim > codesLen || count > outLen || (kind <= 1 && auxLen < 256) || (kind == 2 && auxLen < dim)) {
    napi_throw_range_error(env, NULL, "code batch range exceeds an array");
    return NULL;
  }
  const uint8_t *c = codes + off;
  const float fb = (float)bias;
  for (uint32_t i = 0; i < count; i++, c += dim) {
    float s = 0.0f;
    if (kind == 0) {
#pragma omp simd reduction(+ : s)
      for (uint32_t j = 0; j < dim; j++) {
        float d = q[j] - aux[c[j]];
        s += d * d;
      }
      out[i] = s;
    } else if (kind == 1) {
#pragma omp simd reduction(+ : s)
      for (uint32_t j = 0; j < dim; j++) s += q[j] * aux[c[j]];
      out[i] = 1.0f - s;
    } else if (kind == 2) {
#pragma omp simd reduction(+ : s)
      for (uint32_t j = 0; j < dim; j++) {
        float d = (q[j] - (float)c[j]) * aux[j];
        s += d * d;
      }
      out[i] = s;
    } else {
#pragma omp simd reduction(+ : s)
      for (uint32_t j = 0; j < dim; j++) s += q[j] * (float)c[j];
      out[i] = 1.0f - (fb + s);
    }
  }
  return NULL;
}

static napi_value lut_l2w(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *q, *table, *w, *out;
  uint8_t *codes;
  size_t qLen, tLen, wLen, codesLen, outLen;
  uint32_t off, count, dim;
  if (argc < 8 || !get_f32(env, argv[0], &q, &qLen) || !get_f32(env, argv[1], &table, &tLen) || !get_f32(env, argv[2], &w, &wLen) ||
      !get_u8(env, argv[3], &codes, &codesLen) || !get_u32(env, argv[4], &off) || !get_u32(env, argv[5], &count) ||
      !get_u32(env, argv[6], &dim) || !get_f32(env, argv[7], &out, &outLen)) {
    napi_throw_type_error(env, NULL, "expected (Float32Array q, Float32Array table, Float32Array w, Uint8Array codes, off, count, dim, Float32Array out)");
    return NULL;
  }
  if (dim > qLen || dim > wLen || tLen < 256 || (size_t)off + (size_t)count * dim > codesLen || count > outLen) {
    napi_throw_range_error(env, NULL, "code batch range exceeds an array");
    return NULL;
  }
  const uint8_t *c = codes + off;
  for (uint32_t i = 0; i < count; i++, c += dim) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (uint32_t j = 0; j < dim; j++) {
      float d = (q[j] - table[c[j]]) * w[j];
      s += d * d;
    }
    out[i] = s;
  }
  return NULL;
}

static napi_value lut_l2(napi_env env, napi_callback_info info) { return run_codes(env, info, 0); }
static napi_value lut_ip(napi_env env, napi_callback_info info) { return run_codes(env, info, 1); }
static napi_value u8_l2(napi_env env, napi_callback_info info) { return run_codes(env, info, 2); }
static napi_value u8_ip(napi_env env, napi_callback_info info) { return run_codes(env, info, 3); }

static napi_value l2_batch(napi_env env, napi_callback_info info) { return run(env, info, 0); }
static napi_value ip_batch(napi_env env, napi_callback_info info) { return run(env, info, 1); }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"l2Batch", NULL, l2_batch, NULL, NULL, NULL, napi_default, NULL},
      {"ipBatch", NULL, ip_batch, NULL, NULL, NULL, napi_default, NULL},
      {"lutL2Batch", NULL, lut_l2, NULL, NULL, NULL, napi_default, NULL},
      {"lutIpBatch", NULL, lut_ip, NULL, NULL, NULL, napi_default, NULL},
      {"lutL2WBatch", NULL, lut_l2w, NULL, NULL, NULL, napi_default, NULL},
      {"u8L2Batch", NULL, u8_l2, NULL, NULL, NULL, napi_default, NULL},
      {"u8IpBatch", NULL, u8_ip, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 7, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
