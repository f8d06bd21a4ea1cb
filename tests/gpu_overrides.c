/* gpu_overrides.c -- the run-time overrides (doppler.h dp_load_options q4k_matmul,
 * compute_precision; docs/runtime.md):
 * * parsing: fused/dequant/f16/f32 and the seed's aliases fused_q4k, dequant_f16 (which also
 *   asks for f16); anything else refused;
 * * doppler-tiny-q4_k_m (models/, its manifest hints fused/f32): without flags the hints are
 *   in force ("manifest hint"); dequant with f32 gives the fused logits within 1e-4 (relative
 *   Frobenius, the fixtures' rule) over 12 prompt positions and 8 greedy steps, with the same
 *   greedy ids; dequant with f16 (f16 weights) within 2e-3 of the CPU reference, where the
 *   adapter has shader-f16 (else the fallback to f32 is reported);
 * * the golden llama2 checkpoint (../shared/fixtures, its 256-wide down_proj) converted to a
 *   q4_k GGUF (no hints: "default"): dequant f32 vs fused within 1e-4 over the 40 prompt
 *   positions (here bit-identical: the two kernels sum in the same order).
 * * the golden llama3 checkpoint (f32 weights) with f16 (its matrices stored as f16) within
 *   3e-3 of HF's reference logits over the 40 prompt positions (f32: 1e-4).
 * Each fused run dispatched Q4_K-decoding variants (dp_model_kernels_used), each dequant run none.
 * About 4 s on lavapipe, 21 s on SwiftShader. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "doppler.h"
#include "format/safetensors.h"
#include "tools/convert.h"
#include "testlib.h"

static void parse_checks(void) {
  int m = 0, p = 0;
  CHECK(!dp_parse_q4k_matmul("fused", &m, &p) && m == DP_Q4K_FUSED && p == 0, "fused");
  CHECK(!dp_parse_q4k_matmul("fused_q4k", &m, &p) && m == DP_Q4K_FUSED && p == 0, "fused_q4k");
  CHECK(!dp_parse_q4k_matmul("dequant", &m, &p) && m == DP_Q4K_DEQUANT && p == 0, "dequant");
  CHECK(!dp_parse_q4k_matmul("dequant_f16", &m, &p) && m == DP_Q4K_DEQUANT && p == DP_PRECISION_F16, "dequant_f16");
  CHECK(dp_parse_q4k_matmul("Fused", &m, NULL) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "Fused"), "bad q4k value");
  CHECK(!dp_parse_compute_precision("f16", &p) && p == DP_PRECISION_F16, "f16");
  CHECK(!dp_parse_compute_precision("f32", &p) && p == DP_PRECISION_F32, "f32");
  CHECK(dp_parse_compute_precision("bf16", &p) == DP_ERR_INVALID_ARG, "bad precision");
  dp_load_options lo = {0};
  lo.q4k_matmul = 7;
  dp_model *x = NULL;
  CHECK(dp_model_load(dp_test_root("models/doppler-tiny-q4_k_m"), &lo, &x) == DP_ERR_INVALID_ARG && !x, "q4k_matmul 7 refused");
}

static int count_q4k(void *user, const char *name, const char *op, uint64_t n) {
  size_t l = strlen(name);
  if (l > 5 && !strcmp(name + l - 5, "_q4_k")) *(uint64_t *)user += n;
  return 0;
}
static uint64_t q4k_runs; /* dispatches of Q4_K-decoding variants in the last run() */

/* Load path with (q4k, prec); logits of T prompt ids then n greedy steps into lg [T + n, V]
 * (ids into gen). info into *mi (strings are static). 0 on success. */
static int run(const char *path, int q4k, int prec, const int32_t *ids, int T, int n, float *lg, int32_t *gen,
               dp_model_info *mi, int *V) {
  dp_load_options lo = {0};
  lo.q4k_matmul = q4k, lo.compute_precision = prec;
  dp_model *m = NULL;
  dp_session *s = NULL;
  dp_status st = dp_model_load(path, &lo, &m);
  if (!st) st = dp_model_get_info(m, mi);
  if (!st) *V = mi->vocab_size;
  if (!st && !lg) { dp_model_free(m); return 0; }
  if (!st) st = dp_session_create(m, NULL, &s);
  if (!st) st = dp_session_eval(s, ids, (size_t)T, lg);
  if (!st && n) st = dp_session_greedy(s, (size_t)n, gen, lg + (size_t)T * (size_t)*V);
  q4k_runs = 0;
  if (!st) st = dp_model_kernels_used(m, count_q4k, &q4k_runs);
  CHECK(!st, "%s (q4k %d, precision %d): %s", path, q4k, prec, dp_error_message());
  dp_session_free(s);
  dp_model_free(m);
  return st != DP_OK;
}

static double rel(const float *a, const float *b, size_t n) { return dp_test_rel_err(a, b, n); }

static void tiny_checks(void) {
  const char *path = dp_test_root("models/doppler-tiny-q4_k_m");
  enum { T = 12, N = 8 };
  int32_t ids[T] = {0, 476, 502, 1162, 549, 300, 17, 2083, 415, 88, 1023, 7};
  dp_model_info a, b, c;
  int V = 0;
  CHECK(!run(path, 0, 0, NULL, 0, 0, NULL, NULL, &a, &V), "load with hints");
  CHECK(!strcmp(a.q4k_matmul, "fused") && !strcmp(a.q4k_matmul_from, "manifest hint") && !strcmp(a.compute_precision, "f32") &&
            !strcmp(a.compute_precision_from, "manifest hint"),
        "hints in force: %s (%s), %s (%s)", a.q4k_matmul, a.q4k_matmul_from, a.compute_precision, a.compute_precision_from);
  size_t n = (size_t)(T + N) * 4096;
  float *lf = dp_malloc(n * sizeof *lf), *ld = dp_malloc(n * sizeof *ld), *lh = dp_malloc(n * sizeof *lh);
  int32_t gf[N], gd[N], gh[N];
  if (!lf || !ld || !lh) { CHECK(0, "out of memory"); return; }
  int bad = run(path, DP_Q4K_FUSED, 0, ids, T, N, lf, gf, &a, &V);
  CHECK(bad || q4k_runs > 0, "fused ran Q4_K kernels");
  bad |= run(path, DP_Q4K_DEQUANT, DP_PRECISION_F32, ids, T, N, ld, gd, &b, &V);
  CHECK(bad || q4k_runs == 0, "dequant ran %llu Q4_K-decoding dispatches", (unsigned long long)q4k_runs);
  if (!bad) {
    n = (size_t)(T + N) * (size_t)V;
    double e = rel(ld, lf, n);
    printf("doppler-tiny-q4_k_m: dequant f32 vs fused: rel err %.2e (tol 1e-4)\n", e);
    CHECK(!strcmp(a.q4k_matmul_from, "flag") && !strcmp(b.q4k_matmul, "dequant") && !strcmp(b.compute_precision_from, "flag"),
          "flags in force: %s %s", a.q4k_matmul_from, b.q4k_matmul);
    CHECK(e <= 1e-4, "dequant f32 vs fused: %.3e", e);
    CHECK(!memcmp(gf, gd, sizeof gf), "greedy ids differ between fused and dequant f32");
    CHECK(b.weight_bytes > a.weight_bytes * 3, "dequant expanded the Q4_K weights: %llu vs %llu bytes",
          (unsigned long long)b.weight_bytes, (unsigned long long)a.weight_bytes);
  }
  /* f16: against the CPU reference */
  if (!bad && !run(path, DP_Q4K_DEQUANT, DP_PRECISION_F16, ids, T, N, lh, gh, &c, &V)) {
    if (!strcmp(c.compute_precision, "f16")) {
      float *rl = dp_malloc((size_t)T * V * sizeof *rl), *rg = dp_malloc((size_t)N * V * sizeof *rg);
      int32_t rid[N];
      if (rl && rg && !dp_test_ref_greedy(path, ids, T, N, rl, rid, rg)) {
        double e1 = rel(lh, rl, (size_t)T * V), ef = rel(lf, rl, (size_t)T * V);
        int agree = 0, div = dp_test_greedy_diverges(gh, rid, rg, N, V, &agree);
        printf("dequant f16 vs the CPU reference: prompt logits rel err %.2e (tol 2e-3; fused: %.2e), greedy agree %d/%d\n", e1,
               ef, agree, N);
        CHECK(e1 <= 2e-3 && e1 > 0, "dequant f16 vs the CPU reference: %.3e", e1);
        CHECK(ef <= 1e-4, "fused vs the CPU reference: %.3e", ef);
        CHECK(div < 0, "dequant f16 greedy ids diverge from the reference at %d", div);
        CHECK(c.weight_bytes < b.weight_bytes, "f16 expansion smaller than f32");
      } else CHECK(0, "reference: %s", dp_error_message());
      dp_free(rl);
      dp_free(rg);
    } else {
      CHECK(!strcmp(c.compute_precision_from, "fallback: no shader-f16"), "f16 fallback reported: %s", c.compute_precision_from);
      printf("adapter without shader-f16: f16 fell back to f32\n");
    }
  }
  dp_free(lf);
  dp_free(ld);
  dp_free(lh);
}

static void golden_checks(void) {
  char dir[] = "/tmp/dp_overrides_XXXXXX", out[300];
  if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
  snprintf(out, sizeof out, "%s/llama2-q4_k.gguf", dir);
  dp_convert_opts o = {.quant = "q4_k"};
  int level = dp_log_level();
  dp_log_set_level(DP_LOG_ERROR); /* the converter's per-tensor fallback notices */
  dp_status st = dp_convert(dp_test_shared("fixtures/golden/llama2"), out, &o);
  dp_log_set_level(level);
  CHECK(!st, "convert llama2 -> q4_k: %s", dp_error_message());
  enum { T = 40 };
  int32_t ids[T];
  for (int i = 0; i < T; i++) ids[i] = (int32_t)(dp_test_rand_u32() % 200u);
  dp_model_info a, b;
  int V = 0;
  float *lf = dp_malloc((size_t)T * 32768 * sizeof *lf), *ld = dp_malloc((size_t)T * 32768 * sizeof *ld);
  uint64_t fused_q4k = 0;
  if (!st && lf && ld && !run(out, 0, 0, ids, T, 0, lf, NULL, &a, &V) && (fused_q4k = q4k_runs, 1) &&
      !run(out, DP_Q4K_DEQUANT, 0, ids, T, 0, ld, NULL, &b, &V)) {
    double e = rel(ld, lf, (size_t)T * V);
    printf("golden llama2 as q4_k: dequant f32 vs fused: rel err %.2e (tol 1e-4); weights %llu -> %llu bytes\n", e,
           (unsigned long long)a.weight_bytes, (unsigned long long)b.weight_bytes);
    CHECK(!strcmp(a.q4k_matmul, "fused") && !strcmp(a.q4k_matmul_from, "default"), "GGUF: default fused: %s", a.q4k_matmul_from);
    CHECK(!strcmp(b.compute_precision, "f32") && !strcmp(b.compute_precision_from, "default"), "GGUF: default f32");
    CHECK(b.weight_bytes > a.weight_bytes, "dequant expanded a Q4_K matrix");
    CHECK(fused_q4k > 0 && q4k_runs == 0, "Q4_K kernels: fused %llu dispatches, dequant %llu", (unsigned long long)fused_q4k,
          (unsigned long long)q4k_runs);
    CHECK(e <= 1e-4, "golden llama2 q4_k: dequant vs fused %.3e", e);
  }
  dp_free(lf);
  dp_free(ld);
  unlink(out);
  rmdir(dir);
}

/* --compute-precision f16 on an f32 checkpoint (its matrices stored as f16): the golden llama3
 * prompt logits against HF's float64 reference within 3e-3 (f32: 1e-4, the fixtures' rule). */
static void golden_f16_checks(void) {
  char gpath[1100], dir[1024];
  snprintf(dir, sizeof dir, "%s", dp_test_shared("fixtures/golden/llama3"));
  snprintf(gpath, sizeof gpath, "%s/golden.safetensors", dir);
  dp_safetensors *g = NULL;
  dp_status st = dp_safetensors_open(gpath, &g);
  CHECK(!st, "%s: %s", gpath, dp_error_message());
  if (st) return;
  const dp_st_tensor *ti = dp_safetensors_find(g, "input_ids"), *tl = dp_safetensors_find(g, "logits");
  CHECK(ti && tl, "golden tensors");
  if (!ti || !tl) { dp_safetensors_free(g); return; }
  int T = (int)(ti->nbytes / 4);
  const int32_t *ids = (const int32_t *)(g->map.data + ti->offset);
  const float *ref = (const float *)(g->map.data + tl->offset);
  size_t n = tl->nbytes / 4;
  float *l32 = dp_malloc(n * sizeof *l32), *l16 = dp_malloc(n * sizeof *l16);
  dp_model_info a, b;
  int V = 0;
  if (l32 && l16 && !run(dir, 0, DP_PRECISION_F32, ids, T, 0, l32, NULL, &a, &V) &&
      !run(dir, 0, DP_PRECISION_F16, ids, T, 0, l16, NULL, &b, &V) && (size_t)T * V == n) {
    double e32 = rel(l32, ref, n), e16 = rel(l16, ref, n);
    if (!strcmp(b.compute_precision, "f16")) {
      printf("golden llama3 (f32 weights): f16 vs HF reference rel err %.2e (tol 3e-3), f32 %.2e (tol 1e-4); weights %llu -> %llu bytes\n",
             e16, e32, (unsigned long long)a.weight_bytes, (unsigned long long)b.weight_bytes);
      CHECK(e16 <= 3e-3 && e16 > e32, "f16 weights vs the reference: %.3e (f32 %.3e)", e16, e32);
      CHECK(b.weight_bytes * 10 < a.weight_bytes * 6, "f16 halves the matrices: %llu vs %llu bytes",
            (unsigned long long)b.weight_bytes, (unsigned long long)a.weight_bytes);
    } else {
      CHECK(!memcmp(l16, l32, n * sizeof *l16), "f16 fell back to f32: same logits");
    }
    CHECK(e32 <= 1e-4, "f32 vs the reference: %.3e", e32);
  }
  dp_free(l32);
  dp_free(l16);
  dp_safetensors_free(g);
}

int main(void) {
  parse_checks();
  golden_f16_checks();
  tiny_checks();
  golden_checks();
  return dp_test_summary("gpu_overrides");
}
