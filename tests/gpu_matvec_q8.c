/* gpu_matvec_q8.c -- the int8 decode input (matvec input q8) end to end on doppler-tiny-q4_k_m
 * (Q4_K and Q6_K matrices) with the GPU kernel family forced (DOPPLER_KERNEL_FAMILY=gpu, so it
 * runs on lavapipe where it applies: subgroups of one size and dot4I8Packed): held-out
 * perplexity scored by decode, one token per pass (dp_session_eval of 1 id: every product a
 * decode GEMV), over windows of W = 128 ids from an empty cache, once with
 * --matvec-input q8 and once with f32:
 *  * the q8 run dispatched quantize_x and matmul_gemv_i8 (`--verbose`'s variant counts), the f32
 *    run neither;
 *  * f32 decode equals the prefill score of the same windows (dp_session_score) within 1e-4;
 *  * q8 within 1% of f32 (the quantization of the inputs; measured +0.0x% here, see
 *    notes/performance.md).
 * DP_Q8_WINDOWS=N scores N windows (default 1: ~16 s on lavapipe, most of it pipeline
 * compilation; notes/performance.md has longer runs). Skipped where the family cannot run it,
 * and on SwiftShader unless DP_Q8_ALL_ADAPTERS=1 (~55 s there). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "doppler.h"
#include "testlib.h"

#define W 128

typedef struct { double dec, pre; uint64_t quant, i8; int q8; } result;

static int count_kernel(void *user, const char *name, const char *op, uint64_t n) {
  (void)op;
  result *r = user;
  if (!strcmp(name, "quantize_x")) r->quant += n;
  if (!strncmp(name, "matmul_gemv_i8_", 15)) r->i8 += n;
  return 0;
}

static result run(int mv, const int32_t *ids, int windows) {
  result r = {NAN, NAN, 0, 0, 0};
  dp_load_options lo = {0};
  lo.matvec_input = mv;
  dp_model *m = NULL;
  dp_session *s = NULL;
  dp_session_options so = {W + 1, 0};
  dp_status st = dp_model_load(dp_test_root("models/doppler-tiny-q4_k_m"), &lo, &m);
  if (!st) st = dp_session_create(m, &so, &s);
  dp_model_info mi;
  if (!st && !dp_model_get_info(m, &mi)) r.q8 = !strcmp(mi.matvec_input, "q8");
  int V = st ? 0 : mi.vocab_size;
  float *lg = st ? NULL : dp_malloc((size_t)V * sizeof *lg);
  double sd = 0, sp = 0, nll[W];
  size_t n = 0;
  for (int w = 0; !st && w < windows; w++) {
    const int32_t *x = ids + (size_t)w * W;
    dp_session_reset(s);
    for (int i = 0; !st && i + 1 < W; i++) { /* decode: one id per pass, the next one's NLL */
      st = dp_session_eval(s, x + i, 1, lg);
      double mx = -INFINITY, z = 0;
      for (int j = 0; j < V; j++) mx = lg[j] > mx ? lg[j] : mx;
      for (int j = 0; j < V; j++) z += exp((double)lg[j] - mx);
      sd += mx + log(z) - lg[x[i + 1]];
      n++;
    }
    if (!st) st = dp_session_score(s, x, W, nll); /* prefill of the same window */
    for (int i = 0; !st && i + 1 < W; i++) sp += nll[i];
  }
  CHECK(!st, "matvec input %d: %s", mv, dp_error_message());
  if (!st) {
    r.dec = exp(sd / (double)n), r.pre = exp(sp / (double)n);
    dp_model_kernels_used(m, count_kernel, &r);
  }
  dp_free(lg);
  dp_session_free(s);
  dp_model_free(m);
  return r;
}

int main(void) {
  setenv("DOPPLER_KERNEL_FAMILY", "gpu", 1);
  const char *e = getenv("DP_Q8_WINDOWS");
  int windows = e ? atoi(e) : 1;
  if (windows < 1) windows = 1;
  char *raw = NULL;
  size_t len = 0;
  dp_status st = dp_file_read_all(dp_test_shared("models/doppler-tiny/heldout_ids.i32"), &raw, &len);
  CHECK(!st && len >= (size_t)windows * W * 4, "heldout_ids.i32: %s", st ? dp_error_message() : "too short");
  if (st || len < (size_t)windows * W * 4) return dp_test_summary("gpu_matvec_q8");
  const int32_t *ids = (const int32_t *)raw;
  const char *ad = getenv("DOPPLER_ADAPTER"), *all = getenv("DP_Q8_ALL_ADAPTERS");
  if (ad && !strcmp(ad, "swiftshader") && !(all && !strcmp(all, "1"))) { /* 55 s there; its kernels are checked by gpu_kernels_gemv_i8 */
    printf("skip: SwiftShader runs the GPU kernel family ~10x slower (DP_Q8_ALL_ADAPTERS=1 runs it: ~55 s, +0.19%%)\n");
    dp_free(raw);
    return dp_test_summary("gpu_matvec_q8");
  }
  result q = run(DP_MATVEC_Q8, ids, windows);
  if (!q.q8) {
    printf("skip: the GPU kernel family cannot take int8 input on this adapter\n");
    dp_free(raw);
    return dp_test_summary("gpu_matvec_q8");
  }
  result f = run(DP_MATVEC_F32, ids, windows);
  printf("doppler-tiny-q4_k_m, %d window(s) of %d, decode one id per pass, GPU kernel family:\n", windows, W);
  printf("  f32 input: perplexity %.4f (prefill %.4f); q8 input: %.4f (prefill %.4f), %+.3f%%\n", f.dec, f.pre, q.dec, q.pre,
         100 * (q.dec / f.dec - 1));
  printf("  q8 run: quantize_x %llu, matmul_gemv_i8 %llu dispatches; f32 run: %llu, %llu\n", (unsigned long long)q.quant,
         (unsigned long long)q.i8, (unsigned long long)f.quant, (unsigned long long)f.i8);
  CHECK(q.quant > 0 && q.i8 > 0 && f.quant == 0 && f.i8 == 0, "variant counts q8 %llu/%llu f32 %llu/%llu",
        (unsigned long long)q.quant, (unsigned long long)q.i8, (unsigned long long)f.quant, (unsigned long long)f.i8);
  CHECK(fabs(f.dec / f.pre - 1) <= 1e-4, "f32 decode perplexity %.6f vs prefill %.6f", f.dec, f.pre);
  CHECK(fabs(q.dec / f.dec - 1) <= 0.01, "q8 perplexity %.4f vs f32 %.4f", q.dec, f.dec);
  dp_free(raw);
  return dp_test_summary("gpu_matvec_q8");
}
