/* bench_ops.c -- every op at doppler-tiny shapes (6 layers, d 256, 4 heads of 64, 2 KV heads,
 * d_ff 768, vocab 4096), timed on the chosen adapter (DOPPLER_ADAPTER), and the sums that
 * predict one decode token and one 257-token prefill window (the perplexity run is 328 of
 * them). Each case records `reps` identical dispatches into one submit and times the finished
 * queue by wall clock; median of `batches` batches after one warm-up batch. A trivial case
 * (add of 1 element) gives the fixed cost of one dispatch.
 * Usage: bench_ops [reps [batches [wtype]]]  wtype: weight type of the model sums (f16).
 * BENCH_NOSG=1 forces the kernels without subgroups.
 * BENCH_ONLY=substring times only the cases whose name contains it (the sums are then partial).
 * Prints one line per case (wall µs per dispatch: median, min; and the process CPU time, which
 * counts lavapipe's worker threads and is steadier on a shared machine) and the predicted decode tok/s and perplexity time,
 * also with the fused rope_kv op and with concatenated q|k|v and gate|up weights (a runtime
 * layout option that needs no new op). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/error.h"
#include "gpu/gpu.h"
#include "kernels/ops.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"
#include "testlib.h"

static dp_gpu *g;
static dp_ops *o;
static int reps = 20, batches = 5;

static dp_gpu_buffer *buf_rand(size_t n_floats) {
  dp_gpu_buffer *b;
  if (dp_gpu_buffer_create(g, n_floats * 4 + 256, "bench", &b)) { fprintf(stderr, "%s\n", dp_error_message()); exit(1); }
  float *h = malloc(n_floats * 4 + 256);
  dp_test_fill_normal(h, n_floats + 64, 1);
  dp_gpu_buffer_write(g, b, 0, h, n_floats * 4 + 256);
  free(h);
  return b;
}
/* random W[N, K] of type t in its stored bytes (+ 4 bytes of padding) */
static void *weight_rows(dp_dtype t, uint32_t N, uint32_t K) {
  uint64_t n = dp_dtype_row_bytes(t, K) * N;
  float *wf = malloc((size_t)N * K * 4);
  dp_test_fill_normal(wf, (size_t)N * K, 0.05f);
  void *wq = calloc(1, n + 4);
  if (dp_quantize(t, wf, wq, (uint64_t)N * K)) { fprintf(stderr, "%s\n", dp_error_message()); exit(1); }
  free(wf);
  return wq;
}
static dp_gpu_buffer *weights(dp_dtype t, uint32_t N, uint32_t K) {
  uint64_t n = dp_dtype_row_bytes(t, K) * N;
  void *wq = weight_rows(t, N, K);
  dp_gpu_buffer *b;
  dp_gpu_buffer_create(g, (n + 4) & ~3ull, "w", &b);
  dp_gpu_buffer_write(g, b, 0, wq, (n + 3) & ~3ull);
  free(wq);
  return b;
}

/* The op under test: one closure-like record. */
enum { OP_ADD, OP_MATMUL, OP_ATTN, OP_RMSNORM, OP_ROPE, OP_KVW, OP_GLU, OP_EMBED, OP_ARGMAX, OP_ROPE_KV };
typedef struct {
  int op;
  dp_view a, b, c, d, e, f;
  const dp_weight *w; /* embed's table */
  dp_dtype t;
  uint32_t M, N, K, flags;
  dp_attn_desc ad;
} bcase;

static dp_status rec(const bcase *c) {
  switch (c->op) {
  case OP_ADD: return dp_op_add(o, c->a, c->a, c->b, c->N);
  case OP_MATMUL: return dp_op_matmul(o, c->a, c->b, c->c, c->t, (dp_view){0}, c->M, c->N, c->K, c->flags);
  case OP_ATTN: return dp_op_attention(o, &c->ad, c->a, c->b, c->c, c->d, (dp_view){0});
  case OP_RMSNORM: return dp_op_rmsnorm(o, c->a, c->b, c->c, c->M, c->N, 1e-5f, 0);
  case OP_ROPE: return dp_op_rope(o, c->a, c->b, c->M, c->N, c->K, c->K, 7, DP_ROPE_HALF, 1.0f);
  case OP_KVW: return dp_op_kv_write(o, c->a, c->b, c->c, c->d, c->M, 2, 64, c->K, 512);
  case OP_GLU: return dp_op_glu(o, c->a, c->a, c->b, c->N, DP_GLU_SILU);
  case OP_EMBED: return dp_op_embed(o, c->a, c->b, c->w, c->M, 1.0f);
  case OP_ARGMAX: return dp_op_argmax(o, c->a, c->b, c->M, c->N);
  case OP_ROPE_KV: return dp_op_rope_kv(o, c->a, c->b, c->c, c->d, c->e, c->f, c->M, 4, 2, 64, 64, c->K, DP_ROPE_HALF,
                                        1.0f, 512);
  }
  return DP_ERR_INTERNAL;
}

/* µs per dispatch, median over batches */
static double timeit(const char *name, const bcase *c) {
  double t[32], ct[32];
  const char *only = getenv("BENCH_ONLY"); /* substring filter (exploration: the sums are then partial) */
  if (only && !strstr(name, only)) return 0;
  for (int b = -1; b < batches; b++) {
    dp_gpu_finish(g);
    double t0 = dp_test_now(), c0 = dp_test_cpu_now();
    for (int i = 0; i < reps; i++)
      if (rec(c)) { fprintf(stderr, "%s: %s\n", name, dp_error_message()); exit(1); }
    if (dp_gpu_finish(g)) { fprintf(stderr, "%s: %s\n", name, dp_error_message()); exit(1); }
    if (b >= 0) { t[b] = (dp_test_now() - t0) / reps * 1e6; ct[b] = (dp_test_cpu_now() - c0) / reps * 1e6; }
  }
  qsort(t, (size_t)batches, sizeof *t, dp_test_cmp_double);
  qsort(ct, (size_t)batches, sizeof *ct, dp_test_cmp_double);
  printf("%-34s %10.1f us  (min %9.1f, cpu %9.1f)\n", name, t[batches / 2], t[0], ct[batches / 2]);
  fflush(stdout);
  return t[batches / 2];
}

int main(int argc, char **argv) {
  if (argc > 1) reps = atoi(argv[1]);
  if (argc > 2) batches = atoi(argv[2]);
  if (batches > 32) batches = 32;
  dp_dtype mt = DP_F16;
  if (argc > 3) for (int t = 0; t <= DP_MXFP4; t++) if (!strcmp(argv[3], dp_dtype_name((dp_dtype)t))) mt = (dp_dtype)t;
  if (dp_gpu_open(NULL, &g) || dp_ops_create(g, &o)) { fprintf(stderr, "bench_ops: %s\n", dp_error_message()); return 1; }
  if (getenv("BENCH_NOSG") && atoi(getenv("BENCH_NOSG"))) dp_ops_set_subgroups(o, 0); /* the kernels without subgroups (comparison) */
  const dp_gpu_info *in = dp_gpu_get_info(g);
  printf("bench_ops: %s (%s), %d dispatches per submit, median of %d\n", in->adapter, in->driver_choice, reps, batches);
  enum { D = 256, H = 4, KVH = 2, HD = 64, FF = 768, VOC = 4096, T = 257, CAP = 512 };
  dp_gpu_buffer *x = buf_rand((size_t)T * FF), *y = buf_rand((size_t)T * VOC), *z = buf_rand((size_t)T * FF);
  dp_gpu_buffer *lg = buf_rand((size_t)VOC * 4), *nw = buf_rand(D), *kc = buf_rand((size_t)CAP * KVH * HD),
                *vc = buf_rand((size_t)CAP * KVH * HD), *ids = buf_rand(T);
  { uint32_t h[T]; for (int i = 0; i < T; i++) h[i] = (uint32_t)(i * 37 % VOC); dp_gpu_buffer_write(g, ids, 0, h, sizeof h); }
  float inv[HD / 2];
  for (int i = 0; i < HD / 2; i++) inv[i] = 1.0f / (float)pow(10000.0, 2.0 * i / HD);
  dp_gpu_buffer *fq = buf_rand(HD / 2);
  dp_gpu_buffer_write(g, fq, 0, inv, sizeof inv);
  dp_view X = dp_view_of(x, 0), Y = dp_view_of(y, 0), Z = dp_view_of(z, 0);
  char name[96];

  double fixed = timeit("fixed: add n=1", &(bcase){OP_ADD, X, Y, .N = 1});

  /* matmul: the model's shapes. (N, K): q/o 256x256, k/v 128x256, gate/up 768x256, down 256x768, head 4096x256 */
  const uint32_t shp[5][2] = {{768, 256}, {256, 768}, {256, 256}, {128, 256}, {4096, 256}};
  const dp_dtype types[] = {DP_F32, DP_F16, DP_Q8_0, DP_Q4_K, DP_Q6_K};
  double mm[5][5] = {{0}}, mmp[5][5] = {{0}};
  for (int ti = 0; ti < 5; ti++)
    for (int s = 0; s < 5; s++) {
      dp_gpu_buffer *w = weights(types[ti], shp[s][0], shp[s][1]);
      snprintf(name, sizeof name, "gemv %-5s %4ux%-4u", dp_dtype_name(types[ti]), shp[s][0], shp[s][1]);
      mm[ti][s] = timeit(name, &(bcase){OP_MATMUL, Y, X, dp_view_of(w, 0), .t = types[ti], .M = 1, .N = shp[s][0], .K = shp[s][1]});
      if (types[ti] == mt || types[ti] == DP_F32) {
        snprintf(name, sizeof name, "matmul M=257 %-5s %4ux%-4u", dp_dtype_name(types[ti]), shp[s][0], shp[s][1]);
        int r = reps; reps = reps / 4 + 1;
        mmp[ti][s] = timeit(name, &(bcase){OP_MATMUL, Y, X, dp_view_of(w, 0), .t = types[ti], .M = T, .N = shp[s][0], .K = shp[s][1]});
        reps = r;
      }
      dp_gpu_buffer_free(w);
    }
  int mi = 0;
  while (types[mi] != mt && mi < 4) mi++;
  /* decode with concatenated weights (runtime option, no new op: Wq|Wk|Wv as one [512, 256]
   * matrix and Wgate|Wup as one [1536, 256]; at T = 1 the outputs are contiguous views) */
  double cat[2] = {0, 0};
  for (int s = 0; s < 2; s++) {
    uint32_t Nc = s ? 2 * FF : D + 2 * KVH * HD;
    dp_gpu_buffer *w = weights(mt, Nc, D);
    snprintf(name, sizeof name, "gemv %-5s %4ux%-4u (concat)", dp_dtype_name(mt), Nc, D);
    cat[s] = timeit(name, &(bcase){OP_MATMUL, Y, X, dp_view_of(w, 0), .t = mt, .M = 1, .N = Nc, .K = D});
    dp_gpu_buffer_free(w);
  }

  dp_attn_desc ad1 = {1, H, KVH, HD, 256, CAP, 0, 0.125f, 0};
  dp_attn_desc adp = {T, H, KVH, HD, 0, CAP, 0, 0.125f, 0};
  double att1 = timeit("attention T=1 pos=256", &(bcase){OP_ATTN, Y, X, dp_view_of(kc, 0), dp_view_of(vc, 0), .ad = ad1});
  double att64 = timeit("attention T=1 pos=64", &(bcase){OP_ATTN, Y, X, dp_view_of(kc, 0), dp_view_of(vc, 0), .ad = {1, H, KVH, HD, 64, CAP, 0, 0.125f, 0}});
  int r0 = reps; reps = reps / 4 + 1;
  double attp = timeit("attention T=257 pos0=0", &(bcase){OP_ATTN, Y, X, dp_view_of(kc, 0), dp_view_of(vc, 0), .ad = adp});
  reps = r0;
  double rn1 = timeit("rmsnorm 1x256", &(bcase){OP_RMSNORM, Y, X, dp_view_of(nw, 0), .M = 1, .N = D});
  double rnp = timeit("rmsnorm 257x256", &(bcase){OP_RMSNORM, Y, X, dp_view_of(nw, 0), .M = T, .N = D});
  double rq1 = timeit("rope T=1 H=4", &(bcase){OP_ROPE, X, dp_view_of(fq, 0), .M = 1, .N = H, .K = HD});
  double rk1 = timeit("rope T=1 H=2", &(bcase){OP_ROPE, X, dp_view_of(fq, 0), .M = 1, .N = KVH, .K = HD});
  double rqp = timeit("rope T=257 H=4", &(bcase){OP_ROPE, X, dp_view_of(fq, 0), .M = T, .N = H, .K = HD});
  double rkp = timeit("rope T=257 H=2", &(bcase){OP_ROPE, X, dp_view_of(fq, 0), .M = T, .N = KVH, .K = HD});
  double kw1 = timeit("kv_write T=1", &(bcase){OP_KVW, dp_view_of(kc, 0), dp_view_of(vc, 0), X, Z, .M = 1, .K = 9});
  double kwp = timeit("kv_write T=257", &(bcase){OP_KVW, dp_view_of(kc, 0), dp_view_of(vc, 0), X, Z, .M = T, .K = 0});
  /* fused rope(q) + rope(k) + kv_write: q in x, k and v in z */
  dp_view V2 = dp_view_of(z, (uint64_t)T * KVH * HD * 4);
  double rkv1 = timeit("rope_kv T=1 (fused)", &(bcase){OP_ROPE_KV, X, Z, V2, dp_view_of(kc, 0), dp_view_of(vc, 0), dp_view_of(fq, 0), .M = 1, .K = 9});
  double rkvp = timeit("rope_kv T=257 (fused)", &(bcase){OP_ROPE_KV, X, Z, V2, dp_view_of(kc, 0), dp_view_of(vc, 0), dp_view_of(fq, 0), .M = T, .K = 0});
  double gl1 = timeit("glu n=768", &(bcase){OP_GLU, X, Y, .N = FF});
  double glp = timeit("glu n=257*768", &(bcase){OP_GLU, X, Y, .N = T * FF});
  double ad1t = timeit("add n=256", &(bcase){OP_ADD, X, Y, .N = D});
  dp_weight *emb;
  void *embq = weight_rows(mt, VOC, D);
  if (dp_weight_create(o, mt, VOC, D, 0, "embed", &emb) || dp_weight_write(o, emb, 0, VOC, embq)) {
    fprintf(stderr, "%s\n", dp_error_message());
    exit(1);
  }
  free(embq);
  snprintf(name, sizeof name, "embed %s T=1", dp_dtype_name(mt));
  double em1 = timeit(name, &(bcase){OP_EMBED, Y, dp_view_of(ids, 0), .w = emb, .M = 1, .N = D});
  snprintf(name, sizeof name, "embed %s T=257", dp_dtype_name(mt));
  double emp = timeit(name, &(bcase){OP_EMBED, Y, dp_view_of(ids, 0), .w = emb, .M = T, .N = D});
  double am1 = timeit("argmax 1x4096", &(bcase){OP_ARGMAX, dp_view_of(ids, 0), dp_view_of(lg, 0), .M = 1, .N = VOC});
  (void)ad1t;

  /* One decode token: embed; per layer rmsnorm, q, k, v, rope q, rope k, kv_write, attention,
   * o (+residual), rmsnorm, gate, up, glu, down (+residual); final rmsnorm, head, argmax. */
  double *m = mm[mi];
  double layer = 2 * rn1 + m[2] + 2 * m[3] + rq1 + rk1 + kw1 + 0.5 * (att1 + att64) + m[2] + 2 * m[0] + gl1 + m[1];
  double tok = em1 + 6 * layer + rn1 + m[4] + am1;
  printf("\ndecode token (%s weights, mean context ~160): %.0f us = %.1f tok/s; %d dispatches, fixed part %.0f us\n",
         dp_dtype_name(mt), tok, 1e6 / tok, 1 + 6 * 14 + 3, (1 + 6 * 14 + 3) * fixed);
  double tokf = tok - 6 * (rq1 + rk1 + kw1 - rkv1);
  printf("  with rope_kv (fused rope q, rope k, kv_write): %.0f us = %.1f tok/s; %d dispatches\n", tokf, 1e6 / tokf,
         1 + 6 * 12 + 3);
  double layc = 2 * rn1 + cat[0] + rkv1 + 0.5 * (att1 + att64) + m[2] + cat[1] + gl1 + m[1];
  double tokc = em1 + 6 * layc + rn1 + m[4] + am1;
  printf("  with rope_kv and concatenated qkv / gate-up weights: %.0f us = %.1f tok/s; %d dispatches\n", tokc,
         1e6 / tokc, 1 + 6 * 9 + 3);
  /* One 257-token window (the LM head over all rows for the perplexity NLLs). */
  double *p = mmp[mi];
  double lp = 2 * rnp + p[2] + 2 * p[3] + rqp + rkp + kwp + attp + p[2] + 2 * p[0] + glp + p[1];
  double win = emp + 6 * lp + rnp + p[4];
  printf("prefill window of 257 tokens (%s): %.1f ms; perplexity run (328 windows): %.1f s\n", dp_dtype_name(mt),
         win * 1e-3, 328 * win * 1e-6);
  double winf = win - 6 * (rqp + rkp + kwp - rkvp);
  printf("  with rope_kv: %.1f ms; perplexity run: %.1f s\n", winf * 1e-3, 328 * winf * 1e-6);
  dp_ops_free(o);
  dp_gpu_close(g);
  return 0;
}
