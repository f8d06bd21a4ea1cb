/* gpu_batch.c -- continuous batching (doppler.h dp_gen_resume_batch, runtime/batch.c) and the
 * batch-invariant matrix products under it (DP_MM_ROWS, ops.h):
 * * kernels: for each decode GEMV family (gpu family gemv; cpu family rows_mv, v4_mv8; weight
 *   textures with no / RMSNorm / GLU prologue), y of M = 13 rows with DP_MM_ROWS equals, bit
 *   for bit, each row computed alone (M = 1), and the CPU reference within 1e-5 relative;
 *   outputs poisoned with NaN patterns first;
 * * sessions, driven as a server drives them (start; then dp_gen_resume_batch over every
 *   generation whose read-back completed; finish those that ended), with different prompts
 *   (1..37 ids) and lengths, greedy and sampled (temperature 0.9, top-k 40, top-p 0.95,
 *   min-p 0.05, a seed each), some stopping on EOS, joining at different steps, one finished
 *   early with its row in flight: each one's ids and text equal its run alone through
 *   dp_generate_ids (8 decode steps per submit: another code path), the early one's a prefix;
 *   batches of at least half the sessions happened; resumes before the read-back completed
 *   are refused and change nothing; every session buffer (KV caches included) is poisoned
 *   before the run, the batch scratch between steps. Models: doppler-tiny
 *   (../shared/models/doppler-tiny, 16 sessions), the same with the kernels for hardware GPUs
 *   and no weight textures (lavapipe only: the lent H200's code path), doppler-tiny-q4_k_m
 *   with those kernels and the int8 decode input (matvec input q8: quantize_x and
 *   matmul_gemv_i8 per row, dp_ops_set_matvec_input), and two synthetic
 *   checkpoints (tools/synth.h): qwen3 with q/k norms, head_dim 24 and vocabulary 777 (rows of
 *   q|k|v and logits not 256-byte aligned: the copy paths; K % 8 != 0: no textures), gemma3
 *   with a sliding window, sandwich norms and softcaps; the mixtral and gpt-oss golden
 *   fixtures (../shared/fixtures/golden: MoE router and expert products per row), mixtral
 *   also with the hardware-GPU kernels on lavapipe;
 * * argument errors: NULL, an empty batch, a generation twice.
 * Bounded: on the 2-core machine under a load average of 12, with the pipelines in Mesa's
 * shader cache ~45-70 s on lavapipe and SwiftShader; compiling them (first run) up to ~200 s;
 * ~20 s on an idle machine. Each model's batched run stops after 90 s; fails past 400 s. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "core/error.h"
#include "doppler.h"
#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"
#include "testlib.h"
#include "tools/synth.h"

/* ---- batch-invariant GEMV rows ---- */
#define KM 13 /* rows: more than the GEMV's M <= 4, not a multiple of anything */

/* y[KM, N] with DP_MM_ROWS and KM times y[1, N]; both poisoned first; bitwise equal rows and
 * within tol of ref. mm: 0 dp_op_matmul, 1 dp_op_matmul_tex with prologue pro. */
static void rows_case(const char *what, dp_dtype t, uint32_t N, uint32_t K, int tex, int pro) {
  uint32_t kx = pro == DP_PRO_GLU ? 2 * K : K; /* x row: gate | up for the GLU prologue */
  float *x = kt_randn((size_t)KM * kx, 1.0f), *w = kt_randn((size_t)N * K, 0.5f), *nw = kt_randn(K, 1.0f);
  float *ref = kt_alloc((size_t)KM * N * 4), *xin = kt_alloc((size_t)KM * K * 4), *all = kt_alloc((size_t)KM * N * 4),
        *one = kt_alloc((size_t)KM * N * 4);
  for (uint32_t m = 0; m < KM; m++) { /* the prologue on the CPU, then the reference product */
    if (pro == DP_PRO_RMSNORM) dp_ref_rmsnorm(xin + (size_t)m * K, x + (size_t)m * K, nw, 1, K, 1e-5f, 0);
    else if (pro == DP_PRO_GLU) dp_ref_glu(xin + (size_t)m * K, x + (size_t)m * kx, x + (size_t)m * kx + K, K, DP_GLU_SILU);
    else memcpy(xin + (size_t)m * K, x + (size_t)m * K, (size_t)K * 4);
  }
  size_t wb = (size_t)dp_dtype_row_bytes(t, K) * N;
  uint8_t *wq = kt_alloc(wb);
  float *wd = kt_alloc((size_t)N * K * 4);
  CHECK(!dp_quantize(t, w, wq, (uint64_t)N * K) && !dp_ref_dequant_rows(t, wq, N, K, wd), "%s: quantize", what);
  dp_ref_matmul(ref, xin, wd, NULL, KM, N, K, 0);
  dp_gpu_buffer *bx = kt_buf((size_t)KM * kx * 4), *bw = kt_buf(wb), *by = kt_buf((size_t)KM * N * 4), *bn = kt_buf((size_t)K * 4);
  dp_gpu_buffer_write(G, bx, 0, x, (size_t)KM * kx * 4);
  dp_gpu_buffer_write(G, bw, 0, wq, (wb + 3) & ~(size_t)3);
  dp_gpu_buffer_write(G, bn, 0, nw, (size_t)K * 4);
  dp_wtex *wt = NULL;
  if (tex) {
    CHECK(!dp_wtex_create(O, t, N, K, "rows-tex", &wt) && wt, "%s: texture", what);
    if (!wt) return;
    dp_wtex_write(O, wt, 0, N, wq);
  }
  dp_gemv_pro pp = {pro, dp_view_of(bn, 0), 1e-5f, 0, DP_GLU_SILU, 0};
  for (int pass = 0; pass < 2; pass++) { /* 0: all rows at once, 1: each row alone */
    float *dst = pass ? one : all;
    kt_poison(by);
    for (uint32_t m0 = 0; m0 < KM; m0 += pass ? 1 : KM) {
      uint32_t M = pass ? 1 : KM;
      dp_view vx = dp_view_of(bx, 0), vy = dp_view_of(by, 0);
      dp_gpu_buffer *rx = NULL, *ry = NULL;
      if (pass) { /* the row alone at offset 0 of its own buffers */
        rx = kt_buf((size_t)kx * 4), ry = kt_buf((size_t)N * 4);
        kt_poison(ry);
        dp_gpu_copy(G, bx, (uint64_t)m0 * kx * 4, rx, 0, (uint64_t)kx * 4);
        vx = dp_view_of(rx, 0), vy = dp_view_of(ry, 0);
      }
      dp_status s = tex ? dp_op_matmul_tex(O, vy, vx, wt, 0, N, dp_view_of(NULL, 0), M, &pp, DP_MM_ROWS)
                        : dp_op_matmul(O, vy, vx, dp_view_of(bw, 0), t, dp_view_of(NULL, 0), M, N, K, DP_MM_ROWS);
      CHECK(!s, "%s: M=%u: %s", what, M, dp_error_message());
      if (pass) {
        dp_gpu_buffer_read(G, ry, 0, dst + (size_t)m0 * N, (size_t)N * 4);
        dp_gpu_buffer_free(rx), dp_gpu_buffer_free(ry);
      } else {
        dp_gpu_buffer_read(G, by, 0, dst, (size_t)KM * N * 4);
      }
    }
  }
  double e = dp_test_rel_err(all, ref, (size_t)KM * N);
  CHECK(e < 1e-5, "%s: rows vs CPU reference: rel err %.3g (tol 1e-5)", what, e);
  int eq = !memcmp(all, one, (size_t)KM * N * 4);
  CHECK(eq, "%s: %d rows at once differ from each row alone (not batch-invariant)", what, KM);
  printf("rows %-28s M=%d: %s M=1 each, rel err %.2g\n", what, KM, eq ? "bitwise equal to" : "DIFFERENT from", e);
  dp_wtex_free(wt);
  dp_gpu_buffer_free(bx), dp_gpu_buffer_free(bw), dp_gpu_buffer_free(by), dp_gpu_buffer_free(bn);
  free(x), free(w), free(nw), free(ref), free(xin), free(all), free(one), free(wq), free(wd);
}

static void test_rows(void) {
  if (kt_open()) return;
  dp_ops_set_cpu_kernels(O, 0);
  rows_case("gpu family gemv f16", DP_F16, 77, 256, 0, DP_PRO_NONE);
  dp_ops_set_cpu_kernels(O, 1);
  rows_case("cpu family rows_mv q8_0", DP_Q8_0, 77, 256, 0, DP_PRO_NONE);
  rows_case("cpu family v4_mv8 f16", DP_F16, 77, 256, 0, DP_PRO_NONE);
  dp_ops_set_weight_textures(O, 1);
  rows_case("matmul_tex f16", DP_F16, 77, 256, 1, DP_PRO_NONE);
  rows_case("matmul_tex f16 + rmsnorm", DP_F16, 77, 256, 1, DP_PRO_RMSNORM);
  rows_case("matmul_tex f16 + glu", DP_F16, 77, 256, 1, DP_PRO_GLU);
  kt_close();
}

/* ---- sessions ---- */
#define NS 16
#define MAXT 64
typedef struct cap { int32_t ids[MAXT]; int n; char text[2048]; size_t len; } cap;
static int on_tok(void *user, int32_t tok, const char *text, size_t len) {
  cap *c = user;
  if (tok >= 0 && c->n < MAXT) c->ids[c->n++] = tok;
  if (c->len + len < sizeof c->text) { memcpy(c->text + c->len, text, len); c->len += len; c->text[c->len] = 0; }
  return 0;
}

static void poison_buf(dp_gpu *g, dp_gpu_buffer *b) {
  if (!b) return;
  size_t n = dp_gpu_buffer_size(b);
  uint32_t *t = kt_alloc(n);
  kt_poison_host(t, n);
  dp_gpu_buffer_write(g, b, 0, t, n);
  free(t);
}
/* every activation of a session or of the batch scratch (a session without KV cache) */
static void poison_session(dp_gpu *g, dp_rt_session *s) {
  dp_gpu_buffer *all[] = {s->x, s->h, s->q, s->k, s->v, s->att, s->gate, s->up, s->tmp, s->qkv1, s->gu1, s->hrow,
                          s->ids, s->cur_id, s->logits, s->work, s->out_ids};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) poison_buf(g, all[i]);
  for (int l = 0; s->kc && l < s->m->plan->n_layers; l++) poison_buf(g, s->kc[l]), poison_buf(g, s->vc[l]);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ns <= NS sessions (max_tokens up to max_len) of the model at path (gpu_kernels: the kernels for hardware GPUs, as on the
 * lent H200, without weight textures) batched vs alone. */
static void test_sessions(const char *name, const char *path, int gpu_kernels, int ns, int max_len, double t_start) {
  dp_model *m = NULL;
  if (gpu_kernels) setenv("DOPPLER_WEIGHT_TEXTURES", "0", 1);
  dp_status st = dp_model_load(path, NULL, &m);
  unsetenv("DOPPLER_WEIGHT_TEXTURES");
  CHECK(!st, "%s: load: %s", name, dp_error_message());
  if (st) return;
  if (gpu_kernels && !strcmp(dp_gpu_get_info(m->gpu)->driver_choice, "swiftshader")) {
    printf("%s: skipped on SwiftShader (those kernels run ~10x slower there; lavapipe runs them)\n", name);
    dp_model_free(m);
    return;
  }
  if (gpu_kernels) dp_ops_set_cpu_kernels(m->rt->ops, 0);
  if (gpu_kernels == 2) dp_ops_set_matvec_input(m->rt->ops, 1); /* int8 decode input, before the sessions */
  int V = m->rt->plan->vocab_size;
  dp_session *ss[NS];
  int32_t prompt[NS][40];
  int plen[NS], join[NS];
  dp_generate_options opt[NS];
  cap ref[NS], got[NS];
  memset(ref, 0, sizeof ref), memset(got, 0, sizeof got);
  dp_session_options so = {256, 0};
  for (int i = 0; i < ns; i++) {
    st = dp_session_create(m, &so, &ss[i]);
    CHECK(!st, "%s: session %d: %s", name, i, dp_error_message());
    if (st) return;
    plen[i] = 1 + (i * 7) % 37;
    for (int j = 0; j < plen[i]; j++) prompt[i][j] = (int32_t)(3 + dp_test_rand_u32() % (uint32_t)(V - 3));
    opt[i] = dp_generate_defaults();
    opt[i].max_tokens = 3 + (i * 11) % (max_len - 2);
    opt[i].ignore_eos = i % 3 != 0; /* some may end on EOS */
    if (i % 2) opt[i].sampling.temperature = 0; /* odd: greedy; even: sampled (defaults: 0.8, top-k 40, top-p 0.95, min-p 0.05) */
    else opt[i].sampling.temperature = 0.9f, opt[i].sampling.seed = 1000 + (uint64_t)i;
    join[i] = (i * 5) % (ns - 3); /* the step at which it starts */
  }
  /* references: each alone, through the blocking loop (8 decode steps per submit) */
  for (int i = 0; i < ns && !st; i++) {
    st = dp_generate_ids(ss[i], prompt[i], (size_t)plen[i], &opt[i], on_tok, &ref[i], NULL);
    CHECK(!st && ref[i].n > 0, "%s: reference %d: %s (%d ids)", name, i, st ? dp_error_message() : "ok", ref[i].n);
    dp_session_reset(ss[i]);
  }
  double t_ref = now_s();
  printf("%s: references: %.1f s\n", name, t_ref - t_start);
  for (int i = 0; i < ns; i++) poison_session(m->gpu, ss[i]->rt);

  /* the server loop: join, resume every ready generation in one batched step, leave */
  dp_gen *gen[NS] = {0};
  int done[NS] = {0}, n_done = 0, max_rows = 0, steps = 0, early = 5, too_early = 0;
  dp_generate_stats stats[NS];
  dp_status res[NS];
  for (int t = 0; n_done < ns && t < 1000 && now_s() - t_ref < 90; t++) {
    for (int i = 0; i < ns; i++)
      if (join[i] == t) {
        st = dp_gen_start_ids(ss[i], prompt[i], (size_t)plen[i], &opt[i], on_tok, &got[i], &gen[i]);
        CHECK(!st, "start %d: %s", i, dp_error_message());
      }
    dp_gen *ready[NS];
    int who[NS], k = 0;
    for (int i = 0; i < ns; i++) {
      if (!gen[i] || done[i]) continue;
      if (!dp_gen_poll(gen[i]) && t % 4 == 1) { /* not ready: refused, nothing changes */
        dp_status s1;
        size_t r1 = 9;
        dp_status rr = dp_gen_resume_batch(&gen[i], 1, &s1, &r1);
        if (dp_gen_pending(gen[i]) && !dp_gen_poll(gen[i])) {
          CHECK(rr == DP_OK && s1 == DP_ERR_INVALID_ARG && r1 == 0, "resume too early: %d / %d, rows %zu", (int)rr, (int)s1, r1);
          too_early++;
        }
      }
      CHECK(!dp_gen_wait(gen[i]), "wait %d: %s", i, dp_error_message());
      ready[k] = gen[i], who[k++] = i;
    }
    if (!k) continue;
    size_t rows = 0;
    st = dp_gen_resume_batch(ready, (size_t)k, res, &rows);
    CHECK(!st, "%s: step %d: %s", name, t, dp_error_message());
    if ((int)rows > max_rows) max_rows = (int)rows;
    steps++;
    for (int j = 0; j < k; j++) {
      int i = who[j];
      CHECK(res[j] == DP_OK, "%s: step %d, session %d: %s", name, t, i, dp_error_message());
      if (i == early && got[i].n >= 2 && dp_gen_pending(gen[i])) { /* leaves with its row in flight */
        res[j] = dp_gen_finish(gen[i], &stats[i]);
        CHECK(res[j] == DP_ERR_CANCELLED, "early finish %d: %d", i, (int)res[j]);
        done[i] = 1, n_done++;
      } else if (!dp_gen_pending(gen[i])) {
        CHECK(dp_gen_finish(gen[i], &stats[i]) == DP_OK, "finish %d: %s", i, dp_error_message());
        done[i] = 1, n_done++;
      }
    }
    if (t % 3 == 0 && m->rt->batch && m->rt->batch->act) { /* the scratch between steps: every byte rewritten before use */
      int busy = 0;
      for (int i = 0; i < ns; i++) busy |= gen[i] && !done[i] && dp_gen_pending(gen[i]);
      if (!busy) poison_session(m->gpu, m->rt->batch->act);
    }
  }
  CHECK(n_done == ns, "%s: %d of %d generations ended", name, n_done, ns);
  CHECK(max_rows >= ns / 2, "%s: largest batch %d rows (want >= %d)", name, max_rows, ns / 2);
  int same = 0;
  for (int i = 0; i < ns; i++) {
    if (i == early) {
      CHECK(got[i].n >= 2 && got[i].n < ref[i].n && !memcmp(got[i].ids, ref[i].ids, (size_t)got[i].n * 4),
            "early-finished session %d: %d ids, not a prefix of the reference's %d", i, got[i].n, ref[i].n);
      continue;
    }
    int ok = got[i].n == ref[i].n && !memcmp(got[i].ids, ref[i].ids, (size_t)ref[i].n * 4) && !strcmp(got[i].text, ref[i].text);
    CHECK(ok, "%s: session %d (%s, prompt %d, max %d): %d ids batched vs %d alone, first difference at %d", name, i,
          opt[i].sampling.temperature > 0 ? "sampled" : "greedy", plen[i], opt[i].max_tokens, got[i].n, ref[i].n,
          ({ int d = 0; while (d < got[i].n && d < ref[i].n && got[i].ids[d] == ref[i].ids[d]) d++; d; }));
    same += ok;
  }
  printf("%s: %.1f s batched: %d steps, largest batch %d, %d of %d identical to alone (+1 early prefix), %d early resumes refused\n", name, now_s() - t_ref, steps,
         max_rows, same, ns - 1, too_early);
  if (gpu_kernels == 2) { /* the int8 input ran (quantize_x and its products) */
    long q = dp_kernel_variant_find("quantize_x"), e = dp_kernel_variant_find("matmul_gemv_i8_q4_k");
    CHECK(q >= 0 && e >= 0 && dp_ops_variant_runs(m->rt->ops, (size_t)q) > 0 && dp_ops_variant_runs(m->rt->ops, (size_t)e) > 0,
          "%s: quantize_x / matmul_gemv_i8_q4_k never ran", name);
  }

  /* argument errors */
  dp_status s2[2];
  size_t r2 = 5;
  CHECK(dp_gen_resume_batch(NULL, 1, s2, &r2) == DP_ERR_INVALID_ARG && r2 == 0, "NULL gens accepted");
  CHECK(dp_gen_resume_batch(NULL, 0, NULL, NULL) == DP_OK, "an empty batch refused");
  dp_gen *g = NULL;
  st = dp_gen_start_ids(ss[0], prompt[0], 1, &opt[0], NULL, NULL, &g);
  CHECK(!st, "start: %s", dp_error_message());
  if (!st) {
    dp_gen *twice[2] = {g, g};
    CHECK(dp_gen_resume_batch(twice, 2, s2, NULL) == DP_ERR_INVALID_ARG, "a generation twice accepted");
    CHECK(dp_gen_pending(g), "the refused call changed the generation");
    dp_gen_finish(g, NULL);
  }
  for (int i = 0; i < ns; i++) dp_session_free(ss[i]);
  dp_model_free(m);
}

/* held-back shapes (tools/synth.h): rows not 256-byte aligned (q|k|v, logits), q/k norms,
 * no weight textures (K % 8 != 0); a sliding window, sandwich norms, softcaps, textures */
static void test_synth(void) {
  static const dp_synth_opts shapes[] = {
    {.arch = "qwen3", .vocab = 777, .d_model = 75, .n_heads = 3, .n_kv_heads = 1, .head_dim = 24, .d_ff = 131, .n_layers = 2,
     .window = -1, .dtype = DP_F16},
    {.arch = "gemma3", .vocab = 301, .d_model = 160, .n_heads = 4, .n_kv_heads = 2, .head_dim = 48, .d_ff = 312, .n_layers = 2,
     .window = 5, .dtype = DP_F32},
  };
  char base[256];
  snprintf(base, sizeof base, "%s/dp_gpu_batch_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(base)) { CHECK(0, "mkdtemp: %s", base); return; }
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", base, shapes[i].arch);
    dp_synth_opts o = shapes[i];
    o.seed = dp_test_rand_u32();
    dp_status st = dp_synth_write(&o, dir);
    CHECK(!st, "synth %s: %s", o.arch, dp_error_message());
    if (!st) test_sessions(o.arch, dir, 0, 8, 16, now_s());
    dp_test_rm_synth(dir);
  }
  rmdir(base);
}

int main(void) {
  double t0 = now_s();
  printf("seed %llu\n", (unsigned long long)dp_test_seed());
  test_rows();
  printf("kernels: %.1f s\n", now_s() - t0);
  test_sessions("doppler-tiny", dp_test_shared("models/doppler-tiny"), 0, NS, 28, now_s());
  test_sessions("doppler-tiny, gpu kernels", dp_test_shared("models/doppler-tiny"), 1, 6, 12, now_s());
  test_sessions("doppler-tiny-q4_k_m, gpu kernels, q8 input", dp_test_root("models/doppler-tiny-q4_k_m"), 2, 6, 12, now_s());
  test_synth();
  /* mixture of experts (the golden fixtures): router and expert products per row */
  test_sessions("mixtral", dp_test_shared("fixtures/golden/mixtral"), 0, 8, 12, now_s());
  test_sessions("gpt-oss", dp_test_shared("fixtures/golden/gptoss"), 0, 8, 12, now_s());
  test_sessions("mixtral, gpu kernels", dp_test_shared("fixtures/golden/mixtral"), 1, 6, 10, now_s());
  double el = now_s() - t0;
  printf("total %.1f s\n", el);
  CHECK(el < 400, "took %.0f s (bound 400 s)", el);
  return dp_test_summary("gpu_batch");
}
