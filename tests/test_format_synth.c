/* test_format_synth.c -- synthetic checkpoints (src/tools/synth.c) without a GPU:
 * * every architecture, in both config forms, opens as an HF directory whose plan passes
 *   dp_plan_check, and the old and new forms of the same options give identical hparams
 *   (compared through their lossless JSON form) -- with shapes where the old form drops
 *   num_key_value_heads (MHA) and head_dim (= hidden/heads) and where it must keep them;
 * * the intended quirks land: Gemma's local/global layers and RoPE, query_pre_attn_scalar,
 *   mistral's window on every layer, llama3 RoPE scaling, tied/untied outputs;
 * * determinism (same options, same bytes), a new seed gives new weights, an f16 model is the
 *   f32 model rounded, and weight scales are as documented;
 * * presets: every preset's config.json parses to the real checkpoint's hyper-parameters (a table
 *   written here from the HF config.json files, independent of synth.c's), and its tensors have
 *   the real checkpoint's names, shapes and parameter count; at full size each is checked through
 *   the real loader (config.json + a sparse model.safetensors: header, then a hole) and
 *   dp_plan_check, and a --layers cut keeps Gemma's local/global pattern and the shapes;
 * * Gemma 3 multimodal layouts (Gemma3ForConditionalGeneration, text_config, the hub's
 *   `language_model.model.*` and transformers-5's `model.language_model.*` names, vision tower
 *   and projector tensors beside them) load as the same text model as Gemma3ForCausalLM: same
 *   hparams, tensors and CPU-reference logits; converted to RDRR and GGUF they stay that model;
 * * a preset written with --tokenizer carries that tokenizer.json; --quant writes an RDRR model;
 * * --quant's random blocks (synth_blocks.c): the same bytes however the rows are split among
 *   threads, each type's spread as documented; small llama / gemma3 / mixtral / gpt_oss models
 *   written with q4_k_m, q8_0 and mxfp4 have the expected tensor types and sane CPU-reference
 *   logits, and RDRR and GGUF outputs of a seed are the same model;
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
#include "tools/convert.h"
#include "format/hparams.h"
#include "format/model_file.h"
#include "format/safetensors.h"
#include "core/json.h"
#include "ref/forward.h"
#include <fcntl.h>
#include "tools/rdrr_write.h"
#include "tools/synth.h"
#include "tools/synth_rng.h"
#include "model/plan.h"
#include "quant/quant.h"
#include "testlib.h"

static const char *g_base; /* the scratch folder (dp_test_tmp_open) */

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
    const char *dir = dp_test_tmp(f ? "old" : "new");
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
  dp_test_rm_synth(dp_test_tmp("new"));
  dp_test_rm_synth(dp_test_tmp("old"));
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
  const char *a = dp_test_tmp("a"), *b = dp_test_tmp("b"), *c = dp_test_tmp("c");
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
    dp_status st = dp_synth_write(&o, dp_test_tmp("bad"));
    CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), bad[i].needle), "case %zu: %d %s", i, (int)st, dp_error_message());
    CHECK(!dp_file_exists(dp_test_tmp("bad")) && !dp_is_dir(dp_test_tmp("bad")), "case %zu: output written", i);
  }
  /* a directory holding something else is not touched */
  const char *other = dp_test_tmp("other");
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
  st = dp_synth_write(&o, dp_test_tmp("no/such/dir"));
  CHECK(st == DP_ERR_IO, "missing parent: %d %s", (int)st, dp_error_message());
  /* an empty directory and an earlier synthetic model are replaced */
  const char *d = dp_test_tmp("m");
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
    dp_status st = dp_synth_write(&o, dp_test_tmp("oom"));
    dp_alloc_fail_after(-1, 0);
    if (!st) done = 1;
    else {
      CHECK(st == DP_ERR_NOMEM, "allocation %ld: %d %s", n, (int)st, dp_error_message());
      CHECK(count_entries(g_base) == 0, "allocation %ld: output left behind", n);
    }
  }
  CHECK(done, "never succeeded");
  dp_test_rm_synth(dp_test_tmp("oom"));
}

/* ---------------------------------------------------------------- presets */

/* The real checkpoints, from their config.json on the hub (written here independently of
 * synth.c's table): sizes, RoPE, window, ids, and the parameter count of the safetensors. */
typedef struct real_ckpt {
  const char *preset;
  dp_arch arch;
  int L, d, H, KV, hd, ff, V, max_pos, window, tied, rope_type, bos, eos0, n_eos;
  double eps, theta, factor, orig, qpas;
  uint64_t params; /* every tensor of the checkpoint (gemma-3-4b: vision tower and projector too) */
} real_ckpt;

static const real_ckpt REAL[] = {
  {"llama-3.2-1b", DP_ARCH_LLAMA, 16, 2048, 32, 8, 64, 8192, 128256, 131072, 0, 1, DP_ROPE_LLAMA3, 128000, 128001, 1, 1e-5, 5e5, 32, 8192, 0, 1235814400ull},
  {"llama-3.1-8b", DP_ARCH_LLAMA, 32, 4096, 32, 8, 128, 14336, 128256, 131072, 0, 0, DP_ROPE_LLAMA3, 128000, 128001, 1, 1e-5, 5e5, 8, 8192, 0, 8030261248ull},
  {"gemma-3-1b", DP_ARCH_GEMMA3, 26, 1152, 4, 1, 256, 6912, 262144, 32768, 512, 1, DP_ROPE_DEFAULT, 2, 1, 2, 1e-6, 1e6, 1, 0, 256, 999885952ull},
  {"gemma-3-4b", DP_ARCH_GEMMA3, 34, 2560, 8, 4, 256, 10240, 262208, 131072, 1024, 1, DP_ROPE_LINEAR, 2, 1, 2, 1e-6, 1e6, 8, 0, 256, 4300079472ull},
  {"qwen3-0.6b", DP_ARCH_QWEN3, 28, 1024, 16, 8, 128, 3072, 151936, 40960, 0, 1, DP_ROPE_DEFAULT, 151643, 151645, 1, 1e-6, 1e6, 1, 0, 0, 596049920ull},
  {"mistral-7b", DP_ARCH_MISTRAL, 32, 4096, 32, 8, 128, 14336, 32000, 32768, 4096, 0, DP_ROPE_DEFAULT, 1, 2, 1, 1e-5, 1e4, 1, 0, 0, 7241732096ull},
  {"mixtral-8x7b", DP_ARCH_MIXTRAL, 32, 4096, 32, 8, 128, 14336, 32000, 32768, 0, 0, DP_ROPE_DEFAULT, 1, 2, 1, 1e-5, 1e6, 1, 0, 0, 46702792704ull},
  {"gpt-oss-20b", DP_ARCH_GPTOSS, 24, 2880, 64, 8, 64, 2880, 201088, 131072, 128, 0, DP_ROPE_YARN, 199998, 200002, 1, 1e-5, 150000, 32, 4096, 0,
   20914757184ull}, /* MXFP4 experts counted as their elements (two per block byte), as HF counts them */
};

static dp_synth_opts preset_opts(const char *name, int layers, int old_form) {
  dp_synth_opts o = opts(NULL);
  o.preset = name, o.n_layers = layers, o.old_form = old_form, o.dtype = DP_BF16, o.no_tokenizer = 1;
  return o;
}

/* The hyper-parameters of a preset's config.json (cut to `layers`) against the real checkpoint. */
static void preset_config(const real_ckpt *r, int layers, int old_form) {
  dp_synth_opts o = preset_opts(r->preset, layers, old_form);
  char *js = NULL;
  dp_status st = dp_synth_config(&o, &js);
  CHECK(!st, "%s: config: %s", r->preset, dp_error_message());
  dp_json_doc *doc = js ? dp_json_parse(js, strlen(js), r->preset) : NULL;
  dp_hparams hp;
  st = doc ? dp_hparams_from_hf_config(dp_json_root(doc), r->preset, &hp) : DP_ERR_FORMAT;
  CHECK(!st, "%s: config does not parse: %s", r->preset, dp_error_message());
  if (!st) {
    int L = layers ? layers : r->L;
    CHECK(hp.arch == r->arch && hp.n_layers == L && hp.d_model == r->d && hp.n_heads == r->H && hp.n_kv_heads == r->KV &&
              hp.head_dim == r->hd && hp.d_ff == r->ff && hp.vocab_size == r->V && hp.max_pos == r->max_pos,
          "%s (%s form): sizes %d %d %d %d %d %d %d %d", r->preset, old_form ? "old" : "new", hp.n_layers, hp.d_model, hp.n_heads,
          hp.n_kv_heads, hp.head_dim, hp.d_ff, hp.vocab_size, hp.max_pos);
    CHECK(hp.norm_eps == r->eps && hp.tie_embeddings == r->tied && hp.rope.type == (dp_rope_type)r->rope_type &&
              hp.rope.theta == r->theta && hp.rope.factor == r->factor && (!r->orig || hp.rope.original_max_pos == r->orig),
          "%s: eps %g tied %d rope %d %g x%g (%g)", r->preset, hp.norm_eps, hp.tie_embeddings, (int)hp.rope.type, hp.rope.theta,
          hp.rope.factor, hp.rope.original_max_pos);
    if (r->rope_type == DP_ROPE_LLAMA3) CHECK(hp.rope.low_freq_factor == 1 && hp.rope.high_freq_factor == 4, "%s: llama3 factors", r->preset);
    CHECK(hp.bos_id == r->bos && hp.n_eos == r->n_eos && hp.eos_ids[0] == r->eos0 && (r->n_eos < 2 || hp.eos_ids[1] == 106),
          "%s: bos %d eos %d x %d", r->preset, hp.bos_id, hp.eos_ids[0], hp.n_eos);
    CHECK(hp.sliding_window == r->window, "%s: window %d", r->preset, hp.sliding_window);
    int kinds = 1;
    for (int i = 0; i < L; i++)
      kinds &= hp.layer_sliding[i] == (r->arch == DP_ARCH_GEMMA3 ? (i + 1) % 6 != 0 : r->arch == DP_ARCH_GPTOSS ? i % 2 == 0 : r->window > 0);
    CHECK(kinds, "%s: layer kinds (Gemma: 5 local, 1 global)", r->preset);
    if (r->arch == DP_ARCH_GEMMA3)
      CHECK(fabs(hp.attn_scale - 1 / sqrt(r->qpas)) < 1e-15 && hp.rope_local.theta == 1e4 && hp.rope_local.type == DP_ROPE_DEFAULT &&
                hp.pad_id == 0, "%s: gemma scale %g, local rope", r->preset, hp.attn_scale);
    if (r->arch == DP_ARCH_QWEN3) CHECK(hp.qk_norm && !hp.sliding_window, "%s: qk norm", r->preset);
    if (r->arch == DP_ARCH_MIXTRAL) CHECK(hp.n_experts == 8 && hp.n_experts_per_tok == 2, "%s: experts %d top %d", r->preset, hp.n_experts,
                                          hp.n_experts_per_tok);
    if (r->arch == DP_ARCH_GPTOSS)
      CHECK(hp.n_experts == 32 && hp.n_experts_per_tok == 4 && hp.attn_bias && hp.attn_sinks && hp.router_bias && hp.swiglu_limit == 7 &&
                hp.rope.beta_fast == 32 && hp.rope.beta_slow == 1 && !hp.rope.truncate, "%s: experts, biases, sinks, yarn", r->preset);
    if (!strcmp(r->preset, "gemma-3-4b") && old_form) /* the hub's text_config: only what differs from the defaults */
      CHECK(!strstr(js, "\"vocab_size\"") && !strstr(js, "\"num_attention_heads\": 8") && !strstr(js, "\"head_dim\"") &&
                strstr(js, "\"text_config\"") && strstr(js, "Gemma3ForConditionalGeneration"), "gemma-3-4b: minimal text_config");
  }
  if (doc) dp_json_free(doc);
  dp_free(js);
}

static const dp_synth_tensor *find_t(const dp_synth_tensor *t, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

static int shape_is(const dp_synth_tensor *t, uint64_t a, uint64_t b) {
  return t && t->n_dims == (b ? 2 : 1) && t->shape[0] == a && (!b || t->shape[1] == b);
}

/* The tensor list at full size: count, parameters, and the real shapes of every kind of tensor. */
static void preset_tensors(const real_ckpt *r, int old_form) {
  dp_synth_opts o = preset_opts(r->preset, 0, old_form);
  dp_synth_tensor *t = NULL;
  int n = 0;
  dp_status st = dp_synth_tensors(&o, &t, &n);
  CHECK(!st, "%s: tensors: %s", r->preset, dp_error_message());
  uint64_t params = 0;
  for (int i = 0; i < n; i++) {
    uint64_t e = 1;
    for (int k = 0; k < t[i].n_dims; k++) e *= t[i].shape[k];
    size_t L = strlen(t[i].name); /* MXFP4: two elements per block byte; the scales are no parameters */
    params += L > 7 && !strcmp(t[i].name + L - 7, "_blocks") ? 2 * e : L > 7 && !strcmp(t[i].name + L - 7, "_scales") ? 0 : e;
  }
  CHECK(params == r->params, "%s: %llu parameters, the checkpoint has %llu", r->preset, (unsigned long long)params,
        (unsigned long long)r->params);
  int mm = !strcmp(r->preset, "gemma-3-4b");
  const char *pre = !mm ? "model." : old_form ? "language_model.model." : "model.language_model.";
  char nm[160];
  uint64_t d = (uint64_t)r->d, q = (uint64_t)r->H * r->hd, kv = (uint64_t)r->KV * r->hd;
  struct { const char *suffix; uint64_t a, b; } want[] = {
    {"embed_tokens.weight", (uint64_t)r->V, d}, {"norm.weight", d, 0},
    {"layers.%d.self_attn.q_proj.weight", q, d}, {"layers.%d.self_attn.k_proj.weight", kv, d},
    {"layers.%d.self_attn.v_proj.weight", kv, d}, {"layers.%d.self_attn.o_proj.weight", d, q},
    {"layers.%d.input_layernorm.weight", d, 0}, {"layers.%d.post_attention_layernorm.weight", d, 0},
    {"layers.%d.mlp.gate_proj.weight", (uint64_t)r->ff, d}, {"layers.%d.mlp.up_proj.weight", (uint64_t)r->ff, d},
    {"layers.%d.mlp.down_proj.weight", d, (uint64_t)r->ff},
  };
  int moe = r->arch == DP_ARCH_MIXTRAL, oss = r->arch == DP_ARCH_GPTOSS;
  if (oss) { /* gpt-oss: router, attention sinks and biases instead of the dense FFN */
    want[8].suffix = "layers.%d.mlp.router.weight", want[8].a = 32;
    want[9].suffix = "layers.%d.self_attn.sinks", want[9].a = 64, want[9].b = 0;
    want[10].suffix = "layers.%d.self_attn.q_proj.bias", want[10].a = q, want[10].b = 0;
  }
  if (moe) { /* Mixtral: the router and expert 7's w1 (gate), w3 (up), w2 (down) instead */
    want[8].suffix = "layers.%d.block_sparse_moe.gate.weight", want[8].a = 8;
    want[9].suffix = "layers.%d.block_sparse_moe.experts.7.w1.weight";
    want[10].suffix = "layers.%d.block_sparse_moe.experts.7.w2.weight";
    want[10].a = d, want[10].b = (uint64_t)r->ff;
    want[9].a = (uint64_t)r->ff;
  }
  int good = 1;
  for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
    char suf[96];
    snprintf(suf, sizeof suf, want[k].suffix, r->L - 1);
    snprintf(nm, sizeof nm, "%s%s", pre, suf);
    if (!shape_is(find_t(t, n, nm), want[k].a, want[k].b)) { good = 0; printf("  %s: %s wrong or missing\n", r->preset, nm); }
  }
  CHECK(good, "%s: tensor shapes", r->preset);
  CHECK((find_t(t, n, "lm_head.weight") == NULL) == r->tied, "%s: lm_head present iff untied", r->preset);
  int per_layer = 9 + (r->arch == DP_ARCH_QWEN3 ? 2 : r->arch == DP_ARCH_GEMMA3 ? 4 : 0) + (moe ? 1 + 3 * 8 - 3 : 0) + (oss ? 13 - 3 : 0);
  if (oss) { /* the packed experts as the checkpoint stores them */
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.gate_up_proj_blocks", r->L - 1);
    const dp_synth_tensor *b = find_t(t, n, nm);
    CHECK(b && b->n_dims == 4 && b->shape[0] == 32 && b->shape[1] == 5760 && b->shape[2] == 90 && b->shape[3] == 16, "%s: %s", r->preset, nm);
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.down_proj_scales", r->L - 1);
    b = find_t(t, n, nm);
    CHECK(b && b->n_dims == 3 && b->shape[0] == 32 && b->shape[1] == 2880 && b->shape[2] == 90, "%s: %s", r->preset, nm);
    snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.gate_up_proj_bias", r->L - 1);
    CHECK(shape_is(find_t(t, n, nm), 32, 5760), "%s: %s", r->preset, nm);
  }
  int vision = mm ? 7 + 16 * 27 : 0;
  CHECK(n == 2 + !r->tied + per_layer * r->L + vision, "%s: %d tensors", r->preset, n);
  if (mm) {
    snprintf(nm, sizeof nm, "%s", old_form ? "vision_tower.vision_model.embeddings.patch_embedding.weight"
                                           : "model.vision_tower.vision_model.embeddings.patch_embedding.weight");
    const dp_synth_tensor *pe = find_t(t, n, nm);
    CHECK(pe && pe->n_dims == 4 && pe->shape[0] == 1152 && pe->shape[1] == 3 && pe->shape[2] == 14 && pe->shape[3] == 14,
          "gemma-3-4b: %s", nm);
    snprintf(nm, sizeof nm, "%smulti_modal_projector.mm_input_projection_weight", old_form ? "" : "model.");
    CHECK(shape_is(find_t(t, n, nm), 1152, 2560), "gemma-3-4b: %s", nm);
  }
  dp_free(t);
}

/* config.json + a sparse model.safetensors (the header, then a hole of the data's size): the
 * loader sees the full-size checkpoint without the bytes, and the plan must accept it. */
static void preset_sparse_load(const real_ckpt *r, int layers, int old_form) {
  dp_synth_opts o = preset_opts(r->preset, layers, old_form);
  const char *dir = dp_test_tmp("sparse");
  char *js = NULL, p[4200];
  dp_synth_tensor *t = NULL;
  int n = 0;
  dp_status st = dp_synth_config(&o, &js);
  if (!st) st = dp_synth_tensors(&o, &t, &n);
  dp_st_entry *e = t ? dp_malloc(sizeof *e * (size_t)n) : NULL;
  dp_buf h = {0};
  uint64_t total = 0;
  for (int i = 0; e && i < n; i++) {
    uint64_t el = 1;
    for (int k = 0; k < t[i].n_dims; k++) el *= t[i].shape[k];
    uint64_t bytes = el * dp_dtype_block_bytes(t[i].dtype);
    e[i] = (dp_st_entry){t[i].name, t[i].dtype, t[i].n_dims, t[i].shape, bytes};
    total += bytes;
  }
  if (!st && e) st = dp_safetensors_header(e, (size_t)n, 1, &h);
  mkdir(dir, 0755);
  snprintf(p, sizeof p, "%s/config.json", dir);
  if (!st) st = dp_file_write_atomic(p, js, strlen(js));
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  int fd = st ? -1 : open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  int ok = fd >= 0 && write(fd, h.data, h.len) == (ssize_t)h.len && !ftruncate(fd, (off_t)(h.len + total));
  if (fd >= 0) close(fd);
  CHECK(!st && ok, "%s: sparse checkpoint: %s", r->preset, dp_error_message());
  dp_model_file *mf = NULL;
  dp_plan *plan = NULL;
  if (!st && ok) st = dp_model_file_open(dir, &mf);
  if (!st && ok) st = dp_plan_build(dp_model_file_hparams(mf), &plan);
  if (!st && ok) st = dp_plan_check(plan, mf);
  CHECK(!st && ok, "%s (%d layers, %s form): loader/plan: %s", r->preset, layers, old_form ? "old" : "new", dp_error_message());
  if (mf) { /* the text model only: the vision tower and projector are not presented */
    int other = 0;
    for (size_t i = 0; i < dp_model_file_tensor_count(mf); i++) {
      const char *nm = dp_model_file_tensor(mf, i)->name;
      other += strncmp(nm, "model.layers.", 13) && strcmp(nm, "model.embed_tokens.weight") && strcmp(nm, "model.norm.weight") &&
               strcmp(nm, "lm_head.weight");
    }
    CHECK(!other, "%s: %d tensors outside the text model presented", r->preset, other);
  }
  dp_plan_free(plan);
  dp_model_file_close(mf);
  dp_buf_free(&h);
  dp_free(e);
  dp_free(t);
  dp_free(js);
  unlink(p);
  snprintf(p, sizeof p, "%s/config.json", dir);
  unlink(p);
  rmdir(dir);
}

static void presets(void) {
  int np = 0;
  while (dp_synth_preset_at(np)) np++;
  CHECK(np == (int)(sizeof REAL / sizeof *REAL), "%d presets, %zu checked here", np, sizeof REAL / sizeof *REAL);
  for (size_t i = 0; i < sizeof REAL / sizeof *REAL; i++) {
    const real_ckpt *r = &REAL[i];
    CHECK(!strcmp(dp_synth_preset_at((int)i)->name, r->preset), "preset %zu is %s", i, dp_synth_preset_at((int)i)->name);
    for (int f = 0; f < 2; f++) {
      preset_config(r, 0, f);
      preset_tensors(r, f);
    }
    preset_config(r, 7, 1); /* a cut: gemma keeps layers 0-4 local, 5 global, 6 local */
    preset_sparse_load(r, 0, 1);
    if (r->arch == DP_ARCH_GEMMA3) preset_sparse_load(r, 7, 0);
  }
  dp_synth_opts o = preset_opts("llama-3.2-1b", 99, 1); /* refusals */
  char *js = NULL;
  dp_status st = dp_synth_config(&o, &js);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "--layers 99"), "cut past the end: %s", dp_error_message());
  o = preset_opts("llama-3.2-1b", 1, 1);
  o.d_model = 64;
  CHECK(dp_synth_config(&o, &js) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "only --layers"), "size with a preset");
  o = preset_opts("gpt-5", 1, 1);
  CHECK(dp_synth_config(&o, &js) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "qwen3-0.6b"), "unknown preset lists them: %s",
        dp_error_message());
  o = opts("llama");
  o.tokenizer = "/tmp";
  CHECK(dp_synth_config(&o, &js) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "--tokenizer"), "--tokenizer without a preset");
  o = preset_opts("qwen3-0.6b", 1, 1);
  o.quant = "q3_k";
  CHECK(dp_synth_config(&o, &js) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "--quant"), "bad --quant");
  o = preset_opts("qwen3-0.6b", 1, 1);
  o.no_tokenizer = 0, o.tokenizer = g_base; /* holds no tokenizer.json */
  char tok[600];
  CHECK(dp_synth_tokenizer_dir(&o, tok, sizeof tok) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "no tokenizer.json"),
        "--tokenizer without tokenizer.json: %s", dp_error_message());
  dp_free(js);
}

/* ---------------------------------------------------------------- Gemma 3 multimodal layouts */

/* Rewrite the Gemma3ForCausalLM synth model in src as Gemma3ForConditionalGeneration in dst:
 * config under text_config, text tensors under `pre`, plus vision/projector tensors (skipped). */
static int make_multimodal(const char *src, const char *dst, const char *pre, const char *vpre) {
  char p[4200], *cfg = NULL;
  size_t n;
  snprintf(p, sizeof p, "%s/config.json", src);
  if (dp_file_read_all(p, &cfg, &n)) return -1;
  dp_buf c = {0}, h = {0};
  dp_buf_printf(&c, "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"model_type\": \"gemma3\", \"eos_token_id\": [1, 106], "
                    "\"vision_config\": {\"model_type\": \"siglip_vision_model\"}, \"text_config\": %s}", cfg);
  dp_free(cfg);
  snprintf(p, sizeof p, "%s/model.safetensors", src);
  dp_safetensors *st = NULL;
  if (dp_safetensors_open(p, &st)) { dp_buf_free(&c); return -1; }
  size_t nt = st->n + 2;
  dp_st_entry *e = dp_calloc(nt, sizeof *e);
  char (*names)[160] = dp_calloc(nt, sizeof *names);
  uint64_t vshape[1] = {4};
  int ok = e && names;
  for (size_t i = 0; ok && i < st->n; i++) {
    const char *nm = st->t[i].name;
    if (!strncmp(nm, "model.", 6)) snprintf(names[i], sizeof names[i], "%s%s", pre, nm + 6);
    else snprintf(names[i], sizeof names[i], "%s", nm);
    e[i] = (dp_st_entry){names[i], st->t[i].dtype, st->t[i].n_dims, st->t[i].shape, st->t[i].nbytes};
  }
  if (ok) {
    snprintf(names[st->n], sizeof names[0], "%svision_model.post_layernorm.weight", vpre);
    snprintf(names[st->n + 1], sizeof names[0], "%smulti_modal_projector.mm_soft_emb_norm.weight", strncmp(vpre, "model.", 6) ? "" : "model.");
    e[st->n] = (dp_st_entry){names[st->n], DP_F32, 1, vshape, 16};
    e[st->n + 1] = (dp_st_entry){names[st->n + 1], DP_F32, 1, vshape, 16};
    ok = !dp_safetensors_header(e, nt, 1, &h);
  }
  for (size_t i = 0; ok && i < st->n; i++) dp_buf_append(&h, st->map.data + st->t[i].offset, st->t[i].nbytes);
  static const float junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  dp_buf_append(&h, junk, sizeof junk);
  mkdir(dst, 0755);
  snprintf(p, sizeof p, "%s/config.json", dst);
  ok = ok && !c.failed && !h.failed && !dp_file_write_atomic(p, c.data, c.len);
  snprintf(p, sizeof p, "%s/model.safetensors", dst);
  ok = ok && !dp_file_write_atomic(p, h.data, h.len);
  dp_safetensors_free(st);
  dp_free(e);
  dp_free(names);
  dp_buf_free(&c);
  dp_buf_free(&h);
  return ok ? 0 : -1;
}

/* Same hparams, same tensors (names, shapes, values), same CPU-reference logits as ref_dir; tol 0
 * means bit for bit, else the relative error allowed (GGUF stores Gemma norms as w + 1 in f32,
 * read back as (w + 1) - 1). */
static void same_model(const char *ref_dir, const char *dir, const char *what, double tol) {
  dp_model_file *a = NULL, *b = NULL;
  dp_status st = dp_model_file_open(ref_dir, &a);
  if (!st) st = dp_model_file_open(dir, &b);
  CHECK(!st, "%s: open: %s", what, dp_error_message());
  if (st) { dp_model_file_close(a); return; }
  dp_buf ja = {0}, jb = {0};
  dp_hparams_to_json(dp_model_file_hparams(a), &ja);
  dp_hparams_to_json(dp_model_file_hparams(b), &jb);
  CHECK(ja.data && jb.data && !strcmp(ja.data, jb.data), "%s: hparams differ:\n %s\n %s", what, ja.data, jb.data);
  int same = dp_model_file_tensor_count(a) == dp_model_file_tensor_count(b);
  for (size_t i = 0; same && i < dp_model_file_tensor_count(a); i++) {
    const dp_tensor_info *x = dp_model_file_tensor(a, i), *y = dp_model_file_find(b, x->name);
    same = y && y->n_dims == x->n_dims && !memcmp(y->shape, x->shape, sizeof x->shape);
    uint64_t ne = same ? dp_tensor_nelems(x) : 0;
    float *fx = same ? dp_malloc(ne * 4) : NULL, *fy = same ? dp_malloc(ne * 4) : NULL;
    same = fx && fy && !dp_model_file_read_f32(a, x, fx) && !dp_model_file_read_f32(b, y, fy) &&
           (tol ? dp_test_rel_err(fy, fx, ne) <= tol : !memcmp(fx, fy, ne * 4));
    if (!same) printf("  %s: tensor %s differs\n", what, x->name);
    dp_free(fx);
    dp_free(fy);
  }
  CHECK(same, "%s: tensors differ", what);
  int32_t ids[6] = {5, 17, 2, 99, 3, 42}, ga[3], gb[3];
  float la[6 * 300], lb[6 * 300];
  dp_ref_model *ra = NULL, *rb = NULL;
  dp_ref_state *sa = NULL, *sb = NULL;
  st = dp_ref_model_load(a, &ra);
  if (!st) st = dp_ref_model_load(b, &rb);
  if (!st) st = dp_ref_state_new(ra, 16, &sa);
  if (!st) st = dp_ref_state_new(rb, 16, &sb);
  if (!st) st = dp_ref_greedy(ra, sa, ids, 6, 3, 1, la, ga, NULL);
  if (!st) st = dp_ref_greedy(rb, sb, ids, 6, 3, 1, lb, gb, NULL);
  CHECK(!st && (tol ? dp_test_rel_err(lb, la, 6 * 300) <= 10 * tol : !memcmp(la, lb, sizeof la)) && !memcmp(ga, gb, sizeof ga),
        "%s: CPU reference logits differ: %s", what, st ? dp_error_message() : "");
  dp_ref_state_free(sa);
  dp_ref_state_free(sb);
  dp_ref_model_free(ra);
  dp_ref_model_free(rb);
  dp_buf_free(&ja);
  dp_buf_free(&jb);
  dp_model_file_close(a);
  dp_model_file_close(b);
}

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
  rmdir(dir);
}

static void multimodal(void) {
  dp_synth_opts o = opts("gemma3");
  o.vocab = 300, o.d_model = 64, o.n_heads = 2, o.n_kv_heads = 1, o.head_dim = 32, o.d_ff = 96, o.n_layers = 2, o.window = 3;
  o.dtype = DP_F16;
  char base[600], mm[600], rd[600], gg[600];
  snprintf(base, sizeof base, "%s", dp_test_tmp("causal"));
  snprintf(rd, sizeof rd, "%s", dp_test_tmp("mm.rdrr"));
  snprintf(gg, sizeof gg, "%s", dp_test_tmp("mm.gguf"));
  CHECK(!dp_synth_write(&o, base), "gemma3 synth: %s", dp_error_message());
  static const struct { const char *name, *pre, *vpre; } L[] = {
    {"hub", "language_model.model.", "vision_tower."}, {"tf5", "model.language_model.", "model.vision_tower."}};
  for (int k = 0; k < 2; k++) {
    snprintf(mm, sizeof mm, "%s", dp_test_tmp(L[k].name));
    CHECK(!make_multimodal(base, mm, L[k].pre, L[k].vpre), "%s: writing the multimodal layout failed", L[k].name);
    same_model(base, mm, L[k].name, 0);
    if (k == 0) {
      dp_status st = dp_convert(mm, rd, NULL);
      CHECK(!st, "convert multimodal -> RDRR: %s", dp_error_message());
      if (!st) same_model(base, rd, "multimodal -> RDRR", 0);
      st = dp_convert(mm, gg, NULL);
      CHECK(!st, "convert multimodal -> GGUF: %s", dp_error_message());
      if (!st) same_model(base, gg, "multimodal -> GGUF", 1e-6);
      rm_tree(rd);
      unlink(gg);
    }
    rm_tree(mm);
  }
  dp_test_rm_synth(base);
}

/* ---------------------------------------------------------------- --quant: random blocks */

/* The converter's synthetic source (synth_gen_rows): the bytes of a row range do not depend on
 * how the rows are split (threads take arbitrary runs), and each block type decodes to the
 * tensor's spread: mean ~0, standard deviation within 5% of 1/sqrt(fan_in) (MXFP4: its
 * power-of-two scale, within a factor sqrt 2), finite and bounded. F32 values (1-D tensors)
 * too, also started at odd elements (GGUF's one-element rows of permuted Q/K biases). */
static void quant_blocks(void) {
  static const dp_dtype T[] = {DP_Q4_K, DP_Q6_K, DP_Q8_0, DP_MXFP4, DP_F32};
  synth_gen g = {dp_test_rand_u32(), 0};
  enum { R = 48, C = 1024 };
  dp_tensor_info t = {"model.layers.0.mlp.down_proj.weight", DP_BF16, 2, {R, C}, (uint64_t)R * C * 2};
  const double want = 1 / sqrt((double)C);
  float *f = dp_malloc((size_t)R * C * sizeof *f);
  for (size_t k = 0; k < sizeof T / sizeof *T; k++) {
    uint64_t rb = dp_dtype_row_bytes(T[k], C);
    uint8_t *whole = dp_malloc(R * rb), *parts = dp_malloc(R * rb);
    memset(whole, 0xa5, R * rb), memset(parts, 0x5a, R * rb);
    synth_gen_rows(&g, &t, T[k], C, 0, R, whole);
    for (uint64_t r = 0, n = 1; r < R; r += n, n = n % 5 + 1)
      synth_gen_rows(&g, &t, T[k], C, r, r + n > R ? R - r : n, parts + r * rb);
    CHECK(!memcmp(whole, parts, R * rb), "%s: rows made in pieces differ from rows made at once", dp_dtype_name(T[k]));
    if (T[k] == DP_F32) memcpy(f, whole, (size_t)R * C * sizeof *f);
    else dp_dequantize(T[k], whole, f, (uint64_t)R * C);
    double m, sd, mx = 0;
    stats(f, (uint64_t)R * C, &m, &sd);
    for (uint64_t i = 0; i < (uint64_t)R * C; i++) mx = isfinite(f[i]) && fabs(f[i]) < mx ? mx : fabs(f[i]);
    double tol = T[k] == DP_MXFP4 ? 0.42 : 0.05;
    printf("  %-5s mean %+.1e sd %.5f (1/sqrt(%d) = %.5f) max %.2f sd\n", dp_dtype_name(T[k]), m, sd, C, want, mx / sd);
    CHECK(fabs(m) < 0.02 * want && fabs(sd / want - 1) < tol && isfinite(mx) && mx < 10 * sd,
          "%s: mean %g sd %g max %g (sd %g wanted)", dp_dtype_name(T[k]), m, sd, mx, want);
    dp_free(whole);
    dp_free(parts);
  }
  dp_tensor_info n1 = {"model.norm.weight", DP_BF16, 1, {C}, C * 2};
  float one[C], each[C];
  for (int gemma = 0; gemma < 2; gemma++) {
    g.gemma = gemma;
    synth_gen_rows(&g, &n1, DP_F32, C, 0, 1, one);
    for (int i = 0; i < C; i++) synth_gen_rows(&g, &n1, DP_F32, 1, (uint64_t)i, 1, each + i);
    double m, sd;
    stats(one, C, &m, &sd);
    CHECK(!memcmp(one, each, sizeof one) && fabs(m - (gemma ? 0 : 1)) < 0.02 && fabs(sd / 0.1 - 1) < 0.1,
          "norm weights (gemma %d): mean %g sd %g, or element by element differs", gemma, m, sd);
  }
  dp_free(f);
}

/* A written --quant model: the types of a few tensors, and the CPU reference's logits finite
 * with a standard deviation near the HF checkpoint's ~2 (0.5 .. 8). */
static void quant_check(const char *dir, const char *what, const char *const *names, const dp_dtype *types, int n) {
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(dir, &mf);
  CHECK(!st, "%s: open: %s", what, dp_error_message());
  for (int i = 0; !st && i < n; i++) {
    const dp_tensor_info *t = dp_model_file_find(mf, names[i]);
    CHECK(t && t->dtype == types[i], "%s: %s is %s, %s expected", what, names[i], t ? dp_dtype_name(t->dtype) : "missing", dp_dtype_name(types[i]));
  }
  dp_model_file_close(mf);
  int32_t ids[6] = {5, 17, 2, 99, 3, 42}, gen[2];
  float lg[6 * 300], gl[2 * 300];
  st = st ? st : dp_test_ref_greedy(dir, ids, 6, 2, lg, gen, gl);
  CHECK(!st, "%s: CPU reference: %s", what, dp_error_message());
  double m, sd = 0;
  int finite = !st;
  for (int i = 0; finite && i < 6 * 300; i++) finite = isfinite(lg[i]);
  if (finite) stats(lg, 6 * 300, &m, &sd);
  printf("  %-28s logits sd %.2f\n", what, sd);
  CHECK(finite && sd > 0.5 && sd < 8, "%s: logits not finite or off scale (sd %g)", what, sd);
}

/* synth --quant on small models of several architectures: RDRR and GGUF outputs of a seed are the
 * same model (tensors and CPU-reference logits; GGUF permutes Q/K rows and stores Gemma's norms
 * as w + 1), every output type is made (q4_k_m's Q4_K and Q6_K, q8_0, mxfp4 experts, gpt-oss's
 * MXFP4 experts kept), and the logits are sane. */
static void quant_models(void) {
  char rd[600], gg[600];
  snprintf(rd, sizeof rd, "%s", dp_test_tmp("q.rdrr"));
  snprintf(gg, sizeof gg, "%s", dp_test_tmp("q.gguf"));
  dp_synth_opts o = opts("llama");
  o.vocab = 300, o.d_model = 256, o.n_heads = 4, o.n_kv_heads = 2, o.d_ff = 512, o.quant = "q4_k_m";
  dp_status st = dp_synth_write(&o, rd);
  if (!st) st = dp_synth_write(&o, gg);
  CHECK(!st, "llama --quant q4_k_m: %s", dp_error_message());
  if (!st) {
    static const char *const nm[] = {"model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight",
                                     "model.layers.1.self_attn.q_proj.weight", "model.norm.weight"};
    static const dp_dtype ty[] = {DP_Q6_K, DP_Q4_K, DP_Q6_K, DP_Q4_K, DP_F32};
    quant_check(rd, "llama q4_k_m RDRR", nm, ty, 5);
    same_model(rd, gg, "llama q4_k_m RDRR vs GGUF", 0);
  }
  dp_rdrr_dir_remove(rd);
  unlink(gg);
  o = opts("gemma3");
  o.vocab = 300, o.d_model = 64, o.n_heads = 2, o.n_kv_heads = 1, o.head_dim = 32, o.d_ff = 96, o.quant = "q8_0";
  st = dp_synth_write(&o, rd);
  if (!st) st = dp_synth_write(&o, gg);
  CHECK(!st, "gemma3 --quant q8_0: %s", dp_error_message());
  if (!st) {
    static const char *const nm[] = {"model.layers.0.mlp.up_proj.weight", "model.layers.1.self_attn.q_norm.weight"};
    static const dp_dtype ty[] = {DP_Q8_0, DP_F32};
    quant_check(rd, "gemma3 q8_0 RDRR", nm, ty, 2);
    same_model(rd, gg, "gemma3 q8_0 RDRR vs GGUF", 1e-6);
  }
  dp_rdrr_dir_remove(rd);
  unlink(gg);
  o = opts("mixtral");
  o.vocab = 300, o.d_model = 64, o.n_heads = 2, o.n_kv_heads = 1, o.d_ff = 96, o.n_experts = 3, o.top_k = 2, o.quant = "mxfp4";
  st = dp_synth_write(&o, rd);
  CHECK(!st, "mixtral --quant mxfp4: %s", dp_error_message());
  if (!st) {
    static const char *const nm[] = {"model.layers.0.block_sparse_moe.experts.2.w2.weight", "model.layers.0.self_attn.k_proj.weight",
                                     "model.layers.1.block_sparse_moe.gate.weight"};
    static const dp_dtype ty[] = {DP_MXFP4, DP_Q8_0, DP_F32};
    quant_check(rd, "mixtral mxfp4 RDRR", nm, ty, 3);
  }
  dp_rdrr_dir_remove(rd);
  o = opts("gpt_oss");
  o.vocab = 300, o.d_model = 256, o.n_heads = 4, o.n_kv_heads = 2, o.head_dim = 64, o.n_experts = 4, o.quant = "q4_k_m";
  st = dp_synth_write(&o, rd);
  CHECK(!st, "gpt_oss --quant q4_k_m: %s", dp_error_message());
  if (!st) {
    static const char *const nm[] = {"model.layers.0.mlp.experts.3.down_proj.weight", "model.layers.1.self_attn.o_proj.weight",
                                     "model.layers.0.mlp.experts.1.gate_proj.bias"};
    static const dp_dtype ty[] = {DP_MXFP4, DP_Q4_K, DP_F32};
    quant_check(rd, "gpt_oss q4_k_m RDRR", nm, ty, 3);
  }
  dp_rdrr_dir_remove(rd);
}

/* A preset cut to one layer with a tokenizer directory: the files are copied beside the weights;
 * with --quant q8_0 the output is an RDRR model of that type. */
static void preset_write(void) {
  char tokdir[512], out[512], rq[512], tj[600];
  snprintf(tokdir, sizeof tokdir, "%s", dp_test_tmp("tok"));
  snprintf(out, sizeof out, "%s", dp_test_tmp("qwen"));
  snprintf(rq, sizeof rq, "%s", dp_test_tmp("qwen.rdrr"));
  snprintf(tj, sizeof tj, "%s/tokenizer.json", tokdir);
  mkdir(tokdir, 0755);
  char p[600];
  snprintf(p, sizeof p, "%s/tokenizer.json", tokdir);
  dp_file_write_atomic(p, "{\"model\": {}}", 13);
  dp_synth_opts o = preset_opts("qwen3-0.6b", 1, 1);
  o.no_tokenizer = 0, o.tokenizer = tokdir;
  /* only the write path matters here: the vocabulary makes the file ~340 MB at bf16, so the
   * smallest real preset cut to one layer is written once, then converted */
  dp_status st = dp_synth_write(&o, out);
  CHECK(!st, "qwen3-0.6b --layers 1: %s", dp_error_message());
  snprintf(p, sizeof p, "%s/tokenizer.json", out);
  CHECK(!st && files_equal(p, tj), "tokenizer.json not copied");
  snprintf(p, sizeof p, "%s/tokenizer_config.json", out);
  CHECK(!dp_file_exists(p), "a tokenizer_config.json appeared from nowhere");
  o = opts("qwen3"); /* --quant through the converter: a small model of the same architecture */
  o.d_model = 64, o.n_heads = 2, o.head_dim = 32, o.d_ff = 96, o.quant = "q8_0";
  st = dp_synth_write(&o, rq);
  CHECK(!st, "qwen3 --quant q8_0: %s", dp_error_message());
  dp_model_file *mf = NULL;
  if (!st && !(st = dp_model_file_open(rq, &mf))) {
    const dp_tensor_info *t = dp_model_file_find(mf, "model.layers.0.mlp.down_proj.weight");
    CHECK(!strcmp(dp_model_file_kind(mf), "rdrr") && t && t->dtype == DP_Q8_0 && dp_model_file_hparams(mf)->d_model == 64,
          "--quant q8_0: not an RDRR q8_0 model");
    dp_model_file_close(mf);
  }
  CHECK(!st, "open the quantized preset: %s", dp_error_message());
  rm_tree(rq);
  rm_tree(out);
  rm_tree(tokdir);
}

int main(void) {
  if (!(g_base = dp_test_tmp_open("synth"))) return 1;
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
  presets();
  multimodal();
  preset_write();
  quant_blocks();
  quant_models();
  refusals();
  alloc_failures();
  dp_test_tmp_close();
  return dp_test_summary("test_format_synth");
}
