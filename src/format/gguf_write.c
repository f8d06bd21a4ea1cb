/* gguf_write.c -- GGUF metadata encoding (see gguf_write.h). Called by the converter;
 * depends on core (buf, json) and hparams. Keys follow llama.cpp (gguf-py constants):
 * <arch>.context_length, .embedding_length, .block_count, .feed_forward_length,
 * .attention.head_count(_kv), .attention.key_length/.value_length,
 * .attention.layer_norm_rms_epsilon, .rope.freq_base, .rope.dimension_count,
 * .rope.scaling.*, .expert_count, .expert_used_count, .attention.sliding_window, ... */
#include "format/gguf_write.h"
#include "format/gguf_names.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_gguf_put_u32(dp_buf *b, uint32_t x) {
  uint8_t p[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
  dp_buf_append(b, p, 4);
}
void dp_gguf_put_u64(dp_buf *b, uint64_t x) {
  uint8_t p[8];
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(x >> (8 * i));
  dp_buf_append(b, p, 8);
}
void dp_gguf_put_str(dp_buf *b, const char *s, size_t n) {
  dp_gguf_put_u64(b, n);
  dp_buf_append(b, s, n);
}
static void key(dp_gguf_kvbuf *k, const char *name, uint32_t type) {
  dp_gguf_put_str(&k->b, name, strlen(name));
  dp_gguf_put_u32(&k->b, type);
  k->n++;
}
void dp_gguf_kv_str(dp_gguf_kvbuf *k, const char *name, const char *s) { key(k, name, DP_GGUF_STRING); dp_gguf_put_str(&k->b, s, strlen(s)); }
void dp_gguf_kv_u32(dp_gguf_kvbuf *k, const char *name, uint32_t v) { key(k, name, DP_GGUF_U32); dp_gguf_put_u32(&k->b, v); }
void dp_gguf_kv_i32(dp_gguf_kvbuf *k, const char *name, int32_t v) { key(k, name, DP_GGUF_I32); dp_gguf_put_u32(&k->b, (uint32_t)v); }
void dp_gguf_kv_f32(dp_gguf_kvbuf *k, const char *name, float v) {
  uint32_t x;
  memcpy(&x, &v, 4);
  key(k, name, DP_GGUF_F32);
  dp_gguf_put_u32(&k->b, x);
}
void dp_gguf_kv_bool(dp_gguf_kvbuf *k, const char *name, int v) {
  uint8_t x = v != 0;
  key(k, name, DP_GGUF_BOOL);
  dp_buf_append(&k->b, &x, 1);
}

void dp_gguf_kv_copy(dp_gguf_kvbuf *k, const dp_gguf_kv *kv) {
  static const uint32_t SZ[DP_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  key(k, kv->key, kv->type);
  if (kv->type == DP_GGUF_STRING) { dp_gguf_put_str(&k->b, (const char *)kv->data, (size_t)kv->n); return; }
  if (kv->type != DP_GGUF_ARRAY) { dp_buf_append(&k->b, kv->data, SZ[kv->type]); return; }
  dp_gguf_put_u32(&k->b, kv->arr_type);
  dp_gguf_put_u64(&k->b, kv->n);
  if (kv->arr_type != DP_GGUF_STRING) { dp_buf_append(&k->b, kv->data, (size_t)(kv->n * SZ[kv->arr_type])); return; }
  for (uint64_t i = 0; i < kv->n; i++) {
    size_t n;
    const char *s = dp_gguf_arr_str(kv, i, &n);
    dp_gguf_put_str(&k->b, s, n);
  }
}

void dp_gguf_kv_hparams(dp_gguf_kvbuf *k, const dp_hparams *hp) {
  const char *a = dp_gguf_arch_name(hp->arch);
  char name[128];
#define KEY(s) (snprintf(name, sizeof name, "%s." s, a), name)
  dp_gguf_kv_u32(k, KEY("context_length"), (uint32_t)hp->max_pos);
  dp_gguf_kv_u32(k, KEY("embedding_length"), (uint32_t)hp->d_model);
  dp_gguf_kv_u32(k, KEY("block_count"), (uint32_t)hp->n_layers);
  dp_gguf_kv_u32(k, KEY("feed_forward_length"), (uint32_t)hp->d_ff);
  dp_gguf_kv_u32(k, KEY("attention.head_count"), (uint32_t)hp->n_heads);
  dp_gguf_kv_u32(k, KEY("attention.head_count_kv"), (uint32_t)hp->n_kv_heads);
  dp_gguf_kv_u32(k, KEY("attention.key_length"), (uint32_t)hp->head_dim);
  dp_gguf_kv_u32(k, KEY("attention.value_length"), (uint32_t)hp->head_dim);
  dp_gguf_kv_f32(k, KEY("attention.layer_norm_rms_epsilon"), (float)hp->norm_eps);
  dp_gguf_kv_f32(k, KEY("rope.freq_base"), (float)hp->rope.theta);
  dp_gguf_kv_u32(k, KEY("rope.dimension_count"), (uint32_t)hp->rope.rotary_dim);
  dp_gguf_kv_u32(k, KEY("vocab_size"), (uint32_t)hp->vocab_size);
  if (hp->rope.type == DP_ROPE_LINEAR || hp->rope.type == DP_ROPE_YARN) {
    dp_gguf_kv_str(k, KEY("rope.scaling.type"), hp->rope.type == DP_ROPE_LINEAR ? "linear" : "yarn");
    dp_gguf_kv_f32(k, KEY("rope.scaling.factor"), (float)hp->rope.factor);
    if (hp->rope.type == DP_ROPE_YARN) dp_gguf_kv_u32(k, KEY("rope.scaling.original_context_length"), (uint32_t)hp->rope.original_max_pos);
  }
  if (hp->sliding_window) dp_gguf_kv_u32(k, KEY("attention.sliding_window"), (uint32_t)hp->sliding_window);
  if (hp->n_experts) {
    dp_gguf_kv_u32(k, KEY("expert_count"), (uint32_t)hp->n_experts);
    dp_gguf_kv_u32(k, KEY("expert_used_count"), (uint32_t)hp->n_experts_per_tok);
    if (hp->arch == DP_ARCH_GPTOSS) dp_gguf_kv_u32(k, KEY("expert_feed_forward_length"), (uint32_t)hp->moe_d_ff);
  }
  if (hp->attn_softcap) dp_gguf_kv_f32(k, KEY("attn_logit_softcapping"), (float)hp->attn_softcap);
  if (hp->final_softcap) dp_gguf_kv_f32(k, KEY("final_logit_softcapping"), (float)hp->final_softcap);
#undef KEY
  dp_buf j = {0};
  dp_hparams_to_json(hp, &j);
  dp_gguf_kv_str(k, "doppler.hparams", j.data ? j.data : "{}");
  dp_buf_free(&j);
}

/* The pretokenizer name llama.cpp uses for a Split regex (tokenizer.ggml.pre). */
static const char *pre_name(const dp_json *tj) {
  const dp_json *pt = dp_json_get(tj, "pre_tokenizer");
  const dp_json *list = dp_json_get(pt, "pretokenizers");
  size_t n = list ? dp_json_len(list) : 1;
  for (size_t i = 0; i < n; i++) {
    const dp_json *p = list ? dp_json_at(list, i) : pt;
    const char *re = dp_json_get_str(dp_json_get(p, "pattern"), "Regex", NULL);
    if (!re) continue;
    if (strstr(re, "\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}")) return "gpt-4o";
    if (strstr(re, "(?i:'s|'t|'re|'ve|'m|'ll|'d)") && strstr(re, "\\p{N}{1,3}")) return "llama-bpe";
    if (strstr(re, "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+")) return "gpt2";
  }
  return "default";
}

typedef struct tok { const char *s; uint32_t n; int type; } tok;

dp_status dp_gguf_kv_tokenizer(dp_gguf_kvbuf *k, const char *path, const dp_hparams *hp) {
  dp_json_doc *doc = dp_json_parse_file(path);
  if (!doc) return DP_ERR_FORMAT;
  const dp_json *tj = dp_json_root(doc), *model = dp_json_get(tj, "model");
  const dp_json *vocab = dp_json_get(model, "vocab"), *merges = dp_json_get(model, "merges"), *added = dp_json_get(tj, "added_tokens");
  dp_status st = DP_OK;
  int bytelevel = strstr(dp_json_get_str(dp_json_get(tj, "decoder"), "type", ""), "ByteLevel") != NULL;
  if (strcmp(dp_json_get_str(model, "type", ""), "BPE") || !dp_json_is(vocab, DP_JSON_OBJECT) || !bytelevel) {
    dp_json_free(doc);
    return dp_error(DP_ERR_UNSUPPORTED, "%s: only byte-level BPE tokenizers are exported to GGUF metadata", path);
  }
  uint64_t n = 0;
  for (uint32_t i = 0; i < vocab->n; i++) {
    int64_t id = dp_json_int(&vocab->u.items[i], -1);
    if (id >= 0 && (uint64_t)id + 1 > n) n = (uint64_t)id + 1;
  }
  for (size_t i = 0; i < dp_json_len(added); i++) {
    int64_t id = dp_json_get_int(dp_json_at(added, i), "id", -1);
    if (id >= 0 && (uint64_t)id + 1 > n) n = (uint64_t)id + 1;
  }
  if (hp && (uint64_t)hp->vocab_size > n) n = (uint64_t)hp->vocab_size;
  tok *t = n ? dp_calloc(n, sizeof *t) : NULL;
  if (n && !t) { dp_json_free(doc); return DP_ERR_NOMEM; }
  if (n > (1u << 24)) st = dp_error(DP_ERR_FORMAT, "%s: vocabulary too large", path);
  for (uint32_t i = 0; !st && i < vocab->n; i++) {
    int64_t id = dp_json_int(&vocab->u.items[i], -1);
    if (id < 0) { st = dp_error(DP_ERR_FORMAT, "%s: vocab entry %s: bad id", path, vocab->keys[i]); break; }
    t[id] = (tok){vocab->keys[i], vocab->key_lens[i], 1};
  }
  for (size_t i = 0; !st && i < dp_json_len(added); i++) {
    const dp_json *a = dp_json_at(added, i);
    int64_t id = dp_json_get_int(a, "id", -1);
    const dp_json *c = dp_json_get(a, "content");
    if (id < 0 || !dp_json_is(c, DP_JSON_STRING)) { st = dp_error(DP_ERR_FORMAT, "%s: added_tokens[%zu]: bad entry", path, i); break; }
    t[id] = (tok){c->u.str, c->n, dp_json_get_bool(a, "special", 0) ? 3 : 4};
  }
  char pad[32];
  for (uint64_t i = 0; !st && i < n; i++)
    if (!t[i].s) { /* ids the vocabulary skips get a placeholder, as llama.cpp does */
      snprintf(pad, sizeof pad, "[PAD%llu]", (unsigned long long)i);
      t[i].type = 5; /* unused */
      t[i].s = NULL;
    }
  if (!st) {
    dp_gguf_kv_str(k, "tokenizer.ggml.model", "gpt2");
    dp_gguf_kv_str(k, "tokenizer.ggml.pre", pre_name(tj));
    key(k, "tokenizer.ggml.tokens", DP_GGUF_ARRAY);
    dp_gguf_put_u32(&k->b, DP_GGUF_STRING);
    dp_gguf_put_u64(&k->b, n);
    for (uint64_t i = 0; i < n; i++) {
      if (t[i].s) dp_gguf_put_str(&k->b, t[i].s, t[i].n);
      else { snprintf(pad, sizeof pad, "[PAD%llu]", (unsigned long long)i); dp_gguf_put_str(&k->b, pad, strlen(pad)); }
    }
    key(k, "tokenizer.ggml.token_type", DP_GGUF_ARRAY);
    dp_gguf_put_u32(&k->b, DP_GGUF_I32);
    dp_gguf_put_u64(&k->b, n);
    for (uint64_t i = 0; i < n; i++) dp_gguf_put_u32(&k->b, (uint32_t)t[i].type);
    key(k, "tokenizer.ggml.merges", DP_GGUF_ARRAY);
    dp_gguf_put_u32(&k->b, DP_GGUF_STRING);
    dp_gguf_put_u64(&k->b, dp_json_len(merges));
    for (size_t i = 0; i < dp_json_len(merges); i++) {
      const dp_json *m = dp_json_at(merges, i);
      if (dp_json_is(m, DP_JSON_STRING)) dp_gguf_put_str(&k->b, m->u.str, m->n);
      else { /* ["a", "b"] pair form */
        const dp_json *a = dp_json_at(m, 0), *b = dp_json_at(m, 1);
        dp_gguf_put_u64(&k->b, (uint64_t)(a ? a->n : 0) + 1 + (b ? b->n : 0));
        if (a) dp_buf_append(&k->b, a->u.str, a->n);
        dp_buf_append(&k->b, " ", 1);
        if (b) dp_buf_append(&k->b, b->u.str, b->n);
      }
    }
    if (hp && hp->bos_id >= 0) dp_gguf_kv_u32(k, "tokenizer.ggml.bos_token_id", (uint32_t)hp->bos_id);
    if (hp && hp->n_eos) dp_gguf_kv_u32(k, "tokenizer.ggml.eos_token_id", (uint32_t)hp->eos_ids[0]);
    if (hp && hp->pad_id >= 0) dp_gguf_kv_u32(k, "tokenizer.ggml.padding_token_id", (uint32_t)hp->pad_id);
    /* tokenizer_config.json beside it: add_bos_token / add_eos_token */
    char *dir = dp_strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (dir) {
      if (slash) *slash = 0;
      char *cp = dp_path_join(slash ? dir : ".", "tokenizer_config.json");
      dp_json_doc *cfg = cp && dp_file_exists(cp) ? dp_json_parse_file(cp) : NULL;
      if (cfg) {
        const dp_json *c = dp_json_root(cfg);
        if (dp_json_get(c, "add_bos_token")) dp_gguf_kv_bool(k, "tokenizer.ggml.add_bos_token", dp_json_get_bool(c, "add_bos_token", 0));
        if (dp_json_get(c, "add_eos_token")) dp_gguf_kv_bool(k, "tokenizer.ggml.add_eos_token", dp_json_get_bool(c, "add_eos_token", 0));
        dp_json_free(cfg);
      }
      dp_free(cp);
      dp_free(dir);
    }
  }
  if (!st && k->b.failed) st = DP_ERR_NOMEM;
  dp_free(t);
  dp_json_free(doc);
  return st;
}
