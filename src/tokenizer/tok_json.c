/* tok_json.c -- builds a dp_tokenizer from tokenizer.json (+ tokenizer_config.json): the BPE
 * model (vocab, merges in either form, flags), added tokens, normalizer, pre-tokenizer,
 * decoder and post-processor sections, and the BOS/EOS policy. Anything it does not know is
 * refused with a message naming the section and type, never silently ignored.
 * Called through dp_tokenizer_load_json*; depends on core (json, file, alloc, error). */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

#define FMT(...) dp_error(DP_ERR_FORMAT, __VA_ARGS__)
#define UNSUP(...) dp_error(DP_ERR_UNSUPPORTED, __VA_ARGS__)

static char *dup_n(const char *s, size_t n) {
  char *d = dp_malloc(n + 1);
  if (d) { memcpy(d, s, n); d[n] = 0; }
  return d;
}

/* {"String": "x"} -> x ; {"Regex": ..} -> NULL with *is_regex */
static const dp_json *pattern_of(const dp_json *pat, int *is_regex) {
  *is_regex = 0;
  const dp_json *s = dp_json_get(pat, "String");
  if (dp_json_is(s, DP_JSON_STRING)) return s;
  s = dp_json_get(pat, "Regex");
  if (dp_json_is(s, DP_JSON_STRING)) { *is_regex = 1; return s; }
  return NULL;
}

/* ---- normalizer --------------------------------------------------------------------------- */
static dp_status add_norm(dp_tokenizer *t, tok_norm nm) {
  tok_norm *nn = dp_realloc(t->norm, (t->n_norm + 1) * sizeof *nn);
  if (!nn) { dp_free(nm.a); dp_free(nm.b); return DP_ERR_NOMEM; }
  t->norm = nn; t->norm[t->n_norm++] = nm;
  return DP_OK;
}
static dp_status load_normalizer(dp_tokenizer *t, const dp_json *n, int depth) {
  if (!n || dp_json_is(n, DP_JSON_NULL)) return DP_OK;
  const char *type = dp_json_get_str(n, "type", "");
  if (depth > 8) return FMT("tokenizer.json: normalizer: nested too deeply");
  if (!strcmp(type, "Sequence")) {
    const dp_json *l = dp_json_get(n, "normalizers");
    for (size_t i = 0; i < dp_json_len(l); i++) {
      dp_status st = load_normalizer(t, dp_json_at(l, i), depth + 1);
      if (st) return st;
    }
    return DP_OK;
  }
  tok_norm nm = {0};
  if (!strcmp(type, "Replace")) {
    int rx;
    const dp_json *p = pattern_of(dp_json_get(n, "pattern"), &rx);
    const dp_json *c = dp_json_get(n, "content");
    if (!p || rx || !dp_json_is(c, DP_JSON_STRING) || !p->n)
      return UNSUP("tokenizer.json: normalizer Replace: only non-empty String patterns are supported");
    nm.kind = NORM_REPLACE;
    nm.a = dup_n(p->u.str, p->n); nm.alen = p->n;
    nm.b = dup_n(c->u.str, c->n); nm.blen = c->n;
  } else if (!strcmp(type, "Prepend")) {
    const dp_json *c = dp_json_get(n, "prepend");
    if (!dp_json_is(c, DP_JSON_STRING)) return FMT("tokenizer.json: normalizer Prepend: missing \"prepend\"");
    nm.kind = NORM_PREPEND;
    nm.a = dup_n(c->u.str, c->n); nm.alen = c->n;
    nm.b = dup_n("", 0);
  } else if (!strcmp(type, "Strip")) {
    nm.kind = NORM_STRIP;
    nm.left = dp_json_get_bool(n, "strip_left", 1); nm.right = dp_json_get_bool(n, "strip_right", 1);
    nm.a = dup_n("", 0); nm.b = dup_n("", 0);
  } else if (!strcmp(type, "NFC") || !strcmp(type, "NFD") || !strcmp(type, "NFKC") || !strcmp(type, "NFKD")) {
    nm.kind = NORM_UNICODE;
    nm.form = !strcmp(type, "NFC") ? DP_UNORM_NFC : !strcmp(type, "NFD") ? DP_UNORM_NFD
            : !strcmp(type, "NFKC") ? DP_UNORM_NFKC : DP_UNORM_NFKD;
    nm.a = dup_n("", 0); nm.b = dup_n("", 0);
  } else {
    return UNSUP("tokenizer.json: normalizer type \"%s\" is not supported", type);
  }
  if (!nm.a || !nm.b) { dp_free(nm.a); dp_free(nm.b); return DP_ERR_NOMEM; }
  return add_norm(t, nm);
}

/* ---- pre-tokenizer ------------------------------------------------------------------------ */
static dp_status add_pre(dp_tokenizer *t, tok_pre p) {
  tok_pre *np = dp_realloc(t->pre, (t->n_pre + 1) * sizeof *np);
  if (!np) { dp_regex_free(p.re); dp_free(p.str); return DP_ERR_NOMEM; }
  t->pre = np; t->pre[t->n_pre++] = p;
  return DP_OK;
}
static int behavior_of(const char *b) {
  if (!strcmp(b, "Removed")) return SPLIT_REMOVED;
  if (!strcmp(b, "Isolated")) return SPLIT_ISOLATED;
  if (!strcmp(b, "MergedWithPrevious")) return SPLIT_MERGED_PREV;
  if (!strcmp(b, "MergedWithNext")) return SPLIT_MERGED_NEXT;
  if (!strcmp(b, "Contiguous")) return SPLIT_CONTIGUOUS;
  return -1;
}
static int prepend_scheme(const dp_json *n) {
  const char *ps = dp_json_get_str(n, "prepend_scheme", NULL);
  if (ps) return !strcmp(ps, "always") ? 2 : !strcmp(ps, "first") ? 1 : 0;
  return dp_json_get_bool(n, "add_prefix_space", 1) ? 2 : 0;
}
static dp_status load_pre(dp_tokenizer *t, const dp_json *n, int depth) {
  if (!n || dp_json_is(n, DP_JSON_NULL)) return DP_OK;
  const char *type = dp_json_get_str(n, "type", "");
  if (depth > 8) return FMT("tokenizer.json: pre_tokenizer: nested too deeply");
  if (!strcmp(type, "Sequence")) {
    const dp_json *l = dp_json_get(n, "pretokenizers");
    for (size_t i = 0; i < dp_json_len(l); i++) {
      dp_status st = load_pre(t, dp_json_at(l, i), depth + 1);
      if (st) return st;
    }
    return DP_OK;
  }
  tok_pre p = {0};
  dp_status st;
  if (!strcmp(type, "Split")) {
    int rx;
    const dp_json *pat = pattern_of(dp_json_get(n, "pattern"), &rx);
    if (!pat) return FMT("tokenizer.json: pre_tokenizer Split: missing pattern");
    p.behavior = behavior_of(dp_json_get_str(n, "behavior", ""));
    if (p.behavior < 0) return UNSUP("tokenizer.json: pre_tokenizer Split: behavior \"%s\" unknown", dp_json_get_str(n, "behavior", ""));
    p.invert = dp_json_get_bool(n, "invert", 0);
    if (rx) {
      p.kind = PRE_SPLIT_REGEX;
      st = dp_regex_compile(pat->u.str, pat->n, &p.re);
      if (st) return dp_error_wrap(st, "tokenizer.json: pre_tokenizer Split");
    } else {
      p.kind = PRE_SPLIT_STRING;
      p.str = dup_n(pat->u.str, pat->n); p.slen = pat->n;
      if (!p.str) return DP_ERR_NOMEM;
    }
  } else if (!strcmp(type, "ByteLevel")) {
    p.kind = PRE_BYTELEVEL;
    p.add_prefix_space = dp_json_get_bool(n, "add_prefix_space", 1);
    t->byte_level = 1;
    if (dp_json_get_bool(n, "use_regex", 1)) {
      st = dp_regex_compile(DP_TOK_GPT2_PATTERN, strlen(DP_TOK_GPT2_PATTERN), &p.re);
      if (st) return st;
    }
  } else if (!strcmp(type, "Metaspace")) {
    p.kind = PRE_METASPACE;
    const char *r = dp_json_get_str(n, "replacement", "\xe2\x96\x81");
    p.str = dup_n(r, strlen(r)); p.slen = strlen(r);
    if (!p.str) return DP_ERR_NOMEM;
    p.prepend = prepend_scheme(n);
    p.split = dp_json_get_bool(n, "split", 1);
    if (!p.slen) { dp_free(p.str); return FMT("tokenizer.json: Metaspace: empty replacement"); }
  } else {
    return UNSUP("tokenizer.json: pre_tokenizer type \"%s\" is not supported", type);
  }
  return add_pre(t, p);
}

/* ---- decoder ------------------------------------------------------------------------------ */
static dp_status add_dec(dp_tokenizer *t, tok_dec d) {
  tok_dec *nd = dp_realloc(t->dec, (t->n_dec + 1) * sizeof *nd);
  if (!nd) { dp_free(d.a); dp_free(d.b); return DP_ERR_NOMEM; }
  t->dec = nd; t->dec[t->n_dec++] = d;
  return DP_OK;
}
static dp_status load_dec(dp_tokenizer *t, const dp_json *n, int depth) {
  if (!n || dp_json_is(n, DP_JSON_NULL)) return DP_OK;
  t->has_decoder = 1;
  const char *type = dp_json_get_str(n, "type", "");
  if (depth > 8) return FMT("tokenizer.json: decoder: nested too deeply");
  if (!strcmp(type, "Sequence")) {
    const dp_json *l = dp_json_get(n, "decoders");
    for (size_t i = 0; i < dp_json_len(l); i++) {
      dp_status st = load_dec(t, dp_json_at(l, i), depth + 1);
      if (st) return st;
    }
    return DP_OK;
  }
  tok_dec d = {0};
  const char *A = "", *B = "";
  size_t al = 0, bl = 0;
  if (!strcmp(type, "ByteLevel")) d.kind = DEC_BYTELEVEL;
  else if (!strcmp(type, "ByteFallback")) d.kind = DEC_BYTEFALLBACK;
  else if (!strcmp(type, "Fuse")) d.kind = DEC_FUSE;
  else if (!strcmp(type, "Replace")) {
    int rx;
    const dp_json *p = pattern_of(dp_json_get(n, "pattern"), &rx);
    const dp_json *c = dp_json_get(n, "content");
    if (!p || rx || !p->n || !dp_json_is(c, DP_JSON_STRING))
      return UNSUP("tokenizer.json: decoder Replace: only non-empty String patterns are supported");
    d.kind = DEC_REPLACE; A = p->u.str; al = p->n; B = c->u.str; bl = c->n;
  } else if (!strcmp(type, "Strip")) {
    const dp_json *c = dp_json_get(n, "content");
    if (!dp_json_is(c, DP_JSON_STRING)) return FMT("tokenizer.json: decoder Strip: missing content");
    d.kind = DEC_STRIP; A = c->u.str; al = c->n;
    d.start = (int)dp_json_get_int(n, "start", 0); d.stop = (int)dp_json_get_int(n, "stop", 0);
  } else if (!strcmp(type, "Metaspace")) {
    d.kind = DEC_METASPACE;
    A = dp_json_get_str(n, "replacement", "\xe2\x96\x81"); al = strlen(A);
    d.prepend = prepend_scheme(n);
  } else {
    return UNSUP("tokenizer.json: decoder type \"%s\" is not supported", type);
  }
  d.a = dup_n(A, al); d.alen = al; d.b = dup_n(B, bl); d.blen = bl;
  if (!d.a || !d.b) { dp_free(d.a); dp_free(d.b); return DP_ERR_NOMEM; }
  return add_dec(t, d);
}

/* ---- post-processor ------------------------------------------------------------------------- */
static dp_status load_post(dp_tokenizer *t, const dp_json *n, int depth) {
  if (!n || dp_json_is(n, DP_JSON_NULL)) return DP_OK;
  const char *type = dp_json_get_str(n, "type", "");
  if (depth > 8) return FMT("tokenizer.json: post_processor: nested too deeply");
  if (!strcmp(type, "Sequence")) {
    const dp_json *l = dp_json_get(n, "processors");
    for (size_t i = 0; i < dp_json_len(l); i++) {
      dp_status st = load_post(t, dp_json_at(l, i), depth + 1);
      if (st) return st;
    }
    return DP_OK;
  }
  if (!strcmp(type, "ByteLevel")) return DP_OK; /* offsets only */
  if (!strcmp(type, "TemplateProcessing")) {
    const dp_json *single = dp_json_get(n, "single"), *sp = dp_json_get(n, "special_tokens");
    int seen_seq = 0;
    t->n_prefix = t->n_suffix = 0;
    for (size_t i = 0; i < dp_json_len(single); i++) {
      const dp_json *it = dp_json_at(single, i);
      if (dp_json_get(it, "Sequence")) { seen_seq = 1; continue; }
      const char *name = dp_json_get_str(dp_json_get(it, "SpecialToken"), "id", NULL);
      if (!name) return FMT("tokenizer.json: post_processor: bad template item %zu", i);
      const dp_json *ids = dp_json_get(dp_json_get(sp, name), "ids");
      for (size_t k = 0; k < dp_json_len(ids); k++) {
        int64_t id = dp_json_int(dp_json_at(ids, k), -1);
        if (id < 0 || id > INT32_MAX) return FMT("tokenizer.json: post_processor: bad id for %s", name);
        if (!seen_seq) { if (t->n_prefix < 4) t->prefix[t->n_prefix++] = (int32_t)id; }
        else if (t->n_suffix < 4) t->suffix[t->n_suffix++] = (int32_t)id;
      }
    }
    return DP_OK;
  }
  if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
    const dp_json *cls = dp_json_get(n, "cls"), *sep = dp_json_get(n, "sep");
    t->n_prefix = t->n_suffix = 0;
    if (dp_json_len(cls) == 2) t->prefix[t->n_prefix++] = (int32_t)dp_json_int(dp_json_at(cls, 1), 0);
    if (dp_json_len(sep) == 2) t->suffix[t->n_suffix++] = (int32_t)dp_json_int(dp_json_at(sep, 1), 0);
    return DP_OK;
  }
  return UNSUP("tokenizer.json: post_processor type \"%s\" is not supported", type);
}

/* ---- model ------------------------------------------------------------------------------------ */
static dp_status load_model(dp_tokenizer *t, const dp_json *m, const dp_json *added) {
  const char *type = dp_json_get_str(m, "type", "BPE");
  if (strcmp(type, "BPE")) return UNSUP("tokenizer.json: model type \"%s\" is not supported (BPE only)", type);
  /* Qwen 2/3 files write both as "" (= none) */
  const char *csp = dp_json_get_str(m, "continuing_subword_prefix", NULL), *ews = dp_json_get_str(m, "end_of_word_suffix", NULL);
  if ((csp && *csp) || (ews && *ews))
    return UNSUP("tokenizer.json: BPE continuing_subword_prefix / end_of_word_suffix are not supported");
  const dp_json *vocab = dp_json_get(m, "vocab"), *merges = dp_json_get(m, "merges");
  if (!dp_json_is(vocab, DP_JSON_OBJECT)) return FMT("tokenizer.json: model.vocab missing");
  t->byte_fallback = dp_json_get_bool(m, "byte_fallback", 0);
  t->fuse_unk = dp_json_get_bool(m, "fuse_unk", 0);
  t->ignore_merges = dp_json_get_bool(m, "ignore_merges", 0);
  /* ids */
  int64_t max_id = -1;
  for (size_t i = 0; i < vocab->n; i++) {
    int64_t id = dp_json_int(&vocab->u.items[i], -1);
    if (id < 0 || id > 0x7ffffffe) return FMT("tokenizer.json: model.vocab[\"%s\"]: bad id", vocab->keys[i]);
    if (id > max_id) max_id = id;
  }
  for (size_t i = 0; i < dp_json_len(added); i++) {
    int64_t id = dp_json_get_int(dp_json_at(added, i), "id", -1);
    if (id < 0 || id > 0x7ffffffe) return FMT("tokenizer.json: added_tokens[%zu]: bad id", i);
    if (id > max_id) max_id = id;
  }
  if (max_id < 0) return FMT("tokenizer.json: empty vocabulary");
  if (max_id > 16 * (int64_t)(vocab->n + dp_json_len(added)) + 1024)
    return FMT("tokenizer.json: ids up to %lld for %u tokens", (long long)max_id, vocab->n);
  dp_status st = dp_tok_set_token(t, (int32_t)max_id, "", 0);
  if (st) return st;
  t->tok_len[max_id] = UINT32_MAX;
  for (size_t i = 0; i < vocab->n; i++) {
    st = dp_tok_set_token(t, (int32_t)dp_json_int(&vocab->u.items[i], -1), vocab->keys[i], vocab->key_lens[i]);
    if (st) return st;
  }
  for (size_t i = 0; i < dp_json_len(added); i++) {
    const dp_json *a = dp_json_at(added, i);
    const dp_json *c = dp_json_get(a, "content");
    if (!dp_json_is(c, DP_JSON_STRING)) return FMT("tokenizer.json: added_tokens[%zu]: missing content", i);
    st = dp_tok_add_added(t, (int32_t)dp_json_get_int(a, "id", -1), c->u.str, c->n, dp_json_get_bool(a, "special", 0),
                          dp_json_get_bool(a, "lstrip", 0), dp_json_get_bool(a, "rstrip", 0),
                          dp_json_get_bool(a, "single_word", 0), dp_json_get_bool(a, "normalized", 0));
    if (st) return st;
  }
  st = dp_tok_index(t);
  if (st) return st;
  const char *unk = dp_json_get_str(m, "unk_token", NULL);
  if (unk) t->unk_id = dp_tok_lookup(t, unk, strlen(unk));
  /* merges */
  char *cat = NULL; size_t catcap = 0;
  for (size_t i = 0; i < dp_json_len(merges); i++) {
    const dp_json *mg = dp_json_at(merges, i);
    const char *a, *b; size_t al, bl;
    if (dp_json_is(mg, DP_JSON_STRING)) {
      const char *sp = memchr(mg->u.str, ' ', mg->n);
      if (!sp) { dp_free(cat); return FMT("tokenizer.json: model.merges[%zu]: no space in \"%s\"", i, mg->u.str); }
      a = mg->u.str; al = (size_t)(sp - a); b = sp + 1; bl = mg->n - al - 1;
    } else if (dp_json_len(mg) == 2 && dp_json_is(dp_json_at(mg, 0), DP_JSON_STRING) && dp_json_is(dp_json_at(mg, 1), DP_JSON_STRING)) {
      a = dp_json_at(mg, 0)->u.str; al = dp_json_at(mg, 0)->n; b = dp_json_at(mg, 1)->u.str; bl = dp_json_at(mg, 1)->n;
    } else { dp_free(cat); return FMT("tokenizer.json: model.merges[%zu]: neither \"a b\" nor [a, b]", i); }
    int32_t ia = dp_tok_lookup(t, a, al), ib = dp_tok_lookup(t, b, bl);
    if (al + bl > catcap) {
      catcap = (al + bl) * 2 + 64;
      char *nc = dp_realloc(cat, catcap);
      if (!nc) { dp_free(cat); return DP_ERR_NOMEM; }
      cat = nc;
    }
    memcpy(cat, a, al); memcpy(cat + al, b, bl);
    int32_t im = dp_tok_lookup(t, cat, al + bl);
    if (ia < 0 || ib < 0 || im < 0) {
      dp_free(cat);
      return FMT("tokenizer.json: model.merges[%zu]: token %s not in vocabulary", i,
                 ia < 0 ? "left" : ib < 0 ? "right" : "merged");
    }
    st = dp_tok_add_merge(t, ia, ib, (uint32_t)i, im);
    if (st) { dp_free(cat); return st; }
  }
  dp_free(cat);
  return DP_OK;
}

/* "bos_token": "<s>" or {"content": "<s>", ...} */
static const char *special_name(const dp_json *cfg, const char *key) {
  const dp_json *v = dp_json_get(cfg, key);
  if (dp_json_is(v, DP_JSON_STRING)) return v->u.str;
  return dp_json_get_str(v, "content", NULL);
}

static dp_status load_config(dp_tokenizer *t, const dp_json *cfg) {
  const char *bos = special_name(cfg, "bos_token"), *eos = special_name(cfg, "eos_token");
  if (bos) t->bos = dp_tok_lookup(t, bos, strlen(bos));
  if (eos) t->eos = dp_tok_lookup(t, eos, strlen(eos));
  const dp_json *ab = dp_json_get(cfg, "add_bos_token"), *ae = dp_json_get(cfg, "add_eos_token");
  if (dp_json_is(ab, DP_JSON_BOOL) || dp_json_is(ae, DP_JSON_BOOL)) {
    /* transformers' Llama/Gemma tokenizers rebuild the post-processor from these flags */
    int add_b = dp_json_bool(ab, 0), add_e = dp_json_bool(ae, 0);
    t->n_prefix = t->n_suffix = 0;
    if (add_b && t->bos >= 0) t->prefix[t->n_prefix++] = t->bos;
    if (add_e && t->eos >= 0) t->suffix[t->n_suffix++] = t->eos;
  }
  const dp_json *ct = dp_json_get(cfg, "chat_template");
  const char *src = NULL;
  if (dp_json_is(ct, DP_JSON_STRING)) src = ct->u.str;
  else
    for (size_t i = 0; i < dp_json_len(ct); i++) {
      const dp_json *e = dp_json_at(ct, i);
      if (!strcmp(dp_json_get_str(e, "name", ""), "default") || !src) src = dp_json_get_str(e, "template", src);
    }
  if (src) {
    t->chat_template = dup_n(src, strlen(src));
    if (!t->chat_template) return DP_ERR_NOMEM;
  }
  return DP_OK;
}

static dp_status build(const dp_json *root, const dp_json *cfg, dp_tokenizer **out) {
  *out = NULL;
  if (!dp_json_is(root, DP_JSON_OBJECT)) return FMT("tokenizer.json: not a JSON object");
  dp_tokenizer *t = dp_tok_alloc();
  if (!t) return DP_ERR_NOMEM;
  dp_status st = load_model(t, dp_json_get(root, "model"), dp_json_get(root, "added_tokens"));
  if (!st) st = load_normalizer(t, dp_json_get(root, "normalizer"), 0);
  if (!st) st = load_pre(t, dp_json_get(root, "pre_tokenizer"), 0);
  if (!st) st = load_dec(t, dp_json_get(root, "decoder"), 0);
  if (!st) st = load_post(t, dp_json_get(root, "post_processor"), 0);
  if (!st) {
    /* BOS/EOS ids: config names first, else the post-processor's tokens */
    if (t->n_prefix) t->bos = t->prefix[0];
    if (t->n_suffix) t->eos = t->suffix[t->n_suffix - 1];
    if (cfg) st = load_config(t, cfg);
    t->add_bos = t->n_prefix > 0 && t->prefix[0] == t->bos;
    t->add_eos = t->n_suffix > 0 && t->suffix[t->n_suffix - 1] == t->eos;
  }
  if (!st) st = dp_tok_finish(t);
  if (st) { dp_tokenizer_free(t); return st; }
  *out = t;
  return DP_OK;
}

dp_status dp_tokenizer_load_json_text(const char *json, size_t len, const char *config, size_t config_len,
                                      dp_tokenizer **out) {
  *out = NULL;
  dp_json_doc *d = dp_json_parse(json, len, "tokenizer.json");
  if (!d) return DP_ERR_FORMAT;
  dp_json_doc *c = NULL;
  if (config && config_len) {
    c = dp_json_parse(config, config_len, "tokenizer_config.json");
    if (!c) { dp_json_free(d); return DP_ERR_FORMAT; }
  }
  dp_status st = build(dp_json_root(d), c ? dp_json_root(c) : NULL, out);
  dp_json_free(d);
  dp_json_free(c);
  return st;
}

dp_status dp_tokenizer_load_json(const char *path, dp_tokenizer **out) {
  *out = NULL;
  char *text = NULL, *cfg = NULL;
  size_t len = 0, cfg_len = 0;
  dp_status st = dp_file_read_all(path, &text, &len);
  if (st) return st;
  /* tokenizer_config.json beside it */
  const char *slash = strrchr(path, '/');
  size_t dl = slash ? (size_t)(slash - path) : 0;
  char *dir = dup_n(slash ? path : ".", slash ? dl : 1);
  char *cpath = dir ? dp_path_join(dir, "tokenizer_config.json") : NULL;
  dp_free(dir);
  if (!cpath) { dp_free(text); return DP_ERR_NOMEM; }
  if (dp_file_exists(cpath)) {
    st = dp_file_read_all(cpath, &cfg, &cfg_len);
    if (st) { dp_free(cpath); dp_free(text); return st; }
  }
  st = dp_tokenizer_load_json_text(text, len, cfg, cfg_len, out);
  if (st) dp_error_wrap(st, "%s", path);
  dp_free(cpath); dp_free(text); dp_free(cfg);
  return st;
}
