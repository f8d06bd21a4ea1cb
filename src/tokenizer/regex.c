/* regex.c -- backtracking regex engine over code points for tokenizer pretokenizer patterns
 * (see regex.h for the syntax). Called by tokenizer.c (Split / ByteLevel pretokenizers).
 * Depends on core (alloc, error, utf8) and the generated Unicode tables (unicode.h).
 *
 * Design: the pattern is parsed into a small AST, then compiled to a program of instructions
 * (CHAR, CLASS, SPLIT, JMP, LOOK, MATCH) run by a depth-first backtracking machine with an
 * explicit stack of (pc, pos) choice points: the first MATCH reached in priority order wins,
 * which is Perl/Oniguruma leftmost-first semantics. Each top-level alternative is compiled as
 * its own entry with a first-character filter (ASCII bitmap), so most alternatives of the
 * GPT-2-style patterns are skipped without running. */
#include "tokenizer/regex.h"
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/unicode.h"

/* ---- classes ---------------------------------------------------------------------------- */
enum { CI_RANGE, CI_CATS, CI_NCATS, CI_SPACE, CI_NSPACE };
typedef struct { uint8_t kind; uint32_t lo, hi; } class_item; /* CATS: lo = category mask */
typedef struct {
  uint32_t ascii[4];  /* precomputed result for cp < 128 (negation and folding applied) */
  int neg, fold;
  class_item *items;  /* [n] */
  int n, cap;
} re_class;

static int item_match(const class_item *it, uint32_t cp) {
  switch (it->kind) {
  case CI_RANGE: return cp >= it->lo && cp <= it->hi;
  case CI_CATS: return (it->lo >> dp_unicode_cat(cp)) & 1;
  case CI_NCATS: return !((it->lo >> dp_unicode_cat(cp)) & 1);
  case CI_SPACE: return dp_unicode_is_space(cp);
  default: return !dp_unicode_is_space(cp);
  }
}
static int class_match_slow(const re_class *c, uint32_t cp) {
  int m = 0;
  for (int i = 0; i < c->n && !m; i++) m = item_match(&c->items[i], cp);
  if (!m && c->fold) {
    uint32_t f = dp_unicode_fold(cp);
    for (int i = 0; i < c->n && !m; i++) m = item_match(&c->items[i], f);
    if (!m && cp < 128 && cp >= 'a' && cp <= 'z')
      for (int i = 0; i < c->n && !m; i++) m = item_match(&c->items[i], cp - 32);
  }
  return m != c->neg;
}
static inline int class_match(const re_class *c, uint32_t cp) {
  if (cp < 128) return (c->ascii[cp >> 5] >> (cp & 31)) & 1;
  return class_match_slow(c, cp);
}

uint32_t dp_unicode_fold(uint32_t cp) {
  if (cp < 128) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  size_t lo = 0, hi = dp_ucd_fold_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (dp_ucd_fold[mid][0] < cp) lo = mid + 1;
    else hi = mid;
  }
  return (lo < dp_ucd_fold_count && dp_ucd_fold[lo][0] == cp) ? dp_ucd_fold[lo][1] : cp;
}

/* ---- AST ---------------------------------------------------------------------------------- */
enum { N_CHAR, N_CLASS, N_ALT, N_SEQ, N_REPEAT, N_NLOOK, N_PLOOK, N_BOL, N_EOL };
#define REP_INF (-1)
typedef struct node {
  int type;
  uint32_t c;       /* CHAR: code point (folded when fold) ; CLASS: class index */
  int fold;
  int min, max, greedy; /* REPEAT */
  int *kids, nkids, capk;
} node;

enum { I_CHAR, I_CHARF, I_CLASS, I_SPLIT, I_JMP, I_NLOOK, I_PLOOK, I_BOL, I_EOL, I_MATCH };
typedef struct { uint8_t op; uint32_t arg; int x, y; } inst;

typedef struct {
  int pc;
  uint32_t first[4]; /* ASCII code points that can start a match */
  int first_nonascii, nullable;
} entry;

struct dp_regex {
  re_class *classes; int nclasses;    /* [nclasses] */
  inst *prog; int nprog, capprog;     /* [nprog] */
  entry *entries; int nentries;       /* [nentries] one per top-level alternative */
  size_t *stack; size_t sp, capstack; /* backtrack stack: pairs (pc, pos) */
  uint64_t steps, budget;
};

typedef struct {
  const char *p; size_t len, i;
  node *nodes; int nnodes, capnodes;
  dp_regex *re;
  int depth;
} parser;

#define MAX_PROG 200000
#define MAX_REPEAT 1000

static int new_node(parser *ps, int type) {
  if (ps->nnodes == ps->capnodes) {
    int nc = ps->capnodes ? ps->capnodes * 2 : 64;
    node *nn = dp_realloc(ps->nodes, (size_t)nc * sizeof *nn);
    if (!nn) return -1;
    ps->nodes = nn; ps->capnodes = nc;
  }
  node *n = &ps->nodes[ps->nnodes];
  memset(n, 0, sizeof *n);
  n->type = type;
  return ps->nnodes++;
}
static int add_kid(parser *ps, int parent, int kid) {
  node *n = &ps->nodes[parent];
  if (n->nkids == n->capk) {
    int nc = n->capk ? n->capk * 2 : 4;
    int *nk = dp_realloc(n->kids, (size_t)nc * sizeof *nk);
    if (!nk) return -1;
    n->kids = nk; n->capk = nc;
  }
  n->kids[n->nkids++] = kid;
  return 0;
}
static int new_class(parser *ps) {
  dp_regex *re = ps->re;
  re_class *nc = dp_realloc(re->classes, (size_t)(re->nclasses + 1) * sizeof *nc);
  if (!nc) return -1;
  re->classes = nc;
  memset(&nc[re->nclasses], 0, sizeof *nc);
  return re->nclasses++;
}
static int class_add(parser *ps, int ci, int kind, uint32_t lo, uint32_t hi) {
  re_class *c = &ps->re->classes[ci];
  if (c->n == c->cap) {
    int nc = c->cap ? c->cap * 2 : 4;
    class_item *ni = dp_realloc(c->items, (size_t)nc * sizeof *ni);
    if (!ni) return -1;
    c->items = ni; c->cap = nc;
  }
  c->items[c->n].kind = (uint8_t)kind; c->items[c->n].lo = lo; c->items[c->n].hi = hi;
  c->n++;
  return 0;
}
static void class_finish(re_class *c) {
  memset(c->ascii, 0, sizeof c->ascii);
  for (uint32_t cp = 0; cp < 128; cp++)
    if (class_match_slow(c, cp)) c->ascii[cp >> 5] |= 1u << (cp & 31);
}

static dp_status perr(parser *ps, const char *what) {
  return dp_error(DP_ERR_FORMAT, "regex: byte %zu: %s", ps->i, what);
}

/* Category name -> mask (0 if unknown). */
static uint32_t cat_mask(const char *s, size_t n) {
  static const struct { const char *name; uint32_t mask; } T[] = {
    {"L", DP_UCM_L}, {"Letter", DP_UCM_L}, {"Lu", DP_UCM(DP_UC_Lu)}, {"Uppercase_Letter", DP_UCM(DP_UC_Lu)},
    {"Ll", DP_UCM(DP_UC_Ll)}, {"Lowercase_Letter", DP_UCM(DP_UC_Ll)}, {"Lt", DP_UCM(DP_UC_Lt)},
    {"Titlecase_Letter", DP_UCM(DP_UC_Lt)}, {"Lm", DP_UCM(DP_UC_Lm)}, {"Modifier_Letter", DP_UCM(DP_UC_Lm)},
    {"Lo", DP_UCM(DP_UC_Lo)}, {"Other_Letter", DP_UCM(DP_UC_Lo)}, {"M", DP_UCM_M}, {"Mark", DP_UCM_M},
    {"Mn", DP_UCM(DP_UC_Mn)}, {"Mc", DP_UCM(DP_UC_Mc)}, {"Me", DP_UCM(DP_UC_Me)},
    {"N", DP_UCM_N}, {"Number", DP_UCM_N}, {"Nd", DP_UCM(DP_UC_Nd)}, {"Nl", DP_UCM(DP_UC_Nl)},
    {"No", DP_UCM(DP_UC_No)}, {"P", DP_UCM_P}, {"Punctuation", DP_UCM_P}, {"S", DP_UCM_S},
    {"Symbol", DP_UCM_S}, {"Z", DP_UCM_Z}, {"Separator", DP_UCM_Z}, {"Zs", DP_UCM(DP_UC_Zs)},
    {"C", DP_UCM_C}, {"Other", DP_UCM_C}, {"Cc", DP_UCM(DP_UC_Cc)}, {"Cf", DP_UCM(DP_UC_Cf)},
  };
  for (size_t i = 0; i < sizeof T / sizeof *T; i++)
    if (strlen(T[i].name) == n && !memcmp(T[i].name, s, n)) return T[i].mask;
  return 0;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Read one literal code point from the pattern (UTF-8). */
static dp_status read_cp(parser *ps, uint32_t *cp) {
  size_t k = dp_utf8_decode(ps->p + ps->i, ps->len - ps->i, cp);
  if (!k) return perr(ps, "invalid UTF-8 in pattern");
  ps->i += k;
  return DP_OK;
}

/* Escape after '\\'. Either a single code point (*cp, returns kind -1) or a class item kind
 * (CI_CATS/CI_NCATS with *mask, CI_SPACE, CI_NSPACE). */
static dp_status read_escape(parser *ps, int *kind, uint32_t *cp, uint32_t *mask) {
  if (ps->i >= ps->len) return perr(ps, "pattern ends after '\\'");
  char e = ps->p[ps->i++];
  *kind = -1;
  switch (e) {
  case 'r': *cp = '\r'; return DP_OK;
  case 'n': *cp = '\n'; return DP_OK;
  case 't': *cp = '\t'; return DP_OK;
  case 'f': *cp = '\f'; return DP_OK;
  case 'v': *cp = '\v'; return DP_OK;
  case 'a': *cp = 7; return DP_OK;
  case 'e': *cp = 27; return DP_OK;
  case '0': *cp = 0; return DP_OK;
  case 's': *kind = CI_SPACE; return DP_OK;
  case 'S': *kind = CI_NSPACE; return DP_OK;
  case 'd': *kind = CI_CATS; *mask = DP_UCM(DP_UC_Nd); return DP_OK;
  case 'D': *kind = CI_NCATS; *mask = DP_UCM(DP_UC_Nd); return DP_OK;
  case 'w': *kind = CI_CATS; *mask = DP_UCM_L | DP_UCM_M | DP_UCM(DP_UC_Nd) | DP_UCM(DP_UC_Pc); return DP_OK;
  case 'W': *kind = CI_NCATS; *mask = DP_UCM_L | DP_UCM_M | DP_UCM(DP_UC_Nd) | DP_UCM(DP_UC_Pc); return DP_OK;
  case 'p': case 'P': {
    const char *name; size_t n;
    if (ps->i < ps->len && ps->p[ps->i] == '{') {
      size_t j = ps->i + 1;
      while (j < ps->len && ps->p[j] != '}') j++;
      if (j >= ps->len) return perr(ps, "unterminated \\p{");
      name = ps->p + ps->i + 1; n = j - ps->i - 1; ps->i = j + 1;
    } else {
      if (ps->i >= ps->len) return perr(ps, "pattern ends after \\p");
      name = ps->p + ps->i; n = 1; ps->i++;
    }
    int negate = e == 'P';
    if (n > 0 && name[0] == '^') { negate = !negate; name++; n--; }
    *mask = cat_mask(name, n);
    if (!*mask) return perr(ps, "unsupported Unicode property");
    *kind = negate ? CI_NCATS : CI_CATS;
    return DP_OK;
  }
  case 'x': case 'u': {
    uint32_t v = 0; int nd = 0;
    if (e == 'x' && ps->i < ps->len && ps->p[ps->i] == '{') {
      ps->i++;
      while (ps->i < ps->len && ps->p[ps->i] != '}') {
        int h = hexval((unsigned char)ps->p[ps->i++]);
        if (h < 0 || ++nd > 6) return perr(ps, "bad \\x{...}");
        v = v * 16 + (uint32_t)h;
      }
      if (ps->i >= ps->len || nd == 0) return perr(ps, "bad \\x{...}");
      ps->i++;
    } else {
      int want = e == 'x' ? 2 : 4;
      for (; nd < want; nd++) {
        int h = ps->i < ps->len ? hexval((unsigned char)ps->p[ps->i]) : -1;
        if (h < 0) return perr(ps, "bad hex escape");
        v = v * 16 + (uint32_t)h; ps->i++;
      }
    }
    if (v > 0x10FFFF) return perr(ps, "code point out of range");
    *cp = v;
    return DP_OK;
  }
  default:
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '1' && e <= '9'))
      return perr(ps, "unsupported escape");
    ps->i--;
    return read_cp(ps, cp);
  }
}

static dp_status parse_alt(parser *ps, int fold, int *out);

static dp_status parse_class(parser *ps, int fold, int *out) {
  int ci = new_class(ps);
  if (ci < 0) return DP_ERR_NOMEM;
  ps->re->classes[ci].fold = fold;
  if (ps->i < ps->len && ps->p[ps->i] == '^') { ps->re->classes[ci].neg = 1; ps->i++; }
  int first = 1;
  for (;;) {
    if (ps->i >= ps->len) return perr(ps, "unterminated class");
    char ch = ps->p[ps->i];
    if (ch == ']' && !first) { ps->i++; break; }
    first = 0;
    if (ch == '[') return perr(ps, "nested classes are not supported");
    uint32_t lo, mask = 0; int kind = -1;
    if (ch == '\\') {
      ps->i++;
      dp_status st = read_escape(ps, &kind, &lo, &mask);
      if (st) return st;
    } else {
      dp_status st = read_cp(ps, &lo);
      if (st) return st;
    }
    if (kind >= 0) {
      if (class_add(ps, ci, kind, mask, 0)) return DP_ERR_NOMEM;
      continue;
    }
    uint32_t hi = lo;
    if (ps->i + 1 < ps->len && ps->p[ps->i] == '-' && ps->p[ps->i + 1] != ']') {
      ps->i++;
      if (ps->p[ps->i] == '\\') {
        ps->i++;
        dp_status st = read_escape(ps, &kind, &hi, &mask);
        if (st) return st;
        if (kind >= 0) return perr(ps, "class shorthand as range end");
      } else {
        dp_status st = read_cp(ps, &hi);
        if (st) return st;
      }
      if (hi < lo) return perr(ps, "range out of order");
    }
    if (class_add(ps, ci, CI_RANGE, lo, hi)) return DP_ERR_NOMEM;
  }
  class_finish(&ps->re->classes[ci]);
  int nd = new_node(ps, N_CLASS);
  if (nd < 0) return DP_ERR_NOMEM;
  ps->nodes[nd].c = (uint32_t)ci;
  *out = nd;
  return DP_OK;
}

static dp_status single_class(parser *ps, int kind, uint32_t mask, int neg, int *out) {
  int ci = new_class(ps);
  if (ci < 0) return DP_ERR_NOMEM;
  if (kind >= 0 && class_add(ps, ci, kind, mask, 0)) return DP_ERR_NOMEM;
  ps->re->classes[ci].neg = neg;
  class_finish(&ps->re->classes[ci]);
  int nd = new_node(ps, N_CLASS);
  if (nd < 0) return DP_ERR_NOMEM;
  ps->nodes[nd].c = (uint32_t)ci;
  *out = nd;
  return DP_OK;
}

static dp_status parse_atom(parser *ps, int fold, int *out) {
  char ch = ps->p[ps->i];
  dp_status st;
  if (ch == '(') {
    ps->i++;
    int type = -1, sub_fold = fold;
    if (ps->i < ps->len && ps->p[ps->i] == '?') {
      ps->i++;
      if (ps->i >= ps->len) return perr(ps, "bad group");
      char g = ps->p[ps->i];
      if (g == ':') ps->i++;
      else if (g == '!') { ps->i++; type = N_NLOOK; }
      else if (g == '=') { ps->i++; type = N_PLOOK; }
      else if (g == 'i' && ps->i + 1 < ps->len && ps->p[ps->i + 1] == ':') { ps->i += 2; sub_fold = 1; }
      else return perr(ps, "unsupported group kind");
    }
    if (++ps->depth > 64) return perr(ps, "groups nested too deeply");
    int inner;
    st = parse_alt(ps, sub_fold, &inner);
    if (st) return st;
    ps->depth--;
    if (ps->i >= ps->len || ps->p[ps->i] != ')') return perr(ps, "missing ')'");
    ps->i++;
    if (type < 0) { *out = inner; return DP_OK; }
    int nd = new_node(ps, type);
    if (nd < 0 || add_kid(ps, nd, inner)) return DP_ERR_NOMEM;
    *out = nd;
    return DP_OK;
  }
  if (ch == '[') { ps->i++; return parse_class(ps, fold, out); }
  if (ch == '.') { /* anything but \n: a negated class holding \n */
    ps->i++;
    st = single_class(ps, CI_RANGE, '\n', 1, out);
    if (st) return st;
    re_class *c = &ps->re->classes[ps->nodes[*out].c];
    c->items[0].hi = '\n';
    class_finish(c);
    return DP_OK;
  }
  if (ch == '^' || ch == '$') {
    ps->i++;
    int nd = new_node(ps, ch == '^' ? N_BOL : N_EOL);
    if (nd < 0) return DP_ERR_NOMEM;
    *out = nd;
    return DP_OK;
  }
  if (ch == '*' || ch == '+' || ch == '?' || ch == '{') return perr(ps, "quantifier without operand");
  uint32_t cp, mask = 0; int kind = -1;
  if (ch == '\\') {
    ps->i++;
    st = read_escape(ps, &kind, &cp, &mask);
  } else {
    st = read_cp(ps, &cp);
  }
  if (st) return st;
  if (kind >= 0) return single_class(ps, kind, mask, 0, out);
  int nd = new_node(ps, N_CHAR);
  if (nd < 0) return DP_ERR_NOMEM;
  ps->nodes[nd].fold = fold;
  ps->nodes[nd].c = fold ? dp_unicode_fold(cp) : cp;
  *out = nd;
  return DP_OK;
}

static int read_int(parser *ps, int *v) {
  int n = 0, any = 0;
  while (ps->i < ps->len && ps->p[ps->i] >= '0' && ps->p[ps->i] <= '9') {
    n = n * 10 + (ps->p[ps->i++] - '0');
    any = 1;
    if (n > 100000) n = 100000;
  }
  *v = n;
  return any;
}

static dp_status parse_seq(parser *ps, int fold, int *out) {
  int seq = new_node(ps, N_SEQ);
  if (seq < 0) return DP_ERR_NOMEM;
  while (ps->i < ps->len && ps->p[ps->i] != '|' && ps->p[ps->i] != ')') {
    int atom;
    dp_status st = parse_atom(ps, fold, &atom);
    if (st) return st;
    if (ps->i < ps->len) {
      char q = ps->p[ps->i];
      int mn = -2, mx = 0;
      if (q == '?') { mn = 0; mx = 1; ps->i++; }
      else if (q == '*') { mn = 0; mx = REP_INF; ps->i++; }
      else if (q == '+') { mn = 1; mx = REP_INF; ps->i++; }
      else if (q == '{') {
        size_t save = ps->i;
        ps->i++;
        if (read_int(ps, &mn)) {
          mx = mn;
          if (ps->i < ps->len && ps->p[ps->i] == ',') {
            ps->i++;
            if (!read_int(ps, &mx)) mx = REP_INF;
          }
          if (ps->i < ps->len && ps->p[ps->i] == '}') ps->i++;
          else return perr(ps, "bad {m,n}");
          if (mx != REP_INF && mx < mn) return perr(ps, "{m,n} with n < m");
          if (mn > MAX_REPEAT || mx > MAX_REPEAT) return perr(ps, "repeat count too large");
        } else { ps->i = save; mn = -2; } /* literal '{' is not supported either way */
        if (mn == -2) return perr(ps, "bad {m,n}");
      }
      if (mn != -2) {
        int greedy = 1;
        if (ps->i < ps->len && ps->p[ps->i] == '?') { greedy = 0; ps->i++; }
        else if (ps->i < ps->len && ps->p[ps->i] == '+') return perr(ps, "possessive quantifiers are not supported");
        if (ps->i < ps->len && (ps->p[ps->i] == '*' || ps->p[ps->i] == '+' || ps->p[ps->i] == '?' || ps->p[ps->i] == '{'))
          return perr(ps, "nested quantifier");
        int rep = new_node(ps, N_REPEAT);
        if (rep < 0 || add_kid(ps, rep, atom)) return DP_ERR_NOMEM;
        ps->nodes[rep].min = mn; ps->nodes[rep].max = mx; ps->nodes[rep].greedy = greedy;
        atom = rep;
      }
    }
    if (add_kid(ps, seq, atom)) return DP_ERR_NOMEM;
  }
  *out = seq;
  return DP_OK;
}

static dp_status parse_alt(parser *ps, int fold, int *out) {
  int first;
  dp_status st = parse_seq(ps, fold, &first);
  if (st) return st;
  if (ps->i >= ps->len || ps->p[ps->i] != '|') { *out = first; return DP_OK; }
  int alt = new_node(ps, N_ALT);
  if (alt < 0 || add_kid(ps, alt, first)) return DP_ERR_NOMEM;
  while (ps->i < ps->len && ps->p[ps->i] == '|') {
    ps->i++;
    int k;
    st = parse_seq(ps, fold, &k);
    if (st) return st;
    if (add_kid(ps, alt, k)) return DP_ERR_NOMEM;
  }
  *out = alt;
  return DP_OK;
}

/* ---- analysis: nullable and first-character sets ------------------------------------------ */
static int nullable(const parser *ps, int ni) {
  const node *n = &ps->nodes[ni];
  switch (n->type) {
  case N_CHAR: case N_CLASS: return 0;
  case N_SEQ:
    for (int i = 0; i < n->nkids; i++) if (!nullable(ps, n->kids[i])) return 0;
    return 1;
  case N_ALT:
    for (int i = 0; i < n->nkids; i++) if (nullable(ps, n->kids[i])) return 1;
    return 0;
  case N_REPEAT: return n->min == 0 || nullable(ps, n->kids[0]);
  default: return 1; /* lookarounds and anchors consume nothing */
  }
}
/* Add the first characters of node ni to e; returns nullable(ni). */
static int first_set(const parser *ps, int ni, entry *e) {
  const node *n = &ps->nodes[ni];
  switch (n->type) {
  case N_CHAR:
    if (n->fold) {
      for (uint32_t cp = 0; cp < 128; cp++)
        if (dp_unicode_fold(cp) == n->c) e->first[cp >> 5] |= 1u << (cp & 31);
      e->first_nonascii = 1;
    } else if (n->c < 128) e->first[n->c >> 5] |= 1u << (n->c & 31);
    else e->first_nonascii = 1;
    return 0;
  case N_CLASS: {
    const re_class *c = &ps->re->classes[n->c];
    for (int k = 0; k < 4; k++) e->first[k] |= c->ascii[k];
    e->first_nonascii = 1;
    return 0;
  }
  case N_SEQ:
    for (int i = 0; i < n->nkids; i++) if (!first_set(ps, n->kids[i], e)) return 0;
    return 1;
  case N_ALT: {
    int nul = 0;
    for (int i = 0; i < n->nkids; i++) nul |= first_set(ps, n->kids[i], e);
    return nul;
  }
  case N_REPEAT: {
    int nul = first_set(ps, n->kids[0], e);
    return nul || n->min == 0;
  }
  default: return 1;
  }
}

/* ---- code generation --------------------------------------------------------------------- */
static int emit(dp_regex *re, int op, uint32_t arg, int x, int y) {
  if (re->nprog >= MAX_PROG) return -1;
  if (re->nprog == re->capprog) {
    int nc = re->capprog ? re->capprog * 2 : 64;
    inst *np = dp_realloc(re->prog, (size_t)nc * sizeof *np);
    if (!np) return -2;
    re->prog = np; re->capprog = nc;
  }
  re->prog[re->nprog] = (inst){(uint8_t)op, arg, x, y};
  return re->nprog++;
}

static dp_status gen(parser *ps, int ni) {
  dp_regex *re = ps->re;
  const node *n = &ps->nodes[ni];
  int pc;
#define EMIT(op, arg, x, y) do { pc = emit(re, op, arg, x, y); \
    if (pc == -1) return dp_error(DP_ERR_UNSUPPORTED, "regex: pattern too large"); \
    if (pc == -2) return DP_ERR_NOMEM; } while (0)
  switch (n->type) {
  case N_CHAR: EMIT(n->fold ? I_CHARF : I_CHAR, n->c, 0, 0); return DP_OK;
  case N_CLASS: EMIT(I_CLASS, n->c, 0, 0); return DP_OK;
  case N_BOL: EMIT(I_BOL, 0, 0, 0); return DP_OK;
  case N_EOL: EMIT(I_EOL, 0, 0, 0); return DP_OK;
  case N_SEQ:
    for (int i = 0; i < n->nkids; i++) {
      dp_status st = gen(ps, ps->nodes[ni].kids[i]);
      if (st) return st;
    }
    return DP_OK;
  case N_NLOOK: case N_PLOOK: {
    int look;
    EMIT(n->type == N_NLOOK ? I_NLOOK : I_PLOOK, 0, 0, 0);
    look = pc;
    re->prog[look].x = look + 1;
    dp_status st = gen(ps, ps->nodes[ni].kids[0]);
    if (st) return st;
    EMIT(I_MATCH, 0, 0, 0);
    re->prog[look].y = re->nprog;
    return DP_OK;
  }
  case N_ALT: {
    int nk = n->nkids;
    int *jumps = dp_malloc((size_t)nk * sizeof *jumps);
    if (!jumps) return DP_ERR_NOMEM;
    for (int i = 0; i < nk; i++) {
      int split = -1;
      if (i + 1 < nk) {
        pc = emit(re, I_SPLIT, 0, 0, 0);
        if (pc < 0) { dp_free(jumps); return pc == -1 ? dp_error(DP_ERR_UNSUPPORTED, "regex: pattern too large") : DP_ERR_NOMEM; }
        split = pc;
        re->prog[split].x = split + 1;
      }
      dp_status st = gen(ps, ps->nodes[ni].kids[i]);
      if (st) { dp_free(jumps); return st; }
      jumps[i] = -1;
      if (i + 1 < nk) {
        pc = emit(re, I_JMP, 0, 0, 0);
        if (pc < 0) { dp_free(jumps); return pc == -1 ? dp_error(DP_ERR_UNSUPPORTED, "regex: pattern too large") : DP_ERR_NOMEM; }
        jumps[i] = pc;
        re->prog[split].y = re->nprog;
      }
    }
    for (int i = 0; i < nk; i++) if (jumps[i] >= 0) re->prog[jumps[i]].x = re->nprog;
    dp_free(jumps);
    return DP_OK;
  }
  case N_REPEAT: {
    int kid = n->kids[0], mn = n->min, mx = n->max, greedy = n->greedy;
    if (mx == REP_INF && nullable(ps, kid))
      return dp_error(DP_ERR_UNSUPPORTED, "regex: unbounded repeat of an expression that can match empty");
    for (int i = 0; i < mn; i++) {
      dp_status st = gen(ps, kid);
      if (st) return st;
    }
    if (mx == REP_INF) {
      int split;
      EMIT(I_SPLIT, 0, 0, 0);
      split = pc;
      dp_status st = gen(ps, kid);
      if (st) return st;
      EMIT(I_JMP, 0, split, 0);
      int body = split + 1, out = re->nprog;
      re->prog[split].x = greedy ? body : out;
      re->prog[split].y = greedy ? out : body;
      return DP_OK;
    }
    int opt = mx - mn;
    if (opt <= 0) return DP_OK;
    int *splits = dp_malloc((size_t)opt * sizeof *splits);
    if (!splits) return DP_ERR_NOMEM;
    for (int i = 0; i < opt; i++) {
      pc = emit(re, I_SPLIT, 0, 0, 0);
      if (pc < 0) { dp_free(splits); return pc == -1 ? dp_error(DP_ERR_UNSUPPORTED, "regex: pattern too large") : DP_ERR_NOMEM; }
      splits[i] = pc;
      dp_status st = gen(ps, kid);
      if (st) { dp_free(splits); return st; }
    }
    int out = re->nprog;
    for (int i = 0; i < opt; i++) {
      int body = splits[i] + 1;
      re->prog[splits[i]].x = greedy ? body : out;
      re->prog[splits[i]].y = greedy ? out : body;
    }
    dp_free(splits);
    return DP_OK;
  }
  }
#undef EMIT
  return dp_error(DP_ERR_INTERNAL, "regex: bad node");
}

void dp_regex_free(dp_regex *re) {
  if (!re) return;
  for (int i = 0; i < re->nclasses; i++) dp_free(re->classes[i].items);
  dp_free(re->classes);
  dp_free(re->prog);
  dp_free(re->entries);
  dp_free(re->stack);
  dp_free(re);
}

dp_status dp_regex_compile(const char *pattern, size_t len, dp_regex **out) {
  *out = NULL;
  dp_regex *re = dp_calloc(1, sizeof *re);
  if (!re) return DP_ERR_NOMEM;
  parser ps = {pattern, len, 0, NULL, 0, 0, re, 0};
  int root = -1;
  dp_status st = len ? parse_alt(&ps, 0, &root) : perr(&ps, "empty pattern");
  if (!st && ps.i < len) st = perr(&ps, "unbalanced ')'");
  if (!st) {
    /* one entry per top-level alternative */
    int nalts = ps.nodes[root].type == N_ALT ? ps.nodes[root].nkids : 1;
    re->entries = dp_calloc((size_t)nalts, sizeof *re->entries);
    if (!re->entries) st = DP_ERR_NOMEM;
    for (int a = 0; !st && a < nalts; a++) {
      int alt = ps.nodes[root].type == N_ALT ? ps.nodes[root].kids[a] : root;
      entry *e = &re->entries[a];
      e->pc = re->nprog;
      e->nullable = first_set(&ps, alt, e);
      st = gen(&ps, alt);
      if (!st && emit(re, I_MATCH, 0, 0, 0) < 0) st = dp_error(DP_ERR_UNSUPPORTED, "regex: pattern too large");
      re->nentries++;
    }
  }
  for (int i = 0; i < ps.nnodes; i++) dp_free(ps.nodes[i].kids);
  dp_free(ps.nodes);
  if (st) { dp_regex_free(re); return st; }
  *out = re;
  return DP_OK;
}

/* ---- matching ------------------------------------------------------------------------------ */
static int push(dp_regex *re, size_t pc, size_t pos) {
  if (re->sp + 2 > re->capstack) {
    size_t nc = re->capstack ? re->capstack * 2 : 256;
    size_t *ns = dp_realloc(re->stack, nc * sizeof *ns);
    if (!ns) return -1;
    re->stack = ns; re->capstack = nc;
  }
  re->stack[re->sp++] = pc;
  re->stack[re->sp++] = pos;
  return 0;
}

#define R_NOMATCH (-1)
#define R_BUDGET (-2)
#define R_NOMEM (-3)

/* Run from pc at pos; returns the end of the first match in priority order or R_*. */
static long run(dp_regex *re, const uint32_t *s, size_t n, int pc, size_t pos, int depth) {
  size_t base = re->sp;
  for (;;) {
    for (;;) {
      if (++re->steps > re->budget) { re->sp = base; return R_BUDGET; }
      const inst *I = &re->prog[pc];
      switch (I->op) {
      case I_CHAR:
        if (pos < n && s[pos] == I->arg) { pos++; pc++; continue; }
        goto fail;
      case I_CHARF:
        if (pos < n && dp_unicode_fold(s[pos]) == I->arg) { pos++; pc++; continue; }
        goto fail;
      case I_CLASS:
        if (pos < n && class_match(&re->classes[I->arg], s[pos])) { pos++; pc++; continue; }
        goto fail;
      case I_SPLIT:
        if (push(re, (size_t)I->y, pos)) { re->sp = base; return R_NOMEM; }
        pc = I->x;
        continue;
      case I_JMP: pc = I->x; continue;
      case I_NLOOK: case I_PLOOK: {
        if (depth > 64) { re->sp = base; return R_BUDGET; }
        long r = run(re, s, n, I->x, pos, depth + 1);
        if (r == R_BUDGET || r == R_NOMEM) { re->sp = base; return r; }
        if ((r >= 0) == (I->op == I_NLOOK)) goto fail;
        pc = I->y;
        continue;
      }
      case I_BOL: if (pos == 0) { pc++; continue; } goto fail;
      case I_EOL: if (pos == n) { pc++; continue; } goto fail;
      case I_MATCH: re->sp = base; return (long)pos;
      }
    }
  fail:
    if (re->sp == base) return R_NOMATCH;
    pos = re->stack[--re->sp];
    pc = (int)re->stack[--re->sp];
  }
}

dp_status dp_regex_find(dp_regex *re, const uint32_t *cps, size_t n, size_t from,
                        int *found, size_t *start, size_t *end) {
  *found = 0;
  for (size_t pos = from; pos < n; pos++) {
    uint32_t cp = cps[pos];
    for (int a = 0; a < re->nentries; a++) {
      const entry *e = &re->entries[a];
      if (!e->nullable) {
        if (cp < 128 ? !((e->first[cp >> 5] >> (cp & 31)) & 1) : !e->first_nonascii) continue;
      }
      re->sp = 0;
      re->steps = 0;
      re->budget = 100000 + 64 * (uint64_t)(n - pos);
      long r = run(re, cps, n, e->pc, pos, 0);
      if (r == R_BUDGET) return dp_error(DP_ERR_UNSUPPORTED, "regex: step budget exceeded at code point %zu (pattern too complex for this input)", pos);
      if (r == R_NOMEM) return DP_ERR_NOMEM;
      if (r > (long)pos) { *found = 1; *start = pos; *end = (size_t)r; return DP_OK; }
    }
  }
  return DP_OK;
}
