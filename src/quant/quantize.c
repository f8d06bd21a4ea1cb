/* quantize.c -- f32 -> GGUF blocks: dp_quantize, Q8_0 and MXFP4 encoders, the HF MXFP4 repack.
 * Called by the converter (src/format) and the tests; Q4_K/Q6_K encoders live in kquant.c.
 * Depends on core (dtype sizes, errors) and f16.c.
 * Q8_0: per 32 elements the plain amax/127 scale and the least-squares scale for its codes are
 * both tried (after f16 rounding); the lower squared error wins, so the result is never worse
 * than plain min/max. MXFP4: the shared exponent is searched among the three around
 * floor(log2(amax)) - 2 with round-to-nearest-even codes, lowest squared error wins. */
#include "quant/quant.h"
#include "core/error.h"
#include "core/parallel.h"
#include <math.h>
#include <string.h>

#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23: (v + M) - M rounds |v| < 2^22 to nearest even */

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* Codes q = clamp(round(x*is), -127, 127) written to q (if not NULL) -> sums over the block of
 * q^2 and q*x. Eight lanes of partial sums so the compiler can vectorise without reassociating. */
static void q8_codes(const float *x, float is, int8_t *q, float *sqq, float *sqx) {
  float a[8] = {0}, b[8] = {0}, v[32];
  for (int i = 0; i < 32; i += 8)
    for (int l = 0; l < 8; l++) {
      float c = (x[i + l] * is + ROUND_MAGIC) - ROUND_MAGIC;
      c = c > 127.0f ? 127.0f : c;
      c = c < -127.0f ? -127.0f : c;
      v[i + l] = c == c ? c : 0; /* NaN input -> code 0 */
      a[l] += v[i + l] * v[i + l];
      b[l] += v[i + l] * x[i + l];
    }
  if (q)
    for (int i = 0; i < 32; i++) q[i] = (int8_t)v[i];
  *sqq = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  *sqx = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}

void dp_quant_q8_0_block(const float *x, uint8_t *b) {
  float am[8] = {0}, s2[8] = {0};
  for (int i = 0; i < 32; i += 8)
    for (int l = 0; l < 8; l++) {
      float a = fabsf(x[i + l]);
      am[l] = a > am[l] ? a : am[l];
      s2[l] += x[i + l] * x[i + l];
    }
  float amax = 0, sxx = 0;
  for (int l = 0; l < 8; l++) amax = am[l] > amax ? am[l] : amax, sxx += s2[l];
  int8_t *q = (int8_t *)(b + 2);
  uint16_t h0 = dp_f32_to_f16(amax / 127);
  float d0 = dp_f16_to_f32(h0);
  if (!(d0 > 0) || isinf(d0)) { /* zeros, or nothing representable */
    memset(b, 0, 34);
    return;
  }
  /* the plain scale's codes, then the least-squares scale for those codes: for a fixed scale
   * the nearest codes are optimal, so if the refit scale beats d0 with d0's codes, its own
   * nearest codes are at least as good */
  float sqq, sqx;
  q8_codes(x, 1.0f / d0, q, &sqq, &sqx);
  float err0 = d0 * d0 * sqq - 2 * d0 * sqx + sxx;
  uint16_t h1 = dp_f32_to_f16(sqx / sqq);
  float d1 = dp_f16_to_f32(h1);
  if (h1 != h0 && d1 > 0 && !isinf(d1) && d1 * d1 * sqq - 2 * d1 * sqx + sxx < err0) {
    q8_codes(x, 1.0f / d1, q, &sqq, &sqx);
    h0 = h1;
  }
  wr16(b, h0);
}

/* Nearest E2M1 code of v >= 0 (ties to the even code, as OCP's round-to-nearest-even). */
static int e2m1_code(float v) {
  return v <= 0.25f ? 0 : v < 0.75f ? 1 : v <= 1.25f ? 2 : v < 1.75f ? 3
       : v <= 2.5f ? 4 : v < 3.5f ? 5 : v <= 5.0f ? 6 : 7;
}

void dp_quant_mxfp4_block(const float *x, uint8_t *b) {
  float amax = 0;
  for (int i = 0; i < 32; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
  int e0 = 0;
  if (amax > 0 && isfinite(amax)) {
    int ex;
    frexpf(amax, &ex);   /* amax = f * 2^ex, f in [0.5, 1): floor(log2 amax) = ex - 1 */
    e0 = ex - 1 - 2 + 127; /* 6 = 1.5 * 2^2 is the largest code */
  }
  int best_e = e0 < 0 ? 0 : e0 > 254 ? 254 : e0;
  if (amax > 0) {
    float best_err = INFINITY;
    for (int e = e0 - 1; e <= e0 + 1; e++) {
      if (e < 0 || e > 254) continue;
      float d = dp_e8m0_to_f32((uint8_t)e), id = 1.0f / d, err = 0;
      for (int i = 0; i < 32; i++) {
        float r = fabsf(x[i]) - d * dp_e2m1_value[e2m1_code(fabsf(x[i]) * id)];
        err += r * r;
      }
      if (err < best_err) best_err = err, best_e = e;
    }
  }
  float id = 1.0f / dp_e8m0_to_f32((uint8_t)best_e);
  uint8_t code[32];
  for (int i = 0; i < 32; i++) code[i] = (uint8_t)(e2m1_code(fabsf(x[i]) * id) | (x[i] < 0 ? 8 : 0));
  b[0] = (uint8_t)best_e;
  for (int j = 0; j < 16; j++) b[1 + j] = (uint8_t)(code[j] | (code[j + 16] << 4));
}

void dp_mxfp4_from_hf_packed(const uint8_t hf16[16], uint8_t scale, uint8_t out17[17]) {
  uint8_t code[32]; /* HF byte j: element 2j low nibble, 2j+1 high nibble */
  for (int j = 0; j < 16; j++) code[2 * j] = hf16[j] & 0x0f, code[2 * j + 1] = hf16[j] >> 4;
  out17[0] = scale;
  for (int j = 0; j < 16; j++) out17[1 + j] = (uint8_t)(code[j] | (code[j + 16] << 4));
}

/* Block encoding of large inputs runs on several threads (core/parallel.h: contiguous runs of
 * blocks, at least QUANT_GRAIN each, so the bytes are the same as one thread's; one thread in
 * the WebAssembly build). */
#define QUANT_GRAIN 256
typedef struct { void (*enc)(const float *, uint8_t *); const float *src; uint8_t *dst; uint32_t be, bb; } qjob;
static void qjob_run(void *a, uint64_t b0, uint64_t b1) {
  const qjob *j = a;
  for (uint64_t i = b0; i < b1; i++) j->enc(j->src + i * j->be, j->dst + i * j->bb);
}
static void encode_blocks(void (*enc)(const float *, uint8_t *), const float *src, uint8_t *dst, uint64_t nb, uint32_t be,
                          uint32_t bb) {
  qjob j = {enc, src, dst, be, bb};
  dp_parallel_for(nb, QUANT_GRAIN, qjob_run, &j);
}

dp_status dp_quantize(dp_dtype t, const float *src, void *dst, uint64_t n) {
  uint8_t *p = dst;
  uint32_t be = dp_dtype_block_elems(t), bb = dp_dtype_block_bytes(t);
  if (t > DP_MXFP4 || !be) return dp_error(DP_ERR_UNSUPPORTED, "quantize: unsupported dtype %s", dp_dtype_name(t));
  if (n % be)
    return dp_error(DP_ERR_INVALID_ARG, "quantize %s: %llu elements is not a multiple of the block size %u",
                    dp_dtype_name(t), (unsigned long long)n, be);
  switch (t) {
  case DP_F32: memmove(dst, src, n * 4); return DP_OK;
  case DP_F16:
    for (uint64_t i = 0; i < n; i++) wr16(p + 2 * i, dp_f32_to_f16(src[i]));
    return DP_OK;
  case DP_BF16:
    for (uint64_t i = 0; i < n; i++) wr16(p + 2 * i, dp_f32_to_bf16(src[i]));
    return DP_OK;
  default: break;
  }
  void (*enc)(const float *, uint8_t *) =
      t == DP_Q8_0 ? dp_quant_q8_0_block : t == DP_Q4_K ? dp_quant_q4_k_block
      : t == DP_Q6_K ? dp_quant_q6_k_block : dp_quant_mxfp4_block;
  encode_blocks(enc, src, p, n / be, be, bb);
  return DP_OK;
}
