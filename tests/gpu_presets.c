/* gpu_presets.c -- the small presets of `doppler synth` (src/tools/synth.h) end to end on the
 * GPU: qwen3-0.6b, llama-3.2-1b and gemma-3-1b with their real config.json, vocabularies and
 * widths, cut to their first layer (gemma-3-1b: its first six, five local layers with a window
 * of 512 and one global layer, so both RoPE bases and both attention kinds run), bf16 weights as
 * the real checkpoints, no tokenizer (the model runs on ids). Each is loaded through the public
 * API as `doppler logits` does, an 8-token prompt prefilled and 3 tokens decoded greedily, and
 * compared with the CPU reference (src/ref/forward.c) by the fixture rules: Frobenius relative
 * error <= 1e-4 on the prompt logits and on the decode logits (f32 compute on both sides, the
 * same stored weights), greedy ids equal except past a top-2 margin below 1e-3 * max(1, |top|).
 * The logits must also be finite and not degenerate (standard deviation > 0.1 at every step).
 *
 * llama-3.2-1b is also written with --quant q4_k_m (one layer: its v_proj and down_proj are Q6_K
 * as the last layer's, the tied embedding Q6_K, the rest Q4_K): random blocks written directly by synth,
 * checked the same way, and written twice more to check that a seed gives the same bytes.
 *
 * These models have embeddings of 150-300 M bf16 values (311-604 MB), larger than lavapipe's
 * 128 MiB storage-binding limit: the runtime splits such tensors (another branch); on
 * SwiftShader (1 GiB bindings) they fit as they are. Argument: a preset name substring. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "doppler.h"
#include "format/model_file.h"
#include "tools/rdrr_write.h"
#include "tools/synth.h"
#include "ref/forward.h"
#include "testlib.h"

#define T_PROMPT 8
#define N_GEN 3

static const struct { const char *preset; int layers; const char *quant; } CASES[] = {
  {"qwen3-0.6b", 1, NULL},
  {"llama-3.2-1b", 1, NULL},
  {"gemma-3-1b", 6, NULL},
  {"llama-3.2-1b", 1, "q4_k_m"}, /* random Q4_K / Q6_K blocks written directly (synth --quant) */
};

/* 1 if every row of n x V logits is finite with a standard deviation above 0.1. */
static int sane(const float *x, int n, int V, double *min_sd) {
  *min_sd = 1e30;
  for (int t = 0; t < n; t++) {
    double s = 0, s2 = 0;
    for (int v = 0; v < V; v++) {
      double y = x[(size_t)t * V + v];
      if (!isfinite(y)) return 0;
      s += y, s2 += y * y;
    }
    double sd = sqrt(s2 / V - (s / V) * (s / V));
    if (sd < *min_sd) *min_sd = sd;
  }
  return *min_sd > 0.1;
}

static void rm_model(const char *dir, const char *quant) {
  if (quant) dp_rdrr_dir_remove(dir);
  else dp_test_rm_synth(dir);
}

/* synth --quant is deterministic: the same seed writes the same bytes (the manifest carries every
 * shard's SHA-256, checked against the shards), another seed other bytes. */
static void check_same_bytes(const dp_synth_opts *o, const char *dir, const char *base) {
  char d2[600], d3[600], m1[700], m2[700], m3[700];
  snprintf(d2, sizeof d2, "%s/again", base), snprintf(d3, sizeof d3, "%s/other", base);
  dp_synth_opts o3 = *o;
  o3.seed = o->seed + 1;
  dp_status st = dp_synth_write(o, d2);
  if (!st) st = dp_synth_write(&o3, d3);
  dp_model_file *mf = NULL;
  if (!st) st = dp_model_file_open(d2, &mf);
  if (!st) st = dp_model_file_verify(mf);
  dp_model_file_close(mf);
  CHECK(!st, "%s --quant %s: second write: %s", o->preset, o->quant, dp_error_message());
  snprintf(m1, sizeof m1, "%s/manifest.json", dir), snprintf(m2, sizeof m2, "%s/manifest.json", d2);
  snprintf(m3, sizeof m3, "%s/manifest.json", d3);
  char *a = NULL, *b = NULL, *c = NULL;
  size_t na = 0, nb = 0, nc = 0;
  int ok = !st && !dp_file_read_all(m1, &a, &na) && !dp_file_read_all(m2, &b, &nb) && !dp_file_read_all(m3, &c, &nc);
  CHECK(ok && na == nb && !memcmp(a, b, na), "%s --quant %s: the same seed wrote different bytes", o->preset, o->quant);
  CHECK(ok && (na != nc || memcmp(a, c, na)), "%s --quant %s: another seed wrote the same bytes", o->preset, o->quant);
  dp_free(a), dp_free(b), dp_free(c);
  dp_rdrr_dir_remove(d2);
  dp_rdrr_dir_remove(d3);
}

static void check_preset(const char *preset, int layers, const char *quant, const char *base) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/%s%s%s", base, preset, quant ? "-" : "", quant ? quant : "");
  dp_synth_opts o = {.preset = preset, .n_layers = layers, .window = -1, .seed = dp_test_rand_u32(), .dtype = DP_BF16,
                     .old_form = 1, .no_tokenizer = 1, .quant = quant};
  double t0 = dp_test_now();
  dp_status st = dp_synth_write(&o, dir);
  CHECK(!st, "%s: synth: %s", preset, dp_error_message());
  if (st) return;
  double t1 = dp_test_now();
  dp_model *m = NULL;
  dp_session *ses = NULL;
  dp_test_run ref = {0}, got = {0};
  int V = 0;
  st = dp_model_load(dir, NULL, &m);
  CHECK(!st, "%s: GPU load: %s", preset, dp_error_message());
  if (st) goto out;
  dp_model_info info;
  dp_model_get_info(m, &info);
  V = info.vocab_size;
  CHECK(!info.has_tokenizer, "%s: a tokenizer appeared", preset);
  int32_t tid[4];
  size_t tn = 0;
  CHECK(dp_tokenize(m, "hello", 0, tid, 4, &tn) == DP_ERR_UNSUPPORTED && strstr(dp_error_message(), "no tokenizer"),
        "%s: text without a tokenizer: %s", preset, dp_error_message());
  int32_t ids[T_PROMPT];
  for (int i = 0; i < T_PROMPT; i++) ids[i] = (int32_t)(dp_test_rand_u32() % (uint32_t)V);
  if (dp_test_run_alloc(&ref, T_PROMPT, N_GEN, V) || dp_test_run_alloc(&got, T_PROMPT, N_GEN, V)) { CHECK(0, "%s: out of memory", preset); goto out; }
  st = dp_session_create(m, NULL, &ses);
  if (!st) st = dp_session_eval(ses, ids, T_PROMPT, got.logits);
  if (!st) st = dp_session_greedy(ses, N_GEN, got.gen, got.gl);
  CHECK(!st, "%s: GPU: %s", preset, dp_error_message());
  double t2 = dp_test_now();
  dp_session_free(ses);
  ses = NULL;
  dp_model_free(m); /* before the reference: it holds every weight as f32 */
  m = NULL;
  if (st) goto out;
  st = dp_test_ref_greedy(dir, ids, T_PROMPT, N_GEN, ref.logits, ref.gen, ref.gl);
  CHECK(!st, "%s: CPU reference: %s", preset, dp_error_message());
  if (st) goto out;
  double e1 = dp_test_rel_err(got.logits, ref.logits, (size_t)T_PROMPT * (size_t)V), sd;
  int agree, bad = dp_test_greedy_diverges(got.gen, ref.gen, ref.gl, N_GEN, V, &agree);
  double e2 = agree ? dp_test_rel_err(got.gl, ref.gl, (size_t)agree * (size_t)V) : 0;
  int ok = sane(ref.logits, T_PROMPT, V, &sd) && sane(ref.gl, N_GEN, V, &sd);
  printf("%-13s %s %d layers, vocab %d: prefill rel %.2e, greedy %d/%d same, decode rel %.2e, min logit sd %.2f "
         "(synth %.1f s, GPU %.1f s, CPU %.1f s)\n", preset, quant ? quant : "bf16", layers, V, e1, agree, N_GEN, e2, sd, t1 - t0, t2 - t1, dp_test_now() - t2);
  CHECK(e1 <= 1e-4, "%s: prefill logits rel err %.3e > 1e-4", preset, e1);
  CHECK(bad < 0, "%s: greedy id differs at step %d with a clear margin", preset, bad);
  CHECK(e2 <= 1e-4, "%s: decode logits rel err %.3e > 1e-4", preset, e2);
  CHECK(ok, "%s: reference logits not finite or degenerate (min sd %.3g)", preset, sd);
  if (quant) check_same_bytes(&o, dir, base);
out:
  dp_session_free(ses);
  dp_model_free(m);
  dp_test_run_free(&ref);
  dp_test_run_free(&got);
  rm_model(dir, quant);
}

int main(int argc, char **argv) {
  char base[256];
  snprintf(base, sizeof base, "%s/dp_gpu_presets_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
  for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
    if (argc < 2 || strstr(CASES[i].preset, argv[1]) || (CASES[i].quant && strstr(CASES[i].quant, argv[1])))
      check_preset(CASES[i].preset, CASES[i].layers, CASES[i].quant, base);
  rmdir(base);
  return dp_test_summary("gpu_presets");
}
