/* tokenizer.c -- tokenizer.json loading and encoding for BPE models, matching Hugging Face
 * `tokenizers`: added tokens split out first (leftmost-longest), then per segment the
 * normalizer, the pre-tokenizer pipeline (Split / ByteLevel / Metaspace) and BPE merges
 * (priority queue over ranks, as HF's Word::merge_all), then the post-processor's BOS/EOS.
 * Called by the runtime, the C API and cli/cmd_tokenize.c through tokenizer.h. Depends on core
 * (json, alloc, error, utf8, file) and regex.c / unicode tables. Decoding is in tok_decode.c,
 * GGUF-style construction in tok_vocab.c, chat templates in chat_template.c. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "core/utf8.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

const char DP_TOK_GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char DP_TOK_LLAMA3_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char DP_TOK_QWEN2_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char DP_TOK_O200K_PATTERN[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---- small containers ------------------------------------------------------------------- */
dp_status dp_token_list_push(dp_token_list *l, int32_t id) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 64;
    int32_t *ni = dp_realloc(l->ids, nc * sizeof *ni);
    if (!ni) return DP_ERR_NOMEM;
    l->ids = ni; l->cap = nc;
  }
  l->ids[l->n++] = id;
  return DP_OK;
}
void dp_token_list_free(dp_token_list *l) { dp_free(l->ids); l->ids = NULL; l->n = l->cap = 0; }

uint64_t dp_tok_hash(const char *s, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0x100000001B3ull);
  while (n >= 8) {
    uint64_t v; memcpy(&v, s, 8);
    h = (h ^ v) * 0xff51afd7ed558ccdull; h ^= h >> 32;
    s += 8; n -= 8;
  }
  uint64_t v = 0; memcpy(&v, s, n);
  h ^= v;
  h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 33;
  return h;
}

/* GPT-2 byte <-> char: printable Latin-1 bytes map to themselves, the other 68 to U+0100.. */
static int byte_is_direct(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174); }
uint32_t dp_tok_byte_to_cp(uint8_t b) {
  if (byte_is_direct(b)) return b;
  int k = 0;
  for (int i = 0; i < b; i++) if (!byte_is_direct(i)) k++;
  return 256 + (uint32_t)k;
}
int dp_tok_cp_to_byte(uint32_t cp) {
  if (cp < 256) return byte_is_direct((int)cp) ? (int)cp : -1;
  if (cp >= 256 + 68) return -1;
  int k = (int)cp - 256;
  for (int i = 0; i < 256; i++) if (!byte_is_direct(i) && k-- == 0) return i;
  return -1;
}

/* ---- vocabulary ----------------------------------------------------------------------------- */
dp_tokenizer *dp_tok_alloc(void) {
  dp_tokenizer *t = dp_calloc(1, sizeof *t);
  if (!t) return NULL;
  t->unk_id = t->bos = t->eos = -1;
  for (int i = 0; i < 256; i++) t->byte_tok[i] = t->char_id[i] = -1;
  return t;
}

static dp_status vocab_reserve(dp_tokenizer *t, size_t n_vocab, size_t n_strings) {
  if (n_vocab > t->n_vocab) {
    uint32_t *o = dp_realloc(t->tok_off, n_vocab * sizeof *o);
    if (!o) return DP_ERR_NOMEM;
    t->tok_off = o;
    uint32_t *l = dp_realloc(t->tok_len, n_vocab * sizeof *l);
    if (!l) return DP_ERR_NOMEM;
    t->tok_len = l;
    uint8_t *s = dp_realloc(t->special, n_vocab);
    if (!s) return DP_ERR_NOMEM;
    t->special = s;
    uint8_t *a = dp_realloc(t->is_added, n_vocab);
    if (!a) return DP_ERR_NOMEM;
    t->is_added = a;
    for (size_t i = t->n_vocab; i < n_vocab; i++) {
      t->tok_off[i] = 0; t->tok_len[i] = UINT32_MAX; t->special[i] = 0; t->is_added[i] = 0;
    }
    t->n_vocab = n_vocab;
  }
  size_t want = 16;
  while (want < n_strings * 2) want <<= 1;
  if (want > t->map_cap) {
    uint32_t *nm = dp_calloc(want, sizeof *nm), *ntag = dp_calloc(want, sizeof *ntag);
    if (!nm || !ntag) { dp_free(nm); dp_free(ntag); return DP_ERR_NOMEM; }
    for (size_t i = 0; i < t->map_cap; i++) {
      uint32_t v = t->map[i];
      if (!v) continue;
      uint64_t h = dp_tok_hash(t->arena + t->tok_off[v - 1], t->tok_len[v - 1]);
      size_t j = h & (want - 1);
      while (nm[j]) j = (j + 1) & (want - 1);
      nm[j] = v; ntag[j] = (uint32_t)(h >> 32);
    }
    dp_free(t->map); dp_free(t->map_tag);
    t->map = nm; t->map_tag = ntag; t->map_cap = want;
  }
  return DP_OK;
}

int32_t dp_tok_lookup(const dp_tokenizer *t, const char *s, size_t n) {
  if (!t->map_cap) return -1;
  uint64_t h = dp_tok_hash(s, n);
  size_t mask = t->map_cap - 1, j = h & mask;
  uint32_t tag = (uint32_t)(h >> 32);
  for (;;) {
    uint32_t v = t->map[j];
    if (!v) return -1;
    if (t->map_tag[j] == tag && t->tok_len[v - 1] == n && !memcmp(t->arena + t->tok_off[v - 1], s, n)) return (int32_t)(v - 1);
    j = (j + 1) & mask;
  }
}

/* Set the string of id (growing the tables). */
dp_status dp_tok_set_token(dp_tokenizer *t, int32_t id, const char *s, size_t n) {
  if (id < 0 || id > 0x7fffffff - 1 || n >= UINT32_MAX) return dp_error(DP_ERR_FORMAT, "tokenizer: bad token id %d", (int)id);
  dp_status st = vocab_reserve(t, (size_t)id + 1 > t->n_vocab ? (size_t)id + 1 : t->n_vocab, 0);
  if (st) return st;
  if (t->arena_len + n + 1 > t->arena_cap) {
    size_t nc = t->arena_cap ? t->arena_cap * 2 : 1 << 16;
    while (nc < t->arena_len + n + 1) nc *= 2;
    char *na = dp_realloc(t->arena, nc);
    if (!na) return DP_ERR_NOMEM;
    t->arena = na; t->arena_cap = nc;
  }
  if (t->arena_len > UINT32_MAX - n - 1) return dp_error(DP_ERR_UNSUPPORTED, "tokenizer: vocabulary strings exceed 4 GiB");
  memcpy(t->arena + t->arena_len, s, n);
  t->arena[t->arena_len + n] = 0;
  t->tok_off[id] = (uint32_t)t->arena_len; t->tok_len[id] = (uint32_t)n;
  t->arena_len += n + 1;
  return DP_OK; /* the string -> id index is built once all strings are in (dp_tok_index) */
}

/* Index every id's string (first id wins for duplicates). Called once strings are in place. */
dp_status dp_tok_index(dp_tokenizer *t) {
  size_t cnt = 0;
  for (size_t i = 0; i < t->n_vocab; i++) cnt += t->tok_len[i] != UINT32_MAX;
  dp_free(t->map); dp_free(t->map_tag); t->map = NULL; t->map_tag = NULL; t->map_cap = 0;
  dp_status st = vocab_reserve(t, t->n_vocab, cnt);
  if (st) return st;
  size_t mask = t->map_cap - 1;
  for (size_t i = 0; i < t->n_vocab; i++) {
    if (t->tok_len[i] == UINT32_MAX) continue;
    const char *s = t->arena + t->tok_off[i];
    size_t n = t->tok_len[i];
    uint64_t h = dp_tok_hash(s, n);
    size_t j = h & mask;
    uint32_t tag = (uint32_t)(h >> 32);
    int dup = 0;
    while (t->map[j]) {
      uint32_t v = t->map[j];
      if (t->map_tag[j] == tag && t->tok_len[v - 1] == n && !memcmp(t->arena + t->tok_off[v - 1], s, n)) { dup = 1; break; }
      j = (j + 1) & mask;
    }
    if (!dup) { t->map[j] = (uint32_t)i + 1; t->map_tag[j] = tag; }
  }
  return DP_OK;
}

/* ---- merges --------------------------------------------------------------------------------- */
static dp_status merges_reserve(dp_tokenizer *t, size_t n) {
  size_t want = 16;
  while (want < n * 2) want <<= 1;
  if (want <= t->mcap) return DP_OK;
  uint64_t *k = dp_malloc(want * sizeof *k);
  uint32_t *r = dp_malloc(want * sizeof *r), *m = dp_malloc(want * sizeof *m);
  if (!k || !r || !m) { dp_free(k); dp_free(r); dp_free(m); return DP_ERR_NOMEM; }
  memset(k, 0xff, want * sizeof *k);
  for (size_t i = 0; i < t->mcap; i++) {
    if (t->mkey[i] == UINT64_MAX) continue;
    uint64_t key = t->mkey[i];
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (want - 1);
    while (k[j] != UINT64_MAX) j = (j + 1) & (want - 1);
    k[j] = key; r[j] = t->mrank[i]; m[j] = t->mnew[i];
  }
  dp_free(t->mkey); dp_free(t->mrank); dp_free(t->mnew);
  t->mkey = k; t->mrank = r; t->mnew = m; t->mcap = want;
  return DP_OK;
}

dp_status dp_tok_add_merge(dp_tokenizer *t, int32_t a, int32_t b, uint32_t rank, int32_t merged) {
  if ((t->n_merges + 1) * 2 > t->mcap) {
    dp_status st = merges_reserve(t, t->n_merges + 1 > 1024 ? (t->n_merges + 1) * 2 : 1024);
    if (st) return st;
  }
  uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
  size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (t->mcap - 1);
  while (t->mkey[j] != UINT64_MAX && t->mkey[j] != key) j = (j + 1) & (t->mcap - 1);
  if (t->mkey[j] == UINT64_MAX) t->n_merges++;
  t->mkey[j] = key; t->mrank[j] = rank; t->mnew[j] = (uint32_t)merged; /* later entries win, as HF */
  return DP_OK;
}

static inline int merge_get(const dp_tokenizer *t, int32_t a, int32_t b, uint32_t *rank, int32_t *merged) {
  if (!t->mcap) return 0;
  uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
  size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (t->mcap - 1);
  for (;;) {
    uint64_t k = t->mkey[j];
    if (k == key) { *rank = t->mrank[j]; *merged = (int32_t)t->mnew[j]; return 1; }
    if (k == UINT64_MAX) return 0;
    j = (j + 1) & (t->mcap - 1);
  }
}

/* ---- added tokens and their trie ------------------------------------------------------------ */
static int32_t trie_new(tok_trie *tr, uint8_t byte) {
  if (tr->n == tr->cap) {
    size_t nc = tr->cap ? tr->cap * 2 : 256;
    trie_node *nn = dp_realloc(tr->nodes, nc * sizeof *nn);
    if (!nn) return -1;
    tr->nodes = nn; tr->cap = nc;
  }
  tr->nodes[tr->n] = (trie_node){-1, -1, -1, byte};
  return (int32_t)tr->n++;
}
static dp_status trie_insert(tok_trie *tr, const char *s, size_t n, int32_t added_index) {
  if (!tr->n && trie_new(tr, 0) < 0) return DP_ERR_NOMEM;
  int32_t cur = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = (uint8_t)s[i];
    int32_t c = tr->nodes[cur].child;
    while (c >= 0 && tr->nodes[c].byte != b) c = tr->nodes[c].sibling;
    if (c < 0) {
      c = trie_new(tr, b);
      if (c < 0) return DP_ERR_NOMEM;
      tr->nodes[c].sibling = tr->nodes[cur].child;
      tr->nodes[cur].child = c;
    }
    cur = c;
  }
  if (tr->nodes[cur].added < 0) tr->nodes[cur].added = added_index;
  tr->first[(uint8_t)s[0]] = 1;
  return DP_OK;
}

dp_status dp_tok_add_added(dp_tokenizer *t, int32_t id, const char *s, size_t n, int special,
                           int lstrip, int rstrip, int single_word, int normalized) {
  if (n == 0) return dp_error(DP_ERR_FORMAT, "tokenizer: added token %d has empty content", (int)id);
  dp_status st = dp_tok_set_token(t, id, s, n);
  if (st) return st;
  tok_added *na = dp_realloc(t->added, (t->n_added + 1) * sizeof *na);
  if (!na) return DP_ERR_NOMEM;
  t->added = na;
  tok_added *a = &t->added[t->n_added++];
  a->id = id; a->off = t->tok_off[id]; a->len = (uint32_t)n;
  a->special = (uint8_t)special; a->lstrip = (uint8_t)lstrip; a->rstrip = (uint8_t)rstrip;
  a->single_word = (uint8_t)single_word; a->normalized = (uint8_t)normalized;
  t->special[id] = (uint8_t)(special != 0);
  t->is_added[id] = 1;
  return DP_OK;
}

static int is_word_cp(uint32_t cp) {
  return cp == '_' || ((DP_UCM_L | DP_UCM_N) >> dp_unicode_cat(cp) & 1);
}
static uint32_t cp_before(const char *s, size_t i) {
  size_t j = i;
  while (j > 0 && ((uint8_t)s[j - 1] & 0xC0) == 0x80) j--;
  if (j > 0) j--;
  uint32_t cp = 0;
  if (!dp_utf8_decode(s + j, i - j, &cp)) return 0;
  return cp;
}

/* Leftmost-longest added-token match in s[from..n): returns 1 with [*ms, *me) (lstrip/rstrip
 * whitespace included) and the added index. */
static int trie_find(const dp_tokenizer *t, const tok_trie *tr, const char *s, size_t from, size_t n,
                     int parse_special, size_t *ms, size_t *me, int32_t *which) {
  if (!tr->n) return 0;
  for (size_t i = from; i < n; i++) {
    if (!tr->first[(uint8_t)s[i]]) continue;
    int32_t cur = 0, best = -1;
    size_t best_end = 0;
    for (size_t k = i; k < n; k++) {
      int32_t c = tr->nodes[cur].child;
      while (c >= 0 && tr->nodes[c].byte != (uint8_t)s[k]) c = tr->nodes[c].sibling;
      if (c < 0) break;
      cur = c;
      int32_t ai = tr->nodes[cur].added;
      if (ai < 0) continue;
      const tok_added *a = &t->added[ai];
      if (a->special && !parse_special) continue;
      if (a->single_word) {
        uint32_t cp;
        if (i > 0 && is_word_cp(cp_before(s, i))) continue;
        if (k + 1 < n && dp_utf8_decode(s + k + 1, n - k - 1, &cp) && is_word_cp(cp)) continue;
      }
      best = ai; best_end = k + 1;
    }
    if (best < 0) continue;
    const tok_added *a = &t->added[best];
    size_t st = i, en = best_end;
    if (a->lstrip)
      while (st > from) {
        size_t j = st - 1;
        while (j > from && ((uint8_t)s[j] & 0xC0) == 0x80) j--;
        uint32_t cp;
        if (!dp_utf8_decode(s + j, st - j, &cp) || !dp_unicode_is_space(cp)) break;
        st = j;
      }
    if (a->rstrip)
      while (en < n) {
        uint32_t cp;
        size_t k = dp_utf8_decode(s + en, n - en, &cp);
        if (!k || !dp_unicode_is_space(cp)) break;
        en += k;
      }
    *ms = st; *me = en; *which = best;
    return 1;
  }
  return 0;
}

/* ---- pieces: the working list of pre-tokens ------------------------------------------------- */
typedef struct { dp_buf b; size_t *off, *len; size_t n, cap; } pieces;
static dp_status pieces_add(pieces *p, const char *s, size_t n) {
  if (!n) return DP_OK;
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 64;
    size_t *no = dp_realloc(p->off, nc * sizeof *no);
    if (!no) return DP_ERR_NOMEM;
    p->off = no;
    size_t *nl = dp_realloc(p->len, nc * sizeof *nl);
    if (!nl) return DP_ERR_NOMEM;
    p->len = nl; p->cap = nc;
  }
  p->off[p->n] = p->b.len; p->len[p->n] = n;
  if (dp_buf_append(&p->b, s, n)) return DP_ERR_NOMEM;
  p->n++;
  return DP_OK;
}
static void pieces_clear(pieces *p) { p->b.len = 0; p->n = 0; }
static void pieces_free(pieces *p) { dp_buf_free(&p->b); dp_free(p->off); dp_free(p->len); }

/* Apply a split behaviour to the segments of s: bounds[2k..2k+1] are match ranges (bytes),
 * ordered and non-overlapping. */
static dp_status split_emit(const char *s, size_t n, const size_t *m, size_t nm, int behavior, int invert,
                            pieces *out) {
  /* Walk the alternating list of (range, is_match) pieces. */
  size_t cur = 0, k = 0;
  size_t ps = 0, pe = 0; int have = 0, prev_match = 0; /* pending piece for MERGED_*/
  dp_status st = DP_OK;
  /* MergedWithNext is handled by carrying a pending match prefix forward. */
  size_t next_start = SIZE_MAX;
  for (;;) {
    size_t a, b; int is_match;
    if (cur < n && (k >= nm || cur < m[2 * k])) { a = cur; b = k < nm ? m[2 * k] : n; is_match = 0; }
    else if (k < nm) { a = m[2 * k]; b = m[2 * k + 1]; is_match = 1; k++; }
    else break;
    cur = b;
    if (a == b) continue;
    if (invert) is_match = !is_match;
    switch (behavior) {
    case SPLIT_REMOVED: if (!is_match) st = pieces_add(out, s + a, b - a); break;
    case SPLIT_ISOLATED: st = pieces_add(out, s + a, b - a); break;
    case SPLIT_CONTIGUOUS:
      if (have && is_match && prev_match) { pe = b; break; }
      if (have) st = pieces_add(out, s + ps, pe - ps);
      ps = a; pe = b; have = 1;
      break;
    case SPLIT_MERGED_PREV:
      if (is_match && !prev_match && have) { pe = b; break; }
      if (have) st = pieces_add(out, s + ps, pe - ps);
      ps = a; pe = b; have = 1;
      break;
    case SPLIT_MERGED_NEXT:
      if (next_start != SIZE_MAX) {
        if (is_match) { /* consecutive matches: the earlier one stands alone */
          st = pieces_add(out, s + next_start, a - next_start);
          next_start = a;
        } else { st = pieces_add(out, s + next_start, b - next_start); next_start = SIZE_MAX; }
      } else if (is_match) next_start = a;
      else st = pieces_add(out, s + a, b - a);
      break;
    }
    if (st) return st;
    prev_match = is_match;
  }
  if (have) st = pieces_add(out, s + ps, pe - ps);
  if (!st && next_start != SIZE_MAX) st = pieces_add(out, s + next_start, cur - next_start);
  return st;
}

typedef struct { size_t *v; size_t n, cap; } sizevec;
static dp_status sv_push(sizevec *v, size_t x) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 64;
    size_t *nv = dp_realloc(v->v, nc * sizeof *nv);
    if (!nv) return DP_ERR_NOMEM;
    v->v = nv; v->cap = nc;
  }
  v->v[v->n++] = x;
  return DP_OK;
}

/* Regex matches of re over s[0..n) as byte ranges. */
static dp_status regex_ranges(dp_tokenizer *t, dp_regex *re, const char *s, size_t n, sizevec *m) {
  if (n + 1 > t->cps_cap) {
    size_t nc = n + 1 < 256 ? 256 : n + 1;
    uint32_t *nc_ = dp_realloc(t->cps, nc * sizeof *nc_);
    if (!nc_) return DP_ERR_NOMEM;
    t->cps = nc_;
    size_t *no = dp_realloc(t->cp_offs, nc * sizeof *no);
    if (!no) return DP_ERR_NOMEM;
    t->cp_offs = no;
    t->cps_cap = nc;
  }
  size_t *offs = t->cp_offs, ncp = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = dp_utf8_decode(s + i, n - i, &cp);
    if (!k) { cp = 0xFFFD; k = 1; }
    offs[ncp] = i; t->cps[ncp++] = cp; i += k;
  }
  offs[ncp] = n;
  size_t pos = 0;
  m->n = 0;
  while (pos < ncp) {
    int found; size_t a, b;
    dp_status st = dp_regex_find(re, t->cps, ncp, pos, &found, &a, &b);
    if (st) return st;
    if (!found) break;
    if (sv_push(m, offs[a]) || sv_push(m, offs[b])) return DP_ERR_NOMEM;
    pos = b;
  }
  return DP_OK;
}

static dp_status string_ranges(const char *s, size_t n, const char *pat, size_t pn, sizevec *m) {
  m->n = 0;
  if (!pn) return DP_OK;
  for (size_t i = 0; i + pn <= n;) {
    if (!memcmp(s + i, pat, pn)) {
      if (sv_push(m, i) || sv_push(m, i + pn)) return DP_ERR_NOMEM;
      i += pn;
    } else i++;
  }
  return DP_OK;
}

/* ---- BPE -------------------------------------------------------------------------------------- */
typedef struct { uint32_t rank, pos; int32_t merged; } bpe_item;
static inline int bpe_less(const bpe_item *a, const bpe_item *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}
typedef struct {
  int32_t *id, *prev, *next; size_t cap;
  bpe_item *heap; size_t hn, hcap;
} bpe_scratch;
static bpe_scratch g_bpe; /* scratch reused across calls (engine is single-threaded) */

static dp_status heap_push(bpe_scratch *w, bpe_item it) {
  if (w->hn == w->hcap) {
    size_t nc = w->hcap ? w->hcap * 2 : 256;
    bpe_item *nh = dp_realloc(w->heap, nc * sizeof *nh);
    if (!nh) return DP_ERR_NOMEM;
    w->heap = nh; w->hcap = nc;
  }
  size_t i = w->hn++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!bpe_less(&it, &w->heap[p])) break;
    w->heap[i] = w->heap[p]; i = p;
  }
  w->heap[i] = it;
  return DP_OK;
}
static bpe_item heap_pop(bpe_scratch *w) {
  bpe_item top = w->heap[0], last = w->heap[--w->hn];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= w->hn) break;
    if (c + 1 < w->hn && bpe_less(&w->heap[c + 1], &w->heap[c])) c++;
    if (!bpe_less(&w->heap[c], &last)) break;
    w->heap[i] = w->heap[c]; i = c;
  }
  if (w->hn) w->heap[i] = last;
  return top;
}

static dp_status bpe_try_push(const dp_tokenizer *t, bpe_scratch *w, int32_t pos) {
  int32_t nx = w->next[pos];
  if (pos < 0 || nx < 0) return DP_OK;
  uint32_t rank; int32_t merged;
  if (!merge_get(t, w->id[pos], w->id[nx], &rank, &merged)) return DP_OK;
  return heap_push(w, (bpe_item){rank, (uint32_t)pos, merged});
}

static dp_status sym_push(bpe_scratch *w, size_t *m, int32_t id) {
  if (*m == w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 256;
    int32_t *a = dp_realloc(w->id, nc * sizeof *a);
    if (!a) return DP_ERR_NOMEM;
    w->id = a;
    int32_t *b = dp_realloc(w->prev, nc * sizeof *b);
    if (!b) return DP_ERR_NOMEM;
    w->prev = b;
    int32_t *c = dp_realloc(w->next, nc * sizeof *c);
    if (!c) return DP_ERR_NOMEM;
    w->next = c; w->cap = nc;
  }
  w->id[(*m)++] = id;
  return DP_OK;
}

/* BPE of one pre-token s[0..n) (already in vocabulary form); ids appended to out. */
static dp_status bpe_word(const dp_tokenizer *t, const char *s, size_t n, dp_token_list *out) {
  bpe_scratch *w = &g_bpe;
  size_t m = 0;
  int last_unk = 0;
  for (size_t i = 0; i < n;) {
    size_t k = 1;
    uint32_t cp;
    size_t dk = dp_utf8_decode(s + i, n - i, &cp);
    if (dk) k = dk;
    int32_t id = (k == 1 && t->char_id[(uint8_t)s[i]] >= 0) ? t->char_id[(uint8_t)s[i]] : dp_tok_lookup(t, s + i, k);
    if (id >= 0) {
      if (sym_push(w, &m, id)) return DP_ERR_NOMEM;
      last_unk = 0;
    } else {
      int done = 0;
      if (t->byte_fallback) {
        done = 1;
        for (size_t b = 0; b < k; b++) if (t->byte_tok[(uint8_t)s[i + b]] < 0) done = 0;
        if (done) {
          for (size_t b = 0; b < k; b++) if (sym_push(w, &m, t->byte_tok[(uint8_t)s[i + b]])) return DP_ERR_NOMEM;
          last_unk = 0;
        }
      }
      if (!done && t->unk_id >= 0) {
        if (!(t->fuse_unk && last_unk)) if (sym_push(w, &m, t->unk_id)) return DP_ERR_NOMEM;
        last_unk = 1;
      }
    }
    i += k;
  }
  if (!m) return DP_OK;
  for (size_t i = 0; i < m; i++) { w->prev[i] = (int32_t)i - 1; w->next[i] = i + 1 < m ? (int32_t)i + 1 : -1; }
  w->hn = 0;
  for (size_t i = 0; i + 1 < m; i++) if (bpe_try_push(t, w, (int32_t)i)) return DP_ERR_NOMEM;
  while (w->hn) {
    bpe_item it = heap_pop(w);
    int32_t p = (int32_t)it.pos;
    if (w->id[p] < 0) continue;             /* removed */
    int32_t nx = w->next[p];
    if (nx < 0) continue;
    uint32_t rank; int32_t merged;
    if (!merge_get(t, w->id[p], w->id[nx], &rank, &merged) || merged != it.merged) continue;
    w->id[p] = merged;
    w->id[nx] = -1;
    w->next[p] = w->next[nx];
    if (w->next[nx] >= 0) w->prev[w->next[nx]] = p;
    if (w->prev[p] >= 0 && bpe_try_push(t, w, w->prev[p])) return DP_ERR_NOMEM;
    if (bpe_try_push(t, w, p)) return DP_ERR_NOMEM;
  }
  for (int32_t p = 0; p >= 0; p = w->next[p])
    if (dp_token_list_push(out, w->id[p])) return DP_ERR_NOMEM;
  return DP_OK;
}

/* Cache of pre-token -> ids (pre-tokens up to CACHE_KEY_MAX bytes). */
#define CACHE_KEY_MAX 64
#define CACHE_MAX_ENTRIES (1u << 17)
static void cache_free(tok_cache *c) {
  dp_free(c->hash); dp_free(c->key_off); dp_free(c->key_len); dp_free(c->ids_off); dp_free(c->ids_cnt);
  dp_free(c->keys); dp_free(c->ids);
  memset(c, 0, sizeof *c);
}
static int cache_get(const tok_cache *c, const char *s, size_t n, uint64_t h, dp_token_list *out, int *hit) {
  *hit = 0;
  if (!c->cap) return 0;
  size_t j = h & (c->cap - 1);
  while (c->key_len[j] != UINT32_MAX) {
    if (c->hash[j] == h && c->key_len[j] == n && !memcmp(c->keys + c->key_off[j], s, n)) {
      for (uint32_t i = 0; i < c->ids_cnt[j]; i++)
        if (dp_token_list_push(out, c->ids[c->ids_off[j] + i])) return -1;
      *hit = 1;
      return 0;
    }
    j = (j + 1) & (c->cap - 1);
  }
  return 0;
}
static void cache_put(tok_cache *c, const char *s, size_t n, uint64_t h, const int32_t *ids, size_t nids) {
  if (!c->cap || c->used * 2 >= c->cap) {
    if (c->cap >= CACHE_MAX_ENTRIES * 2 || !c->cap) {
      size_t cap = c->cap ? c->cap : 4096;
      if (!c->cap) {
        c->hash = dp_malloc(cap * sizeof *c->hash); c->key_off = dp_malloc(cap * sizeof *c->key_off);
        c->key_len = dp_malloc(cap * sizeof *c->key_len); c->ids_off = dp_malloc(cap * sizeof *c->ids_off);
        c->ids_cnt = dp_malloc(cap * sizeof *c->ids_cnt);
        if (!c->hash || !c->key_off || !c->key_len || !c->ids_off || !c->ids_cnt) { cache_free(c); return; }
        c->cap = cap;
      }
      memset(c->key_len, 0xff, c->cap * sizeof *c->key_len);
      c->used = 0; c->keys_len = 0; c->ids_len = 0;
    } else { /* grow: rebuild */
      tok_cache nc = {0};
      size_t cap = c->cap * 2;
      nc.hash = dp_malloc(cap * sizeof *nc.hash); nc.key_off = dp_malloc(cap * sizeof *nc.key_off);
      nc.key_len = dp_malloc(cap * sizeof *nc.key_len); nc.ids_off = dp_malloc(cap * sizeof *nc.ids_off);
      nc.ids_cnt = dp_malloc(cap * sizeof *nc.ids_cnt);
      if (!nc.hash || !nc.key_off || !nc.key_len || !nc.ids_off || !nc.ids_cnt) { cache_free(&nc); return; }
      nc.cap = cap;
      memset(nc.key_len, 0xff, cap * sizeof *nc.key_len);
      for (size_t i = 0; i < c->cap; i++) {
        if (c->key_len[i] == UINT32_MAX) continue;
        size_t j = c->hash[i] & (cap - 1);
        while (nc.key_len[j] != UINT32_MAX) j = (j + 1) & (cap - 1);
        nc.hash[j] = c->hash[i]; nc.key_off[j] = c->key_off[i]; nc.key_len[j] = c->key_len[i];
        nc.ids_off[j] = c->ids_off[i]; nc.ids_cnt[j] = c->ids_cnt[i];
      }
      nc.keys = c->keys; nc.keys_len = c->keys_len; nc.keys_cap = c->keys_cap;
      nc.ids = c->ids; nc.ids_len = c->ids_len; nc.ids_cap = c->ids_cap; nc.used = c->used;
      dp_free(c->hash); dp_free(c->key_off); dp_free(c->key_len); dp_free(c->ids_off); dp_free(c->ids_cnt);
      *c = nc;
    }
  }
  if (c->keys_len + n > c->keys_cap) {
    size_t ncap = c->keys_cap ? c->keys_cap * 2 : 1 << 16;
    while (ncap < c->keys_len + n) ncap *= 2;
    char *nk = dp_realloc(c->keys, ncap);
    if (!nk) return;
    c->keys = nk; c->keys_cap = ncap;
  }
  if (c->ids_len + nids > c->ids_cap) {
    size_t ncap = c->ids_cap ? c->ids_cap * 2 : 1 << 14;
    while (ncap < c->ids_len + nids) ncap *= 2;
    int32_t *ni = dp_realloc(c->ids, ncap * sizeof *ni);
    if (!ni) return;
    c->ids = ni; c->ids_cap = ncap;
  }
  size_t j = h & (c->cap - 1);
  while (c->key_len[j] != UINT32_MAX) j = (j + 1) & (c->cap - 1);
  memcpy(c->keys + c->keys_len, s, n);
  memcpy(c->ids + c->ids_len, ids, nids * sizeof *ids);
  c->hash[j] = h; c->key_off[j] = (uint32_t)c->keys_len; c->key_len[j] = (uint32_t)n;
  c->ids_off[j] = (uint32_t)c->ids_len; c->ids_cnt[j] = (uint32_t)nids;
  c->keys_len += n; c->ids_len += nids; c->used++;
}

static dp_status model_piece(dp_tokenizer *t, const char *s, size_t n, dp_token_list *out) {
  if (t->ignore_merges) {
    int32_t id = dp_tok_lookup(t, s, n);
    if (id >= 0) return dp_token_list_push(out, id);
  }
  if (n > CACHE_KEY_MAX) return bpe_word(t, s, n, out);
  uint64_t h = dp_tok_hash(s, n);
  int hit;
  if (cache_get(&t->cache, s, n, h, out, &hit)) return DP_ERR_NOMEM;
  if (hit) return DP_OK;
  size_t n0 = out->n;
  dp_status st = bpe_word(t, s, n, out);
  if (st) return st;
  if (out->n > n0) cache_put(&t->cache, s, n, h, out->ids + n0, out->n - n0);
  return DP_OK;
}

/* ---- encoding pipeline ---------------------------------------------------------------------- */
typedef struct {
  pieces a, b;
  sizevec m;
  dp_buf norm, tmp, bl;
} enc_scratch;
static void enc_free(enc_scratch *e) {
  pieces_free(&e->a); pieces_free(&e->b); dp_free(e->m.v);
  dp_buf_free(&e->norm); dp_buf_free(&e->tmp); dp_buf_free(&e->bl);
}

static dp_status normalize(const dp_tokenizer *t, const char *s, size_t n, enc_scratch *e) {
  e->norm.len = 0;
  if (dp_buf_append(&e->norm, s, n)) return DP_ERR_NOMEM;
  for (size_t k = 0; k < t->n_norm; k++) {
    const tok_norm *nm = &t->norm[k];
    e->tmp.len = 0;
    const char *src = e->norm.data; size_t len = e->norm.len;
    if (nm->kind == NORM_REPLACE) {
      for (size_t i = 0; i < len;) {
        if (nm->alen && i + nm->alen <= len && !memcmp(src + i, nm->a, nm->alen)) {
          if (dp_buf_append(&e->tmp, nm->b, nm->blen)) return DP_ERR_NOMEM;
          i += nm->alen;
        } else {
          size_t j = i + 1;
          while (j < len && (uint8_t)src[j] != (uint8_t)nm->a[0]) j++;
          if (dp_buf_append(&e->tmp, src + i, j - i)) return DP_ERR_NOMEM;
          i = j;
        }
      }
    } else if (nm->kind == NORM_PREPEND) {
      if (len && (dp_buf_append(&e->tmp, nm->a, nm->alen) || dp_buf_append(&e->tmp, src, len))) return DP_ERR_NOMEM;
    } else if (nm->kind == NORM_UNICODE) {
      if (dp_unicode_is_normalized(src, len, (dp_unorm_form)nm->form)) continue; /* identity */
      dp_status st = dp_unicode_normalize(src, len, (dp_unorm_form)nm->form, &e->tmp);
      if (st) return st;
    } else { /* STRIP */
      size_t a = 0, b = len;
      uint32_t cp; size_t k2;
      if (nm->left) while (a < b && (k2 = dp_utf8_decode(src + a, b - a, &cp)) && dp_unicode_is_space(cp)) a += k2;
      if (nm->right) while (b > a) {
        size_t j = b - 1;
        while (j > a && ((uint8_t)src[j] & 0xC0) == 0x80) j--;
        if (!dp_utf8_decode(src + j, b - j, &cp) || !dp_unicode_is_space(cp)) break;
        b = j;
      }
      if (dp_buf_append(&e->tmp, src + a, b - a)) return DP_ERR_NOMEM;
    }
    dp_buf sw = e->norm; e->norm = e->tmp; e->tmp = sw;
  }
  return DP_OK;
}

static dp_status pretokenize(dp_tokenizer *t, enc_scratch *e, int first_segment) {
  for (size_t k = 0; k < t->n_pre; k++) {
    const tok_pre *p = &t->pre[k];
    pieces_clear(&e->b);
    for (size_t i = 0; i < e->a.n; i++) {
      const char *s = e->a.b.data + e->a.off[i];
      size_t n = e->a.len[i];
      dp_status st = DP_OK;
      switch (p->kind) {
      case PRE_SPLIT_REGEX:
        st = regex_ranges(t, p->re, s, n, &e->m);
        if (!st) st = split_emit(s, n, e->m.v, e->m.n / 2, p->behavior, p->invert, &e->b);
        break;
      case PRE_SPLIT_STRING:
        st = string_ranges(s, n, p->str, p->slen, &e->m);
        if (!st) st = split_emit(s, n, e->m.v, e->m.n / 2, p->behavior, p->invert, &e->b);
        break;
      case PRE_METASPACE: {
        e->tmp.len = 0;
        int pre = p->prepend == 2 || (p->prepend == 1 && first_segment && i == 0);
        if (pre && !(n >= p->slen && !memcmp(s, p->str, p->slen)) && dp_buf_append(&e->tmp, p->str, p->slen)) return DP_ERR_NOMEM;
        for (size_t j = 0; j < n; j++) {
          if (s[j] == ' ') { if (dp_buf_append(&e->tmp, p->str, p->slen)) return DP_ERR_NOMEM; }
          else if (dp_buf_append(&e->tmp, s + j, 1)) return DP_ERR_NOMEM;
        }
        if (p->split) {
          st = string_ranges(e->tmp.data, e->tmp.len, p->str, p->slen, &e->m);
          if (!st) st = split_emit(e->tmp.data, e->tmp.len, e->m.v, e->m.n / 2, SPLIT_MERGED_NEXT, 0, &e->b);
        } else st = pieces_add(&e->b, e->tmp.data, e->tmp.len);
        break;
      }
      case PRE_BYTELEVEL: {
        /* optional prefix space, optional GPT-2 split (isolated), then each byte -> its char */
        e->tmp.len = 0;
        if (p->add_prefix_space && (n == 0 || s[0] != ' ') && dp_buf_append(&e->tmp, " ", 1)) return DP_ERR_NOMEM;
        if (dp_buf_append(&e->tmp, s, n)) return DP_ERR_NOMEM;
        e->m.n = 0;
        if (p->re) st = regex_ranges(t, p->re, e->tmp.data, e->tmp.len, &e->m);
        else if (sv_push(&e->m, 0) || sv_push(&e->m, e->tmp.len)) st = DP_ERR_NOMEM;
        size_t cur = 0;
        for (size_t r = 0; r <= e->m.n / 2 && !st; r++) {
          size_t a = r < e->m.n / 2 ? e->m.v[2 * r] : e->tmp.len, b = r < e->m.n / 2 ? e->m.v[2 * r + 1] : e->tmp.len;
          for (int pass = 0; pass < 2 && !st; pass++) { /* the gap before the match, then the match */
            size_t x = pass ? a : cur, y = pass ? b : a;
            if (x >= y) continue;
            e->bl.len = 0;
            for (size_t j = x; j < y; j++) {
              char c[4];
              size_t w = dp_utf8_encode(dp_tok_byte_to_cp((uint8_t)e->tmp.data[j]), c);
              if (dp_buf_append(&e->bl, c, w)) return DP_ERR_NOMEM;
            }
            st = pieces_add(&e->b, e->bl.data, e->bl.len);
          }
          cur = b;
        }
        break;
      }
      }
      if (st) return st;
    }
    pieces sw = e->a; e->a = e->b; e->b = sw;
  }
  return DP_OK;
}

static int mark_glued(const dp_tokenizer *t, uint32_t cp) {
  for (size_t i = 0; i < t->n_mark_glue; i++) if (t->mark_glue[i] == cp) return 1;
  return 0;
}
/* BPE of s, cut first before each U+2581 that no token joins to the char before it (see
 * mark_split in tok_internal.h); pieces are BPE'd independently, which is exact. */
static dp_status model_piece_cut(dp_tokenizer *t, const char *s, size_t n, dp_token_list *out) {
  if (!t->mark_split) return model_piece(t, s, n, out);
  size_t start = 0;
  uint32_t prev = 0x2581;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = dp_utf8_decode(s + i, n - i, &cp);
    if (!k) { cp = 0xFFFD; k = 1; }
    if (cp == 0x2581 && prev != 0x2581 && i > start && !mark_glued(t, prev)) {
      dp_status st = model_piece(t, s + start, i - start, out);
      if (st) return st;
      start = i;
    }
    prev = cp;
    i += k;
  }
  return model_piece(t, s + start, n - start, out);
}

static dp_status encode_normalized_piece(dp_tokenizer *t, enc_scratch *e, const char *s, size_t n,
                                         int first_segment, dp_token_list *out) {
  pieces_clear(&e->a);
  if (pieces_add(&e->a, s, n)) return DP_ERR_NOMEM;
  dp_status st = pretokenize(t, e, first_segment);
  if (st) return st;
  for (size_t i = 0; i < e->a.n; i++) {
    st = model_piece_cut(t, e->a.b.data + e->a.off[i], e->a.len[i], out);
    if (st) return st;
  }
  return DP_OK;
}

static dp_status encode_segment(dp_tokenizer *t, enc_scratch *e, const char *s, size_t n, int parse_special,
                                int first_segment, dp_token_list *out) {
  if (!n) return DP_OK;
  dp_status st = normalize(t, s, n, e);
  if (st) return st;
  /* copy: pretokenize reuses the scratch buffers */
  size_t nn = e->norm.len;
  char *ns = dp_malloc(nn + 1);
  if (!ns) return DP_ERR_NOMEM;
  memcpy(ns, e->norm.data ? e->norm.data : "", nn);
  size_t pos = 0;
  while (pos < nn && !st) {
    size_t ms, me; int32_t which;
    if (!trie_find(t, &t->trie_norm, ns, pos, nn, parse_special, &ms, &me, &which)) { ms = me = nn; which = -1; }
    if (ms > pos) st = encode_normalized_piece(t, e, ns + pos, ms - pos, first_segment && pos == 0, out);
    if (!st && which >= 0) st = dp_token_list_push(out, t->added[which].id);
    pos = me;
  }
  dp_free(ns);
  return st;
}

dp_status dp_tokenizer_encode(dp_tokenizer *t, const char *text, size_t len, unsigned flags, dp_token_list *out) {
  size_t bad = dp_utf8_validate(text, len);
  if (bad != len) return dp_error(DP_ERR_INVALID_ARG, "tokenize: text is not valid UTF-8 at byte %zu", bad);
  int parse_special = (flags & DP_TOK_PARSE_SPECIAL) != 0;
  size_t n0 = out->n;
  enc_scratch e;
  memset(&e, 0, sizeof e);
  dp_status st = DP_OK;
  size_t pos = 0;
  while (pos < len && !st) {
    size_t ms, me; int32_t which;
    if (!trie_find(t, &t->trie_raw, text, pos, len, parse_special, &ms, &me, &which)) { ms = me = len; which = -1; }
    if (ms > pos) st = encode_segment(t, &e, text + pos, ms - pos, parse_special, pos == 0, out);
    if (!st && which >= 0) st = dp_token_list_push(out, t->added[which].id);
    pos = me;
  }
  enc_free(&e);
  if (st) { out->n = n0; return st; }
  if (flags & DP_TOK_ADD_SPECIAL) {
    size_t np = t->n_prefix;
    if (np && out->n > n0 && out->ids[n0] == t->prefix[np - 1] && t->prefix[np - 1] == t->bos) np--; /* never two BOS */
    if (np) {
      for (size_t i = 0; i < np; i++) if (dp_token_list_push(out, 0)) return DP_ERR_NOMEM;
      memmove(out->ids + n0 + np, out->ids + n0, (out->n - n0 - np) * sizeof *out->ids);
      memcpy(out->ids + n0, t->prefix, np * sizeof *out->ids);
    }
    for (size_t i = 0; i < t->n_suffix; i++) if (dp_token_list_push(out, t->suffix[i])) return DP_ERR_NOMEM;
  }
  return DP_OK;
}

/* ---- finishing touches shared with tok_vocab.c ------------------------------------------------ */
dp_status dp_tok_finish(dp_tokenizer *t) {
  dp_status st = DP_OK;
  for (int b = 0; b < 256; b++) {
    char name[8];
    static const char hx[] = "0123456789ABCDEF";
    name[0] = '<'; name[1] = '0'; name[2] = 'x'; name[3] = hx[b >> 4]; name[4] = hx[b & 15]; name[5] = '>';
    t->byte_tok[b] = dp_tok_lookup(t, name, 6);
    char c[4];
    if (t->byte_level) {
      size_t w = dp_utf8_encode(dp_tok_byte_to_cp((uint8_t)b), c);
      t->char_id[b] = w == 1 ? dp_tok_lookup(t, c, 1) : -1;
    } else if (b < 128) {
      c[0] = (char)b;
      t->char_id[b] = dp_tok_lookup(t, c, 1);
    }
  }
  for (size_t i = 0; i < t->n_added; i++) {
    tok_trie *tr = t->added[i].normalized && t->n_norm ? &t->trie_norm : &t->trie_raw;
    st = trie_insert(tr, t->arena + t->added[i].off, t->added[i].len, (int32_t)i);
    if (st) return st;
  }
  /* SentencePiece-style word cutting (see mark_split in tok_internal.h) */
  t->mark_split = !t->byte_level && dp_tok_lookup(t, "\xe2\x96\x81", 3) >= 0;
  t->n_mark_glue = 0;
  for (size_t id = 0; id < t->n_vocab && t->mark_split; id++) {
    if (t->tok_len[id] == UINT32_MAX) continue;
    const char *s = t->arena + t->tok_off[id];
    size_t n = t->tok_len[id];
    uint32_t prev = 0x2581;
    for (size_t i = 0; i < n;) {
      uint32_t cp;
      size_t k = dp_utf8_decode(s + i, n - i, &cp);
      if (!k) { cp = 0xFFFD; k = 1; }
      if (cp == 0x2581 && prev != 0x2581 && !mark_glued(t, prev)) {
        if (t->n_mark_glue == 64) { t->mark_split = 0; break; }
        t->mark_glue[t->n_mark_glue++] = prev;
      }
      prev = cp;
      i += k;
    }
  }
  static const char *const EOG[] = {"<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|return|>", "<|call|>",
                                    "</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|eom_id|>"};
  t->n_eog = 0;
  if (t->eos >= 0) t->eog[t->n_eog++] = t->eos;
  for (size_t i = 0; i < sizeof EOG / sizeof *EOG; i++) {
    int32_t id = dp_tok_lookup(t, EOG[i], strlen(EOG[i]));
    if (id < 0 || t->n_eog >= 16) continue;
    int dup = 0;
    for (size_t k = 0; k < t->n_eog; k++) dup |= t->eog[k] == id;
    if (!dup) t->eog[t->n_eog++] = id;
  }
  return DP_OK;
}

void dp_tokenizer_free(dp_tokenizer *t) {
  if (!t) return;
  dp_free(t->tok_off); dp_free(t->tok_len); dp_free(t->arena); dp_free(t->map); dp_free(t->map_tag);
  dp_free(t->special); dp_free(t->is_added);
  dp_free(t->mkey); dp_free(t->mrank); dp_free(t->mnew);
  for (size_t i = 0; i < t->n_norm; i++) { dp_free(t->norm[i].a); dp_free(t->norm[i].b); }
  dp_free(t->norm);
  for (size_t i = 0; i < t->n_pre; i++) { dp_regex_free(t->pre[i].re); dp_free(t->pre[i].str); }
  dp_free(t->pre);
  for (size_t i = 0; i < t->n_dec; i++) { dp_free(t->dec[i].a); dp_free(t->dec[i].b); }
  dp_free(t->dec);
  dp_free(t->added);
  dp_free(t->trie_raw.nodes); dp_free(t->trie_norm.nodes);
  dp_free(t->chat_template);
  cache_free(&t->cache);
  dp_free(t->cps);
  dp_free(t->cp_offs);
  dp_free(t);
  /* release the shared BPE scratch too: keeps leak checkers quiet after the last tokenizer */
  dp_free(g_bpe.id); dp_free(g_bpe.prev); dp_free(g_bpe.next); dp_free(g_bpe.heap);
  memset(&g_bpe, 0, sizeof g_bpe);
}

/* ---- facts ----------------------------------------------------------------------------------- */
size_t dp_tokenizer_vocab_size(const dp_tokenizer *t) { return t->n_vocab; }
int32_t dp_tokenizer_bos(const dp_tokenizer *t) { return t->bos; }
int32_t dp_tokenizer_eos(const dp_tokenizer *t) { return t->eos; }
int dp_tokenizer_add_bos(const dp_tokenizer *t) { return t->add_bos; }
int dp_tokenizer_add_eos(const dp_tokenizer *t) { return t->add_eos; }
const char *dp_tokenizer_token(const dp_tokenizer *t, int32_t id, size_t *len) {
  if (id < 0 || (size_t)id >= t->n_vocab || t->tok_len[id] == UINT32_MAX) return NULL;
  if (len) *len = t->tok_len[id];
  return t->arena + t->tok_off[id];
}
int32_t dp_tokenizer_token_id(const dp_tokenizer *t, const char *s, size_t len) { return dp_tok_lookup(t, s, len); }
int dp_tokenizer_is_special(const dp_tokenizer *t, int32_t id) {
  return id >= 0 && (size_t)id < t->n_vocab && t->special[id];
}
size_t dp_tokenizer_eog_ids(const dp_tokenizer *t, const int32_t **ids) { *ids = t->eog; return t->n_eog; }
const char *dp_tokenizer_chat_template_src(const dp_tokenizer *t) { return t->chat_template; }
