/* test_format_synth.c -- synthetic checkpoints (src/format/synth.c) without a GPU:
 * * every architecture, in both config forms, opens as an HF directory whose plan passes
 *   dp_plan_check, and the old and new forms of the same options give identical hparams
 *   (compared through their lossless JSON form) -- with shapes where the old form drops
 *   num_key_value_heads (MHA) and head_dim (= hidden/heads) and where it must keep them;
 * * the intended quirks land: Gemma's local/global layers and RoPE, query_pre_attn_scalar,
 *   mistral's window on every layer, llama3 RoPE scaling, tied/untied outputs;
 * * determinism (same options, same bytes), a new seed gives new weights, an f16 model is the
 *   f32 model rounded, and weight scales are as documented;
 * * refusals: bad options (DP_ERR_INVALID_ARG naming the flag), a directory that is not a
 *   synthetic model is left untouched, a missing parent gives DP_ERR_IO, an existing synthetic
 *   model is replaced; allocation failures return DP_ERR_NOMEM and leave no output behind. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "format/model_file.h"
#include "format/synth.h"
#include "model/plan.h"
#include "quant/quant.h"
#include "testlib.h"

static char g_base[256];

static const char *path_in(const char *name) {
  static char p[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", g_base, name);
  return p[k];
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d) closedir(d);
  return n;
}

static dp_synth_opts opts(const char *arch) {
  dp_synth_opts o = {0};
  o.arch = arch, o.window = -1, o.seed = 7, o.dtype = DP_F32;
  return o;
}

/* hparams of a written model as JSON (dp_free it), NULL on failure; *plan_ok from dp_plan_check */
static char *hparams_json(const char *dir, int *plan_ok, dp_hparams *hp_out) {
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(dir, &mf);
  CHECK(!st, "%s: open: %s", dir, dp_error_message());
  if (st) return NULL;
  dp_plan *p = NULL;
  st = dp_plan_build(dp_model_file_hparams(mf), &p);
  if (!st) st = dp_plan_check(p, mf);
  *plan_ok = !st;
  CHECK(!st, "%s: plan: %s", dir, dp_error_message());
  dp_plan_free(p);
  dp_buf b = {0};
  dp_hparams_to_json(dp_model_file_hparams(mf), &b);
  if (hp_out) *hp_out = *dp_model_file_hparams(mf);
  dp_model_file_close(mf);
  return b.data;
}

static void forms(const char *arch, int vocab, int d, int heads, int kv, int hd, int ff, int layers, int window) {
  dp_synth_opts o = opts(arch);
  o.vocab = vocab, o.d_model = d, o.n_heads = heads, o.n_kv_heads = kv, o.head_dim = hd, o.d_ff = ff, o.n_layers = layers;
  if (window >= 0) o.window = window;
  char *js[2] = {0};
  dp_hparams hp;
  for (int f = 0; f < 2; f++) {
    o.old_form = f;
    const char *dir = path_in(f ? "old" : "new");
    dp_status st = dp_synth_write(&o, dir);
    CHECK(!st, "%s form %d: %s", arch, f, dp_error_message());
    int ok = 0;
    if (!st) js[f] = hparams_json(dir, &ok, &hp);
    if (f && js[1]) { /* what the old form leaves out really is left out */
      char *cfg = NULL;
      size_t n;
      char cp[600];
      snprintf(cp, sizeof cp, "%s/config.json", dir);
      if (!dp_file_read_all(cp, &cfg, &n)) {
        CHECK(!strstr(cfg, "rope_parameters") && strstr(cfg, "torch_dtype") && !strstr(cfg, "layer_types"), "%s: old form keys", arch);
        /* left out exactly where HF's default gives the value: LlamaConfig's heads and hidden / heads,
         * Gemma3TextConfig's 4 and 256; Mistral and Qwen3 configs always carry both */
        int llama = !strcmp(arch, "llama") || !strcmp(arch, "llama2"), gemma = !strcmp(arch, "gemma3");
        int kv_dflt = llama ? hp.n_heads : gemma ? 4 : -1, hd_dflt = llama ? hp.d_model / hp.n_heads : gemma ? 256 : -1;
        CHECK(!!strstr(cfg, "num_key_value_heads") == (hp.n_kv_heads != kv_dflt), "%s: old form num_key_value_heads", arch);
        CHECK(!!strstr(cfg, "\"head_dim\"") == (hp.head_dim != hd_dflt), "%s: old form head_dim", arch);
      }
      dp_free(cfg);
    }
  }
  CHECK(js[0] && js[1] && !strcmp(js[0], js[1]), "%s: old and new forms differ:\n new %s\n old %s", arch, js[0] ? js[0] : "-",
        js[1] ? js[1] : "-");
  if (js[0]) { /* the shape asked for */
    CHECK(hp.vocab_size == o.vocab && hp.d_model == d && hp.n_heads == heads && hp.head_dim == (hd ? hd : d / heads) &&
              hp.d_ff == ff && hp.n_layers == layers && (!kv || hp.n_kv_heads == kv),
          "%s: sizes", arch);
    if (!strcmp(arch, "gemma3")) {
      int pat = layers < 6 ? layers : 6, good = 1;
      for (int i = 0; i < layers; i++) good &= hp.layer_sliding[i] == ((i + 1) % pat != 0);
      CHECK(good && hp.sliding_window == (window >= 0 ? window : 8), "gemma3: layer kinds / window");
      CHECK(hp.rope.type == DP_ROPE_LINEAR && hp.rope.factor == 8 && hp.rope.theta == 1e6 && hp.rope_local.type == DP_ROPE_DEFAULT &&
                hp.rope_local.theta == 1e4, "gemma3: rope");
      CHECK(fabs(hp.attn_scale - 1 / sqrt((double)(d / heads))) < 1e-15, "gemma3: attn scale %g", hp.attn_scale);
      CHECK(hp.tie_embeddings && hp.norm_plus_one && hp.sandwich_norm && hp.qk_norm, "gemma3: flags");
    } else if (!strcmp(arch, "mistral")) {
      int all = 1;
      for (int i = 0; i < layers; i++) all &= hp.layer_sliding[i] || !window;
      CHECK(hp.sliding_window == (window >= 0 ? window : 16) && all && !hp.tie_embeddings, "mistral: window");
    } else if (!strcmp(arch, "llama")) {
      CHECK(hp.rope.type == DP_ROPE_LLAMA3 && hp.rope.factor == 32 && hp.rope.original_max_pos == 64 && hp.tie_embeddings,
            "llama: llama3 rope, tied");
    } else if (!strcmp(arch, "llama2")) {
      CHECK(hp.rope.type == DP_ROPE_DEFAULT && !hp.tie_embeddings && hp.n_kv_heads == hp.n_heads, "llama2: MHA, untied");
    } else if (!strcmp(arch, "qwen3")) {
      CHECK(hp.qk_norm && !hp.sliding_window && hp.tie_embeddings, "qwen3: qk norm, no window");
    }
  }
  dp_free(js[0]);
  dp_free(js[1]);
  dp_test_rm_synth(path_in("new"));
  dp_test_rm_synth(path_in("old"));
}

static int files_equal(const char *a, const char *b) {
  char *x = NULL, *y = NULL;
  size_t nx = 0, ny = 0;
  int eq = !dp_file_read_all(a, &x, &nx) && !dp_file_read_all(b, &y, &ny) && nx == ny && !memcmp(x, y, nx);
  dp_free(x);
  dp_free(y);
  return eq;
}

static float *read_tensor(const char *dir, const char *name, uint64_t *n) {
  dp_model_file *mf = NULL;
  if (dp_model_file_open(dir, &mf)) return NULL;
  const dp_tensor_info *t = dp_model_file_find(mf, name);
  float *f = t ? dp_malloc(dp_tensor_nelems(t) * sizeof *f) : NULL;
  if (f && dp_model_file_read_f32(mf, t, f)) { dp_free(f); f = NULL; }
  if (f) *n = dp_tensor_nelems(t);
  dp_model_file_close(mf);
  return f;
}

static void stats(const float *f, uint64_t n, double *mean, double *sd) {
  double s = 0, s2 = 0;
  for (uint64_t i = 0; i < n; i++) s += f[i], s2 += (double)f[i] * f[i];
  *mean = s / n;
  *sd = sqrt(s2 / n - *mean * *mean);
}

static void weights(void) {
  dp_synth_opts o = opts("qwen3");
  o.vocab = 301, o.d_model = 75, o.n_heads = 3, o.n_kv_heads = 1, o.head_dim = 26, o.d_ff = 131;
  const char *a = path_in("a"), *b = path_in("b"), *c = path_in("c");
  CHECK(!dp_synth_write(&o, a) && !dp_synth_write(&o, b), "write: %s", dp_error_message());
  char pa[600], pb[600];
  snprintf(pa, sizeof pa, "%s/model.safetensors", a);
  snprintf(pb, sizeof pb, "%s/model.safetensors", b);
  CHECK(files_equal(pa, pb), "same seed, different weights");
  o.seed = 8;
  CHECK(!dp_synth_write(&o, b), "write: %s", dp_error_message());
  CHECK(!files_equal(pa, pb), "another seed, same weights");
  o.seed = 7, o.dtype = DP_F16;
  CHECK(!dp_synth_write(&o, c), "write f16: %s", dp_error_message());
  uint64_t n = 0, n16 = 0;
  float *w = read_tensor(a, "model.layers.1.mlp.down_proj.weight", &n), *w16 = read_tensor(c, "model.layers.1.mlp.down_proj.weight", &n16);
  int same = w && w16 && n == n16 && n == 75 * 131;
  for (uint64_t i = 0; same && i < n; i++) same = w16[i] == dp_f16_to_f32(dp_f32_to_f16(w[i]));
  CHECK(same, "the f16 model is not the f32 model rounded");
  double m, sd;
  if (w) {
    stats(w, n, &m, &sd);
    CHECK(fabs(m) < 0.01 && fabs(sd * sqrt(131.0) - 1) < 0.05, "down_proj: mean %g, std %g (1/sqrt(131) expected)", m, sd);
  }
  dp_free(w);
  dp_free(w16);
  float *e = read_tensor(a, "model.embed_tokens.weight", &n);
  if (e) {
    stats(e, n, &m, &sd);
    CHECK(fabs(sd * sqrt(75.0) / 2 - 1) < 0.05, "embedding std %g (2/sqrt(75) expected)", sd);
  }
  dp_free(e);
  float *nw = read_tensor(a, "model.layers.0.self_attn.k_norm.weight", &n);
  if (nw) {
    stats(nw, n, &m, &sd);
    CHECK(n == 26 && fabs(m - 1) < 0.1 && sd > 0.03 && sd < 0.3, "k_norm: mean %g std %g", m, sd);
  }
  dp_free(nw);
  dp_test_rm_synth(a);
  dp_test_rm_synth(b);
  dp_test_rm_synth(c);
}

static void refusals(void) {
  struct { const char *arch; int heads, kv, hd, window, vocab; dp_dtype dt; const char *needle; } bad[] = {
    {"gpt2", 4, 0, 0, -1, 512, DP_F32, "--arch"},
    {"llama", 4, 3, 0, -1, 512, DP_F32, "--kv-heads"},
    {"llama", 4, 0, 33, -1, 512, DP_F32, "--head-dim"},
    {"llama2", 4, 2, 0, -1, 512, DP_F32, "--kv-heads"},
    {"llama", 4, 0, 0, 8, 512, DP_F32, "--window"},
    {"qwen3", 4, 0, 0, 8, 512, DP_F32, "--window"},
    {"gemma3", 4, 0, 0, 0, 512, DP_F32, "--window"},
    {"mistral", 4, 0, 0, -1, 2, DP_F32, "--vocab"},
    {"mistral", 4, 0, 0, -1, 512, DP_Q8_0, "--dtype"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dp_synth_opts o = opts(bad[i].arch);
    o.n_heads = bad[i].heads, o.n_kv_heads = bad[i].kv, o.head_dim = bad[i].hd, o.window = bad[i].window, o.vocab = bad[i].vocab;
    o.dtype = bad[i].dt;
    dp_status st = dp_synth_write(&o, path_in("bad"));
    CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), bad[i].needle), "case %zu: %d %s", i, (int)st, dp_error_message());
    CHECK(!dp_file_exists(path_in("bad")) && !dp_is_dir(path_in("bad")), "case %zu: output written", i);
  }
  /* a directory holding something else is not touched */
  const char *other = path_in("other");
  mkdir(other, 0755);
  char keep[600];
  snprintf(keep, sizeof keep, "%s/notes.txt", other);
  dp_file_write_atomic(keep, "x", 1);
  dp_synth_opts o = opts("mistral");
  dp_status st = dp_synth_write(&o, other);
  CHECK(st == DP_ERR_INVALID_ARG && count_entries(other) == 1, "foreign dir: %d %s", (int)st, dp_error_message());
  unlink(keep);
  /* nor is a real checkpoint's directory (the same two file names, no synth marker) */
  snprintf(keep, sizeof keep, "%s/config.json", other);
  dp_file_write_atomic(keep, "{\"model_type\": \"llama\"}", 24);
  char keep2[600];
  snprintf(keep2, sizeof keep2, "%s/model.safetensors", other);
  dp_file_write_atomic(keep2, "12345678", 8);
  st = dp_synth_write(&o, other);
  uint64_t sz = 0;
  CHECK(st == DP_ERR_INVALID_ARG && !dp_file_size(keep, &sz) && sz == 24, "real checkpoint dir: %d %s", (int)st, dp_error_message());
  unlink(keep);
  unlink(keep2);
  rmdir(other);
  /* a missing parent: an I/O error and nothing written */
  st = dp_synth_write(&o, path_in("no/such/dir"));
  CHECK(st == DP_ERR_IO, "missing parent: %d %s", (int)st, dp_error_message());
  /* an empty directory and an earlier synthetic model are replaced */
  const char *d = path_in("m");
  mkdir(d, 0755);
  CHECK(!dp_synth_write(&o, d), "into an empty dir: %s", dp_error_message());
  o.arch = "gemma3", o.window = 3;
  CHECK(!dp_synth_write(&o, d), "over a synthetic model: %s", dp_error_message());
  int ok;
  dp_hparams hp;
  char *js = hparams_json(d, &ok, &hp);
  CHECK(js && hp.arch == DP_ARCH_GEMMA3 && hp.sliding_window == 3, "replaced model is not the new one");
  dp_free(js);
  dp_test_rm_synth(d);
  CHECK(count_entries(g_base) == 0, "temporary files left in %s", g_base);
}

static void alloc_failures(void) {
  dp_synth_opts o = opts("gemma3");
  o.n_layers = 3;
  int done = 0;
  for (long n = 0; n < 200 && !done; n++) {
    dp_alloc_fail_after(n, 1);
    dp_status st = dp_synth_write(&o, path_in("oom"));
    dp_alloc_fail_after(-1, 0);
    if (!st) done = 1;
    else {
      CHECK(st == DP_ERR_NOMEM, "allocation %ld: %d %s", n, (int)st, dp_error_message());
      CHECK(count_entries(g_base) == 0, "allocation %ld: output left behind", n);
    }
  }
  CHECK(done, "never succeeded");
  dp_test_rm_synth(path_in("oom"));
}

int main(void) {
  snprintf(g_base, sizeof g_base, "%s/dp_synth_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_base)) { perror("mkdtemp"); return 1; }
  forms("llama", 1000, 200, 5, 1, 40, 344, 2, -1);
  forms("llama", 512, 128, 4, 2, 0, 256, 3, -1);      /* head_dim = hidden / heads: dropped by the old form */
  forms("llama2", 700, 240, 3, 0, 80, 500, 2, -1);    /* MHA: num_key_value_heads dropped */
  forms("llama2", 700, 240, 3, 3, 64, 500, 2, -1);    /* head_dim != hidden / heads: kept */
  forms("mistral", 517, 96, 4, 2, 24, 200, 2, 5);
  forms("mistral", 517, 96, 4, 2, 24, 200, 2, 0);     /* sliding_window null */
  forms("qwen3", 999, 216, 3, 1, 72, 300, 2, -1);
  forms("gemma3", 777, 160, 4, 2, 48, 312, 2, 7);
  forms("gemma3", 777, 160, 4, 1, 48, 312, 7, -1);    /* pattern 6: layer 5 global, 6 local */
  weights();
  refusals();
  alloc_failures();
  rmdir(g_base);
  return dp_test_summary("test_format_synth");
}
