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
 *   Each lut* kernel takes an optional last argument `fmt` (0 = E4M3, 1 = E5M2): the codes are then
 *   decoded in registers through the CPU's half-precision converter (an E4M3 code shifted into a
 *   binary16 is the same number times 2^-8, subnormals included; an E5M2 code is the top byte of a
 *   binary16), 16 lanes at a time, with the table only for the tail. Without it, or on a CPU
 *   without F16C, the table is read (a gather per element, 0.7x the float32 kernel).
 *   lutL2WBatch(q, table, w, codes, off, count, dim, out) out[i] = sum_j ((q_j - table[c_ij]) w_j)^2
 *     (scaled float8: q is the query times the per-dimension scale, w the inverse scale)
 *   u8L2Batch(q, step, codes, off, count, dim, out)      out[i] = sum_j ((q_j - c_ij) step_j)^2
 *   u8IpBatch(q, bias, codes, off, count, dim, out)      out[i] = 1 - (bias + sum_j q_j c_ij)
 *     (int8: q is the query pre-transformed by the codec; 8 or 16 codes widened to floats per step
 *     where AVX2 + F16C + FMA or AVX-512 exist, a plain loop elsewhere)
 */
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__) && defined(__AVX2__)
#define F8_LANES 16
typedef __m512 f8vec;
/* 16 float8 codes -> 16 floats. E4M3: sign<<8 | (c & 0x7F)<<7 is a binary16 equal to value * 2^-8. */
static inline __m512 f8_load(const uint8_t *p, int fmt) {
  __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
  if (fmt == 1) return _mm512_cvtph_ps(_mm256_slli_epi16(b, 8));
  __m256i h = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x80)), 8),
                              _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x7F)), 7));
  return _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f));
}
/* 16 int8 codes (unsigned levels) -> 16 floats. */
static inline __m512 u8_load(const uint8_t *p) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p))); }
#define VLOAD _mm512_loadu_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VFMA _mm512_fmadd_ps
#define VZERO _mm512_setzero_ps
#define VSUM _mm512_reduce_add_ps
#elif defined(__F16C__) && defined(__AVX2__) && defined(__FMA__)
#define F8_LANES 8
typedef __m256 f8vec;
static inline __m256 f8_load(const uint8_t *p, int fmt) {
  __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)p));
  if (fmt == 1) return _mm256_cvtph_ps(_mm_slli_epi16(b, 8));
  __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8),
                           _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x7F)), 7));
  return _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(256.0f));
}
/* 8 int8 codes (unsigned levels) -> 8 floats. */
static inline __m256 u8_load(const uint8_t *p) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p))); }
static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
#define VLOAD _mm256_loadu_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VFMA _mm256_fmadd_ps
#define VZERO _mm256_setzero_ps
#define VSUM hsum256
#endif

#ifdef F8_LANES
/* One row of a float8 scan in registers. kind 0: l2, 1: dot, 4: weighted l2. Table for the tail. */
static inline float f8_row(int kind, int fmt, const float *q, const float *table, const float *w, const uint8_t *c, uint32_t dim) {
  f8vec acc = VZERO();
  uint32_t j = 0;
  for (; j + F8_LANES <= dim; j += F8_LANES) {
    f8vec x = f8_load(c + j, fmt), qv = VLOAD(q + j);
    if (kind == 1) {
      acc = VFMA(qv, x, acc);
    } else {
      f8vec d = VSUB(qv, x);
      if (kind == 4) d = VMUL(d, VLOAD(w + j));
      acc = VFMA(d, d, acc);
    }
  }
  float s = VSUM(acc);
  for (; j < dim; j++) {
    float x = table[c[j]];
    if (kind == 1) s += q[j] * x;
    else {
      float d = (q[j] - x) * (kind == 4 ? w[j] : 1.0f);
      s += d * d;
    }
  }
  return s;
}

/*
 * One row of an int8 scan in registers. kind 2: l2 on levels weighted by the step,
 * sum ((q_j - c_j) step_j)^2; kind 3: dot with the levels, sum q_j c_j. Scalar tail.
 */
static inline float u8_row(int kind, const float *q, const float *step, const uint8_t *c, uint32_t dim) {
  f8vec acc = VZERO();
  uint32_t j = 0;
  for (; j + F8_LANES <= dim; j += F8_LANES) {
    f8vec x = u8_load(c + j), qv = VLOAD(q + j);
    if (kind == 3) {
      acc = VFMA(qv, x, acc);
    } else {
      f8vec d = VMUL(VSUB(qv, x), VLOAD(step + j));
      acc = VFMA(d, d, acc);
    }
  }
  float s = VSUM(acc);
  for (; j < dim; j++) {
    if (kind == 3) s += q[j] * (float)c[j];
    else {
      float d = (q[j] - (float)c[j]) * step[j];
      s += d * d;
    }
  }
  return s;
}
#endif

/* The optional float8 format argument: 0 or 1, or -1 when absent/other (table path). */
static int get_fmt(napi_env env, size_t argc, size_t at, napi_value *argv) {
  int32_t fmt = -1;
  if (argc > at && napi_get_value_int32(env, argv[at], &fmt) != napi_ok) return -1;
  return fmt == 0 || fmt == 1 ? fmt : -1;
}

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
  size_t argc = 8;
  napi_value argv[8];
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
#ifdef F8_LANES
  if (kind >= 2) {
    for (uint32_t i = 0; i < count; i++, c += dim) {
      float s = u8_row(kind, q, aux, c, dim);
      out[i] = kind == 3 ? 1.0f - (fb + s) : s;
    }
    return NULL;
  }
  const int fmt = kind <= 1 ? get_fmt(env, argc, 7, argv) : -1;
  if (fmt >= 0) {
    for (uint32_t i = 0; i < count; i++, c += dim) {
      float s = f8_row(kind, fmt, q, aux, NULL, c, dim);
      out[i] = kind == 1 ? 1.0f - s : s;
    }
    return NULL;
  }
#endif
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
  size_t argc = 9;
  napi_value argv[9];
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
#ifdef F8_LANES
  const int fmt = get_fmt(env, argc, 8, argv);
  if (fmt >= 0) {
    for (uint32_t i = 0; i < count; i++, c += dim) out[i] = f8_row(4, fmt, q, table, w, c, dim);
    return NULL;
  }
#endif
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
