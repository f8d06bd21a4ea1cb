/* kernels_ref.h -- the CPU reference of every GPU op in src/kernels/ops.h: plain C, f32 in and
 * out, double accumulation. Used by the kernel tests (tests/gpu_kernels_*.c) and by the CPU
 * forward pass. Shapes, layouts and semantics are exactly those documented in ops.h; weights
 * here are f32 (dequantise GGUF blocks first with dp_ref_dequant_rows / dp_dequantize).
 * RoPE frequency tables come from model/rope.h (dp_rope_freqs), shared with the runtime. */
#ifndef DP_REF_KERNELS_REF_H
#define DP_REF_KERNELS_REF_H
#include "model/rope.h"
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"
#include "format/hparams.h"

/* rows x K elements of type t (rows packed back to back, GGUF blocks) -> f32 [rows, K]. */
dp_status dp_ref_dequant_rows(dp_dtype t, const void *src, uint64_t rows, uint64_t K, float *dst);

/* y[M, N] = x[M, K] . W[N, K]^T (+ bias[N] if not NULL); accum: y += instead of y =. */
void dp_ref_matmul(float *y, const float *x, const float *w, const float *bias, int M, int N,
                   int K, int accum);
/* The int8 input of the decode GEMVs (ops.h dp_op_quantize_x, quantize_x.wgsl), the same f32
 * expressions: per block of 32 values v (rows of K, K % 32 == 0), amax = max |v|,
 * d = amax / 127, t = v * (127 / amax), q = sign(t) * floor(|t| + 0.5) (rounded half away
 * from zero; 0 when amax = 0), s = d * sum(q). q [M, K] int8, ds [M, K / 32][2] = (d, s).
 * Prologues (RMSNorm, GLU) are applied to v first with dp_ref_rmsnorm / dp_ref_glu. */
void dp_ref_quantize_x(int8_t *q, float *ds, const float *v, int M, int K);
/* x [M, K] = d * q per block: the input the int8 GEMV multiplies (its reference is
 * dp_ref_matmul with this x and the dequantised weights). */
void dp_ref_dequantize_x(float *x, const int8_t *q, const float *ds, int M, int K);
/* y[T, D] = table[ids[t], :] * scale; table f32 [vocab, D]. */
void dp_ref_embed(float *y, const uint32_t *ids, const float *table, int T, int D, float scale);
/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * (plus_one ? 1 + w : w); y may equal x. */
void dp_ref_rmsnorm(float *y, const float *x, const float *w, int rows, int D, float eps,
                    int plus_one);

/* In place on x[T, n_heads, head_dim], positions pos0 + t; style 0 rotate-half, 1 pairs. */
void dp_ref_rope(float *x, const float *inv_freq, int T, int n_heads, int head_dim, int rot_dim,
                 int pos0, int style, float attn_factor);

/* Attention over a plain (non-ring) K/V history: k, v: [n_keys, n_kv_heads, head_dim], key j
 * at absolute position j; q, out: [T, n_heads, head_dim], query t at position pos0 + t;
 * causal, window (0 = none), softcap (0 = none), sinks [n_heads] or NULL. */
void dp_ref_attention(float *out, const float *q, const float *k, const float *v, int T,
                      int n_heads, int n_kv_heads, int head_dim, int pos0, int window,
                      float scale, float softcap, const float *sinks);

void dp_ref_softmax(float *y, const float *x, int rows, int n); /* y may equal x */
/* y = act(gate) * up, act 0 SiLU, 1 GELU-tanh. y may equal gate. */
void dp_ref_glu(float *y, const float *gate, const float *up, int n, int act);
void dp_ref_add(float *y, const float *a, const float *b, int n);
/* ids[r] = first index of the maximum of row r over values > -FLT_MAX (else 0). */
void dp_ref_argmax(uint32_t *ids, const float *x, int rows, int n);
/* probe.h: out[i] (i < n_inv) = sum of the components of the vec4s j = i, i + n_inv, ... < n4
 * of src [n4 * 4]; and the value every invocation of the FMA probe stores. */
void dp_ref_probe_read(float *out, const float *src, uint32_t n4, uint32_t n_inv);
float dp_ref_probe_fma(uint32_t iters, float a, float b);
/* Mixture of experts (ops.h dp_op_moe_*): ids[t, j], w[t, j] = the k largest of logits[t, :E]
 * (lowest index first among equal values) and the softmax over them (double). */
void dp_ref_moe_route(uint32_t *ids, float *w, const float *logits, int T, int E, int k);
/* y[r, n] = x[r / xdiv, :] . experts[ids[r]][n, :] (+ bias[ids[r], n]); experts f32 [E, N, K],
 * bias [E, N] or NULL; r < R. */
void dp_ref_moe_matmul(float *y, const float *x, const uint32_t *ids, const float *experts, const float *bias, int R,
                       int N, int K, int xdiv);
/* x[t, i] (+ if accum)= sum_j w[t, j] * y[t * k + j, i]. */
void dp_ref_moe_combine(float *x, const float *y, const float *w, int T, int D, int k, int accum);
/* gpt-oss: y = (clamp(u, -lim, lim) + 1) * g * sigmoid(alpha g), g = min(gate, lim); y may equal gate. */
void dp_ref_glu_clamp(float *y, const float *gate, const float *up, int n, double alpha, double lim);
#endif
