/* kernel_check.c -- dp_kernel_check (kernel_check.h): runs one kernel variant of the ops'
 * table on a small problem chosen so that its op picks it (kernel family, subgroups, M, K,
 * texture or buffer, in place or not), with random inputs and outputs poisoned with NaN
 * first, and compares with the CPU reference (src/ref/kernels_ref.h). Called by dp_model_load
 * for each hot-swapped kernel (api/model.c) and by tests/gpu_kernels_variants.c; depends on
 * the op, device, quant and ref layers. */
#include "api/kernel_check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

#define MAX_BUFS 16
#define MAX_F 32
typedef struct chk {
  dp_ops *o;
  dp_gpu *g;
  const char *name;
  uint64_t rng;
  dp_gpu_buffer *b[MAX_BUFS];
  int nb;
  float *f[MAX_F];   /* host arrays, freed at the end */
  int nf;
  double worst;
  dp_status st;      /* first failure */
} chk;

static float *host(chk *c, size_t n) {
  float *p = dp_malloc((n ? n : 1) * sizeof *p);
  if (!p || c->nf == MAX_F) { dp_free(p); if (!c->st) c->st = DP_ERR_NOMEM; return NULL; }
  return c->f[c->nf++] = p;
}

/* normal deviates (sum of 4 uniforms, xorshift64*) times sd */
static float *randn(chk *c, size_t n, float sd) {
  float *x = host(c, n);
  for (size_t i = 0; x && i < n; i++) {
    double s = 0;
    for (int j = 0; j < 4; j++) {
      uint64_t z = c->rng;
      z ^= z >> 12, z ^= z << 25, z ^= z >> 27;
      c->rng = z;
      s += (double)((z * 2685821657736338717ull) >> 11) / 9007199254740992.0;
    }
    x[i] = (float)((s - 2.0) * 1.7320508 * sd);
  }
  return x;
}

/* a buffer of `bytes` poisoned with NaN patterns, then `data` (if any) written at its start */
static dp_view buf(chk *c, const void *data, size_t bytes) {
  dp_view v = {NULL, 0};
  size_t n = (bytes + 3) & ~(size_t)3;
  if (c->st || c->nb == MAX_BUFS) { if (!c->st) c->st = DP_ERR_NOMEM; return v; }
  dp_status st = dp_gpu_buffer_create(c->g, n, "kernel-check", &c->b[c->nb]);
  uint32_t *tmp = st ? NULL : dp_malloc(n);
  if (!st && !tmp) st = DP_ERR_NOMEM;
  if (!st) {
    for (size_t i = 0; i < n / 4; i++) tmp[i] = (i & 1 ? 0xffc00000u : 0x7fa00000u) | (uint32_t)(i & 0x1fffff);
    if (data) memcpy(tmp, data, bytes);
    st = dp_gpu_buffer_write(c->g, c->b[c->nb], 0, tmp, n);
  }
  dp_free(tmp);
  if (st) { c->st = st; return v; }
  v.buf = c->b[c->nb++];
  return v;
}

static void run(chk *c, dp_status st) { if (st && !c->st) c->st = st; }

/* read n floats at v and compare with ref */
static void compare(chk *c, const char *what, dp_view v, const float *ref, size_t n, double tol) {
  if (c->st) return;
  float *out = host(c, n);
  if (!out) return;
  dp_status st = dp_gpu_buffer_read(c->g, v.buf, v.offset, out, n * 4);
  if (st) { c->st = st; return; }
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    double e = (double)out[i] - ref[i];
    d += e * e, r += (double)ref[i] * ref[i];
  }
  double rel = r > 0 ? sqrt(d) / sqrt(r) : sqrt(d);
  if (isnan(rel)) rel = INFINITY; /* a NaN left in the output (poison never overwritten) */
  if (rel > c->worst) c->worst = rel;
  if (!(rel <= tol))
    c->st = dp_error(DP_ERR_GPU, "%s differs from the CPU reference: ||out - ref|| / ||ref|| = %.3g > %.0e", what, rel, tol);
}

static void matmul(chk *c, dp_dtype t, int M, int K, int tex, uint32_t flags) {
  int N = 37;
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = randn(c, (size_t)N * K, 0.5f), *wd = host(c, (size_t)N * K), *x = randn(c, (size_t)M * K, 1);
  float *b = randn(c, N, 1), *ref = host(c, (size_t)M * N);
  void *wq = dp_malloc(rb * N + 4);
  if (c->st || !wq) { dp_free(wq); if (!c->st) c->st = DP_ERR_NOMEM; return; }
  run(c, dp_quantize(t, w, wq, (uint64_t)N * K));
  run(c, dp_ref_dequant_rows(t, wq, N, K, wd));
  if (!c->st) dp_ref_matmul(ref, x, wd, b, M, N, K, 0);
  dp_view vw = buf(c, wq, rb * N), vb = buf(c, b, N * 4), vx = buf(c, x, (size_t)M * K * 4), vy = buf(c, NULL, (size_t)M * N * 4);
  if (!c->st && tex) {
    dp_wtex *wt = NULL;
    run(c, dp_wtex_create(c->o, t, N, K, "kernel-check", &wt));
    if (!c->st && !wt) c->st = dp_error(DP_ERR_UNSUPPORTED, "no weight texture on this adapter");
    if (!c->st) run(c, dp_wtex_write(c->o, wt, 0, N, wq));
    if (!c->st) run(c, dp_op_matmul_tex(c->o, vy, vx, wt, 0, N, vb, M, NULL, flags));
    compare(c, "y", vy, ref, (size_t)M * N, 1e-5);
    dp_wtex_free(wt);
  } else if (!c->st) {
    run(c, dp_op_matmul(c->o, vy, vx, vw, t, vb, M, N, K, flags));
    compare(c, "y", vy, ref, (size_t)M * N, 1e-5);
  }
  dp_free(wq);
}

/* matvec input q8: x [2, K] quantized by quantize_x: the codes dp_ref_quantize_x's (one off only
 * where the reference value is within 1e-3 of a rounding tie: the GPU's 127 / amax may differ
 * in the last bit), d within 1e-6; then (gemv) y = xq . W^T + b by matmul_gemv_i8 against
 * dp_ref_matmul of W and the GPU's quantized x, dequantised (1e-5); (gemv 2) the same by
 * matmul_gemv_i8_fused from x itself (the same codes: 1e-5 against the same reference) */
static void q8(chk *c, dp_dtype t, int K, int gemv) {
  enum { M = 2, N = 37 };
  size_t rb = dp_dtype_row_bytes(t, K), nb = (size_t)M * K / 32;
  uint64_t dofs = ((uint64_t)M * K + 255) & ~255ull;
  float *x = randn(c, (size_t)M * K, 1), *ds = host(c, 2 * nb), *xd = host(c, (size_t)M * K), *gds = host(c, 2 * nb);
  int8_t *q = dp_malloc((size_t)M * K), *gq = dp_malloc((size_t)M * K);
  dp_view vx = buf(c, x, (size_t)M * K * 4), vq = buf(c, NULL, dp_xq_bytes(M, (uint32_t)K));
  if (!c->st && (!q || !gq)) c->st = DP_ERR_NOMEM;
  if (!c->st) run(c, dp_op_quantize_x(c->o, vq, vx, M, (uint32_t)K, NULL));
  if (!c->st) run(c, dp_gpu_buffer_read(c->g, vq.buf, 0, gq, (size_t)M * K));
  if (!c->st) run(c, dp_gpu_buffer_read(c->g, vq.buf, dofs, gds, nb * 8));
  if (!c->st) {
    dp_ref_quantize_x(q, ds, x, M, K);
    for (size_t i = 0; i < (size_t)M * K && !c->st; i++) {
      float d = ds[2 * (i / 32)], v = d > 0 ? fabsf(x[i] / d) : 0;
      if (q[i] != gq[i] && !(abs(q[i] - gq[i]) == 1 && fabsf(v - floorf(v) - 0.5f) < 1e-3f))
        c->st = dp_error(DP_ERR_GPU, "%s: int8 code %zu is %d, the CPU reference's %d", c->name, i, gq[i], q[i]);
    }
    for (size_t b = 0; b < nb && !c->st; b++)
      if (!(fabsf(gds[2 * b] - ds[2 * b]) <= 1e-6f * ds[2 * b]))
        c->st = dp_error(DP_ERR_GPU, "%s: block %zu scale %.9g, the CPU reference's %.9g", c->name, b, gds[2 * b], ds[2 * b]);
    dp_ref_dequantize_x(xd, gq, gds, M, K);
  }
  dp_free(q);
  dp_free(gq);
  if (!gemv || c->st) return;
  float *w = randn(c, (size_t)N * K, 0.5f), *wd = host(c, (size_t)N * K), *b = randn(c, N, 1), *ref = host(c, (size_t)M * N);
  void *wq = dp_malloc(rb * N + 4);
  if (c->st || !wq) { dp_free(wq); if (!c->st) c->st = DP_ERR_NOMEM; return; }
  run(c, dp_quantize(t, w, wq, (uint64_t)N * K));
  run(c, dp_ref_dequant_rows(t, wq, N, K, wd));
  if (!c->st) dp_ref_matmul(ref, xd, wd, b, M, N, K, 0);
  dp_weight *W = NULL;
  dp_view vb = buf(c, b, N * 4), vy = buf(c, NULL, (size_t)M * N * 4);
  if (!c->st) run(c, dp_weight_create(c->o, t, N, (uint64_t)K, 0, "kernel-check", &W));
  if (!c->st) run(c, dp_weight_write(c->o, W, 0, N, wq));
  dp_gemv_pro p = {DP_PRO_Q8, {NULL, 0}, 0, 0, 0, 0, 0};
  if (!c->st) run(c, dp_op_linear(c->o, vy, vq, W, 0, N, vb, M, &p, DP_MM_ROWS));
  compare(c, "y", vy, ref, (size_t)M * N, 1e-5);
  if (gemv == 2 && !c->st) {
    dp_gemv_pro f = {DP_PRO_NONE, {NULL, 0}, 0, 0, 0, 0, 1};
    dp_view vf = buf(c, NULL, (size_t)M * N * 4);
    if (!c->st && !dp_ops_linear_q8_fused(c->o, W, M))
      c->st = dp_error(DP_ERR_UNSUPPORTED, "%s: the fused int8 product does not apply here", c->name);
    if (!c->st) run(c, dp_op_linear(c->o, vf, vx, W, 0, N, vb, M, &f, DP_MM_ROWS));
    compare(c, "y (fused)", vf, ref, (size_t)M * N, 1e-5);
  }
  dp_weight_free(W);
  dp_free(wq);
}

static void embed(chk *c, dp_dtype t) {
  int V = 40, D = t == DP_Q4_K || t == DP_Q6_K ? 256 : 64, T = 5;
  size_t rb = dp_dtype_row_bytes(t, D);
  float *tab = randn(c, (size_t)V * D, 1), *td = host(c, (size_t)V * D), *ref = host(c, (size_t)T * D);
  void *tq = dp_malloc(rb * V + 4);
  uint32_t ids[5] = {3, 0, 39, 17, 3};
  if (c->st || !tq) { dp_free(tq); if (!c->st) c->st = DP_ERR_NOMEM; return; }
  run(c, dp_quantize(t, tab, tq, (uint64_t)V * D));
  run(c, dp_ref_dequant_rows(t, tq, V, D, td));
  if (!c->st) dp_ref_embed(ref, ids, td, T, D, 1.5f);
  dp_weight *w = NULL;
  if (!c->st) run(c, dp_weight_create(c->o, t, V, D, 0, "kernel-check", &w));
  dp_view vi = buf(c, ids, sizeof ids), vy = buf(c, NULL, (size_t)T * D * 4);
  if (!c->st) run(c, dp_weight_write(c->o, w, 0, V, tq));
  if (!c->st) run(c, dp_op_embed(c->o, vy, vi, w, T, 1.5f));
  compare(c, "y", vy, ref, (size_t)T * D, 1e-6);
  dp_weight_free(w);
  dp_free(tq);
}

/* rmsnorm, softmax, glu, add, argmax over 3 rows of 300, in place or not */
static void rowop(chk *c, const char *op, int inplace) {
  int rows = 3, n = 300;
  size_t e = (size_t)rows * n;
  float *a = randn(c, e, 1), *b = randn(c, e, 1), *ref = host(c, e);
  dp_view va = buf(c, a, e * 4), vb = buf(c, b, e * 4), vy = buf(c, NULL, e * 4);
  if (c->st) return;
  dp_view y = inplace ? va : vy;
  if (!strcmp(op, "rmsnorm")) {
    dp_ref_rmsnorm(ref, a, b, rows, n, 1e-5f, 0);
    run(c, dp_op_rmsnorm(c->o, y, va, vb, rows, n, 1e-5f, 0));
  } else if (!strcmp(op, "softmax")) {
    dp_ref_softmax(ref, a, rows, n);
    run(c, dp_op_softmax(c->o, y, va, rows, n));
  } else if (!strcmp(op, "glu")) {
    dp_ref_glu(ref, a, b, (int)e, DP_GLU_SILU);
    run(c, dp_op_glu(c->o, y, va, vb, (uint32_t)e, DP_GLU_SILU));
  } else if (!strcmp(op, "add")) {
    dp_ref_add(ref, a, b, (int)e);
    run(c, dp_op_add(c->o, y, va, vb, (uint32_t)e));
  } else { /* argmax: the ids exactly */
    uint32_t ids[3], rid[3];
    dp_ref_argmax(rid, a, rows, n);
    run(c, dp_op_argmax(c->o, vy, va, rows, n));
    if (!c->st) run(c, dp_gpu_buffer_read(c->g, vy.buf, 0, ids, sizeof ids));
    for (int r = 0; r < rows && !c->st; r++)
      if (ids[r] != rid[r]) c->st = dp_error(DP_ERR_GPU, "row %d: id %u, the CPU reference %u", r, ids[r], rid[r]);
    return;
  }
  compare(c, "y", y, ref, e, 1e-5);
}

/* rope, kv_write, rope_kv: q [T, H, hd], k, v [T, KVH, hd] at pos0 into caches of cap slots */
/* rope, kv_write, rope_kv; norm: rope_kv_norm (q/k RMSNorm with (1 + w) weights first) */
static void rope(chk *c, const char *op, int norm) {
  int T = 3, H = 4, KVH = 2, hd = 32, rot = 32, pos0 = 5, cap = 16;
  size_t nq = (size_t)T * H * hd, nk = (size_t)T * KVH * hd, nc = (size_t)cap * KVH * hd, at = (size_t)pos0 * KVH * hd;
  float *q = randn(c, nq, 1), *k = randn(c, nk, 1), *v = randn(c, nk, 1), *fr = host(c, rot / 2);
  float *rq = host(c, nq), *rk = host(c, nk), *qw = randn(c, hd, 0.5f), *kw = randn(c, hd, 0.5f);
  if (c->st) return;
  for (int i = 0; i < rot / 2; i++) fr[i] = powf(10000.0f, -2.0f * i / rot);
  memcpy(rq, q, nq * 4), memcpy(rk, k, nk * 4);
  if (norm) {
    dp_ref_rmsnorm(rq, rq, qw, T * H, hd, 1e-6f, DP_NORM_PLUS_ONE);
    dp_ref_rmsnorm(rk, rk, kw, T * KVH, hd, 1e-6f, DP_NORM_PLUS_ONE);
  }
  dp_ref_rope(rq, fr, T, H, hd, rot, pos0, DP_ROPE_HALF, 1.0f);
  if (strcmp(op, "kv_write")) dp_ref_rope(rk, fr, T, KVH, hd, rot, pos0, DP_ROPE_HALF, 1.0f);
  dp_view vq = buf(c, q, nq * 4), vk = buf(c, k, nk * 4), vv = buf(c, v, nk * 4), vf = buf(c, fr, rot / 2 * 4);
  dp_view kc = buf(c, NULL, nc * 4), vc = buf(c, NULL, nc * 4);
  if (c->st) return;
  if (!strcmp(op, "rope")) {
    run(c, dp_op_rope(c->o, vq, vf, T, H, hd, rot, pos0, DP_ROPE_HALF, 1.0f));
    compare(c, "x", vq, rq, nq, 1e-5);
    return;
  }
  if (!strcmp(op, "kv_write")) run(c, dp_op_kv_write(c->o, kc, vc, vk, vv, T, KVH, hd, pos0, cap));
  else if (norm) {
    dp_view vqw = buf(c, qw, hd * 4), vkw = buf(c, kw, hd * 4);
    if (!c->st) run(c, dp_op_rope_kv_norm(c->o, vq, vk, vv, kc, vc, vf, vqw, vkw, 1e-6f, DP_NORM_PLUS_ONE, T, H, KVH, hd, rot, pos0,
                                          DP_ROPE_HALF, 1.0f, cap));
    compare(c, "q", vq, rq, nq, 1e-5);
  } else {
    run(c, dp_op_rope_kv(c->o, vq, vk, vv, kc, vc, vf, T, H, KVH, hd, rot, pos0, DP_ROPE_HALF, 1.0f, cap));
    compare(c, "q", vq, rq, nq, 1e-5);
  }
  compare(c, "kcache", dp_view_of(kc.buf, at * 4), rk, nk, 1e-5);
  compare(c, "vcache", dp_view_of(vc.buf, at * 4), v, nk, 0);
}

static void attention(chk *c, int hd, int T, int keys) {
  int H = 8, KVH = 2, pos0 = keys - T;
  size_t nq = (size_t)T * H * hd, nc = (size_t)keys * KVH * hd;
  float *q = randn(c, nq, 1), *k = randn(c, nc, 1), *v = randn(c, nc, 1), *ref = host(c, nq);
  if (c->st) return;
  float scale = 1.0f / sqrtf((float)hd);
  dp_ref_attention(ref, q, k, v, T, H, KVH, hd, pos0, 0, scale, 0, NULL);
  dp_view vq = buf(c, q, nq * 4), vk = buf(c, k, nc * 4), vv = buf(c, v, nc * 4), vo = buf(c, NULL, nq * 4);
  if (c->st) return;
  dp_attn_desc d = {(uint32_t)T, (uint32_t)H, (uint32_t)KVH, (uint32_t)hd, (uint32_t)pos0, (uint32_t)keys, 0, scale, 0};
  run(c, dp_op_attention(c->o, &d, vo, vq, vk, vv, dp_view_of(NULL, 0)));
  compare(c, "out", vo, ref, nq, 1e-5);
}

/* sample (greedy: the CPU reference is argmax), nll and softcap (references computed here) */
static void sampler(chk *c, const char *op) {
  int rows = 3, V = 300;
  size_t e = (size_t)rows * V;
  float *x = randn(c, e, 3), *ref = host(c, e);
  if (c->st) return;
  dp_view vx = buf(c, x, e * 4);
  if (!strcmp(op, "softcap")) {
    for (size_t i = 0; i < e; i++) ref[i] = 5.0f * tanhf(x[i] / 5.0f);
    if (!c->st) run(c, dp_op_softcap(c->o, vx, (uint32_t)e, 5.0f));
    compare(c, "x", vx, ref, e, 1e-5);
  } else if (!strcmp(op, "nll")) {
    uint32_t tg[3] = {7, 299, 0};
    for (int r = 0; r < rows; r++) {
      double m = -INFINITY, z = 0;
      for (int j = 0; j < V; j++) m = x[r * V + j] > m ? x[r * V + j] : m;
      for (int j = 0; j < V; j++) z += exp(x[r * V + j] - m);
      ref[r] = (float)(log(z) + m - x[r * V + tg[r]]);
    }
    dp_view vt = buf(c, tg, sizeof tg), vn = buf(c, NULL, 8 * 4);
    if (!c->st) run(c, dp_op_nll(c->o, vn, vx, vt, rows, V, 0, 0));
    compare(c, "nll", vn, ref, rows, 1e-5);
  } else { /* sample, greedy: the token is the argmax of row 0, written to out_ids[1], cur and hist[3] */
    uint32_t want, got[3];
    dp_ref_argmax(&want, x, 1, V);
    dp_sample_params p;
    memset(&p, 0, sizeof p);
    p.vocab = (uint32_t)V, p.hist_pos = 3, p.out_index = 1, p.top_p = 1, p.penalty = 1;
    dp_view vw = buf(c, NULL, (size_t)V * 4), vh = buf(c, NULL, 8 * 4), vc = buf(c, NULL, 4), vo = buf(c, NULL, 4 * 4);
    if (!c->st) run(c, dp_op_sample(c->o, &p, vx, vw, vh, vc, vo));
    if (!c->st) run(c, dp_gpu_buffer_read(c->g, vo.buf, 4, &got[0], 4));
    if (!c->st) run(c, dp_gpu_buffer_read(c->g, vc.buf, 0, &got[1], 4));
    if (!c->st) run(c, dp_gpu_buffer_read(c->g, vh.buf, 12, &got[2], 4));
    for (int j = 0; j < 3 && !c->st; j++)
      if (got[j] != want)
        c->st = dp_error(DP_ERR_GPU, "greedy token in %s: %u, the CPU reference (argmax) %u", j == 0 ? "out_ids" : j == 1 ? "cur" : "hist",
                         got[j], want);
  }
}

/* moe_route (5 tokens, 11 experts, top 3: ids exact), moe_group (exact), moe_matmul of weight
 * type t (3 tokens x top 2 over 5 experts in slots permuted by the map, 3 slots per buffer: two
 * dispatches, biases; moe_tiled through moe_group), moe_combine (accumulating) */
static void moe(chk *c, const char *op, dp_dtype t, int K, int tiled) {
  if (!strcmp(op, "moe_route")) {
    enum { T = 5, E = 11, k = 3 };
    float *l = randn(c, T * E, 2), *rw = host(c, T * k);
    uint32_t rid[T * k], got[T * k];
    if (c->st) return;
    l[2] = l[7]; /* a tie: the lower index first */
    dp_ref_moe_route(rid, rw, l, T, E, k);
    dp_view vl = buf(c, l, T * E * 4), vi = buf(c, NULL, T * k * 4), vw = buf(c, NULL, T * k * 4);
    if (!c->st) run(c, dp_op_moe_route(c->o, vi, vw, vl, T, E, k));
    if (!c->st) run(c, dp_gpu_buffer_read(c->g, vi.buf, 0, got, sizeof got));
    for (int i = 0; i < T * k && !c->st; i++)
      if (got[i] != rid[i]) c->st = dp_error(DP_ERR_GPU, "pair %d: expert %u, the CPU reference %u", i, got[i], rid[i]);
    compare(c, "weights", vw, rw, T * k, 1e-5);
    return;
  }
  if (!strcmp(op, "moe_group")) { /* the grouping exactly, then moe_tiled over it checks its use */
    enum { R = 9, E = 4 };
    uint32_t ids[R] = {3, 0, 3, 1, 0, 3, 1, 1, 0}, want[E + 1 + R] = {0, 3, 6, 6, 9, 1, 4, 8, 3, 6, 7, 0, 2, 5}, got[E + 1 + R];
    dp_view vi = buf(c, ids, sizeof ids), vg = buf(c, NULL, sizeof got);
    if (!c->st) run(c, dp_op_moe_group(c->o, vg, vi, R, E));
    if (!c->st) run(c, dp_gpu_buffer_read(c->g, vg.buf, 0, got, sizeof got));
    for (int i = 0; i < E + 1 + R && !c->st; i++)
      if (got[i] != want[i]) c->st = dp_error(DP_ERR_GPU, "groups[%d] = %u, expected %u", i, got[i], want[i]);
    return;
  }
  if (!strcmp(op, "moe_combine")) {
    enum { T = 3, D = 37, k = 2 };
    float *y = randn(c, T * k * D, 1), *w = randn(c, T * k, 1), *x = randn(c, T * D, 1), *ref = host(c, T * D);
    if (c->st) return;
    memcpy(ref, x, T * D * 4);
    dp_ref_moe_combine(ref, y, w, T, D, k, 1);
    dp_view vy = buf(c, y, T * k * D * 4), vw = buf(c, w, T * k * 4), vx = buf(c, x, T * D * 4);
    if (!c->st) run(c, dp_op_moe_combine(c->o, vx, vy, vw, T, D, k, DP_MM_ACCUM));
    compare(c, "x", vx, ref, T * D, 1e-5);
    return;
  }
  enum { T = 3, k = 2, E = 5, N = 37, R = T * k, PER = 3 };
  size_t rb = dp_dtype_row_bytes(t, K), stride = (N * rb + 3) & ~(size_t)3;
  float *w = randn(c, (size_t)E * N * K, 0.5f), *wd = host(c, (size_t)E * N * K), *x = randn(c, (size_t)T * K, 1);
  float *bias = randn(c, E * N, 1), *ref = host(c, (size_t)R * N);
  uint8_t *slots = dp_calloc(E, stride + 4);
  uint32_t ids[R] = {4, 1, 0, 4, 2, 3}, map[E] = {2, 4, 0, 3, 1}; /* slot of expert e */
  if (c->st || !slots) { dp_free(slots); if (!c->st) c->st = DP_ERR_NOMEM; return; }
  for (int e = 0; e < E && !c->st; e++) {
    run(c, dp_quantize(t, w + (size_t)e * N * K, slots + map[e] * stride, (uint64_t)N * K));
    run(c, dp_ref_dequant_rows(t, slots + map[e] * stride, N, K, wd + (size_t)e * N * K));
  }
  if (!c->st) dp_ref_moe_matmul(ref, x, ids, wd, bias, R, N, K, k);
  dp_view b0 = buf(c, slots, PER * stride), b1 = buf(c, slots + PER * stride, (E - PER) * stride);
  dp_view vm = buf(c, map, sizeof map), vb = buf(c, bias, E * N * 4), vi = buf(c, ids, sizeof ids);
  dp_view vx = buf(c, x, (size_t)T * K * 4), vy = buf(c, NULL, (size_t)R * N * 4);
  dp_gpu_buffer *bufs[2] = {b0.buf, b1.buf};
  dp_moe_bank bank = {t, N, (uint32_t)K, E, (uint32_t)stride, E, PER, bufs, vm, vb};
  dp_view vg = {NULL, 0};
  if (tiled) { vg = buf(c, NULL, (E + 1 + R) * 4); if (!c->st) run(c, dp_op_moe_group(c->o, vg, vi, R, E)); }
  if (!c->st) run(c, dp_op_moe_matmul(c->o, vy, vx, vi, vg, &bank, R, k));
  compare(c, "y", vy, ref, (size_t)R * N, 1e-5);
  dp_free(slots);
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* weight type of a typed entry ("matmul_gemv_q4_k" -> Q4_K); F16 for the others */
static dp_dtype entry_type(const char *name) {
  for (int t = DP_MXFP4; t >= DP_F32; t--) {
    const char *tn = dp_dtype_name((dp_dtype)t);
    size_t n = strlen(name), k = strlen(tn);
    if (n > k && name[n - k - 1] == '_' && !strcmp(name + n - k, tn)) return (dp_dtype)t;
  }
  return DP_F16;
}

dp_status dp_kernel_check(dp_ops *o, size_t i, double *worst) {
  dp_kernel_variant e;
  dp_status st = dp_kernel_variant_get(i, &e);
  if (st) return st;
  if (!dp_ops_variant_available(o, i))
    return dp_error(DP_ERR_UNSUPPORTED, "%s: not on this adapter (%s)", e.name, e.condition);
  chk c = {o, dp_ops_gpu(o), e.name, 0x9e3779b97f4a7c15ull ^ i, {NULL}, 0, {NULL}, 0, 0, DP_OK};
  const char *n = e.name;
  int cpu0 = dp_ops_cpu_kernels(o), sg0 = dp_ops_subgroups(o), q80 = dp_ops_matvec_input(o);
  uint64_t runs0 = dp_ops_variant_runs(o, i);
  dp_dtype t = entry_type(n);
  /* K: whole blocks; for F32/F16/BF16 not a multiple of 8 (that would pick the 16-byte loads) */
  int K = t == DP_Q4_K || t == DP_Q6_K ? 256 : t == DP_Q8_0 || t == DP_MXFP4 ? 64 : 36;
  dp_ops_set_cpu_kernels(o, starts(n, "matmul_rows") || starts(n, "matmul_v4") || starts(n, "matmul_tex") ||
                                starts(n, "attention_sg8") || starts(n, "moe_rows") || !strcmp(n, "sample"));
  /* the plain GEMV runs without subgroups (with them, matmul_gemv_sg takes every block type) */
  dp_ops_set_subgroups(o, (!(starts(n, "matmul_rows_mm_") || starts(n, "matmul_gemv_")) || starts(n, "matmul_rows_mm_sg") ||
                           starts(n, "matmul_gemv_sg_")) && strcmp(n, "attention_split")); /* its _sg twin takes subgroups */
  if (!strcmp(n, "quantize_x") || starts(n, "matmul_gemv_i8_")) {
    dp_ops_set_subgroups(o, 1);
    dp_ops_set_matvec_input(o, 1);
    dp_ops_set_q8_fused(o, starts(n, "matmul_gemv_i8_fused_"));
    q8(&c, t, strcmp(n, "quantize_x") ? K : 256, starts(n, "matmul_gemv_i8_fused_") ? 2 : starts(n, "matmul_gemv_i8_"));
  } else if (starts(n, "matmul_gemv_sg_")) matmul(&c, t, 2, K % 8 ? 64 : K, 0, 0); /* F32/F16/BF16: K % 8 == 0 */
  else if (starts(n, "matmul_gemv_") || starts(n, "matmul_rows_mv_")) matmul(&c, t, 2, K, 0, 0);
  else if (starts(n, "matmul_tiled64_")) { /* K % 32 == 0 here: tiled128 would take it */
    int mm128 = dp_ops_tiled128(o);
    dp_ops_set_tiled128(o, 0);
    matmul(&c, t, 70, K, 0, 0);
    dp_ops_set_tiled128(o, mm128);
  } else if (starts(n, "matmul_tiled128_")) matmul(&c, t, 70, K % 32 ? 64 : K, 0, 0); /* partial tiles; WG 128 */
  else if (!strcmp(n, "matmul_splitk_sum")) { /* 64x64 tiles, 2 x 2 of them: split in 2 (16 K steps of 32) */
    dp_ops_set_tiled128_split(o, 8);
    matmul(&c, DP_F32, 70, 512, 0, 0);
    dp_ops_set_tiled128_split(o, 0);
  }
  else if (starts(n, "matmul_tiled_") || starts(n, "matmul_rows_mm_")) matmul(&c, t, 9, K, 0, 0);
  else if (!strcmp(n, "matmul_v4_mv8") || !strcmp(n, "matmul_tex_mv8") || !strcmp(n, "matmul_v4_mm4_sg") ||
           !strcmp(n, "matmul_tex_mm4_sg"))
    for (dp_dtype w = DP_F32; w <= DP_BF16; w++) matmul(&c, w, strstr(n, "mm4") ? 9 : 1, 64, starts(n, "matmul_tex"), 0);
  else if (!strcmp(n, "matmul_v4_mv8x4") || !strcmp(n, "matmul_tex_mv8x4")) /* 2 blocks of 4 rows and 1 more */
    for (dp_dtype w = DP_F32; w <= DP_BF16; w++) matmul(&c, w, 9, 64, starts(n, "matmul_tex"), DP_MM_ROWS);
  else if (starts(n, "embed_")) embed(&c, t);
  else if (!strcmp(e.op, "rmsnorm") || !strcmp(e.op, "softmax") || !strcmp(e.op, "glu") || !strcmp(e.op, "add") ||
           !strcmp(e.op, "argmax"))
    rowop(&c, e.op, strstr(n, "_inplace") != NULL);
  else if (!strcmp(e.op, "rope") || !strcmp(e.op, "kv_write") || !strcmp(e.op, "rope_kv")) rope(&c, e.op, !strcmp(n, "rope_kv_norm"));
  else if (!strcmp(n, "attention")) attention(&c, 80, 3, 9);
  else if (!strcmp(n, "attention_sg8")) attention(&c, 64, 3, 9);
  else if (!strcmp(n, "attention_split_sg")) attention(&c, 4 * (dp_gpu_get_info(c.g)->subgroup_min < 16 ? dp_gpu_get_info(c.g)->subgroup_min : 16), 1, 600);
  else if (starts(n, "attention_split")) attention(&c, 64, 1, 600); /* both dispatches run */
  else if (!strcmp(n, "attention_fa")) attention(&c, 64, 40, 50); /* a partial second query block */
  else if (!strcmp(e.op, "sample") || !strcmp(e.op, "nll") || !strcmp(e.op, "softcap")) sampler(&c, e.op);
  else if (starts(e.op, "moe_")) moe(&c, e.op, t, K, starts(n, "moe_tiled"));
  else c.st = dp_error(DP_ERR_UNSUPPORTED, "%s (op %s): no check for this variant in src/api/kernel_check.c", n, e.op);
  if (!c.st && dp_ops_variant_runs(o, i) == runs0)
    c.st = dp_error(DP_ERR_INVALID_ARG, "%s: its op picked another variant (condition: %s)", n, e.condition);
  dp_ops_set_cpu_kernels(o, cpu0);
  dp_ops_set_subgroups(o, sg0);
  dp_ops_set_matvec_input(o, q80);
  for (int j = 0; j < c.nb; j++) dp_gpu_buffer_free(c.b[j]);
  for (int j = 0; j < c.nf; j++) dp_free(c.f[j]);
  if (worst) *worst = c.worst;
  return c.st;
}
