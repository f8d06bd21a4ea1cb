/* gguf_write.c -- GGUF metadata encoding (see gguf_write.h). Called by the converter;
 * depends on core (buf, json) and hparams. Keys follow llama.cpp (gguf-py constants):
 * <arch>.context_length, .embedding_length, .block_count, .feed_forward_length,
 * .attention.head_count(_kv), .attention.key_length/.value_length,
 * .attention.layer_norm_rms_epsilon, .rope.freq_base, .rope.dimension_count,
 * .rope.scaling.*, .expert_count, .expert_used_count, .attention.sliding_window, ... */
#include "format/json_status.h"
#include "tools/gguf_write.h"
#include "format/gguf_names.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include <ctype.h>
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
  if (hp->rope.type == DP_ROPE_LLAMA3) /* the factors themselves go in the rope_freqs.weight tensor */
    dp_gguf_kv_u32(k, KEY("rope.scaling.original_context_length"), (uint32_t)hp->rope.original_max_pos);
  if (hp->sliding_window) dp_gguf_kv_u32(k, KEY("attention.sliding_window"), (uint32_t)hp->sliding_window);
  if (hp->arch == DP_ARCH_GEMMA3) {
    /* llama.cpp's Gemma 3 assumes every 6th layer global and 1/sqrt(head_dim); say what this
     * model does, in the keys llama.cpp uses for them elsewhere (gguf-py add_sliding_window_pattern:
     * one bool per layer, true = sliding window; add_attention_scale) */
    if (hp->sliding_window) {
      key(k, KEY("attention.sliding_window_pattern"), DP_GGUF_ARRAY);
      dp_gguf_put_u32(&k->b, DP_GGUF_BOOL);
      dp_gguf_put_u64(&k->b, (uint64_t)hp->n_layers);
      for (int i = 0; i < hp->n_layers && i < DP_MAX_LAYERS; i++) dp_buf_append(&k->b, &hp->layer_sliding[i], 1);
    }
    dp_gguf_kv_f32(k, KEY("attention.scale"), (float)hp->attn_scale);
  }
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

typedef struct tok { const char *s; uint32_t n; int type; float score; } tok;

/* llama.cpp token types */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* Open-addressing map from token text to id over t[0..n) (FNV-1a), for merge -> token lookups. */
typedef struct tokmap { int32_t *slot; uint64_t mask; const tok *t; } tokmap;

static uint64_t fnv(const char *s, size_t n, const char *s2, size_t n2) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  for (size_t i = 0; i < n2; i++) h = (h ^ (uint8_t)s2[i]) * 1099511628211ull;
  return h;
}

static dp_status tokmap_build(tokmap *m, const tok *t, uint64_t n) {
  uint64_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  if (!(m->slot = dp_malloc(cap * sizeof *m->slot))) return DP_ERR_NOMEM;
  memset(m->slot, 0xff, cap * sizeof *m->slot);
  m->mask = cap - 1, m->t = t;
  for (uint64_t i = 0; i < n; i++) {
    if (!t[i].s) continue;
    uint64_t h = fnv(t[i].s, t[i].n, NULL, 0) & m->mask;
    while (m->slot[h] >= 0) h = (h + 1) & m->mask;
    m->slot[h] = (int32_t)i;
  }
  return DP_OK;
}

/* id of the token whose text is a followed by b, or -1 (the first id with that text) */
static int64_t tokmap_find(const tokmap *m, const char *a, size_t na, const char *b, size_t nb) {
  int64_t best = -1;
  for (uint64_t h = fnv(a, na, b, nb) & m->mask; m->slot[h] >= 0; h = (h + 1) & m->mask) {
    const tok *x = &m->t[m->slot[h]];
    if (x->n == na + nb && !memcmp(x->s, a, na) && !memcmp(x->s + na, b, nb) && (best < 0 || m->slot[h] < best)) best = m->slot[h];
  }
  return best;
}

/* Merge i as its two halves ("a b" string form, or ["a", "b"]); 0 if malformed. */
static int merge_parts(const dp_json *m, const char **a, size_t *na, const char **b, size_t *nb) {
  if (dp_json_is(m, DP_JSON_STRING)) {
    const char *sp = memchr(m->u.str, ' ', m->n);
    if (!sp) return 0;
    *a = m->u.str, *na = (size_t)(sp - m->u.str), *b = sp + 1, *nb = m->n - *na - 1;
    return 1;
  }
  const dp_json *x = dp_json_at(m, 0), *y = dp_json_at(m, 1);
  if (!dp_json_is(x, DP_JSON_STRING) || !dp_json_is(y, DP_JSON_STRING)) return 0;
  *a = x->u.str, *na = x->n, *b = y->u.str, *nb = y->n;
  return 1;
}

static int is_byte_token(const char *s, size_t n) { /* <0xXX> */
  return n == 6 && !memcmp(s, "<0x", 3) && isxdigit((unsigned char)s[3]) && isxdigit((unsigned char)s[4]) && s[5] == '>';
}

/* SentencePiece-style text handling: a "Prepend ▁" normalizer or a Metaspace pre-tokenizer that
 * prepends -> llama.cpp's tokenizer.ggml.add_space_prefix. */
static int adds_space_prefix(const dp_json *tj) {
  const dp_json *nz = dp_json_get(tj, "normalizer"), *list = dp_json_get(nz, "normalizers");
  for (size_t i = 0, n = list ? dp_json_len(list) : 1; i < n; i++) {
    const dp_json *x = list ? dp_json_at(list, i) : nz;
    if (!strcmp(dp_json_get_str(x, "type", ""), "Prepend")) return 1;
  }
  const dp_json *pt = dp_json_get(tj, "pre_tokenizer");
  list = dp_json_get(pt, "pretokenizers");
  for (size_t i = 0, n = list ? dp_json_len(list) : 1; i < n; i++) {
    const dp_json *x = list ? dp_json_at(list, i) : pt;
    if (!strcmp(dp_json_get_str(x, "type", ""), "Metaspace"))
      return strcmp(dp_json_get_str(x, "prepend_scheme", "always"), "never") && dp_json_get_bool(x, "add_prefix_space", 1);
  }
  return 0;
}

static void put_token_strings(dp_gguf_kvbuf *k, const tok *t, uint64_t n) {
  char pad[32];
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
}

/* Byte-level BPE (GPT-2 style): tokenizer.ggml.model gpt2, .pre, tokens, token_type, merges. */
static void put_bpe(dp_gguf_kvbuf *k, const dp_json *tj, const tok *t, uint64_t n, const dp_json *merges) {
  dp_gguf_kv_str(k, "tokenizer.ggml.model", "gpt2");
  dp_gguf_kv_str(k, "tokenizer.ggml.pre", pre_name(tj));
  put_token_strings(k, t, n);
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
}

/* SentencePiece-style BPE (▁ for spaces, <0xXX> byte fallback; Llama 2, Gemma):
 * tokenizer.ggml.model llama, .pre default, tokens, scores, token_type, add_space_prefix,
 * unknown_token_id. tokenizer.json has no piece scores; a SentencePiece BPE model's score is
 * minus its merge order, so a token made by merge r (the first merge giving its text) scores
 * -r - 1, which makes llama.cpp's score-greedy merging follow the merge ranks. Tokens no merge
 * makes (single characters, bytes, specials) score 0. */
static dp_status put_spm(dp_gguf_kvbuf *k, const dp_json *tj, tok *t, uint64_t n, const dp_json *merges, const char *path) {
  const dp_json *model = dp_json_get(tj, "model");
  const char *unk = dp_json_get_str(model, "unk_token", NULL);
  tokmap m;
  dp_status st = tokmap_build(&m, t, n);
  if (st) return st;
  int64_t unk_id = unk ? tokmap_find(&m, unk, strlen(unk), "", 0) : -1;
  for (uint64_t i = 0; i < n; i++) {
    t[i].score = 0;
    if (!t[i].s) continue;
    if ((int64_t)i == unk_id) t[i].type = TT_UNKNOWN;
    else if (t[i].type == TT_NORMAL && is_byte_token(t[i].s, t[i].n)) t[i].type = TT_BYTE;
  }
  for (size_t r = 0; r < dp_json_len(merges); r++) {
    const char *a, *b;
    size_t na, nb;
    if (!merge_parts(dp_json_at(merges, r), &a, &na, &b, &nb)) { st = dp_error(DP_ERR_FORMAT, "%s: model.merges[%zu]: malformed", path, r); break; }
    int64_t id = tokmap_find(&m, a, na, b, nb);
    if (id >= 0 && t[id].score == 0 && t[id].type == TT_NORMAL) t[id].score = -(float)r - 1;
  }
  dp_free(m.slot);
  if (st) return st;
  dp_gguf_kv_str(k, "tokenizer.ggml.model", "llama");
  dp_gguf_kv_str(k, "tokenizer.ggml.pre", "default");
  put_token_strings(k, t, n);
  key(k, "tokenizer.ggml.scores", DP_GGUF_ARRAY);
  dp_gguf_put_u32(&k->b, DP_GGUF_F32);
  dp_gguf_put_u64(&k->b, n);
  for (uint64_t i = 0; i < n; i++) {
    uint32_t x;
    memcpy(&x, &t[i].score, 4);
    dp_gguf_put_u32(&k->b, x);
  }
  dp_gguf_kv_bool(k, "tokenizer.ggml.add_space_prefix", adds_space_prefix(tj));
  if (unk_id >= 0) dp_gguf_kv_u32(k, "tokenizer.ggml.unknown_token_id", (uint32_t)unk_id);
  return DP_OK;
}

dp_status dp_gguf_kv_tokenizer(dp_gguf_kvbuf *k, const char *path, const dp_hparams *hp) {
  dp_json_doc *doc = dp_json_parse_file(path);
  if (!doc) return dp_json_fail_status();
  const dp_json *tj = dp_json_root(doc), *model = dp_json_get(tj, "model");
  const dp_json *vocab = dp_json_get(model, "vocab"), *merges = dp_json_get(model, "merges"), *added = dp_json_get(tj, "added_tokens");
  dp_status st = DP_OK;
  const dp_json *dec = dp_json_get(tj, "decoder"), *decs = dp_json_get(dec, "decoders");
  int bytelevel = 0, fallback = dp_json_get_bool(model, "byte_fallback", 0);
  for (size_t i = 0, nd = decs ? dp_json_len(decs) : 1; i < nd; i++) {
    const char *ty = dp_json_get_str(decs ? dp_json_at(decs, i) : dec, "type", "");
    bytelevel |= !strcmp(ty, "ByteLevel");
    fallback |= !strcmp(ty, "ByteFallback");
  }
  if (strcmp(dp_json_get_str(model, "type", ""), "BPE") || !dp_json_is(vocab, DP_JSON_OBJECT) || (!bytelevel && !fallback)) {
    dp_json_free(doc);
    return dp_error(DP_ERR_UNSUPPORTED, "%s: only BPE tokenizers (byte-level, or SentencePiece-style with byte fallback) are exported to GGUF metadata", path);
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
  if (n > (1u << 24)) { dp_json_free(doc); return dp_error(DP_ERR_FORMAT, "%s: vocabulary too large", path); }
  tok *t = n ? dp_calloc(n, sizeof *t) : NULL;
  if (n && !t) { dp_json_free(doc); return DP_ERR_NOMEM; }
  for (uint32_t i = 0; !st && i < vocab->n; i++) {
    int64_t id = dp_json_int(&vocab->u.items[i], -1);
    if (id < 0) { st = dp_error(DP_ERR_FORMAT, "%s: vocab entry %s: bad id", path, vocab->keys[i]); break; }
    t[id] = (tok){vocab->keys[i], vocab->key_lens[i], TT_NORMAL, 0};
  }
  for (size_t i = 0; !st && i < dp_json_len(added); i++) {
    const dp_json *a = dp_json_at(added, i);
    int64_t id = dp_json_get_int(a, "id", -1);
    const dp_json *c = dp_json_get(a, "content");
    if (id < 0 || !dp_json_is(c, DP_JSON_STRING)) { st = dp_error(DP_ERR_FORMAT, "%s: added_tokens[%zu]: bad entry", path, i); break; }
    t[id] = (tok){c->u.str, c->n, dp_json_get_bool(a, "special", 0) ? TT_CONTROL : TT_USER, 0};
  }
  for (uint64_t i = 0; !st && i < n; i++)
    if (!t[i].s) t[i].type = TT_UNUSED; /* ids the vocabulary skips: "[PADi]", as llama.cpp does */
  if (!st) {
    if (bytelevel) put_bpe(k, tj, t, n, merges);
    else st = put_spm(k, tj, t, n, merges, path);
  }
  if (!st) {
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
