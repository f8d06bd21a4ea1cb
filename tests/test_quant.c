/* test_quant.c -- quantize -> dequantize round trips (src/quant): error bounds per format on
 * random normal data and on the real doppler-tiny weights, our searched encoders against plain
 * min/max encoders written here (never worse), special blocks (zeros, constants, one outlier,
 * tiny values), argument errors, and the q4_k_m mix / fallback rules. */
#include "quant/quant.h"
#include "testlib.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- plain min/max encoders (the baseline a searched encoder must beat) ---- */
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void naive_q8_0(const float *x, uint8_t *b) {
  float amax = 0;
  for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
  float d = amax / 127, id = d ? 1 / d : 0;
  wr16(b, dp_f32_to_f16(d));
  for (int i = 0; i < 32; i++) b[2 + i] = (uint8_t)(int8_t)clampf(roundf(x[i] * id), -127, 127);
}

static void naive_q4_k(const float *x, uint8_t *b) {
  float A[8], B[8], amax = 0, bmax = 0;
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; j++) {
    float lo = 0, hi = 0;
    for (int i = 0; i < 32; i++) lo = fminf(lo, x[32 * j + i]), hi = fmaxf(hi, x[32 * j + i]);
    A[j] = (hi - lo) / 15, B[j] = -lo;
    amax = fmaxf(amax, A[j]), bmax = fmaxf(bmax, B[j]);
  }
  float d = dp_f16_to_f32(dp_f32_to_f16(amax / 63)), dm = dp_f16_to_f32(dp_f32_to_f16(bmax / 63));
  wr16(b, dp_f32_to_f16(d)), wr16(b + 2, dp_f32_to_f16(dm));
  for (int j = 0; j < 8; j++) {
    sc[j] = (uint8_t)(d ? clampf(roundf(A[j] / d), 0, 63) : 0);
    m[j] = (uint8_t)(dm ? clampf(roundf(B[j] / dm), 0, 63) : 0);
  }
  for (int k = 0; k < 4; k++) {
    b[4 + k] = (uint8_t)(sc[k] | ((sc[k + 4] >> 4) << 6));
    b[8 + k] = (uint8_t)(m[k] | ((m[k + 4] >> 4) << 6));
    b[12 + k] = (uint8_t)((sc[k + 4] & 15) | ((m[k + 4] & 15) << 4));
  }
  uint8_t q[256];
  for (int i = 0; i < 256; i++) {
    float s = d * sc[i / 32];
    q[i] = (uint8_t)(s ? clampf(roundf((x[i] + dm * m[i / 32]) / s), 0, 15) : 0);
  }
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++) b[16 + 32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

static void naive_q6_k(const float *x, uint8_t *b) {
  float S[16], smax = 0;
  for (int j = 0; j < 16; j++) {
    float a = 0;
    for (int i = 0; i < 16; i++) a = fmaxf(a, fabsf(x[16 * j + i]));
    S[j] = a / 31, smax = fmaxf(smax, S[j]);
  }
  float d = dp_f16_to_f32(dp_f32_to_f16(smax / 127));
  int8_t sc[16];
  int q[256];
  for (int j = 0; j < 16; j++) sc[j] = (int8_t)(d ? clampf(roundf(S[j] / d), 0, 127) : 0);
  for (int i = 0; i < 256; i++) {
    float s = d * sc[i / 16];
    q[i] = (int)(s ? clampf(roundf(x[i] / s), -32, 31) : 0) + 32;
  }
  for (int h = 0; h < 2; h++)
    for (int l = 0; l < 32; l++) {
      const int *qq = q + 128 * h;
      b[64 * h + l] = (uint8_t)((qq[l] & 15) | ((qq[l + 64] & 15) << 4));
      b[64 * h + l + 32] = (uint8_t)((qq[l + 32] & 15) | ((qq[l + 96] & 15) << 4));
      b[128 + 32 * h + l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
    }
  memcpy(b + 192, sc, 16);
  wr16(b + 208, dp_f32_to_f16(d));
}

static void naive_mxfp4(const float *x, uint8_t *b) {
  float amax = 0;
  for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
  int e = amax > 0 ? (int)floorf(log2f(amax)) - 2 + 127 : 0;
  e = e < 0 ? 0 : e > 254 ? 254 : e;
  float d = dp_e8m0_to_f32((uint8_t)e);
  uint8_t c[32];
  for (int i = 0; i < 32; i++) { /* nearest code by brute force */
    int best = 0;
    for (int k = 0; k < 16; k++)
      if (fabsf(x[i] - d * dp_e2m1_value[k]) < fabsf(x[i] - d * dp_e2m1_value[best])) best = k;
    c[i] = (uint8_t)best;
  }
  b[0] = (uint8_t)e;
  for (int j = 0; j < 16; j++) b[1 + j] = (uint8_t)(c[j] | (c[j + 16] << 4));
}

typedef void (*enc_fn)(const float *, uint8_t *);
static enc_fn naive_of(dp_dtype t) {
  return t == DP_Q8_0 ? naive_q8_0 : t == DP_Q4_K ? naive_q4_k : t == DP_Q6_K ? naive_q6_k : naive_mxfp4;
}

/* rel err of dp_quantize round trip, and of the naive encoder (if naive_err) */
static double roundtrip(dp_dtype t, const float *x, uint64_t n, double *naive_err) {
  uint64_t nb = dp_dtype_row_bytes(t, n);
  uint8_t *b = malloc(nb);
  float *y = malloc(n * 4);
  dp_status st = dp_quantize(t, x, b, n);
  CHECK(st == DP_OK, "quantize %s", dp_dtype_name(t));
  for (uint64_t i = 0; i < n; i++) y[i] = NAN;
  dp_dequantize(t, b, y, n);
  double e = dp_test_rel_err(y, x, n);
  if (naive_err) {
    uint32_t be = dp_dtype_block_elems(t), bb = dp_dtype_block_bytes(t);
    for (uint64_t i = 0; i < n / be; i++) naive_of(t)(x + i * be, b + i * bb);
    dp_dequantize(t, b, y, n);
    *naive_err = dp_test_rel_err(y, x, n);
  }
  free(b), free(y);
  return e;
}

/* Minimal safetensors header walk: the F32 2-D tensor `name` of the file in buf, or NULL. */
static const float *st_tensor(const uint8_t *buf, size_t len, const char *name, uint64_t *rows, uint64_t *cols) {
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)buf[i] << (8 * i);
  char key[256];
  snprintf(key, sizeof key, "\"%s\":{", name);
  const char *h = (const char *)buf + 8, *p = strstr(h, key);
  if (!p || p > h + hl) return NULL;
  const char *sh = strstr(p, "\"shape\":["), *off = strstr(p, "\"data_offsets\":["), *end = strchr(p + strlen(key), '}');
  if (!sh || !off || sh > end || off > end || !strstr(p, "\"dtype\":\"F32\"")) return NULL;
  unsigned long long a, bb, r, c;
  if (sscanf(sh, "\"shape\":[%llu,%llu]", &r, &c) != 2 || sscanf(off, "\"data_offsets\":[%llu,%llu]", &a, &bb) != 2)
    return NULL;
  if (8 + hl + bb > len || (bb - a) != r * c * 4) return NULL;
  *rows = r, *cols = c;
  return (const float *)(buf + 8 + hl + a);
}

int main(void) {
  static const dp_dtype Q[] = {DP_Q8_0, DP_Q4_K, DP_Q6_K, DP_MXFP4};
  static const double bound[] = {0.01, 0.12, 0.03, 0.25}; /* rel err bounds, normal data */
  enum { N = 256 * 512 };
  float *x = malloc(N * 4);
  dp_test_fill_normal(x, N, 0.02f);
  for (int k = 0; k < 4; k++) {
    double naive, e = roundtrip(Q[k], x, N, &naive);
    printf("random normal %-5s rel err %.5f (plain min/max %.5f)\n", dp_dtype_name(Q[k]), e, naive);
    CHECK(e < bound[k], "%s rel err %.4f >= %.4f", dp_dtype_name(Q[k]), e, bound[k]);
    CHECK(e <= naive, "%s: searched %.5f worse than min/max %.5f", dp_dtype_name(Q[k]), e, naive);
  }
  CHECK(roundtrip(DP_F16, x, N, NULL) < 4e-4, "f16 rel err");
  CHECK(roundtrip(DP_BF16, x, N, NULL) < 3e-3, "bf16 rel err");
  CHECK(roundtrip(DP_F32, x, N, NULL) == 0, "f32 exact");

  /* heavy tails: a few outliers per block (real weight matrices have them) */
  for (int i = 0; i < N; i += 97) x[i] *= 12;
  for (int k = 0; k < 4; k++) {
    double naive, e = roundtrip(Q[k], x, N, &naive);
    printf("outliers      %-5s rel err %.5f (plain min/max %.5f)\n", dp_dtype_name(Q[k]), e, naive);
    CHECK(e <= naive, "%s with outliers: searched %.5f worse than min/max %.5f", dp_dtype_name(Q[k]), e, naive);
  }

  /* special blocks: zeros, a constant, one spike, all negative, tiny values */
  float blk[256], y[256];
  uint8_t out[256];
  for (int k = 0; k < 4; k++) {
    dp_dtype t = Q[k];
    uint32_t be = dp_dtype_block_elems(t);
    for (int c = 0; c < 5; c++) {
      for (int i = 0; i < 256; i++)
        blk[i] = c == 0 ? 0 : c == 1 ? 0.75f : c == 2 ? (i == 7 ? 3.0f : 0) : c == 3 ? -1 - 0.01f * i : 1e-6f * (i % 9);
      CHECK(dp_quantize(t, blk, out, be) == DP_OK, "quantize special %d", c);
      dp_dequantize(t, out, y, be);
      int finite = 1;
      for (uint32_t i = 0; i < be; i++) finite &= isfinite(y[i]);
      double e = dp_test_rel_err(y, blk, be);
      CHECK(finite && e < (c == 4 ? 0.3 : t == DP_MXFP4 ? 0.2 : 0.12), "%s special block %d: rel err %.4f", dp_dtype_name(t), c, e);
      if (c == 0) CHECK(e == 0, "%s zeros stay zeros", dp_dtype_name(t));
      if (c == 2) CHECK(fabsf(y[7] - 3.0f) < 0.07f && y[8] == 0 && y[0] == 0, "%s spike: %g %g", dp_dtype_name(t), y[7], y[8]);
    }
  }
  /* a NaN or an inf in a block: no undefined behaviour, finite output */
  for (int k = 0; k < 4; k++)
    for (int c = 0; c < 2; c++) {
      uint32_t be = dp_dtype_block_elems(Q[k]);
      for (int i = 0; i < 256; i++) blk[i] = 0.1f * dp_test_rand_normal();
      blk[5] = c ? INFINITY : NAN;
      dp_quantize(Q[k], blk, out, be);
      dp_dequantize(Q[k], out, y, be);
      int finite = 1;
      for (uint32_t i = 0; i < be; i++) finite &= isfinite(y[i]);
      CHECK(finite, "%s block with %s: non-finite output", dp_dtype_name(Q[k]), c ? "inf" : "nan");
    }
  CHECK(dp_quantize(DP_Q4_K, x, out, 100) == DP_ERR_INVALID_ARG, "partial block rejected");
  CHECK(dp_dequantize(DP_Q8_0, out, y, 33) == DP_ERR_INVALID_ARG, "partial block rejected");
  CHECK(dp_quantize(DP_I32, x, out, 4) == DP_ERR_UNSUPPORTED, "i32 is not a quant type");

  /* the real doppler-tiny weights */
  FILE *f = fopen(dp_test_shared("models/doppler-tiny/model.safetensors"), "rb");
  CHECK(f != NULL, "open doppler-tiny");
  if (f) {
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len);
    CHECK(fread(buf, 1, len, f) == len, "read doppler-tiny");
    fclose(f);
    static const char *names[] = {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                                  "model.layers.0.self_attn.v_proj.weight", "model.layers.5.mlp.down_proj.weight",
                                  "model.layers.3.mlp.gate_proj.weight"};
    for (int k = 0; k < 4; k++) {
      double err = 0, nerr = 0, norm = 0;
      for (int i = 0; i < 5; i++) {
        uint64_t r, c;
        const float *w = st_tensor(buf, len, names[i], &r, &c);
        CHECK(w != NULL, "tensor %s", names[i]);
        if (!w) continue;
        /* unaligned in the file (8 + header length): copy */
        float *wc = malloc(r * c * 4);
        memcpy(wc, w, r * c * 4);
        double naive, e = roundtrip(Q[k], wc, r * c, &naive), nn = 0;
        for (uint64_t j = 0; j < r * c; j++) nn += (double)wc[j] * wc[j];
        err += e * e * nn, nerr += naive * naive * nn, norm += nn;
        CHECK(e <= naive, "%s %s: %.5f worse than min/max %.5f", names[i], dp_dtype_name(Q[k]), e, naive);
        free(wc);
      }
      double e = sqrt(err / norm), ne = sqrt(nerr / norm);
      printf("doppler-tiny  %-5s rel err %.5f (plain min/max %.5f)\n", dp_dtype_name(Q[k]), e, ne);
      CHECK(e < bound[k], "doppler-tiny %s rel err %.4f", dp_dtype_name(Q[k]), e);
    }
    free(buf);
  }

  /* q4_k_m mix rule (llama.cpp's use_more_bits) and the row fallback */
  int n = 32, sel = 0;
  for (int i = 0; i < n; i++) {
    int more = i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    char nm[96];
    snprintf(nm, sizeof nm, "model.layers.%d.self_attn.v_proj.weight", i);
    CHECK(dp_q4km_tensor_type(nm, i, n, 0, 4096) == (more ? DP_Q6_K : DP_Q4_K), "v_proj layer %d", i);
    snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", i);
    CHECK(dp_q4km_tensor_type(nm, -1, n, 0, 4096) == (more ? DP_Q6_K : DP_Q4_K), "ffn_down layer %d", i);
    snprintf(nm, sizeof nm, "model.layers.%d.self_attn.k_proj.weight", i);
    CHECK(dp_q4km_tensor_type(nm, i, n, 0, 4096) == DP_Q4_K, "k_proj layer %d", i);
    sel += more;
  }
  CHECK(sel == 4 + 4 + 8, "32 layers: %d selected", sel); /* 0-3, 28-31, and 6,9,...,27 */
  CHECK(dp_q4km_tensor_type("lm_head.weight", -1, n, 1, 4096) == DP_Q6_K, "output Q6_K");
  CHECK(dp_q4km_tensor_type("model.embed_tokens.weight", -1, n, 0, 4096) == DP_Q4_K, "untied embedding Q4_K");
  CHECK(dp_q4km_tensor_type("model.layers.0.mlp.down_proj.weight", 0, n, 0, 800) == DP_Q8_0, "800 -> Q8_0");
  CHECK(dp_q4km_tensor_type("model.layers.0.mlp.up_proj.weight", 0, n, 0, 100) == DP_F16, "100 -> F16");
  CHECK(dp_q4km_tensor_type("model.layers.1.block_sparse_moe.experts.3.w2.weight", 1, n, 0, 512) == DP_Q6_K, "w2");
  CHECK(dp_quant_fallback(DP_Q8_0, 48) == DP_F16 && dp_quant_fallback(DP_Q6_K, 768) == DP_Q6_K &&
        dp_quant_fallback(DP_BF16, 7) == DP_BF16 && dp_quant_fallback(DP_MXFP4, 64) == DP_MXFP4, "fallback");
  free(x);
  return dp_test_summary("test_quant");
}
