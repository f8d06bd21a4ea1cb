/* tok_decode.c -- ids -> text, as HF `tokenizers` decode(ids, skip_special_tokens): token
 * strings run through the decoder chain (ByteLevel, Replace, ByteFallback, Fuse, Strip,
 * Metaspace), then invalid UTF-8 becomes U+FFFD (Rust from_utf8_lossy rules). Also the
 * streaming detokenizer: it decodes a small window of ids, holds back a trailing incomplete
 * UTF-8 sequence (raw byte-level bytes or an unfinished <0xNN> group) and emits the difference
 * from what was already emitted; and the text of one token on its own (dp_tokenizer_piece, for
 * printing the prompt as fed). Called by the runtime, the C API and cmd_tokenize. */
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/tok_internal.h"

/* ---- UTF-8 helpers ---------------------------------------------------------------------- */
/* Length of the maximal well-formed prefix of a sequence at s[0..n) (>= 1) and whether it is a
 * complete character. */
static size_t utf8_subpart(const uint8_t *s, size_t n, int *complete) {
  uint8_t b = s[0];
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  *complete = 0;
  if (b < 0x80) { *complete = 1; return 1; }
  if (b >= 0xC2 && b <= 0xDF) need = 2;
  else if (b >= 0xE0 && b <= 0xEF) { need = 3; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
  else if (b >= 0xF0 && b <= 0xF4) { need = 4; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
  else return 1;
  size_t k = 1;
  while (k < need && k < n) {
    uint8_t c = s[k];
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
    k++;
  }
  *complete = k == need;
  return k;
}

/* Bytes at the end of s[0..n) that start a well-formed but unfinished character. */
static size_t utf8_incomplete_tail(const uint8_t *s, size_t n) {
  for (size_t back = 1; back <= 3 && back <= n; back++) {
    const uint8_t *p = s + n - back;
    if ((*p & 0xC0) == 0x80) continue;
    int complete;
    size_t k = utf8_subpart(p, back, &complete);
    return (!complete && k == back) ? back : 0;
  }
  return 0;
}

static int utf8_valid(const uint8_t *s, size_t n) { return dp_utf8_validate((const char *)s, n) == n; }

static dp_status append_lossy(dp_buf *out, const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    int complete = 1;
    while (j < n) {
      size_t k = utf8_subpart(s + j, n - j, &complete);
      if (!complete) break;
      j += k;
    }
    if (dp_buf_append(out, s + i, j - i)) return DP_ERR_NOMEM;
    if (j >= n) break;
    size_t k = utf8_subpart(s + j, n - j, &complete);
    if (dp_buf_append(out, "\xEF\xBF\xBD", 3)) return DP_ERR_NOMEM;
    i = j + k;
  }
  return DP_OK;
}

/* ---- token list for the decoder chain ---------------------------------------------------- */
typedef struct { dp_buf b; size_t *off, *len; size_t n, cap; } toks;
static dp_status toks_add(toks *t, const void *s, size_t n) {
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 32;
    size_t *no = dp_realloc(t->off, nc * sizeof *no);
    if (!no) return DP_ERR_NOMEM;
    t->off = no;
    size_t *nl = dp_realloc(t->len, nc * sizeof *nl);
    if (!nl) return DP_ERR_NOMEM;
    t->len = nl; t->cap = nc;
  }
  t->off[t->n] = t->b.len; t->len[t->n] = n;
  if (dp_buf_append(&t->b, s, n)) return DP_ERR_NOMEM;
  t->n++;
  return DP_OK;
}
static void toks_free(toks *t) { dp_buf_free(&t->b); dp_free(t->off); dp_free(t->len); }
#define TOK(t, i) ((const uint8_t *)(t)->b.data + (t)->off[i])

static int parse_byte_token(const uint8_t *s, size_t n) {
  if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; i++) {
    int c = s[i], h = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* A run of <0xNN> bytes as one token: raw when valid UTF-8 (or raw is asked for), else one U+FFFD
 * per byte, as HF. */
static dp_status flush_bytes(toks *out, dp_buf *bytes, int raw) {
  dp_status st = DP_OK;
  if (!bytes->len) return DP_OK;
  if (raw || utf8_valid((const uint8_t *)bytes->data, bytes->len)) st = toks_add(out, bytes->data, bytes->len);
  else
    for (size_t i = 0; i < bytes->len && !st; i++) st = toks_add(out, "\xEF\xBF\xBD", 3);
  bytes->len = 0;
  return st;
}

/* tmp = s[0, n) with every occurrence of a (alen > 0; an empty pattern matches nothing)
 * replaced by b, scanning left to right (the Replace and Metaspace decoders). */
static dp_status replace_all(dp_buf *tmp, const uint8_t *s, size_t n, const char *a, size_t alen, const char *b,
                             size_t blen) {
  dp_status st = DP_OK;
  tmp->len = 0;
  for (size_t j = 0; j < n && !st;) {
    if (alen && j + alen <= n && !memcmp(s + j, a, alen)) { st = dp_buf_append(tmp, b, blen); j += alen; }
    else { st = dp_buf_append(tmp, s + j, 1); j++; }
  }
  return st;
}

/* How a decode runs: ONESHOT = HF decode; STREAM = the same, but a trailing unfinished
 * character is held back; PIECE = one token as it reads inside a text (raw bytes, no U+FFFD, no
 * first-token treatment: Strip and Metaspace's leading-space removal do not apply). */
enum { MODE_ONESHOT, MODE_STREAM, MODE_PIECE };

/* One decoder step: in -> out. *held set when a trailing byte group is kept back (stream). */
static dp_status dec_step(const tok_dec *d, const toks *in, toks *out, int mode, int *held) {
  int stream = mode == MODE_STREAM;
  dp_status st = DP_OK;
  switch (d->kind) {
  case DEC_BYTELEVEL: {
    dp_buf all = {0};
    for (size_t i = 0; i < in->n && !st; i++) {
      const uint8_t *s = TOK(in, i);
      size_t n = in->len[i], j = 0, start = all.len;
      int ok = 1;
      while (j < n && ok) {
        uint32_t cp;
        size_t k = dp_utf8_decode((const char *)s + j, n - j, &cp);
        int b = k ? dp_tok_cp_to_byte(cp) : -1;
        if (b < 0) { ok = 0; break; }
        uint8_t c = (uint8_t)b;
        if (dp_buf_append(&all, &c, 1)) st = DP_ERR_NOMEM;
        j += k;
      }
      if (!ok) { all.len = start; if (dp_buf_append(&all, s, n)) st = DP_ERR_NOMEM; }
    }
    if (!st) st = toks_add(out, all.data ? all.data : "", all.len);
    dp_buf_free(&all);
    return st;
  }
  case DEC_REPLACE: {
    dp_buf tmp = {0};
    for (size_t i = 0; i < in->n && !st; i++) {
      const uint8_t *s = TOK(in, i);
      size_t n = in->len[i];
      st = replace_all(&tmp, s, n, d->a, d->alen, d->b, d->blen);
      if (!st) st = toks_add(out, tmp.data ? tmp.data : "", tmp.len);
    }
    dp_buf_free(&tmp);
    return st;
  }
  case DEC_BYTEFALLBACK: {
    dp_buf bytes = {0};
    for (size_t i = 0; i < in->n && !st; i++) {
      int b = parse_byte_token(TOK(in, i), in->len[i]);
      if (b >= 0) { uint8_t c = (uint8_t)b; st = dp_buf_append(&bytes, &c, 1); continue; }
      st = flush_bytes(out, &bytes, mode == MODE_PIECE);
      if (!st) st = toks_add(out, TOK(in, i), in->len[i]);
    }
    if (!st && bytes.len && stream && !utf8_valid((const uint8_t *)bytes.data, bytes.len)) {
      size_t tail = utf8_incomplete_tail((const uint8_t *)bytes.data, bytes.len);
      if (tail && utf8_valid((const uint8_t *)bytes.data, bytes.len - tail)) { *held = 1; bytes.len = 0; }
    }
    if (!st) st = flush_bytes(out, &bytes, mode == MODE_PIECE);
    dp_buf_free(&bytes);
    return st;
  }
  case DEC_FUSE: {
    dp_buf all = {0};
    for (size_t i = 0; i < in->n && !st; i++) st = dp_buf_append(&all, TOK(in, i), in->len[i]);
    if (!st) st = toks_add(out, all.data ? all.data : "", all.len);
    dp_buf_free(&all);
    return st;
  }
  case DEC_STRIP: {
    for (size_t i = 0; i < in->n && !st; i++) {
      const uint8_t *s = TOK(in, i);
      size_t a = 0, b = in->len[i];
      if (mode == MODE_PIECE) { st = toks_add(out, s, b); continue; }
      for (int k = 0; k < d->start && d->alen && a + d->alen <= b && !memcmp(s + a, d->a, d->alen); k++) a += d->alen;
      for (int k = 0; k < d->stop && d->alen && b >= a + d->alen && !memcmp(s + b - d->alen, d->a, d->alen); k++) b -= d->alen;
      st = toks_add(out, s + a, b - a);
    }
    return st;
  }
  case DEC_METASPACE: {
    dp_buf tmp = {0};
    for (size_t i = 0; i < in->n && !st; i++) {
      const uint8_t *s = TOK(in, i);
      size_t n = in->len[i];
      st = replace_all(&tmp, s, n, d->a, d->alen, " ", 1);
      size_t skip = (i == 0 && d->prepend && mode != MODE_PIECE && tmp.len && tmp.data[0] == ' ') ? 1 : 0;
      if (!st) st = toks_add(out, tmp.data ? tmp.data + skip : "", tmp.len - skip);
    }
    dp_buf_free(&tmp);
    return st;
  }
  }
  return dp_error(DP_ERR_INTERNAL, "tokenizer: bad decoder step");
}

/* Decode; with MODE_STREAM, a trailing unfinished character is left out and *held set. */
static dp_status decode_impl(const dp_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int mode,
                             dp_buf *out, int *held) {
  *held = 0;
  toks a = {0}, b = {0};
  dp_status st = DP_OK;
  for (size_t i = 0; i < n && !st; i++) {
    int32_t id = ids[i];
    if (id < 0 || (size_t)id >= t->n_vocab || t->tok_len[id] == UINT32_MAX) {
      st = dp_error(DP_ERR_INVALID_ARG, "detokenize: id %d is not in the vocabulary (size %zu)", (int)id, t->n_vocab);
      break;
    }
    if (skip_special && t->special[id]) continue;
    st = toks_add(&a, t->arena + t->tok_off[id], t->tok_len[id]);
  }
  if (!t->has_decoder && !st) { /* HF joins tokens with spaces when there is no decoder */
    dp_buf all = {0};
    for (size_t i = 0; i < a.n && !st; i++) {
      if (i && dp_buf_append(&all, " ", 1)) st = DP_ERR_NOMEM;
      if (!st) st = dp_buf_append(&all, TOK(&a, i), a.len[i]);
    }
    toks na = {0};
    if (!st) st = toks_add(&na, all.data ? all.data : "", all.len);
    dp_buf_free(&all);
    toks_free(&a);
    a = na;
  }
  for (size_t k = 0; k < t->n_dec && !st; k++) {
    b.b.len = 0; b.n = 0;
    st = dec_step(&t->dec[k], &a, &b, mode, held);
    toks sw = a; a = b; b = sw;
  }
  dp_buf all = {0};
  for (size_t i = 0; i < a.n && !st; i++) st = dp_buf_append(&all, TOK(&a, i), a.len[i]);
  if (!st) {
    size_t len = all.len;
    if (mode == MODE_STREAM) {
      size_t tail = utf8_incomplete_tail((const uint8_t *)all.data, len);
      if (tail) { *held = 1; len -= tail; }
    }
    if (mode == MODE_PIECE) st = dp_buf_append(out, all.data ? all.data : "", len);
    else st = append_lossy(out, (const uint8_t *)(all.data ? all.data : ""), len);
    if (!st && !out->data) st = dp_buf_append(out, "", 0);
  }
  dp_buf_free(&all);
  toks_free(&a); toks_free(&b);
  return st;
}

dp_status dp_tokenizer_decode(const dp_tokenizer *t, const int32_t *ids, size_t n, int skip_special, dp_buf *out) {
  int held;
  return decode_impl(t, ids, n, skip_special, MODE_ONESHOT, out, &held);
}

dp_status dp_tokenizer_piece(const dp_tokenizer *t, int32_t id, dp_buf *out) {
  int held;
  return decode_impl(t, &id, 1, 0, MODE_PIECE, out, &held);
}

/* ---- streaming ----------------------------------------------------------------------------- */
struct dp_detok {
  const dp_tokenizer *t;
  int skip;
  dp_token_list ids; /* window: context ids + pending ids */
  dp_buf prev;       /* stream-decoded text of the window, all of it already emitted */
};

dp_status dp_detok_new(const dp_tokenizer *t, int skip_special, dp_detok **out) {
  dp_detok *d = dp_calloc(1, sizeof *d);
  if (!d) return DP_ERR_NOMEM;
  d->t = t; d->skip = skip_special;
  *out = d;
  return DP_OK;
}

void dp_detok_reset(dp_detok *d) { d->ids.n = 0; d->prev.len = 0; }

void dp_detok_free(dp_detok *d) {
  if (!d) return;
  dp_token_list_free(&d->ids);
  dp_buf_free(&d->prev);
  dp_free(d);
}

/* Emit what text adds to what was emitted for the window (prev). A shorter text (a byte group
 * is being held again) emits nothing and leaves prev alone. */
static dp_status emit_delta(dp_detok *d, const dp_buf *text, dp_buf *out, int *advanced) {
  size_t pl = d->prev.len;
  *advanced = 0;
  if (text->len < pl || (pl && memcmp(text->data, d->prev.data, pl))) return DP_OK;
  *advanced = 1;
  return dp_buf_append(out, text->data + pl, text->len - pl);
}

static int is_byte_token(const dp_tokenizer *t, int32_t id) {
  return t->byte_fallback && parse_byte_token((const uint8_t *)t->arena + t->tok_off[id], t->tok_len[id]) >= 0;
}

dp_status dp_detok_push(dp_detok *d, int32_t id, dp_buf *out) {
  if (dp_token_list_push(&d->ids, id)) return DP_ERR_NOMEM;
  dp_buf text = {0};
  int held, advanced;
  dp_status st = decode_impl(d->t, d->ids.ids, d->ids.n, d->skip, MODE_STREAM, &text, &held);
  if (st) { d->ids.n--; dp_buf_free(&text); return st; }
  st = emit_delta(d, &text, out, &advanced);
  if (!st && !out->data) st = dp_buf_append(out, "", 0);
  if (!st && advanced) { d->prev.len = 0; st = dp_buf_append(&d->prev, text.data ? text.data : "", text.len); }
  if (!st && !held && advanced) {
    /* compact: keep the last token as context (for decoders that treat the first token
     * specially), with the byte-fallback tokens after it, since HF groups a whole run */
    size_t k = d->ids.n - 1;
    while (k > 0 && is_byte_token(d->t, d->ids.ids[k])) k--;
    if (k > 0) {
      memmove(d->ids.ids, d->ids.ids + k, (d->ids.n - k) * sizeof *d->ids.ids);
      d->ids.n -= k;
      text.len = 0;
      st = decode_impl(d->t, d->ids.ids, d->ids.n, d->skip, MODE_STREAM, &text, &held);
      if (!st) { d->prev.len = 0; st = dp_buf_append(&d->prev, text.data ? text.data : "", text.len); }
    }
  }
  dp_buf_free(&text);
  return st;
}

dp_status dp_detok_flush(dp_detok *d, dp_buf *out) {
  dp_buf text = {0};
  int held;
  int advanced;
  dp_status st = decode_impl(d->t, d->ids.ids, d->ids.n, d->skip, MODE_ONESHOT, &text, &held);
  if (!st) st = emit_delta(d, &text, out, &advanced);
  if (!st && !out->data) st = dp_buf_append(out, "", 0);
  dp_buf_free(&text);
  dp_detok_reset(d);
  return st;
}
