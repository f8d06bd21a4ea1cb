/* bench.c -- the model benchmarks of `doppler bench` (include/doppler.h, docs/bench.md): the
 * dispatch counter as a model statistic, the ceilings probe (src/kernels/probe.h: read
 * bandwidth and FP32 FMA throughput, each result checked before its time is believed), the
 * model's size figures (parameters, matrix types, bytes a decode step reads), and one test
 * run: pp (a timed prefill) or tg (timed decoding after an untimed prefill of the depth),
 * repeated, with the fractions of the ceilings and, on request, GPU time per kernel from
 * timestamp queries. Called by cli/cmd_bench.c; depends on the runtime (sessions, eval, the
 * decode loop), the op layer (probe ops) and the device layer (counter, profiler). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "core/alloc.h"
#include "core/error.h"
#include "kernels/probe.h"
#include "ref/kernels_ref.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

dp_status dp_model_get_stats(const dp_model *m, dp_model_stats *st) {
  if (!m || !st) return dp_error(DP_ERR_INVALID_ARG, "dp_model_get_stats: NULL argument");
  memset(st, 0, sizeof *st);
  st->dispatches = dp_gpu_dispatch_count(m->gpu);
  return DP_OK;
}

/* ---- ceilings ---- */

#define PROBE_TARGET_S 0.02 /* timed work per batch */

/* Seconds per dispatch of `rec`, the best of 5 batches sized from a first timed run (the best:
 * on a shared machine the others are slowed down by someone else). */
typedef dp_status (*probe_fn)(dp_ops *o, dp_view out, dp_gpu_buffer *src, uint32_t n4, uint32_t groups, uint32_t iters);
static dp_status rec_read(dp_ops *o, dp_view out, dp_gpu_buffer *src, uint32_t n4, uint32_t groups, uint32_t iters) {
  return dp_op_probe_read(o, out, dp_view_of(src, 0), n4, groups);
}
static dp_status rec_fma(dp_ops *o, dp_view out, dp_gpu_buffer *src, uint32_t n4, uint32_t groups, uint32_t iters) {
  return dp_op_probe_fma(o, out, iters, 1.0f, 1.0f, groups);
}

static dp_status time_probe(dp_ops *o, probe_fn f, dp_view out, dp_gpu_buffer *src, uint32_t n4, uint32_t groups,
                            uint32_t iters, double *best) {
  dp_gpu *g = dp_ops_gpu(o);
  dp_status st = dp_gpu_finish(g);
  double t0 = now_s();
  if (!st) st = f(o, out, src, n4, groups, iters);
  if (!st) st = dp_gpu_finish(g);
  if (st) return st;
  double one = now_s() - t0;
  int reps = one > 0 ? (int)(PROBE_TARGET_S / one) : 50;
  reps = reps < 1 ? 1 : reps > 50 ? 50 : reps;
  *best = one;
  for (int b = 0; b < 5; b++) {
    t0 = now_s();
    for (int r = 0; r < reps && !st; r++) st = f(o, out, src, n4, groups, iters);
    if (!st) st = dp_gpu_finish(g);
    if (st) return st;
    double t = (now_s() - t0) / reps;
    if (t < *best) *best = t;
  }
  return DP_OK;
}

dp_status dp_bench_probe(dp_model *m, dp_bench_ceilings *out) {
  if (!m || !out) return dp_error(DP_ERR_INVALID_ARG, "dp_bench_probe: NULL argument");
  dp_gpu *g = m->gpu;
  dp_ops *o = m->rt->ops;
  const dp_gpu_info *in = dp_gpu_get_info(g);
  int cpu = !strcmp(in->adapter_type, "cpu");
  /* read: 1 GiB (4x a 50 MB L2 and more) on GPUs, 64 MiB on CPU adapters (past their caches,
   * a few ms); grid-stride over 4096 (GPU) or 1024 workgroups of 256 (lavapipe: 16 vec4 loads
   * per invocation read faster than longer loops or shorter ones) */
  uint64_t limit = in->max_storage_binding < in->max_buffer ? in->max_storage_binding : in->max_buffer;
  uint64_t bytes = cpu ? 64ull << 20 : 1ull << 30;
  if (bytes > limit) bytes = limit;
  bytes &= ~31ull; /* the fill pattern repeats every 32 bytes */
  uint32_t n4 = (uint32_t)(bytes / 16);
  /* fma: 32 * iters FLOPs per invocation; both write one f32 per invocation (within the limit) */
  uint32_t groups = cpu ? 1024 : 4096, fgroups = cpu ? 16 : 8192, iters = cpu ? 512 : 4096;
  uint64_t max_groups = limit / (DP_PROBE_WG * 4);
  if (groups > max_groups) groups = (uint32_t)max_groups;
  if (fgroups > max_groups) fgroups = (uint32_t)max_groups;
  if (!groups) return dp_error(DP_ERR_UNSUPPORTED, "probe: a %llu-byte binding limit is too small", (unsigned long long)limit);
  uint32_t inv = groups * DP_PROBE_WG, finv = fgroups * DP_PROBE_WG;
  dp_gpu_buffer *src = NULL, *res = NULL;
  uint32_t nres = inv > finv ? inv : finv;
  float *host = dp_malloc(1u << 20), *got = dp_malloc((size_t)nres * sizeof *got);
  dp_status st = host && got ? DP_OK : DP_ERR_NOMEM;
  if (!st) st = dp_gpu_buffer_create(g, bytes, "probe-src", &src);
  if (!st) st = dp_gpu_buffer_create(g, (uint64_t)nres * 4, "probe-out", &res);
  /* src[f] = f % 8: vec4 j sums to 6 (j even) or 22 (j odd); the stride is even, so
   * invocation i sums ceil((n4 - i) / inv) vec4s of one kind, exactly in f32 */
  for (uint32_t i = 0; host && i < (1u << 18); i++) host[i] = (float)(i % 8);
  for (uint64_t off = 0; !st && off < bytes; off += 1u << 20) {
    st = dp_gpu_buffer_write(g, src, off, host, (size_t)(bytes - off < (1u << 20) ? bytes - off : 1u << 20));
    if (!st && (off >> 20) % 64 == 63) st = dp_gpu_finish(g); /* bound Dawn's upload staging */
  }
  double t_read = 0, t_fma = 0;
  if (!st) st = time_probe(o, rec_read, dp_view_of(res, 0), src, n4, groups, 0, &t_read);
  if (!st) st = dp_gpu_buffer_read(g, res, 0, got, (size_t)inv * 4);
  for (uint32_t i = 0; !st && i < inv; i++) {
    float want = (float)((n4 - i + inv - 1) / inv) * (i % 2 ? 22.0f : 6.0f);
    if (got[i] != want)
      st = dp_error(DP_ERR_GPU, "bandwidth probe: invocation %u summed %g, expected %g: results wrong, no timing", i, got[i], want);
  }
  if (!st) st = time_probe(o, rec_fma, dp_view_of(res, 0), NULL, 0, fgroups, iters, &t_fma);
  if (!st) st = dp_gpu_buffer_read(g, res, 0, got, (size_t)finv * 4);
  float want = dp_ref_probe_fma(iters, 1.0f, 1.0f);
  for (uint32_t i = 0; !st && i < finv; i++)
    if (got[i] != want)
      st = dp_error(DP_ERR_GPU, "FMA probe: invocation %u gave %g, expected %g: results wrong, no timing", i, got[i], want);
  if (!st) {
    out->gbps = (double)bytes / t_read * 1e-9;
    out->tflops = 32.0 * iters * finv / t_fma * 1e-12;
  }
  dp_gpu_buffer_free(src);
  dp_gpu_buffer_free(res);
  dp_free(host);
  dp_free(got);
  return st;
}

/* ---- the model's size figures ---- */

/* absent weights have no rows (whatever holds the bytes: a buffer, a texture, parts) */
static uint64_t w_bytes(const dp_rt_weight *w) { return w->rows ? w->rows * dp_dtype_row_bytes(w->dtype, w->cols) : 0; }
static uint64_t w_params(const dp_rt_weight *w) { return w->rows * w->cols; }

/* Every weight of a layer (q, k, v, gate, up as parts, not the stacked views). */
static int layer_weights(const dp_rt_layer *L, const dp_rt_weight **w) {
  const dp_rt_weight *all[] = {&L->attn_norm, &L->q, &L->k, &L->v, &L->o, &L->q_bias, &L->k_bias, &L->v_bias,
                               &L->o_bias, &L->q_norm, &L->k_norm, &L->sinks, &L->attn_post_norm, &L->ffn_norm,
                               &L->ffn_post_norm, &L->gate, &L->up, &L->down};
  int n = (int)(sizeof all / sizeof *all);
  for (int i = 0; i < n; i++) w[i] = all[i];
  return n;
}
static int is_matrix(const dp_rt_weight *w) { return w->rows > 1; }
/* the LM head is the embedding (the rule of runtime/weights.c) */
static int tied(const dp_rt_model *rt) { return rt->plan->tied || !strcmp(rt->plan->output, rt->plan->embed); }

dp_status dp_bench_model_info(const dp_model *m, dp_bench_model *out) {
  if (!m || !out) return dp_error(DP_ERR_INVALID_ARG, "dp_bench_model_info: NULL argument");
  const dp_rt_model *rt = m->rt;
  memset(out, 0, sizeof *out);
  uint64_t by_type[DP_DTYPE_COUNT] = {0};
  const dp_rt_weight *w[32];
  for (int l = 0; l < rt->plan->n_layers; l++) {
    int n = layer_weights(&rt->layers[l], w);
    for (int i = 0; i < n; i++) {
      out->n_params += w_params(w[i]);
      out->token_bytes += w_bytes(w[i]);
      if (is_matrix(w[i])) by_type[w[i]->dtype] += w_bytes(w[i]);
    }
  }
  out->n_params += w_params(&rt->embed) + w_params(&rt->final_norm) + (tied(rt) ? 0 : w_params(&rt->output));
  out->token_bytes += w_bytes(&rt->final_norm) + w_bytes(&rt->output) + dp_dtype_row_bytes(rt->embed.dtype, rt->embed.cols);
  by_type[rt->embed.dtype] += w_bytes(&rt->embed);
  if (!tied(rt)) by_type[rt->output.dtype] += w_bytes(&rt->output);
  out->size_bytes = rt->weight_bytes;
  snprintf(out->backend, sizeof out->backend, "%s", dp_gpu_get_info(m->gpu)->backend);
  /* the matrix types, most bytes first */
  size_t len = 0;
  for (;;) {
    int best = -1;
    for (int t = 0; t < DP_DTYPE_COUNT; t++)
      if (by_type[t] && (best < 0 || by_type[t] > by_type[best])) best = t;
    if (best < 0) break;
    int k = snprintf(out->quant + len, sizeof out->quant - len, "%s%s", len ? "/" : "", dp_dtype_name((dp_dtype)best));
    if (k > 0 && (size_t)k < sizeof out->quant - len) len += (size_t)k;
    by_type[best] = 0;
  }
  return DP_OK;
}

/* ---- costs of a test ---- */

/* K/V bytes the token at position p reads (f32 caches, every layer's visible keys). */
static double kv_bytes_at(const dp_plan *p, uint64_t pos) {
  double b = 0, row = 2.0 * p->n_kv_heads * p->head_dim * 4;
  for (int l = 0; l < p->n_layers; l++) {
    uint64_t keys = pos + 1, w = (uint64_t)p->layers[l].sliding_window;
    if (w && keys > w) keys = w;
    b += row * (double)keys;
  }
  return b;
}

/* FLOPs of a prefill of n tokens at positions d..d+n-1: the layer matmuls on every row, the
 * LM head on the last one, and attention (q.k and p.v: 4 head_dim FLOPs per head and key). */
static double prefill_flops(const dp_rt_model *rt, uint64_t d, uint64_t n) {
  const dp_plan *p = rt->plan;
  double mat = 0, att = 0;
  const dp_rt_weight *w[32];
  for (int l = 0; l < p->n_layers; l++) {
    int nw = layer_weights(&rt->layers[l], w);
    for (int i = 0; i < nw; i++)
      if (is_matrix(w[i])) mat += (double)w_params(w[i]);
    uint64_t win = (uint64_t)p->layers[l].sliding_window;
    for (uint64_t pos = d; pos < d + n; pos++) att += (double)(win && pos + 1 > win ? win : pos + 1);
  }
  return 2.0 * mat * (double)n + 2.0 * (double)w_params(&rt->output) + 4.0 * p->n_heads * p->head_dim * att;
}

/* ---- one test ---- */

typedef struct run_ctx {
  dp_session *s;
  const dp_bench_test *t;
  int32_t *ids;     /* [depth + n_prompt] prompt ids */
  int lead;         /* tokens before the timed part: depth (tg: at least 1, a decode needs one) */
  double host_s;    /* tg: the last run's seconds of recording + submitting (generate_timed) */
} run_ctx;

/* dp_rt_generate's begin / wait / step loop (blocking.c), timing the host's part: recording
 * and submitting each batch (dp_rt_gen_begin / dp_rt_gen_step) runs while the GPU waits. */
static dp_status generate_timed(dp_rt_session *s, const dp_rt_sampling *sp, int n, int *made, double *host_s) {
  double t0 = now_s();
  dp_rt_gen *g;
  dp_status st = dp_rt_gen_begin(s, sp, n, 0, &g);
  if (!st && !getenv("DOPPLER_NO_AHEAD")) dp_rt_gen_set_ahead(g, 1); /* as dp_rt_generate */
  *host_s += now_s() - t0;
  while (!st && dp_rt_gen_pending(g)) {
    st = dp_gpu_read_wait(s->m->gpu, dp_rt_gen_readback(g));
    t0 = now_s();
    if (!st) st = dp_rt_gen_step(g, NULL, NULL);
    *host_s += now_s() - t0;
  }
  if (g) *made = g->made;
  dp_rt_gen_free(g);
  return st;
}

/* One run: reset, untimed lead-in, the timed part. *secs and *disp get its time and dispatches.
 * profile: GPU timestamps around the dispatches of the timed part only. */
static dp_status run_once(run_ctx *c, int profile, double *secs, uint64_t *disp) {
  dp_rt_session *s = c->s->rt;
  dp_gpu *g = c->s->m->gpu;
  dp_rt_sampling sp;
  memset(&sp, 0, sizeof sp);
  sp.no_eos = 1; /* greedy, EOS never ends a run */
  int made = 0;
  dp_rt_session_reset(s);
  dp_status st = c->lead ? dp_rt_eval(s, c->ids, (size_t)c->lead, NULL) : DP_OK;
  if (!st && c->t->n_gen) st = dp_rt_generate(s, &sp, 1, NULL, NULL, &made, NULL); /* a pending token to decode */
  if (!st) st = dp_gpu_finish(g);
  if (!st && profile) st = dp_gpu_profile(g, 1);
  if (st) return st;
  uint64_t d0 = dp_gpu_dispatch_count(g);
  double t0 = now_s();
  c->host_s = 0;
  if (c->t->n_gen) st = generate_timed(s, &sp, c->t->n_gen, &made, &c->host_s); /* ends on a read-back */
  else if (!(st = dp_rt_eval(s, c->ids + c->lead, (size_t)c->t->n_prompt, NULL))) st = dp_gpu_finish(g);
  *secs = now_s() - t0;
  *disp = dp_gpu_dispatch_count(g) - d0;
  if (profile) {
    dp_status off = dp_gpu_profile(g, 0);
    if (!st) st = off;
  }
  if (!st && c->t->n_gen && made != c->t->n_gen)
    st = dp_error(DP_ERR_INTERNAL, "bench: %d of %d tokens decoded", made, c->t->n_gen);
  return st;
}

static dp_status profile_run(run_ctx *c, dp_bench_result *r) {
  dp_gpu *g = c->s->m->gpu;
  if (!dp_gpu_get_info(g)->has_timestamp) { r->n_profile = -1; return DP_OK; }
  double secs;
  uint64_t disp;
  dp_status st = run_once(c, 1, &secs, &disp);
  if (st) return st;
  dp_gpu_kernel_time kt[DP_BENCH_MAX_KERNELS];
  size_t n = dp_gpu_profile_read(g, kt, DP_BENCH_MAX_KERNELS);
  for (size_t i = 0; i < n; i++) {
    snprintf(r->profile[i].kernel, sizeof r->profile[i].kernel, "%s", kt[i].kernel);
    r->profile[i].calls = kt[i].calls;
    r->profile[i].us = kt[i].ns * 1e-3;
  }
  r->n_profile = (int)n;
  r->profile_inpass = dp_gpu_get_info(g)->has_timestamp_inpass;
  return DP_OK;
}

dp_status dp_bench_run(dp_model *m, const dp_bench_test *t, const dp_bench_ceilings *c, dp_bench_result *r) {
  if (!m || !t || !r) return dp_error(DP_ERR_INVALID_ARG, "dp_bench_run: NULL argument");
  memset(r, 0, sizeof *r);
  if ((t->n_prompt > 0) == (t->n_gen > 0) || t->n_prompt < 0 || t->n_gen < 0 || t->n_depth < 0)
    return dp_error(DP_ERR_INVALID_ARG, "bench test: exactly one of n_prompt (%d) and n_gen (%d) must be > 0, depth %d >= 0",
                    t->n_prompt, t->n_gen, t->n_depth);
  if (t->reps < 1 || t->reps > DP_BENCH_MAX_REPS)
    return dp_error(DP_ERR_INVALID_ARG, "bench test: %d repetitions (1..%d)", t->reps, DP_BENCH_MAX_REPS);
  const dp_rt_model *rt = m->rt;
  const dp_plan *p = rt->plan;
  run_ctx rc = {NULL, t, NULL, t->n_depth, 0};
  if (t->n_gen && !rc.lead) rc.lead = 1;
  /* positions: the lead-in, the prompt or the decoded tokens, and the pending one */
  long long need = (long long)rc.lead + t->n_prompt + (t->n_gen ? t->n_gen + 1 : 0);
  if (p->max_pos > 0 && need > p->max_pos)
    return dp_error(DP_ERR_INVALID_ARG, "bench test needs %lld positions; the model has %d", need, p->max_pos);
  size_t nids = (size_t)rc.lead + (size_t)t->n_prompt;
  rc.ids = dp_malloc(nids * sizeof *rc.ids);
  if (!rc.ids) return DP_ERR_NOMEM;
  for (size_t i = 0; i < nids; i++) rc.ids[i] = (int32_t)((i * 37 + 11) % (size_t)p->vocab_size);
  dp_session_options so = {(int)need, t->steps};
  dp_status st = dp_session_create(m, &so, &rc.s);
  double secs = 0;
  uint64_t disp = 0;
  int tokens = t->n_gen ? t->n_gen : t->n_prompt;
  if (!st) st = run_once(&rc, 0, &secs, &disp); /* warm-up: pipelines compile here */
  double host = 0;
  for (int i = 0; !st && i < t->reps; i++) {
    if (!(st = run_once(&rc, 0, &secs, &disp))) r->samples_ts[r->n_samples++] = tokens / secs, host += rc.host_s;
  }
  if (!st && t->profile) st = profile_run(&rc, r);
  dp_session_free(rc.s);
  dp_free(rc.ids);
  if (st) return st;
  double sum = 0, ss = 0;
  for (int i = 0; i < r->n_samples; i++) sum += r->samples_ts[i];
  r->avg_ts = sum / r->n_samples;
  for (int i = 0; i < r->n_samples; i++) ss += (r->samples_ts[i] - r->avg_ts) * (r->samples_ts[i] - r->avg_ts);
  r->stddev_ts = r->n_samples > 1 ? sqrt(ss / (r->n_samples - 1)) : 0;
  r->dispatches_per_token = (double)disp / tokens;
  r->bw_fraction = r->flops_fraction = -1;
  r->host_us_per_token = t->n_gen && r->n_samples ? host / r->n_samples / tokens * 1e6 : -1;
  if (t->n_gen) {
    dp_bench_model bm;
    dp_bench_model_info(m, &bm);
    double kv = 0; /* the timed tokens are fed at positions lead .. lead + n_gen - 1 */
    for (int i = 0; i < t->n_gen; i++) kv += kv_bytes_at(p, (uint64_t)rc.lead + (uint64_t)i);
    r->bytes_per_token = (double)bm.token_bytes + kv / t->n_gen;
    if (c && c->gbps > 0) r->bw_fraction = r->bytes_per_token * r->avg_ts / (c->gbps * 1e9);
  } else {
    r->flops_per_token = prefill_flops(rt, (uint64_t)rc.lead, (uint64_t)t->n_prompt) / t->n_prompt;
    if (c && c->tflops > 0) r->flops_fraction = r->flops_per_token * r->avg_ts / (c->tflops * 1e12);
  }
  return DP_OK;
}
