/* tok_vocab.c -- a dp_tokenizer from plain vocabulary arrays as GGUF stores them
 * (tokenizer.ggml.model/pre/tokens/scores/token_type/merges/bos/eos/add_bos), configured to
 * behave as the equivalent tokenizer.json: "gpt2" = byte-level BPE with the pre-tokenizer regex
 * named by .pre; "llama" = SentencePiece BPE (U+2581 for spaces, <0xNN> byte fallback, merge
 * priority from the scores of the merged tokens, as llama.cpp and HF's converted files do).
 * Also the one place that picks a model file's tokenizer (dp_tokenizer_from_model_file).
 * Called by the C API (src/api/model.c), `doppler tokenize` and tests; depends on core and
 * format (gguf.h, model_file.h). */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "format/gguf.h"
#include "format/model_file.h"
#include "tokenizer/tok_internal.h"

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

static char *dupz(const char *s) { return dp_strdup(s); }

static dp_status push_pre(dp_tokenizer *t, tok_pre p) {
  tok_pre *np = dp_realloc(t->pre, (t->n_pre + 1) * sizeof *np);
  if (!np) { dp_regex_free(p.re); dp_free(p.str); return DP_ERR_NOMEM; }
  t->pre = np; t->pre[t->n_pre++] = p;
  return DP_OK;
}
static dp_status push_dec(dp_tokenizer *t, int kind, const char *a, const char *b, int start) {
  tok_dec d = {0};
  d.kind = kind; d.a = dupz(a); d.alen = strlen(a); d.b = dupz(b); d.blen = strlen(b); d.start = start;
  if (!d.a || !d.b) { dp_free(d.a); dp_free(d.b); return DP_ERR_NOMEM; }
  tok_dec *nd = dp_realloc(t->dec, (t->n_dec + 1) * sizeof *nd);
  if (!nd) { dp_free(d.a); dp_free(d.b); return DP_ERR_NOMEM; }
  t->dec = nd; t->dec[t->n_dec++] = d;
  t->has_decoder = 1;
  return DP_OK;
}
static dp_status push_norm(dp_tokenizer *t, int kind, const char *a, const char *b) {
  tok_norm nm = {0};
  nm.kind = kind; nm.a = dupz(a); nm.alen = strlen(a); nm.b = dupz(b); nm.blen = strlen(b);
  if (!nm.a || !nm.b) { dp_free(nm.a); dp_free(nm.b); return DP_ERR_NOMEM; }
  tok_norm *nn = dp_realloc(t->norm, (t->n_norm + 1) * sizeof *nn);
  if (!nn) { dp_free(nm.a); dp_free(nm.b); return DP_ERR_NOMEM; }
  t->norm = nn; t->norm[t->n_norm++] = nm;
  return DP_OK;
}

static const char *pre_pattern(const char *pre, int *ignore_merges) {
  *ignore_merges = 0;
  if (!pre || !strcmp(pre, "default") || !strcmp(pre, "gpt2") || !strcmp(pre, "gpt-2")) return NULL;
  if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "llama-v3") || !strcmp(pre, "smaug-bpe")) {
    *ignore_merges = 1;
    return DP_TOK_LLAMA3_PATTERN;
  }
  if (!strcmp(pre, "gpt-4o") || !strcmp(pre, "o200k") || !strcmp(pre, "gpt-oss")) { *ignore_merges = 1; return DP_TOK_O200K_PATTERN; }
  if (!strcmp(pre, "qwen2") || !strcmp(pre, "deepseek-r1-qwen")) return DP_TOK_QWEN2_PATTERN;
  return "";
}

typedef struct { uint32_t id; float score; } scored;
static int by_score(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

dp_status dp_tokenizer_from_vocab(const dp_tokenizer_vocab *v, dp_tokenizer **out) {
  *out = NULL;
  const char *model = v->model ? v->model : "gpt2";
  int spm = !strcmp(model, "llama");
  if (!spm && strcmp(model, "gpt2"))
    return dp_error(DP_ERR_UNSUPPORTED, "tokenizer: GGUF tokenizer model \"%s\" is not supported (gpt2, llama)", model);
  if (!v->n_tokens || v->n_tokens > 0x7ffffffe) return dp_error(DP_ERR_FORMAT, "tokenizer: %zu tokens", v->n_tokens);
  if (spm && !v->scores) return dp_error(DP_ERR_FORMAT, "tokenizer: model \"llama\" needs token scores");
  int ignore_merges = 0;
  const char *pat = spm ? NULL : pre_pattern(v->pre, &ignore_merges);
  if (pat && !*pat) return dp_error(DP_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer \"%s\" is not supported", v->pre);
  dp_tokenizer *t = dp_tok_alloc();
  if (!t) return DP_ERR_NOMEM;
  dp_status st = dp_tok_set_token(t, (int32_t)v->n_tokens - 1, "", 0);
  for (size_t i = 0; i < v->n_tokens && !st; i++) {
    const char *s = v->tokens[i];
    size_t n = v->token_lens ? v->token_lens[i] : strlen(s);
    st = dp_tok_set_token(t, (int32_t)i, s, n);
  }
  if (!st) st = dp_tok_index(t);
  /* control (3) tokens are special added tokens; user-defined (4) plain added tokens */
  for (size_t i = 0; i < v->n_tokens && !st && v->token_types; i++) {
    int ty = v->token_types[i];
    if (ty != 3 && ty != 4) continue;
    size_t n = t->tok_len[i];
    if (!n) continue;
    char *copy = dp_strndup(t->arena + t->tok_off[i], n);
    if (!copy) { st = DP_ERR_NOMEM; break; }
    st = dp_tok_add_added(t, (int32_t)i, copy, n, ty == 3, 0, 0, 0, 0);
    dp_free(copy);
  }
  if (!st) st = dp_tok_index(t);
  t->unk_id = v->unk_id;
  t->bos = v->bos_id; t->eos = v->eos_id;
  t->ignore_merges = ignore_merges;
  if (!st && spm) {
    /* merges from scores: pair (left, right) -> the token left+right, ranked by its score */
    t->byte_fallback = 1; t->fuse_unk = 1;
    scored *order = dp_malloc(v->n_tokens * sizeof *order);
    if (!order) st = DP_ERR_NOMEM;
    size_t no = 0;
    for (size_t i = 0; i < v->n_tokens && !st; i++) {
      int ty = v->token_types ? v->token_types[i] : 1;
      if (ty == 1 || ty == 4) order[no++] = (scored){(uint32_t)i, v->scores[i]};
    }
    if (!st) qsort(order, no, sizeof *order, by_score);
    for (size_t r = 0; r < no && !st; r++) {
      int32_t id = (int32_t)order[r].id;
      const char *s = t->arena + t->tok_off[id];
      size_t n = t->tok_len[id];
      for (size_t k = 1; k < n && !st; k++) {
        if (((uint8_t)s[k] & 0xC0) == 0x80) continue;
        int32_t a = dp_tok_lookup(t, s, k), b = dp_tok_lookup(t, s + k, n - k);
        if (a >= 0 && b >= 0) st = dp_tok_add_merge(t, a, b, (uint32_t)r, id);
      }
    }
    dp_free(order);
    if (!st && (v->add_space_prefix != 0)) st = push_norm(t, NORM_PREPEND, SPACE_MARK, "");
    if (!st) st = push_norm(t, NORM_REPLACE, " ", SPACE_MARK);
    if (!st) st = push_dec(t, DEC_REPLACE, SPACE_MARK, " ", 0);
    if (!st) st = push_dec(t, DEC_BYTEFALLBACK, "", "", 0);
    if (!st) st = push_dec(t, DEC_FUSE, "", "", 0);
    if (!st && v->add_space_prefix != 0) st = push_dec(t, DEC_STRIP, " ", "", 1);
  } else if (!st) {
    t->byte_level = 1;
    char *cat = NULL; size_t catcap = 0;
    for (size_t i = 0; i < v->n_merges && !st; i++) {
      const char *m = v->merges[i];
      size_t n = v->merge_lens ? v->merge_lens[i] : strlen(m);
      const char *sp = memchr(m, ' ', n);
      if (!sp) { st = dp_error(DP_ERR_FORMAT, "tokenizer: merges[%zu]: no space", i); break; }
      size_t al = (size_t)(sp - m), bl = n - al - 1;
      if (n > catcap) {
        catcap = n * 2 + 64;
        char *nc = dp_realloc(cat, catcap);
        if (!nc) { st = DP_ERR_NOMEM; break; }
        cat = nc;
      }
      memcpy(cat, m, al); memcpy(cat + al, sp + 1, bl);
      int32_t a = dp_tok_lookup(t, m, al), b = dp_tok_lookup(t, sp + 1, bl), c = dp_tok_lookup(t, cat, al + bl);
      if (a < 0 || b < 0 || c < 0) { st = dp_error(DP_ERR_FORMAT, "tokenizer: merges[%zu]: token not in vocabulary", i); break; }
      st = dp_tok_add_merge(t, a, b, (uint32_t)i, c);
    }
    dp_free(cat);
    tok_pre p = {0};
    if (!st && pat) {
      p.kind = PRE_SPLIT_REGEX; p.behavior = SPLIT_ISOLATED;
      st = dp_regex_compile(pat, strlen(pat), &p.re);
      if (!st) st = push_pre(t, p);
      memset(&p, 0, sizeof p);
    }
    if (!st) {
      p.kind = PRE_BYTELEVEL;
      if (!pat) st = dp_regex_compile(DP_TOK_GPT2_PATTERN, strlen(DP_TOK_GPT2_PATTERN), &p.re);
      if (!st) st = push_pre(t, p);
    }
    if (!st) st = push_dec(t, DEC_BYTELEVEL, "", "", 0);
  }
  if (!st) {
    t->add_bos = v->add_bos >= 0 ? v->add_bos : spm;
    t->add_eos = v->add_eos > 0;
    if (t->add_bos && t->bos >= 0) t->prefix[t->n_prefix++] = t->bos;
    else t->add_bos = 0;
    if (t->add_eos && t->eos >= 0) t->suffix[t->n_suffix++] = t->eos;
    else t->add_eos = 0;
    if (v->chat_template && !(t->chat_template = dp_strdup(v->chat_template))) st = DP_ERR_NOMEM;
  }
  if (!st) st = dp_tok_finish(t);
  if (st) { dp_tokenizer_free(t); return st; }
  *out = t;
  return DP_OK;
}

dp_status dp_tokenizer_from_gguf(const struct dp_gguf *g, dp_tokenizer **out) {
  *out = NULL;
  const dp_gguf_kv *tk = dp_gguf_find(g, "tokenizer.ggml.tokens");
  if (!tk || tk->type != DP_GGUF_ARRAY || tk->arr_type != DP_GGUF_STRING)
    return dp_error(DP_ERR_FORMAT, "%s: tokenizer.ggml.tokens missing", g->path ? g->path : "gguf");
  const dp_gguf_kv *sc = dp_gguf_find(g, "tokenizer.ggml.scores"), *ty = dp_gguf_find(g, "tokenizer.ggml.token_type");
  const dp_gguf_kv *mg = dp_gguf_find(g, "tokenizer.ggml.merges");
  size_t n = (size_t)tk->n, nm = mg && mg->type == DP_GGUF_ARRAY && mg->arr_type == DP_GGUF_STRING ? (size_t)mg->n : 0;
  if (sc && (sc->type != DP_GGUF_ARRAY || sc->n != tk->n)) sc = NULL;
  if (ty && (ty->type != DP_GGUF_ARRAY || ty->n != tk->n)) ty = NULL;
  char model[32], pre[64];
  dp_gguf_get_strz(g, "tokenizer.ggml.model", model, sizeof model, "gpt2");
  const char *prep = dp_gguf_get_strz(g, "tokenizer.ggml.pre", pre, sizeof pre, NULL);
  const char **toks = dp_calloc(n + 1, sizeof *toks), **merges = dp_calloc(nm + 1, sizeof *merges);
  uint32_t *tl = dp_calloc(n + 1, sizeof *tl), *ml = dp_calloc(nm + 1, sizeof *ml);
  float *scores = sc ? dp_calloc(n + 1, sizeof *scores) : NULL;
  int32_t *types = ty ? dp_calloc(n + 1, sizeof *types) : NULL;
  char *tmpl = NULL;
  dp_status st = DP_OK;
  if (!toks || !merges || !tl || !ml || (sc && !scores) || (ty && !types)) st = DP_ERR_NOMEM;
  for (size_t i = 0; i < n && !st; i++) {
    size_t l; toks[i] = dp_gguf_arr_str(tk, i, &l); tl[i] = (uint32_t)l;
    if (scores) scores[i] = (float)dp_gguf_arr_num(sc, i);
    if (types) types[i] = (int32_t)dp_gguf_arr_int(ty, i);
  }
  for (size_t i = 0; i < nm && !st; i++) { size_t l; merges[i] = dp_gguf_arr_str(mg, i, &l); ml[i] = (uint32_t)l; }
  size_t tlen;
  const char *ts = dp_gguf_get_str(g, "tokenizer.chat_template", &tlen);
  if (!st && ts && !(tmpl = dp_strndup(ts, tlen))) st = DP_ERR_NOMEM;
  const dp_gguf_kv *ab = dp_gguf_find(g, "tokenizer.ggml.add_bos_token"), *ae = dp_gguf_find(g, "tokenizer.ggml.add_eos_token");
  const dp_gguf_kv *asp = dp_gguf_find(g, "tokenizer.ggml.add_space_prefix");
  if (!st) {
    dp_tokenizer_vocab v = {
      .model = model, .pre = prep, .n_tokens = n, .tokens = toks, .token_lens = tl, .scores = scores,
      .token_types = types, .n_merges = nm, .merges = merges, .merge_lens = ml,
      .bos_id = (int32_t)dp_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1),
      .eos_id = (int32_t)dp_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1),
      .unk_id = (int32_t)dp_gguf_get_int(g, "tokenizer.ggml.unknown_token_id", -1),
      .add_bos = ab ? (int)dp_gguf_get_int(g, "tokenizer.ggml.add_bos_token", 0) : -1,
      .add_eos = ae ? (int)dp_gguf_get_int(g, "tokenizer.ggml.add_eos_token", 0) : -1,
      .add_space_prefix = asp ? (int)dp_gguf_get_int(g, "tokenizer.ggml.add_space_prefix", 1) : -1,
      .chat_template = tmpl,
    };
    if (v.bos_id >= (int32_t)n) v.bos_id = -1;
    if (v.eos_id >= (int32_t)n) v.eos_id = -1;
    if (v.unk_id >= (int32_t)n) v.unk_id = -1;
    st = dp_tokenizer_from_vocab(&v, out);
    if (st) dp_error_wrap(st, "%s", g->path ? g->path : "gguf");
  }
  dp_free(toks); dp_free(merges); dp_free(tl); dp_free(ml); dp_free(scores); dp_free(types); dp_free(tmpl);
  return st;
}

dp_status dp_tokenizer_from_model_file(const struct dp_model_file *mf, dp_tokenizer **out) {
  *out = NULL;
  const char *tj = dp_model_file_tokenizer_json(mf);
  const dp_gguf *g = dp_model_file_gguf(mf);
  if (tj) return dp_tokenizer_load_json(tj, out);
  if (g && dp_gguf_find(g, "tokenizer.ggml.tokens")) return dp_tokenizer_from_gguf(g, out);
  return DP_OK; /* no tokenizer: the model takes ids only */
}
