/* unicode_norm.c -- Unicode normalization forms NFC, NFD, NFKC and NFKD (UAX #15) for the
 * tokenizer.json normalizers of the same names (Qwen 2/3 files use NFC). Text is decomposed
 * (canonically, or with compatibility mappings for NFK*), recursively, with Hangul syllables
 * split algorithmically; runs of combining marks are put in canonical order (stable sort by
 * combining class); NFC/NFKC then recompose each mark with the last starter unless blocked,
 * using the primary composites (composition exclusions already removed by the generator) and
 * the Hangul L+V / LV+T rules. dp_unicode_is_normalized is the quick check that lets encoding
 * skip all of this for ASCII and most already-normalized text.
 * Called by tokenizer.c (normalize); tables in unicode_tables.c (tools/gen_unicode_tables.py);
 * depends on core (alloc, buf, utf8, error). */
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/unicode.h"

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7,
       LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };
#define PROP_NFC_MAYBE_NO 0x40u  /* NFC_QC is Maybe or No */
#define PROP_NFKC_MAYBE_NO 0x80u /* NFKC_QC is Maybe or No */

static inline uint8_t prop(uint32_t cp) {
  return cp < dp_unorm_prop_limit ? dp_unorm_prop_blocks[dp_unorm_prop_index[cp >> 5]][cp & 31] : 0;
}
int dp_unicode_ccc(uint32_t cp) { return dp_unorm_ccc_values[prop(cp) & 63]; }

/* index of cp's mapping in dp_unorm_decomp_key, or -1 */
static long decomp_find(uint32_t cp) {
  size_t lo = 0, hi = dp_unorm_decomp_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    uint32_t k = dp_unorm_decomp_key[mid] >> 8;
    if (k == cp) return (long)mid;
    if (k < cp) lo = mid + 1; else hi = mid;
  }
  return -1;
}

/* growable code point vector */
typedef struct { uint32_t *v; size_t n, cap; } cpvec;
static dp_status push(cpvec *c, uint32_t cp) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    uint32_t *v = dp_realloc(c->v, cap * sizeof *v);
    if (!v) return DP_ERR_NOMEM;
    c->v = v; c->cap = cap;
  }
  c->v[c->n++] = cp;
  return DP_OK;
}

static dp_status decompose(uint32_t cp, int compat, int depth, cpvec *out) {
  if (cp - SBASE < SCOUNT) {
    uint32_t s = cp - SBASE, t = s % TCOUNT;
    dp_status st = push(out, LBASE + s / NCOUNT);
    if (!st) st = push(out, VBASE + (s % NCOUNT) / TCOUNT);
    if (!st && t) st = push(out, TBASE + t);
    return st;
  }
  long i = cp < 0xA0 || depth > 8 ? -1 : decomp_find(cp);
  if (i < 0 || (!compat && (dp_unorm_decomp_key[i] & 0x80))) return push(out, cp);
  const uint32_t *m = dp_unorm_decomp_pool + dp_unorm_decomp_off[i];
  for (uint32_t k = 0, len = dp_unorm_decomp_key[i] & 0x7F; k < len; k++) {
    dp_status st = decompose(m[k], compat, depth + 1, out);
    if (st) return st;
  }
  return DP_OK;
}

/* primary composite of (a, b), or 0 */
static uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a - LBASE < LCOUNT && b - VBASE < VCOUNT) return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
  if (a - SBASE < SCOUNT && (a - SBASE) % TCOUNT == 0 && b - TBASE - 1 < TCOUNT - 1) return a + (b - TBASE);
  if (!(prop(b) & PROP_NFC_MAYBE_NO)) return 0; /* every second character is NFC_QC Maybe */
  size_t lo = 0, hi = dp_unorm_comp_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    uint16_t e = dp_unorm_comp[mid];
    const uint32_t *m = dp_unorm_decomp_pool + dp_unorm_decomp_off[e];
    if (m[0] == a && m[1] == b) return dp_unorm_decomp_key[e] >> 8;
    if (m[0] < a || (m[0] == a && m[1] < b)) lo = mid + 1; else hi = mid;
  }
  return 0;
}

int dp_unicode_is_normalized(const char *s, size_t n, dp_unorm_form form) {
  int last = 0;
  int composed = form == DP_UNORM_NFC || form == DP_UNORM_NFKC;
  int compat = form == DP_UNORM_NFKC || form == DP_UNORM_NFKD;
  uint8_t flag = form == DP_UNORM_NFC ? PROP_NFC_MAYBE_NO : PROP_NFKC_MAYBE_NO;
  for (size_t i = 0; i < n;) {
    if ((uint8_t)s[i] < 0x80) { last = 0; i++; continue; }
    uint32_t cp;
    size_t k = dp_utf8_decode(s + i, n - i, &cp);
    if (!k) return 0;
    i += k;
    uint8_t p = prop(cp);
    int c = dp_unorm_ccc_values[p & 63];
    if (c && last > c) return 0;
    last = c;
    if (composed) {
      if (p & flag) return 0;
    } else if (cp >= 0xA0) {
      if (cp - SBASE < SCOUNT) return 0;
      long d = decomp_find(cp);
      if (d >= 0 && (compat || !(dp_unorm_decomp_key[d] & 0x80))) return 0;
    }
  }
  return 1;
}

static dp_status encode_all(const cpvec *c, dp_buf *out) {
  if (dp_buf_reserve(out, c->n * 4)) return DP_ERR_NOMEM;
  for (size_t i = 0; i < c->n; i++) out->len += dp_utf8_encode(c->v[i], out->data + out->len);
  out->data[out->len] = 0;
  return DP_OK;
}

dp_status dp_unicode_normalize(const char *s, size_t n, dp_unorm_form form, dp_buf *out) {
  int compat = form == DP_UNORM_NFKC || form == DP_UNORM_NFKD;
  int composed = form == DP_UNORM_NFC || form == DP_UNORM_NFKC;
  cpvec c = {0};
  dp_status st = DP_OK;
  for (size_t i = 0; i < n && !st;) {
    uint32_t cp;
    size_t k = dp_utf8_decode(s + i, n - i, &cp);
    if (!k) { dp_free(c.v); return dp_error(DP_ERR_INVALID_ARG, "normalize: invalid UTF-8 at byte %zu", i); }
    i += k;
    st = cp < 0xA0 ? push(&c, cp) : decompose(cp, compat, 0, &c);
  }
  if (st) { dp_free(c.v); return st; }
  /* canonical ordering: stable insertion sort of each run of non-starters by class */
  for (size_t i = 1; i < c.n; i++) {
    int ci = dp_unicode_ccc(c.v[i]);
    if (!ci) continue;
    uint32_t x = c.v[i];
    size_t j = i;
    while (j > 0) {
      int cj = dp_unicode_ccc(c.v[j - 1]);
      if (cj <= ci) break;
      c.v[j] = c.v[j - 1];
      j--;
    }
    c.v[j] = x;
  }
  if (composed && c.n) {
    /* starter: output index of the last starter (have: there is one); last: class of the last
     * character kept after it (0 = none in between: x is adjacent to the starter) */
    size_t starter = 0, w = 1;
    int have = dp_unicode_ccc(c.v[0]) == 0, last = 0;
    for (size_t i = 1; i < c.n; i++) {
      uint32_t x = c.v[i];
      int cc = dp_unicode_ccc(x);
      if (have && (last < cc || last == 0)) {
        uint32_t y = compose_pair(c.v[starter], x);
        if (y) { c.v[starter] = y; continue; }
      }
      if (!cc) { starter = w; last = 0; have = 1; }
      else last = cc;
      c.v[w++] = x;
    }
    c.n = w;
  }
  st = encode_all(&c, out);
  dp_free(c.v);
  return st;
}
