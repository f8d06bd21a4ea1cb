/* gpu_bench.c -- what `doppler bench` relies on: the probe ops against their CPU references
 * (probe.h), the device layer's dispatch counter and timestamp profiler (one entry per kernel,
 * the right call counts, also past one query set's worth of dispatches in a submit, or
 * DP_ERR_UNSUPPORTED without timestamp-query), and on models/doppler-tiny-f16 the library's
 * figures: parameters and bytes per decode token computed here from the shapes (and for an
 * untied synth model), the
 * statistics and fractions of dp_bench_run, and its argument checks; dp_bench_kernels' records
 * at a tiny shape (figures consistent with the time, the callback's stop, bad types and
 * shapes). Timings themselves are not checked (a shared machine). */
#include <math.h>
#include <unistd.h>
#include "doppler.h"
#include "tools/synth.h"
#include "gpu_kernels_util.h"
#include "kernels/probe.h"
#include "ref/kernels_ref.h"

static void test_probe_ops(void) {
  /* read: n4 not a multiple of the invocations, 3 workgroups */
  uint32_t groups = 3, inv = groups * DP_PROBE_WG, n4 = 1000 + dp_test_rand_u32() % 2000;
  float *src = kt_randn((size_t)n4 * 4, 1), *ref = kt_alloc(inv * 4), *out = kt_alloc(inv * 4);
  dp_gpu_buffer *s = kt_upload(src, (size_t)n4 * 16), *o = kt_buf(inv * 4);
  KT_OK(dp_op_probe_read(O, kv(o), kv(s), n4, groups));
  kt_read(o, out, inv * 4);
  dp_ref_probe_read(ref, src, n4, inv);
  kt_check("probe read_sum (n4 random, 3 workgroups)", out, ref, inv, 1e-6);
  /* fma: random a, b (rounding: fused or not, the tolerance covers it); a = b = 1 exactly */
  float a = dp_test_rand_uniform(0.9f, 1.0f), b = dp_test_rand_uniform(-1, 1);
  for (int exact = 0; exact < 2; exact++) {
    float aa = exact ? 1 : a, bb = exact ? 1 : b, want = dp_ref_probe_fma(300, aa, bb);
    kt_poison(o);
    KT_OK(dp_op_probe_fma(O, kv(o), 300, aa, bb, groups));
    kt_read(o, out, inv * 4);
    for (uint32_t i = 0; i < inv; i++) ref[i] = want;
    kt_check(exact ? "probe fma_chains a = b = 1" : "probe fma_chains random a, b", out, ref, inv, exact ? 0 : 1e-5);
  }
  CHECK(dp_op_probe_read(O, kv(o), kv(s), n4 + 1, groups) == DP_ERR_INVALID_ARG, "read past src accepted");
  CHECK(dp_op_probe_fma(O, kv(o), 1, 1, 1, groups + 1) == DP_ERR_INVALID_ARG, "out too small accepted");
  dp_gpu_buffer_free(s);
  dp_gpu_buffer_free(o);
  free(src), free(ref), free(out);
}

static void test_counter_and_profile(void) {
  dp_gpu_buffer *o = kt_buf(DP_PROBE_WG * 4);
  uint64_t d0 = dp_gpu_dispatch_count(G);
  for (int i = 0; i < 5; i++) KT_OK(dp_op_probe_fma(O, kv(o), 4, 1, 1, 1));
  CHECK(dp_gpu_dispatch_count(G) - d0 == 5, "5 dispatches counted as %llu", (unsigned long long)(dp_gpu_dispatch_count(G) - d0));
  KT_OK(dp_gpu_finish(G));
  dp_status st = dp_gpu_profile(G, 1);
  if (!dp_gpu_get_info(G)->has_timestamp) {
    CHECK(st == DP_ERR_UNSUPPORTED, "profile without timestamp-query gave %d", st);
    dp_gpu_buffer_free(o);
    return;
  }
  CHECK(st == DP_OK, "profile on: %s", dp_error_message());
  /* DOPPLER_PROFILE_INPASS=1 (the ctest entry gpu_bench_inpass): timestamps inside one pass
   * where Dawn offers them (lavapipe does) */
  const char *ip = getenv("DOPPLER_PROFILE_INPASS");
  int inpass = dp_gpu_get_info(G)->has_timestamp_inpass;
  printf("  profile: timestamps %s\n", inpass ? "inside one pass" : "of a pass per dispatch");
  CHECK(!inpass || (ip && !strcmp(ip, "1")), "in-pass profiling on without DOPPLER_PROFILE_INPASS=1");
  if (ip && !strcmp(ip, "1") && strstr(dp_gpu_get_info(G)->adapter, "llvmpipe"))
    CHECK(inpass, "lavapipe offers timestamps inside passes, but the profiler does not use them");
  dp_gpu_buffer *s = kt_buf(64 * 16);
  int n_fma = 1100; /* more than one query set (1024 dispatches) before the submit */
  double t0 = dp_test_now();
  for (int i = 0; i < n_fma; i++) KT_OK(dp_op_probe_fma(O, kv(o), 4, 1, 1, 1));
  KT_OK(dp_op_probe_read(O, kv(o), kv(s), 64, 1));
  KT_OK(dp_gpu_finish(G));
  double wall_ns = (dp_test_now() - t0) * 1e9;
  KT_OK(dp_gpu_profile(G, 0));
  KT_OK(dp_op_probe_read(O, kv(o), kv(s), 64, 1)); /* after profiling: not counted */
  KT_OK(dp_gpu_finish(G));
  dp_gpu_kernel_time kt[8];
  size_t n = dp_gpu_profile_read(G, kt, 8);
  CHECK(n == 2, "%zu profiled kernels, expected 2", n);
  for (size_t i = 0; i < n; i++) {
    int fma = !strcmp(kt[i].kernel, "probe:fma_chains");
    printf("  profile %-20s %6llu calls %10.1f us\n", kt[i].kernel, (unsigned long long)kt[i].calls, kt[i].ns * 1e-3);
    CHECK(fma || !strcmp(kt[i].kernel, "probe:read_sum"), "kernel label %s", kt[i].kernel);
    CHECK(kt[i].calls == (fma ? (uint64_t)n_fma : 1), "%s: %llu calls", kt[i].kernel, (unsigned long long)kt[i].calls);
    CHECK(kt[i].ns > 0, "%s: no time", kt[i].kernel);
  }
  CHECK(n < 2 || kt[0].ns >= kt[1].ns, "not sorted by time");
  /* the GPU time of the dispatches cannot exceed the wall time around them (1 ms of clock slack) */
  double gpu_ns = 0;
  for (size_t i = 0; i < n; i++) gpu_ns += kt[i].ns;
  CHECK(gpu_ns <= wall_ns + 1e6, "profiled %.0f ns of GPU time in %.0f ns of wall time", gpu_ns, wall_ns);
  dp_gpu_buffer_free(s);
  dp_gpu_buffer_free(o);
}

/* doppler-tiny: llama, vocab 4096, d 256, 6 layers, 4 heads / 2 KV heads of 64, ff 768, tied, f16 */
static void test_model_figures(void) {
  dp_model *m = NULL;
  dp_status st = dp_model_load(dp_test_root("models/doppler-tiny-f16"), NULL, &m);
  CHECK(st == DP_OK, "load: %s", dp_error_message());
  if (st) return;
  dp_bench_model bm;
  KT_OK(dp_bench_model_info(m, &bm));
  uint64_t layer_mat = 256 * 256 * 2 + 128 * 256 * 2 + 3 * 768 * 256, layer_vec = 2 * 256;
  uint64_t params = 4096 * 256 + 6 * (layer_mat + layer_vec) + 256;
  uint64_t bytes = 6 * (2 * layer_mat + 4 * layer_vec) + 4 * 256 + 2 * 4096 * 256 + 2 * 256;
  CHECK(bm.n_params == params, "params %llu, expected %llu", (unsigned long long)bm.n_params, (unsigned long long)params);
  CHECK(bm.token_bytes == bytes, "bytes per token %llu, expected %llu", (unsigned long long)bm.token_bytes, (unsigned long long)bytes);
  CHECK(!strcmp(bm.quant, "f16"), "quant '%s'", bm.quant);
  dp_bench_ceilings c = {100, 1};
  dp_bench_test tg = {0, 6, 10, 3, 4, 0}, pp = {9, 0, 0, 2, 0, 0};
  dp_bench_result r;
  dp_model_stats s0, s1;
  KT_OK(dp_model_get_stats(m, &s0));
  KT_OK(dp_bench_run(m, &tg, &c, &r));
  KT_OK(dp_model_get_stats(m, &s1));
  CHECK(s1.dispatches > s0.dispatches, "no dispatches counted");
  CHECK(r.n_samples == 3 && r.avg_ts > 0, "tg: %d samples, avg %g", r.n_samples, r.avg_ts);
  double mean = (r.samples_ts[0] + r.samples_ts[1] + r.samples_ts[2]) / 3, var = 0;
  for (int i = 0; i < 3; i++) var += (r.samples_ts[i] - mean) * (r.samples_ts[i] - mean) / 2;
  CHECK(fabs(r.avg_ts - mean) <= 1e-9 * mean && fabs(r.stddev_ts - sqrt(var)) <= 1e-9 * mean, "tg stats %g +- %g", r.avg_ts,
        r.stddev_ts);
  /* tokens fed at positions 10..15 read 11..16 keys: 2 (K, V) x 2 heads x 64 x 4 bytes x 6 layers each */
  double kv = 2.0 * 2 * 64 * 4 * 6 * (11 + 16) / 2.0;
  CHECK(fabs(r.bytes_per_token - (bytes + kv)) < 0.5, "tg bytes per token %.1f, expected %.1f", r.bytes_per_token, bytes + kv);
  CHECK(fabs(r.bw_fraction - r.bytes_per_token * r.avg_ts / 100e9) < 1e-12 && r.flops_fraction == -1, "tg fractions %g %g",
        r.bw_fraction, r.flops_fraction);
  CHECK(r.dispatches_per_token >= 6 && r.dispatches_per_token == floor(r.dispatches_per_token), "tg dispatches per token %g",
        r.dispatches_per_token);
  /* the host's recording + submitting is part of each token's time, never more than all of it */
  CHECK(r.host_us_per_token > 0 && r.host_us_per_token < 1e6 / r.avg_ts * 1.05, "tg host %g us a token at %g tok/s",
        r.host_us_per_token, r.avg_ts);
  KT_OK(dp_bench_run(m, &pp, NULL, &r));
  CHECK(r.host_us_per_token == -1, "pp host time %g", r.host_us_per_token);
  double att = 4.0 * 4 * 64 * 6 * (9 * 10 / 2), flops = 2.0 * 6 * layer_mat * 9 + 2.0 * 4096 * 256 + att;
  CHECK(fabs(r.flops_per_token * 9 - flops) < 1, "pp flops %.0f, expected %.0f", r.flops_per_token * 9, flops);
  CHECK(r.n_samples == 2 && r.bw_fraction == -1 && r.flops_fraction == -1, "pp without ceilings: %g %g", r.bw_fraction,
        r.flops_fraction);
  dp_bench_test bad[] = {{4, 4, 0, 1, 0, 0}, {0, 0, 0, 1, 0, 0}, {4, 0, 0, 0, 0, 0}, {0, 8, 1020, 1, 0, 0}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    st = dp_bench_run(m, &bad[i], &c, &r);
    CHECK(st == DP_ERR_INVALID_ARG, "bad test %zu gave %d", i, st);
  }
  dp_model_free(m);
}

/* An untied model (llama2: MHA, lm_head of its own) at f32: its LM head counts as parameters too. */
static void test_untied(void) {
  char dir[300], base[256];
  snprintf(base, sizeof base, "%s/dp_gpu_bench_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(base)) { CHECK(0, "mkdtemp"); return; }
  snprintf(dir, sizeof dir, "%s/m", base);
  dp_synth_opts so = {.arch = "llama2", .vocab = 300, .d_model = 64, .n_heads = 4, .d_ff = 96, .n_layers = 2, .window = -1,
                      .seed = dp_test_rand_u32(), .dtype = DP_F32};
  dp_model *m = NULL;
  dp_status st = dp_synth_write(&so, dir);
  CHECK(st == DP_OK, "synth: %s", dp_error_message());
  if (!st && (st = dp_model_load(dir, NULL, &m))) CHECK(0, "load: %s", dp_error_message());
  if (!st) {
    dp_bench_model bm;
    KT_OK(dp_bench_model_info(m, &bm));
    uint64_t layer = 4 * 64 * 64 + 3 * 96 * 64 + 2 * 64, params = 2 * 300 * 64 + 2 * layer + 64;
    uint64_t bytes = 4 * (2 * layer + 64 + 300 * 64 + 64);
    CHECK(bm.n_params == params && bm.token_bytes == bytes && !strcmp(bm.quant, "f32"), "untied: %llu params (%llu), %llu bytes (%llu), %s",
          (unsigned long long)bm.n_params, (unsigned long long)params, (unsigned long long)bm.token_bytes,
          (unsigned long long)bytes, bm.quant);
  }
  dp_model_free(m);
  dp_test_rm_synth(dir);
  rmdir(base);
}

typedef struct kseen { int n, stop_after; dp_bench_kernel r[8]; } kseen;
static int on_kernel(void *user, const dp_bench_kernel *r) {
  kseen *k = user;
  if (k->n < 8) k->r[k->n] = *r;
  return ++k->n == k->stop_after;
}

static void test_kernels(void) {
  static const int ms[] = {1, 5};
  static const char *const types[] = {"q4_k", "bf16"};
  dp_bench_kernels_options o = {NULL, 64, 256, ms, 2, types, 2, 0};
  kseen k = {0, 0, {{0}}};
  KT_OK(dp_bench_kernels(&o, on_kernel, &k));
  CHECK(k.n == 4, "%d products, expected 4", k.n);
  for (int i = 0; i < k.n && i < 4; i++) {
    const dp_bench_kernel *r = &k.r[i];
    printf("  bench kernels %-5s m=%d: %.1f us, %d reps\n", r->type, r->m, r->us, r->reps);
    CHECK(!strcmp(r->type, types[i / 2]) && r->m == ms[i % 2] && r->n == 64 && r->k == 256 && !r->skipped, "record %d: %s m=%d",
          i, r->type, r->m);
    double wbytes = !strcmp(r->type, "q4_k") ? 64.0 * 144 : 64.0 * 256 * 2;
    CHECK(r->us > 0 && r->reps >= 1 && fabs(r->gbps - wbytes / (r->us * 1e3)) <= 1e-9 * r->gbps &&
              fabs(r->tflops - 2.0 * r->m * 64 * 256 / (r->us * 1e6)) <= 1e-9 * r->tflops,
          "record %d figures: %g us %g GB/s %g TFLOP/s", i, r->us, r->gbps, r->tflops);
  }
  kseen stop = {0, 1, {{0}}};
  KT_OK(dp_bench_kernels(&o, on_kernel, &stop));
  CHECK(stop.n == 1, "callback asked to stop after 1, got %d", stop.n);
  static const char *const bad_type[] = {"f32"};
  dp_bench_kernels_options bt = {NULL, 64, 256, ms, 1, bad_type, 1, 0}, bk = {NULL, 64, 100, ms, 1, types, 1, 0};
  CHECK(dp_bench_kernels(&bt, on_kernel, &k) == DP_ERR_INVALID_ARG, "type f32 accepted");
  CHECK(dp_bench_kernels(&bk, on_kernel, &k) == DP_ERR_INVALID_ARG, "q4_k with k = 100 accepted");
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_bench");
  printf("seed %llu\n", (unsigned long long)dp_test_seed());
  test_probe_ops();
  test_counter_and_profile();
  kt_close();
  test_model_figures();
  test_untied();
  test_kernels();
  return dp_test_summary("gpu_bench");
}
