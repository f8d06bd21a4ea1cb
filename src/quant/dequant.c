/* dequant.c -- GGUF block types -> f32 (dp_dequantize, the per-block decoders).
 * Called by the format readers/converter, the CPU reference and the tests. Depends on core
 * (dtype sizes, errors) and f16.c. Block layouts are GGUF's (see quant.h); every decoder here
 * is exact in f32 arithmetic the way ggml's reference decoders are (one product per term). */
#include "quant/quant.h"
#include "core/error.h"
#include <string.h>

/* E2M1 code -> value: 0 0.5 1 1.5 2 3 4 6 and their negatives (codes 8..15). */
const float dp_e2m1_value[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                 -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

float dp_e8m0_to_f32(uint8_t e) { /* 2^(e-127): e = 0 is the subnormal 2^-127, 255 gives inf */
  uint32_t u = e ? (uint32_t)e << 23 : 0x00400000u;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void dp_q4k_scale_min(const uint8_t *s12, int j, uint8_t *sc, uint8_t *m) {
  if (j < 4) {
    *sc = s12[j] & 63;
    *m = s12[j + 4] & 63;
  } else {
    *sc = (uint8_t)((s12[j + 4] & 0x0f) | ((s12[j - 4] >> 6) << 4));
    *m = (uint8_t)((s12[j + 4] >> 4) | ((s12[j] >> 6) << 4));
  }
}

void dp_dequant_q8_0_block(const uint8_t *b, float *y) { /* b: [34] -> y: [32] */
  float d = dp_f16_to_f32(rd16(b));
  const int8_t *q = (const int8_t *)(b + 2);
  for (int i = 0; i < 32; i++) y[i] = d * (float)q[i];
}

void dp_dequant_q4_k_block(const uint8_t *b, float *y) { /* b: [144] -> y: [256] */
  float d = dp_f16_to_f32(rd16(b)), dmin = dp_f16_to_f32(rd16(b + 2));
  const uint8_t *s12 = b + 4, *qs = b + 16; /* qs: [4 chunks][32 bytes] */
  for (int c = 0; c < 4; c++) {
    uint8_t sc0, m0, sc1, m1;
    dp_q4k_scale_min(s12, 2 * c, &sc0, &m0);
    dp_q4k_scale_min(s12, 2 * c + 1, &sc1, &m1);
    float d0 = d * sc0, o0 = dmin * m0, d1 = d * sc1, o1 = dmin * m1;
    const uint8_t *q = qs + 32 * c;
    for (int l = 0; l < 32; l++) y[64 * c + l] = d0 * (float)(q[l] & 0x0f) - o0;
    for (int l = 0; l < 32; l++) y[64 * c + 32 + l] = d1 * (float)(q[l] >> 4) - o1;
  }
}

void dp_dequant_q6_k_block(const uint8_t *b, float *y) { /* b: [210] -> y: [256] */
  const uint8_t *ql = b, *qh = b + 128; /* ql: [2][64], qh: [2][32] */
  const int8_t *sc = (const int8_t *)(b + 192); /* [16], one per 16 elements */
  float d = dp_f16_to_f32(rd16(b + 208));
  for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
    for (int l = 0; l < 32; l++) {
      int s = l / 16;
      int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * (float)sc[s] * (float)q1;
      y[l + 32] = d * (float)sc[s + 2] * (float)q2;
      y[l + 64] = d * (float)sc[s + 4] * (float)q3;
      y[l + 96] = d * (float)sc[s + 6] * (float)q4;
    }
  }
}

void dp_dequant_mxfp4_block(const uint8_t *b, float *y) { /* b: [17] -> y: [32] */
  float d = dp_e8m0_to_f32(b[0]);
  for (int j = 0; j < 16; j++) {
    y[j] = d * dp_e2m1_value[b[1 + j] & 0x0f];
    y[j + 16] = d * dp_e2m1_value[b[1 + j] >> 4];
  }
}

dp_status dp_dequantize(dp_dtype t, const void *src, float *dst, uint64_t n) {
  const uint8_t *p = src;
  uint32_t be = dp_dtype_block_elems(t), bb = dp_dtype_block_bytes(t);
  if (t > DP_MXFP4 || !be) return dp_error(DP_ERR_UNSUPPORTED, "dequantize: unsupported dtype %s", dp_dtype_name(t));
  if (n % be)
    return dp_error(DP_ERR_INVALID_ARG, "dequantize %s: %llu elements is not a multiple of the block size %u",
                    dp_dtype_name(t), (unsigned long long)n, be);
  switch (t) {
  case DP_F32: memcpy(dst, src, n * 4); return DP_OK;
  case DP_F16:
    for (uint64_t i = 0; i < n; i++) dst[i] = dp_f16_to_f32(rd16(p + 2 * i));
    return DP_OK;
  case DP_BF16:
    for (uint64_t i = 0; i < n; i++) dst[i] = dp_bf16_to_f32(rd16(p + 2 * i));
    return DP_OK;
  default: break;
  }
  void (*dec)(const uint8_t *, float *) =
      t == DP_Q8_0 ? dp_dequant_q8_0_block : t == DP_Q4_K ? dp_dequant_q4_k_block
      : t == DP_Q6_K ? dp_dequant_q6_k_block : dp_dequant_mxfp4_block;
  for (uint64_t i = 0; i < n / be; i++) dec(p + i * bb, dst + i * be);
  return DP_OK;
}
