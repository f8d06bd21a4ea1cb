/* kernels_ref.c -- CPU reference of every GPU op (src/kernels/ops.h): plain loops in double,
 * written for obviousness, not speed. Called by the kernel tests and by the CPU forward pass.
 * Depends on core (errors), quant (dp_dequantize) and format (dp_rope, for the RoPE rules). */
#include "ref/kernels_ref.h"
#include <float.h>
#include <math.h>
#include <string.h>
#include "core/error.h"
#include "quant/quant.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

dp_status dp_ref_dequant_rows(dp_dtype t, const void *src, uint64_t rows, uint64_t K, float *dst) {
  uint64_t rb = dp_dtype_row_bytes(t, K);
  if (rb == UINT64_MAX) return dp_error(DP_ERR_INVALID_ARG, "dequant_rows: %s rows of %llu elements are not whole blocks", dp_dtype_name(t), (unsigned long long)K);
  for (uint64_t r = 0; r < rows; r++) {
    dp_status s = dp_dequantize(t, (const uint8_t *)src + r * rb, dst + r * K, K);
    if (s) return s;
  }
  return DP_OK;
}

void dp_ref_matmul(float *y, const float *x, const float *w, const float *bias, int M, int N,
                   int K, int accum) {
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = bias ? bias[n] : 0.0;
      for (int k = 0; k < K; k++) s += (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
      y[(size_t)m * N + n] = accum ? (float)(y[(size_t)m * N + n] + s) : (float)s;
    }
}

void dp_ref_embed(float *y, const uint32_t *ids, const float *table, int T, int D, float scale) {
  for (int t = 0; t < T; t++)
    for (int d = 0; d < D; d++) y[(size_t)t * D + d] = table[(size_t)ids[t] * D + d] * scale;
}

void dp_ref_rmsnorm(float *y, const float *x, const float *w, int rows, int D, float eps,
                    int plus_one) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * D;
    double ss = 0;
    for (int d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
    double inv = 1.0 / sqrt(ss / D + eps);
    for (int d = 0; d < D; d++)
      y[(size_t)r * D + d] = (float)(xr[d] * inv * (plus_one ? 1.0 + w[d] : (double)w[d]));
  }
}

void dp_ref_quantize_x(int8_t *q, float *ds, const float *v, int M, int K) {
  for (size_t b = 0; b < (size_t)M * (K / 32); b++) {
    const float *vb = v + 32 * b;
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(vb[i]));
    float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int i = 0; i < 32; i++) {
      float t = vb[i] * id;
      float r = floorf(fabsf(t) + 0.5f);
      int qi = (int)(t < 0.0f ? -r : r);
      q[32 * b + i] = (int8_t)qi;
      sum += qi;
    }
    ds[2 * b] = d;
    ds[2 * b + 1] = d * (float)sum;
  }
}

void dp_ref_dequantize_x(float *x, const int8_t *q, const float *ds, int M, int K) {
  for (size_t i = 0; i < (size_t)M * K; i++) x[i] = ds[2 * (i / 32)] * (float)q[i];
}

void dp_ref_rope(float *x, const float *inv_freq, int T, int n_heads, int head_dim, int rot_dim,
                 int pos0, int style, float attn_factor) {
  int half = rot_dim / 2;
  for (int t = 0; t < T; t++)
    for (int h = 0; h < n_heads; h++) {
      float *v = x + ((size_t)t * n_heads + h) * head_dim;
      for (int i = 0; i < half; i++) {
        float ang = (float)(pos0 + t) * inv_freq[i]; /* f32 product, as HF computes it */
        double c = cos((double)ang) * attn_factor, s = sin((double)ang) * attn_factor;
        int a = style ? 2 * i : i, b = style ? 2 * i + 1 : i + half;
        double x1 = v[a], x2 = v[b];
        v[a] = (float)(x1 * c - x2 * s);
        v[b] = (float)(x2 * c + x1 * s);
      }
    }
}

void dp_ref_attention(float *out, const float *q, const float *k, const float *v, int T,
                      int n_heads, int n_kv_heads, int head_dim, int pos0, int window,
                      float scale, float softcap, const float *sinks) {
  int group = n_heads / n_kv_heads, n_keys = pos0 + T;
  size_t kstride = (size_t)n_kv_heads * head_dim;
  for (int t = 0; t < T; t++)
    for (int h = 0; h < n_heads; h++) {
      const float *qv = q + ((size_t)t * n_heads + h) * head_dim;
      int kh = h / group, qp = pos0 + t;
      int j0 = window > 0 && qp - window + 1 > 0 ? qp - window + 1 : 0;
      double m = sinks ? sinks[h] : -INFINITY;
      for (int pass = 0; pass < 2; pass++) {
        double den = sinks ? exp(sinks[h] - m) : 0.0;
        double acc[512]; /* head_dim <= 512 */
        for (int d = 0; d < head_dim; d++) acc[d] = 0;
        for (int j = j0; j <= qp && j < n_keys; j++) {
          const float *kv = k + (size_t)j * kstride + (size_t)kh * head_dim;
          double z = 0;
          for (int d = 0; d < head_dim; d++) z += (double)qv[d] * kv[d];
          z *= scale;
          if (softcap > 0) z = softcap * tanh(z / softcap);
          if (pass == 0) { if (z > m) m = z; continue; }
          double p = exp(z - m);
          den += p;
          const float *vv = v + (size_t)j * kstride + (size_t)kh * head_dim;
          for (int d = 0; d < head_dim; d++) acc[d] += p * vv[d];
        }
        if (pass == 1)
          for (int d = 0; d < head_dim; d++)
            out[((size_t)t * n_heads + h) * head_dim + d] = (float)(acc[d] / den);
      }
    }
}

void dp_ref_softmax(float *y, const float *x, int rows, int n) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * n;
    float *yr = y + (size_t)r * n;
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) if (xr[i] > m) m = xr[i];
    for (int i = 0; i < n; i++) s += exp(xr[i] - m);
    for (int i = 0; i < n; i++) yr[i] = (float)(exp(xr[i] - m) / s);
  }
}

void dp_ref_glu(float *y, const float *gate, const float *up, int n, int act) {
  for (int i = 0; i < n; i++) {
    double g = gate[i], a;
    if (act == 0) a = g / (1 + exp(-g));
    else a = 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
    y[i] = (float)(a * up[i]);
  }
}

void dp_ref_add(float *y, const float *a, const float *b, int n) {
  for (int i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void dp_ref_argmax(uint32_t *ids, const float *x, int rows, int n) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * n;
    uint32_t best = 0;
    float bv = -FLT_MAX;
    for (int i = 0; i < n; i++)
      if (xr[i] > bv) { best = (uint32_t)i; bv = xr[i]; } /* NaN compares false */
    ids[r] = best;
  }
}

void dp_ref_probe_read(float *out, const float *src, uint32_t n4, uint32_t n_inv) {
  for (uint32_t i = 0; i < n_inv; i++) {
    double s = 0;
    for (uint64_t j = i; j < n4; j += n_inv)
      for (int c = 0; c < 4; c++) s += src[j * 4 + c];
    out[i] = (float)s;
  }
}

float dp_ref_probe_fma(uint32_t iters, float a, float b) {
  double s = 0;
  for (int c = 0; c < 16; c++) {
    float x = (float)c;
    for (uint32_t k = 0; k < iters; k++) x = fmaf(x, a, b);
    s += x;
  }
  return (float)s;
}

/* ---- mixture of experts ---- */
void dp_ref_moe_route(uint32_t *ids, float *w, const float *logits, int T, int E, int k) {
  for (int t = 0; t < T; t++) {
    const float *l = logits + (size_t)t * E;
    uint32_t *id = ids + (size_t)t * k;
    for (int j = 0; j < k; j++) { /* j-th largest, lowest index first on ties */
      int best = -1;
      for (int e = 0; e < E; e++) {
        int used = 0;
        for (int i = 0; i < j; i++) used |= id[i] == (uint32_t)e;
        if (!used && (best < 0 || l[e] > l[best])) best = e;
      }
      id[j] = (uint32_t)best;
    }
    double sum = 0;
    for (int j = 0; j < k; j++) sum += exp((double)l[id[j]] - l[id[0]]);
    for (int j = 0; j < k; j++) w[(size_t)t * k + j] = (float)(exp((double)l[id[j]] - l[id[0]]) / sum);
  }
}

void dp_ref_moe_matmul(float *y, const float *x, const uint32_t *ids, const float *experts, const float *bias, int R,
                       int N, int K, int xdiv) {
  for (int r = 0; r < R; r++) {
    const float *xr = x + (size_t)(r / xdiv) * K, *we = experts + (size_t)ids[r] * N * K;
    dp_ref_matmul(y + (size_t)r * N, xr, we, bias ? bias + (size_t)ids[r] * N : NULL, 1, N, K, 0);
  }
}

void dp_ref_moe_combine(float *x, const float *y, const float *w, int T, int D, int k, int accum) {
  for (int t = 0; t < T; t++)
    for (int i = 0; i < D; i++) {
      double a = accum ? x[(size_t)t * D + i] : 0;
      for (int j = 0; j < k; j++) a += (double)w[(size_t)t * k + j] * y[((size_t)t * k + j) * D + i];
      x[(size_t)t * D + i] = (float)a;
    }
}

void dp_ref_glu_clamp(float *y, const float *gate, const float *up, int n, double alpha, double lim) {
  for (int i = 0; i < n; i++) {
    double g = gate[i] < lim ? gate[i] : lim;
    double u = up[i] < -lim ? -lim : up[i] > lim ? lim : up[i];
    y[i] = (float)((u + 1.0) * g / (1.0 + exp(-alpha * g)));
  }
}
