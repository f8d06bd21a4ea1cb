/* model_file_gguf.c -- dp_model_file over a GGUF file: llama.cpp tensor names mapped back to
 * HF names (gguf_names.c), merged expert tensors split into per-expert views, the llama.cpp
 * Q/K row permutation undone by a row map, Gemma's stored w+1 norms read as w (f32), and
 * hyper-parameters from the GGUF metadata (or, for files this project wrote, the exact
 * `doppler.hparams` JSON it stores beside llama.cpp's keys). Called by model_file.c. */
#include "format/json_status.h"
#include "format/model_file_impl.h"
#include "format/gguf.h"
#include "format/gguf_names.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A metadata integer as int; values outside int become INT_MIN (refused by dp_hparams_validate,
 * which names the key), never a truncated value that happens to look valid. */
static int i32(int64_t v) { return v >= INT_MIN && v <= INT_MAX ? (int)v : INT_MIN; }

static dp_status hparams_from_meta(const dp_gguf *g, const char *what, dp_hparams *hp) {
  size_t n;
  const char *hj = dp_gguf_get_str(g, "doppler.hparams", &n);
  if (hj) {
    dp_json_doc *d = dp_json_parse(hj, n, what);
    if (!d) return dp_json_fail_status();
    dp_status st = dp_hparams_from_json(dp_json_root(d), what, hp);
    dp_json_free(d);
    return st;
  }
  memset(hp, 0, sizeof *hp);
  char arch[32], key[128];
  if (!dp_gguf_get_strz(g, "general.architecture", arch, sizeof arch, NULL))
    return dp_error(DP_ERR_FORMAT, "%s: key general.architecture: missing", what);
#define K(s) (snprintf(key, sizeof key, "%s." s, arch), key)
  int64_t n_exp = dp_gguf_get_int(g, K("expert_count"), 0);
  if (!strcmp(arch, "llama")) hp->arch = n_exp ? DP_ARCH_MIXTRAL : dp_gguf_find(g, K("attention.sliding_window")) ? DP_ARCH_MISTRAL : DP_ARCH_LLAMA;
  else if (!strcmp(arch, "qwen3")) hp->arch = DP_ARCH_QWEN3;
  else if (!strcmp(arch, "gemma3")) hp->arch = DP_ARCH_GEMMA3;
  else if (!strcmp(arch, "gpt-oss")) hp->arch = DP_ARCH_GPTOSS;
  else return dp_error(DP_ERR_UNSUPPORTED, "%s: unsupported GGUF architecture %s", what, arch);
  static const char *MT[] = {"llama", "mistral", "qwen3", "gemma3_text", "mixtral", "gpt_oss"};
  snprintf(hp->model_type, sizeof hp->model_type, "%s", MT[hp->arch]);
  dp_arch a = hp->arch;
  hp->n_layers = i32(dp_gguf_get_int(g, K("block_count"), 0));
  hp->d_model = i32(dp_gguf_get_int(g, K("embedding_length"), 0));
  hp->n_heads = i32(dp_gguf_get_int(g, K("attention.head_count"), 0));
  hp->n_kv_heads = i32(dp_gguf_get_int(g, K("attention.head_count_kv"), hp->n_heads));
  hp->head_dim = i32(dp_gguf_get_int(g, K("attention.key_length"), hp->n_heads > 0 ? hp->d_model / hp->n_heads : 0));
  hp->d_ff = i32(dp_gguf_get_int(g, K("feed_forward_length"), dp_gguf_get_int(g, K("expert_feed_forward_length"), 0)));
  hp->max_pos = i32(dp_gguf_get_int(g, K("context_length"), 2048));
  hp->norm_eps = dp_gguf_get_num(g, K("attention.layer_norm_rms_epsilon"), 1e-5);
  const dp_gguf_kv *tok = dp_gguf_find(g, "tokenizer.ggml.tokens");
  const dp_gguf_tensor *emb = dp_gguf_find_tensor(g, "token_embd.weight");
  hp->vocab_size = i32(dp_gguf_get_int(g, K("vocab_size"), tok ? (int64_t)tok->n : emb ? (int64_t)emb->ne[1] : 0));
  hp->tie_embeddings = !dp_gguf_find_tensor(g, "output.weight");
  hp->act = a == DP_ARCH_GEMMA3 ? DP_ACT_GELU_TANH : DP_ACT_SILU;
  dp_rope *r = &hp->rope;
  r->type = DP_ROPE_DEFAULT;
  r->theta = dp_gguf_get_num(g, K("rope.freq_base"), 10000);
  r->factor = 1, r->low_freq_factor = 1, r->high_freq_factor = 4, r->beta_fast = 32, r->beta_slow = 1, r->truncate = 1;
  r->rotary_dim = i32(dp_gguf_get_int(g, K("rope.dimension_count"), hp->head_dim));
  char st_[32];
  const char *stype = dp_gguf_get_strz(g, K("rope.scaling.type"), st_, sizeof st_, "none");
  double factor = dp_gguf_get_num(g, K("rope.scaling.factor"), 1);
  if (!strcmp(stype, "linear") && factor != 1) r->type = DP_ROPE_LINEAR, r->factor = factor;
  else if (!strcmp(stype, "yarn")) {
    r->type = DP_ROPE_YARN, r->factor = factor;
    r->original_max_pos = dp_gguf_get_num(g, K("rope.scaling.original_context_length"), hp->max_pos);
    if (a == DP_ARCH_GPTOSS) r->truncate = 0;
  }
  const dp_gguf_tensor *rf = dp_gguf_find_tensor(g, "rope_freqs.weight");
  if (rf && r->type == DP_ROPE_DEFAULT) { /* llama.cpp's llama3 scaling: per-frequency divisors */
    float f[512];
    if (rf->dtype != DP_F32 || rf->n_dims != 1 || rf->ne[0] != (uint64_t)r->rotary_dim / 2 || rf->ne[0] > 512)
      return dp_error(DP_ERR_FORMAT, "%s: tensor rope_freqs.weight: want F32 [%d] (rope.dimension_count / 2)", what, r->rotary_dim / 2);
    memcpy(f, g->data + rf->offset, (size_t)rf->ne[0] * 4);
    if (dp_rope_llama3_from_factors(r, r->rotary_dim, f, dp_gguf_get_num(g, K("rope.scaling.original_context_length"), 0)))
      dp_log(DP_LOG_WARN, "%s: tensor rope_freqs.weight: factors do not follow llama3 scaling exactly; using factor %g, low %g, high %g", what,
             r->factor, r->low_freq_factor, r->high_freq_factor);
  }
  hp->rope_local = hp->rope;
  hp->sliding_window = i32(dp_gguf_get_int(g, K("attention.sliding_window"), 0));
  if (a == DP_ARCH_GEMMA3) {
    /* llama.cpp: sliding window on all layers but every 6th (none without attention.sliding_window),
     * local RoPE base 10k unscaled; a per-layer bool array (or a period) in
     * attention.sliding_window_pattern overrides the 6. */
    hp->rope_local.type = DP_ROPE_DEFAULT, hp->rope_local.factor = 1, hp->rope_local.theta = 10000;
    const dp_gguf_kv *pk = dp_gguf_find(g, K("attention.sliding_window_pattern"));
    int pat = i32(dp_gguf_get_int(g, K("attention.sliding_window_pattern"), 6));
    if (pk && pk->type == DP_GGUF_ARRAY && pk->n != (uint64_t)hp->n_layers)
      return dp_error(DP_ERR_FORMAT, "%s: key %s: %llu entries for %d layers", what, key, (unsigned long long)pk->n, hp->n_layers);
    for (int i = 0; i < hp->n_layers && i < DP_MAX_LAYERS; i++)
      hp->layer_sliding[i] = !hp->sliding_window ? 0 : pk && pk->type == DP_GGUF_ARRAY ? dp_gguf_arr_int(pk, (uint64_t)i) != 0 : pat > 0 ? (i + 1) % pat != 0 : 1;
    hp->qk_norm = hp->norm_plus_one = hp->sandwich_norm = hp->embed_scale_sqrt_d = 1;
    hp->attn_softcap = dp_gguf_get_num(g, K("attn_logit_softcapping"), 0);
    hp->final_softcap = dp_gguf_get_num(g, K("final_logit_softcapping"), 0);
  } else if (a == DP_ARCH_GPTOSS) {
    for (int i = 0; i < hp->n_layers && i < DP_MAX_LAYERS; i++) hp->layer_sliding[i] = (i + 1) % 2;
  } else if (hp->sliding_window) {
    for (int i = 0; i < hp->n_layers && i < DP_MAX_LAYERS; i++) hp->layer_sliding[i] = 1;
  }
  hp->attn_scale = hp->head_dim > 0 ? 1.0 / sqrt((double)hp->head_dim) : 0;
  if (a == DP_ARCH_GEMMA3) { /* query_pre_attn_scalar^-0.5: llama.cpp's rule (27B: d_model / n_heads) unless stated */
    if (hp->n_layers == 62 && hp->n_heads > 0) hp->attn_scale = 1.0 / sqrt((double)hp->d_model / hp->n_heads);
    hp->attn_scale = dp_gguf_get_num(g, K("attention.scale"), hp->attn_scale);
  }
  hp->qk_norm |= a == DP_ARCH_QWEN3;
  hp->attn_bias = hp->o_bias = a == DP_ARCH_GPTOSS || dp_gguf_find_tensor(g, "blk.0.attn_q.bias");
  hp->attn_sinks = a == DP_ARCH_GPTOSS;
  if (n_exp) {
    hp->n_experts = i32(n_exp);
    hp->n_experts_per_tok = i32(dp_gguf_get_int(g, K("expert_used_count"), 2));
    hp->moe_d_ff = i32(dp_gguf_get_int(g, K("expert_feed_forward_length"), hp->d_ff));
    hp->router_bias = a == DP_ARCH_GPTOSS;
    if (a == DP_ARCH_GPTOSS) hp->swiglu_limit = 7.0;
  }
  hp->bos_id = i32(dp_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1));
  hp->pad_id = i32(dp_gguf_get_int(g, "tokenizer.ggml.padding_token_id", -1));
  int64_t eos = dp_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1);
  if (eos != -1) hp->eos_ids[hp->n_eos++] = i32(eos);
  int64_t eot = dp_gguf_get_int(g, "tokenizer.ggml.eot_token_id", -1);
  if (eot != -1 && eot != eos) hp->eos_ids[hp->n_eos++] = i32(eot);
#undef K
  return dp_hparams_validate(hp, DP_HP_GGUF, what);
}

static dp_status add_tensor(dp_model_file *mf, const dp_gguf_tensor *t) {
  const dp_hparams *hp = &mf->hp;
  char hf[256];
  int layer, flags;
  if (dp_gguf_name_to_hf(hp->arch, t->name, 0, hf, sizeof hf, &layer, &flags)) {
    if (strcmp(t->name, "rope_freqs.weight")) dp_log(DP_LOG_WARN, "%s: tensor %s: not used (no HF equivalent)", mf->path, t->name);
    return DP_OK;
  }
  uint64_t shape[4];
  int nd = t->n_dims;
  for (int i = 0; i < nd; i++) shape[i] = t->ne[nd - 1 - i];
  int n_exp = 1;
  uint64_t slice = t->nbytes;
  if (flags & DP_GN_EXPERT) {
    if (nd < 2 || shape[0] == 0 || shape[0] > 4096) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bad expert dimension", mf->path, t->name);
    n_exp = (int)shape[0];
    slice = t->nbytes / shape[0];
    memmove(shape, shape + 1, (size_t)(nd - 1) * sizeof *shape);
    nd--;
  }
  for (int e = 0; e < n_exp; e++) {
    if (n_exp > 1 || (flags & DP_GN_EXPERT)) dp_gguf_name_to_hf(hp->arch, t->name, e, hf, sizeof hf, &layer, &flags);
    int norm = (flags & DP_GN_NORM1) != 0;
    if (norm && (nd != 1 || (t->dtype != DP_F32 && t->dtype != DP_F16 && t->dtype != DP_BF16)))
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: norm weight must be a 1-D float tensor", mf->path, t->name);
    mf_view *v = dp_mf_add(mf, hf, norm ? DP_F32 : t->dtype, nd, shape);
    if (!v) return DP_ERR_NOMEM;
    v->src = 0;
    v->off = t->offset + (uint64_t)e * slice;
    if (norm) v->xform = MF_NORM1, v->src_dtype = t->dtype;
    if (flags & (DP_GN_PERM_Q | DP_GN_PERM_K)) {
      int heads = (flags & DP_GN_PERM_Q) ? hp->n_heads : hp->n_kv_heads;
      if (heads <= 0 || shape[0] % (uint64_t)heads) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: rows do not split into %d heads", mf->path, t->name, heads);
      v->rowmap = MF_ROWS_UNPERM;
      v->head_rows = (uint32_t)(shape[0] / (uint64_t)heads);
    }
  }
  return DP_OK;
}

dp_status dp_model_file_open_gguf(const char *path, dp_model_file **out) {
  dp_model_file *mf = dp_mf_new("gguf", path);
  if (!mf) return DP_ERR_NOMEM;
  dp_status st = dp_mf_add_source(mf, path);
  if (!st) st = dp_gguf_parse(mf->srcs[0].map.data, mf->srcs[0].map.size, path, &mf->gguf);
  if (!st) st = hparams_from_meta(mf->gguf, path, &mf->hp);
  for (size_t i = 0; !st && i < mf->gguf->n_tensors; i++) st = add_tensor(mf, &mf->gguf->t[i]);
  if (!st) st = dp_mf_finish(mf);
  if (st) { dp_model_file_close(mf); return st; }
  *out = mf;
  return DP_OK;
}
