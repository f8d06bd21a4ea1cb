/* kquant.c -- f32 -> Q4_K and Q6_K super-blocks (256 elements), GGUF bit layout.
 * Called through dp_quantize (quantize.c) by the converter and the tests. Depends on f16.c.
 *
 * Both encoders work in two levels, each searched for the lowest squared error rather than
 * taken from plain min/max:
 *  1. per sub-block (Q4_K: 8 of 32, asymmetric x ~ a*q + b with q in 0..15, a >= 0, b <= 0;
 *     Q6_K: 16 of 16, symmetric x ~ s*q with q in -32..31) a set of candidate inverse scales
 *     around the min/max one is tried; each candidate fixes the codes, the least-squares
 *     (a, b) or s for those codes is solved in closed form from running sums, and the candidate
 *     with the lowest error is kept (the plain min/max fit is one of the candidates, refitted);
 *  2. the sub-block scales (and Q4_K mins) are quantized to 6 bits (Q6_K: int8) under f16
 *     super-scales, the codes are re-chosen for those exact scales, then the super-scales are
 *     re-solved by least squares with sub-scales and codes fixed (and, for Q4_K, also tried
 *     with sub-scales re-derived from them); the finished block with the lowest error wins.
 * Non-finite inputs give finite blocks (NaN elements code as 0), never undefined behaviour. */
#include "quant/quant.h"
#include <math.h>
#include <string.h>

#define ROUND_MAGIC 12582912.0f /* (v + M) - M rounds |v| < 2^22 to nearest (even) */

static float rnd(float v) { return (v + ROUND_MAGIC) - ROUND_MAGIC; }
static float clampf(float v, float lo, float hi) { return v > lo ? (v < hi ? v : hi) : lo; } /* NaN -> lo */
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static float f16_round(float v) { return dp_f16_to_f32(dp_f32_to_f16(v)); }

/* ---- Q4_K ------------------------------------------------------------------------------- */

void dp_q4k_pack_scales(const uint8_t *sc, const uint8_t *m, uint8_t *s12) {
  for (int k = 0; k < 4; k++) {
    s12[k] = (uint8_t)(sc[k] | ((sc[k + 4] >> 4) << 6));
    s12[k + 4] = (uint8_t)(m[k] | ((m[k + 4] >> 4) << 6));
    s12[k + 8] = (uint8_t)((sc[k + 4] & 15) | ((m[k + 4] & 15) << 4));
  }
}

/* Fit x[32] ~ a*q + b (q in 0..15, a >= 0, b <= 0) with the lowest squared error.
 * Candidates: inverse scales (15 + 0.1k)/(max - min), k = -12..11; the inner loop runs over the
 * candidates (independent sums) so it vectorises. */
#define Q4_NC 24
static void q4_fit_sub(const float *x, float *a_out, float *b_out) {
  float lo = 0, hi = -INFINITY, sx = 0, sxx = 0;
  for (int i = 0; i < 32; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
    sx += x[i];
    sxx += x[i] * x[i];
  }
  if (!(hi > lo) || !isfinite(hi - lo)) { /* constant (<= 0) sub-block, or non-finite input */
    *a_out = 0;
    *b_out = isfinite(lo) ? lo : 0;
    return;
  }
  float range = hi - lo, is[Q4_NC], sq[Q4_NC], sqq[Q4_NC], sqx[Q4_NC];
  for (int k = 0; k < Q4_NC; k++) is[k] = (15.0f + 0.1f * (k - 12)) / range;
  float t[32];
  for (int i = 0; i < 32; i++) t[i] = x[i] - lo; /* >= 0 */
  /* four candidates at a time (one vector of partial sums held across the 32 elements);
   * candidates k <= 12 have is <= 15/range, so their codes need no clamp */
  for (int k0 = 0; k0 < Q4_NC; k0 += 4) {
    float a[4] = {0}, b[4] = {0}, c[4] = {0}, iv[4] = {is[k0], is[k0 + 1], is[k0 + 2], is[k0 + 3]};
    if (k0 + 3 <= 12) {
      for (int i = 0; i < 32; i++)
        for (int l = 0; l < 4; l++) {
          float q = (t[i] * iv[l] + ROUND_MAGIC) - ROUND_MAGIC;
          a[l] += q, b[l] += q * q, c[l] += q * x[i];
        }
    } else {
      for (int i = 0; i < 32; i++)
        for (int l = 0; l < 4; l++) {
          float q = (t[i] * iv[l] + ROUND_MAGIC) - ROUND_MAGIC;
          q = 0.5f * (q + 15.0f - fabsf(q - 15.0f)); /* min(q, 15), exact, branch-free */
          a[l] += q, b[l] += q * q, c[l] += q * x[i];
        }
    }
    for (int l = 0; l < 4; l++) sq[k0 + l] = a[l], sqq[k0 + l] = b[l], sqx[k0 + l] = c[l];
  }
  /* the plain min/max fit (codes of k = 12) is the starting point */
  float best_a = range / 15, best_b = lo;
  float best_err = best_a * best_a * sqq[12] + 32 * lo * lo + sxx + 2 * best_a * lo * sq[12] -
                   2 * best_a * sqx[12] - 2 * lo * sx;
  for (int k = 0; k < Q4_NC; k++) {
    float det = 32 * sqq[k] - sq[k] * sq[k];
    if (!(det > 0)) continue;
    float a = (32 * sqx[k] - sq[k] * sx) / det, b = (sqq[k] * sx - sq[k] * sqx[k]) / det;
    if (b > 0) b = 0, a = sqx[k] / sqq[k];
    if (!(a >= 0)) continue;
    float err = a * a * sqq[k] + 32 * b * b + sxx + 2 * a * b * sq[k] - 2 * a * sqx[k] - 2 * b * sx;
    if (err < best_err) best_err = err, best_a = a, best_b = b;
  }
  *a_out = best_a;
  *b_out = best_b;
}

/* Codes for fixed sub-block scales; returns the squared error. x: [256], q: [256]. */
static float q4_codes(const float *x, float d, float dmin, const uint8_t *sc, const uint8_t *m,
                      uint8_t *q) {
  float err = 0;
  for (int j = 0; j < 8; j++) {
    float s = d * sc[j], o = dmin * m[j], is = s != 0 ? 1.0f / s : 0, e[8] = {0}, v[32];
    const float *xj = x + 32 * j;
    for (int i = 0; i < 32; i += 8)
      for (int l = 0; l < 8; l++) {
        float c = ((xj[i + l] + o) * is + ROUND_MAGIC) - ROUND_MAGIC;
        c = 0.5f * (c + 15.0f - fabsf(c - 15.0f)); /* min(c, 15) */
        c = 0.5f * (c + fabsf(c));                 /* max(c, 0) */
        float r = s * c - o - xj[i + l];
        e[l] += r * r;
        v[i + l] = c;
      }
    for (int i = 0; i < 32; i++) q[32 * j + i] = (uint8_t)(v[i] == v[i] ? v[i] : 0); /* NaN in x -> 0 */
    err += ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]));
  }
  return err;
}

/* 6-bit sub-scales for super-scales (d, dmin) (already f16-rounded). */
static void q4_subscales(const float *A, const float *B, float d, float dmin, uint8_t *sc, uint8_t *m) {
  for (int j = 0; j < 8; j++) {
    sc[j] = (uint8_t)(d > 0 ? clampf(rnd(A[j] / d), 0, 63) : 0);
    m[j] = (uint8_t)(dmin > 0 ? clampf(rnd(B[j] / dmin), 0, 63) : 0);
  }
}

void dp_quant_q4_k_block(const float *x, uint8_t *b) {
  float A[8], B[8], amax = 0, bmax = 0; /* sub-block scale a and min -b (>= 0) */
  for (int j = 0; j < 8; j++) {
    float a, bb;
    q4_fit_sub(x + 32 * j, &a, &bb);
    A[j] = a;
    B[j] = -bb;
    amax = A[j] > amax ? A[j] : amax;
    bmax = B[j] > bmax ? B[j] : bmax;
  }
  uint8_t sc[8], m[8], q[256], sc2[8], m2[8], q2[256];
  float d = f16_round(amax / 63), dmin = f16_round(bmax / 63);
  /* keep tiny blocks representable: the f16 range bounds d, not the 6-bit sub-scales */
  if (isinf(d)) d = 65504.0f;
  if (isinf(dmin)) dmin = 65504.0f;
  if (d == 0 && amax > 0) d = 0x1p-24f;
  if (dmin == 0 && bmax > 0) dmin = 0x1p-24f;
  q4_subscales(A, B, d, dmin, sc, m);
  float err = q4_codes(x, d, dmin, sc, m, q);
  /* least-squares super-scales for these sub-scales and codes: x ~ d*(sc*q) - dmin*m */
  double suu = 0, suv = 0, svv = 0, sux = 0, svx = 0;
  for (int i = 0; i < 256; i++) {
    double u = (double)sc[i / 32] * q[i], v = m[i / 32];
    suu += u * u, suv += u * v, svv += v * v, sux += u * x[i], svx += v * x[i];
  }
  double det = suu * svv - suv * suv;
  if (det > 0) {
    float d2 = f16_round((float)((sux * svv - svx * suv) / det));
    float dmin2 = f16_round((float)((sux * suv - svx * suu) / det));
    if (d2 >= 0 && dmin2 >= 0 && isfinite(d2) && isfinite(dmin2)) {
      /* (a) keep the sub-scales, re-choose codes; (b) also re-derive the sub-scales */
      for (int pass = 0; pass < 2; pass++) {
        memcpy(sc2, sc, 8), memcpy(m2, m, 8);
        if (pass) q4_subscales(A, B, d2, dmin2, sc2, m2);
        float err2 = q4_codes(x, d2, dmin2, sc2, m2, q2);
        if (err2 < err) {
          d = d2, dmin = dmin2, err = err2;
          memcpy(sc, sc2, 8), memcpy(m, m2, 8), memcpy(q, q2, 256);
        }
      }
    }
  }
  wr16(b, dp_f32_to_f16(d));
  wr16(b + 2, dp_f32_to_f16(dmin));
  uint8_t *qs = b + 16;
  dp_q4k_pack_scales(sc, m, b + 4);
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++) qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

/* ---- Q6_K ------------------------------------------------------------------------------- */

/* Fit x[16] ~ s*q (q in -32..31) with the lowest squared error; returns s. Candidates:
 * inverse scales -(32 + 0.1k)/max, k = -10..9 (max: the element of largest magnitude, signed),
 * each with the least-squares s for its codes; the loop over candidates vectorises. */
#define Q6_NC 20
static float q6_fit_sub(const float *x) {
  float mx = 0, sxx = 0;
  for (int i = 0; i < 16; i++) {
    mx = fabsf(x[i]) > fabsf(mx) ? x[i] : mx;
    sxx += x[i] * x[i];
  }
  if (mx == 0 || !isfinite(mx)) return 0;
  float is[Q6_NC], sqq[Q6_NC] = {0}, sqx[Q6_NC] = {0};
  for (int k = 0; k < Q6_NC; k++) is[k] = -(32.0f + 0.1f * (k - 10)) / mx;
  for (int i = 0; i < 16; i++) {
    float xi = x[i];
    for (int k = 0; k < Q6_NC; k++) {
      float q = (xi * is[k] + ROUND_MAGIC) - ROUND_MAGIC;
      q = 0.5f * (q + 31.0f - fabsf(q - 31.0f));  /* min(q, 31), exact, branch-free */
      q = 0.5f * (q - 32.0f + fabsf(q + 32.0f));  /* max(q, -32) */
      sqq[k] += q * q;
      sqx[k] += q * xi;
    }
  }
  float best_err = INFINITY, best_s = -mx / 32;
  for (int k = 0; k < Q6_NC; k++)
    if (sqq[k] > 0 && sxx - sqx[k] * sqx[k] / sqq[k] < best_err)
      best_err = sxx - sqx[k] * sqx[k] / sqq[k], best_s = sqx[k] / sqq[k];
  return best_s;
}

static float q6_codes(const float *x, float d, const int8_t *sc, int8_t *q) {
  float err = 0;
  for (int j = 0; j < 16; j++) {
    float s = d * sc[j], is = s != 0 ? 1.0f / s : 0, e[8] = {0}, v[16];
    const float *xj = x + 16 * j;
    for (int i = 0; i < 16; i += 8)
      for (int l = 0; l < 8; l++) {
        float c = (xj[i + l] * is + ROUND_MAGIC) - ROUND_MAGIC;
        c = 0.5f * (c + 31.0f - fabsf(c - 31.0f)); /* min(c, 31) */
        c = 0.5f * (c - 32.0f + fabsf(c + 32.0f)); /* max(c, -32) */
        float r = s * c - xj[i + l];
        e[l] += r * r;
        v[i + l] = c;
      }
    for (int i = 0; i < 16; i++) q[16 * j + i] = (int8_t)(v[i] == v[i] ? v[i] : 0); /* NaN in x -> 0 */
    err += ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]));
  }
  return err;
}

static void q6_subscales(const float *S, float d, int8_t *sc) {
  for (int j = 0; j < 16; j++) sc[j] = (int8_t)(d != 0 ? clampf(rnd(S[j] / d), -128, 127) : 0);
}

void dp_quant_q6_k_block(const float *x, uint8_t *b) {
  float S[16], smax = 0;
  for (int j = 0; j < 16; j++) {
    S[j] = q6_fit_sub(x + 16 * j);
    smax = fabsf(S[j]) > fabsf(smax) ? S[j] : smax;
  }
  int8_t sc[16], q[256], sc2[16], q2[256];
  float d = f16_round(-smax / 128); /* the largest sub-scale maps to -128 */
  if (isinf(d)) d = d > 0 ? 65504.0f : -65504.0f;
  if (d == 0 && smax != 0) d = smax > 0 ? -0x1p-24f : 0x1p-24f;
  q6_subscales(S, d, sc);
  float err = q6_codes(x, d, sc, q);
  double suu = 0, sux = 0;
  for (int i = 0; i < 256; i++) {
    double u = (double)sc[i / 16] * q[i];
    suu += u * u, sux += u * x[i];
  }
  if (suu > 0) {
    float d2 = f16_round((float)(sux / suu));
    if (isfinite(d2) && d2 != 0) {
      q6_subscales(S, d2, sc2);
      float err2 = q6_codes(x, d2, sc2, q2);
      if (err2 < err) d = d2, err = err2, memcpy(sc, sc2, 16), memcpy(q, q2, 256);
    }
  }
  dp_q6k_pack(dp_f32_to_f16(d), sc, q, b);
}

void dp_q6k_pack(uint16_t d, const int8_t *sc, const int8_t *q, uint8_t *b) {
  uint8_t *ql = b, *qh = b + 128;
  for (int h = 0; h < 2; h++) {
    const int8_t *qq = q + 128 * h;
    for (int l = 0; l < 32; l++) {
      int q1 = qq[l] + 32, q2v = qq[l + 32] + 32, q3 = qq[l + 64] + 32, q4 = qq[l + 96] + 32;
      ql[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
      ql[64 * h + l + 32] = (uint8_t)((q2v & 15) | ((q4 & 15) << 4));
      qh[32 * h + l] = (uint8_t)((q1 >> 4) | ((q2v >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
  memcpy(b + 192, sc, 16);
  wr16(b + 208, d);
}
