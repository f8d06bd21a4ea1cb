/* gpu_golden.c -- the HF golden fixtures (../shared/fixtures/golden/) through the GPU runtime:
 * llama3, llama2, mistral, qwen3, gemma3, mixtral, gptoss (MoE: routing on the GPU). For each: the prompt's logits at every position
 * (one prefill pass) and the greedy continuation of 24 tokens through the KV cache with EOS
 * never chosen -- ids compared by the README rule (a different choice is accepted only where
 * the reference's top-2 margin is below 1e-3 * max(1, |top|), and the comparison stops there),
 * decode logits over the agreeing steps -- both within 1e-4 relative (Frobenius) error.
 * The ids are also produced by the batched decode loop (8 steps per submit, no logits read
 * back) and must equal the step-by-step ones. A third pass uses small prefill chunks (8
 * tokens) so the prompt takes several passes and sliding-window layers (mistral 16, gemma3 8)
 * run on ring caches smaller than the sequence. Every model also runs with the GPU kernel
 * family (on CPU adapters the CPU family is the default): the golden prompt against the
 * reference (MoE: the tiled prefill over pairs grouped by expert), then the prompt twice (80
 * rows: matmul_tiled128, attention_fa over two query blocks) against the CPU family's logits
 * of the same tokens (1e-4); the greedy decode's logits against the reference (decode on the GPU
 * family: split attention, the two-pass sampler, rope_kv_norm). Runs on lavapipe and SwiftShader in CI. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/alloc.h"
#include "core/error.h"
#include "doppler.h"
#include "format/safetensors.h"
#include "testlib.h"

/* the prefill kernels' dispatches in the 2T-token runs, over all architectures (a fixture whose
 * matrices have K % 32 != 0, qwen3's, runs tiled64 instead) */
static uint64_t total128, totalfa;

/* dispatches recorded so far by the variants whose names start with prefix */
static uint64_t runs_of(const dp_ops *o, const char *prefix) {
  uint64_t n = 0;
  dp_kernel_variant e;
  for (size_t i = 0; i < dp_kernel_variant_count(); i++)
    if (!dp_kernel_variant_get(i, &e) && !strncmp(e.name, prefix, strlen(prefix))) n += dp_ops_variant_runs(o, i);
  return n;
}

static const float *tensor(const dp_safetensors *st, const char *name, uint64_t *n) {
  const dp_st_tensor *t = dp_safetensors_find(st, name);
  if (!t) return NULL;
  *n = t->nbytes / 4;
  return (const float *)(st->map.data + t->offset);
}

static void golden(const char *arch) {
  char dir[1024], gpath[1100];
  snprintf(dir, sizeof dir, "%s", dp_test_shared("fixtures/golden"));
  size_t dl = strlen(dir);
  snprintf(dir + dl, sizeof dir - dl, "/%s", arch);
  snprintf(gpath, sizeof gpath, "%s/golden.safetensors", dir);
  dp_safetensors *g = NULL;
  dp_status st = dp_safetensors_open(gpath, &g);
  CHECK(!st, "%s: %s", arch, dp_error_message());
  if (st) return;
  uint64_t n_in = 0, n_lg = 0, n_gen = 0, n_gl = 0;
  const int32_t *in = (const int32_t *)tensor(g, "input_ids", &n_in);
  const float *ref_logits = tensor(g, "logits", &n_lg);
  const int32_t *ref_gen = (const int32_t *)tensor(g, "gen_ids", &n_gen);
  const float *ref_gl = tensor(g, "gen_logits", &n_gl);
  CHECK(in && ref_logits && ref_gen && ref_gl, "%s: golden tensors missing", arch);
  if (!in || !ref_logits || !ref_gen || !ref_gl) { dp_safetensors_free(g); return; }
  dp_model *m = NULL;
  dp_session *s = NULL;
  st = dp_model_load(dir, NULL, &m);
  if (!st) st = dp_session_create(m, NULL, &s);
  CHECK(!st, "%s: load: %s", arch, dp_error_message());
  if (st) { dp_model_free(m); dp_safetensors_free(g); return; }
  dp_model_info mi;
  dp_model_get_info(m, &mi);
  int T = (int)n_in, N = (int)n_gen, V = mi.vocab_size;
  CHECK(n_lg == (uint64_t)T * (uint64_t)V, "%s: vocab %d vs golden logits of %llu", arch, V, (unsigned long long)n_lg);
  float *logits = dp_malloc((size_t)T * (size_t)V * sizeof *logits);
  float *gl = dp_malloc((size_t)N * (size_t)V * sizeof *gl);
  int32_t gen[64], gen2[64];
  /* poison: a missing write shows up as NaN */
  memset(logits, 0xff, (size_t)T * (size_t)V * sizeof *logits);
  memset(gl, 0xff, (size_t)N * (size_t)V * sizeof *gl);
  st = dp_session_eval(s, in, (size_t)T, logits);
  if (!st) st = dp_session_greedy(s, (size_t)N, gen, gl);
  CHECK(!st, "%s: run: %s", arch, dp_error_message());
  if (!st) {
    double e1 = dp_test_rel_err(logits, ref_logits, (size_t)T * (size_t)V);
    int agree, bad = dp_test_greedy_diverges(gen, ref_gen, ref_gl, N, V, &agree);
    double e2 = agree ? dp_test_rel_err(gl, ref_gl, (size_t)agree * (size_t)V) : 0;
    printf("%-8s prefill rel %.2e, greedy %d/%d same, decode rel %.2e\n", arch, e1, agree, N, e2);
    CHECK(e1 <= 1e-4, "%s: prefill logits rel err %.3e > 1e-4", arch, e1);
    CHECK(bad < 0, "%s: greedy id %d differs at step %d (%d vs %d) with a clear margin", arch, bad, bad,
          bad >= 0 ? gen[bad] : 0, bad >= 0 ? ref_gen[bad] : 0);
    CHECK(e2 <= 1e-4, "%s: decode logits rel err %.3e > 1e-4", arch, e2);
    /* batched decode loop, ids only */
    dp_session_reset(s);
    st = dp_session_eval(s, in, (size_t)T, NULL);
    if (!st) st = dp_session_greedy(s, (size_t)N, gen2, NULL);
    CHECK(!st && !memcmp(gen, gen2, (size_t)N * sizeof *gen), "%s: batched greedy differs: %s", arch,
          st ? dp_error_message() : "ids");
    /* chunked prefill, ring caches for sliding windows */
    dp_rt_session *rs = NULL;
    st = dp_rt_session_create(m->rt, 0, 8, 4, &rs);
    memset(logits, 0xff, (size_t)T * (size_t)V * sizeof *logits);
    if (!st) st = dp_rt_eval(rs, in, (size_t)T, logits);
    if (!st) st = dp_rt_greedy(rs, (size_t)N, gen2, NULL);
    CHECK(!st, "%s: chunked: %s", arch, dp_error_message());
    if (!st) {
      double e3 = dp_test_rel_err(logits, ref_logits, (size_t)T * (size_t)V);
      uint32_t mincap = rs->cap[0];
      for (int l = 1; l < m->rt->plan->n_layers; l++) mincap = rs->cap[l] < mincap ? rs->cap[l] : mincap;
      printf("%-8s chunk 8: prefill rel %.2e, smallest KV cache %u slots for %d positions\n", arch, e3, mincap, T + N);
      CHECK(e3 <= 1e-4, "%s: chunked prefill rel err %.3e", arch, e3);
      CHECK(!memcmp(gen, gen2, (size_t)N * sizeof *gen), "%s: chunked/ring greedy ids differ", arch);
    }
    dp_rt_session_free(rs);
    /* The GPU kernel family on every architecture (the CPU adapter's default is the CPU family):
     * the golden prompt (T = 40: attention_fa for the prefill; MoE: the tiled prefill over pairs
     * grouped by expert), then the prompt twice (2T = 80 rows: matmul_tiled128, attention_fa
     * over two query blocks) against the CPU family's logits of the same 80 tokens. */
    int cpu_family = !strcmp(dp_gpu_get_info(m->rt->gpu)->adapter_type, "cpu");
    dp_ops_set_cpu_kernels(m->rt->ops, 0);
    dp_session_reset(s);
    memset(logits, 0xff, (size_t)T * (size_t)V * sizeof *logits);
    memset(gl, 0xff, (size_t)N * (size_t)V * sizeof *gl);
    st = dp_session_eval(s, in, (size_t)T, logits);
    if (!st) st = dp_session_greedy(s, (size_t)N, gen2, gl);
    CHECK(!st, "%s: gpu kernel family: %s", arch, dp_error_message());
    double e4 = st ? 1 : dp_test_rel_err(logits, ref_logits, (size_t)T * (size_t)V);
    double e6 = st || !agree ? 0 : dp_test_rel_err(gl, ref_gl, (size_t)agree * (size_t)V);
    printf("%-8s gpu kernel family: prefill rel %.2e, decode rel %.2e\n", arch, e4, e6);
    CHECK(e4 <= 1e-4, "%s: gpu kernel family prefill rel err %.3e", arch, e4);
    CHECK(e6 <= 1e-4, "%s: gpu kernel family decode rel err %.3e", arch, e6);
    CHECK(!st && !memcmp(gen, gen2, (size_t)N * sizeof *gen), "%s: gpu kernel family greedy ids differ", arch);
    int32_t in2[128];
    size_t T2 = 2 * (size_t)T <= 128 ? 2 * (size_t)T : 128;
    for (size_t i = 0; i < T2; i++) in2[i] = in[i % (size_t)T];
    float *l2 = dp_malloc(T2 * (size_t)V * sizeof *l2), *l2ref = dp_malloc(T2 * (size_t)V * sizeof *l2ref);
    CHECK(l2 && l2ref, "%s: out of memory", arch);
    double e5 = 1;
    if (l2 && l2ref) {
      memset(l2, 0xff, T2 * (size_t)V * sizeof *l2);
      memset(l2ref, 0xff, T2 * (size_t)V * sizeof *l2ref);
      dp_session_reset(s);
      uint64_t r128 = runs_of(m->rt->ops, "matmul_tiled128_"), rfa = runs_of(m->rt->ops, "attention_fa");
      st = dp_session_eval(s, in2, T2, l2);
      r128 = runs_of(m->rt->ops, "matmul_tiled128_") - r128, rfa = runs_of(m->rt->ops, "attention_fa") - rfa;
      printf("%-8s %zu tokens, gpu family: matmul_tiled128 %llu dispatches, attention_fa %llu\n", arch, T2,
             (unsigned long long)r128, (unsigned long long)rfa);
      total128 += r128, totalfa += rfa;
      dp_ops_set_cpu_kernels(m->rt->ops, 1);
      dp_session_reset(s);
      if (!st) st = dp_session_eval(s, in2, T2, l2ref);
      CHECK(!st, "%s: %zu tokens: %s", arch, T2, dp_error_message());
      if (!st) e5 = dp_test_rel_err(l2, l2ref, T2 * (size_t)V);
      CHECK(e5 <= 1e-4, "%s: gpu kernel family at %zu tokens: rel err %.3e against the cpu family", arch, T2, e5);
    }
    printf("%-8s gpu kernel family: prefill rel %.2e; %zu tokens rel %.2e against the cpu family\n", arch, e4, T2, e5);
    dp_free(l2);
    dp_free(l2ref);
    dp_ops_set_cpu_kernels(m->rt->ops, cpu_family);
  }
  dp_free(logits);
  dp_free(gl);
  dp_session_free(s);
  dp_model_free(m);
  dp_safetensors_free(g);
}

int main(int argc, char **argv) {
  const char *archs[] = {"llama3", "llama2", "mistral", "qwen3", "gemma3", "mixtral", "gptoss"};
  for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
    if (argc < 2 || !strcmp(argv[1], archs[i])) golden(archs[i]);
  CHECK(total128 > 0 && totalfa > 0, "the gpu family's prefill kernels did not run: matmul_tiled128 %llu, attention_fa %llu",
        (unsigned long long)total128, (unsigned long long)totalfa);
  return dp_test_summary("gpu_golden");
}
