/* jinja_parse.c -- the front half of the chat-template interpreter (jinja.c evaluates): the
 * source is checked (size, UTF-8, no NUL), line breaks normalised and one trailing newline
 * dropped (as Jinja's lexer does), lexed into text and tag tokens with transformers' whitespace
 * rules applied (trim_blocks, lstrip_blocks, {%- -%} {%+ +%}), and parsed by recursive descent
 * into a tree whose nodes live in the render's arena (allocated here too). Unsupported tags,
 * filters and tests are refused at parse time, naming the construct and line, as Jinja refuses
 * unknown filters when it compiles. Depends on core only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/jinja_internal.h"

/* "chat template line N: ..." */
dp_status dp_jinja_fail(dp_status code, int line, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return dp_error(code, "chat template line %d: %s", line, msg);
}

/* ---- arena ---------------------------------------------------------------------------------- */
void *dp_jinja_alloc(J *j, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!n) n = sizeof(max_align_t);
  if (!j->mem || j->mem->cap - j->mem->used < n) {
    size_t cap = n > (64u << 10) ? n : (64u << 10);
    if (n > DP_JINJA_MAX_MEM || j->mem_total + cap > DP_JINJA_MAX_MEM) {
      dp_error(DP_ERR_UNSUPPORTED, "chat template: rendering needs more than %d MiB", DP_JINJA_MAX_MEM >> 20);
      return NULL;
    }
    jchunk *c = dp_malloc(sizeof *c + cap);
    if (!c) { dp_error(DP_ERR_NOMEM, "chat template: out of memory"); return NULL; }
    c->next = j->mem, c->used = 0, c->cap = cap;
    j->mem = c, j->mem_total += cap;
  }
  void *p = (char *)j->mem->data + j->mem->used;
  j->mem->used += n;
  memset(p, 0, n);
  return p;
}
dp_status dp_jinja_mem_status(void) { return dp_error_status() ? dp_error_status() : DP_ERR_NOMEM; }

dp_status dp_jinja_str(J *j, int line, const char *s, size_t n, jv *out) {
  if (n > DP_JINJA_MAX_OUT) return UNSUP(line, "a string longer than %d MiB", DP_JINJA_MAX_OUT >> 20);
  char *p;
  NEW(j, p, n + 1);
  if (n) memcpy(p, s, n);
  *out = mk_str(p, n);
  return DP_OK;
}

/* ---- lexer ---------------------------------------------------------------------------------- */
static dp_status push_tok(J *j, jtok t) {
  if (j->ntok == j->captok) {
    size_t cap = j->captok ? j->captok * 2 : 256;
    jtok *nt;
    NEW(j, nt, cap);
    if (j->ntok) memcpy(nt, j->tok, j->ntok * sizeof *nt);
    j->tok = nt, j->captok = cap;
  }
  j->tok[j->ntok++] = t;
  return DP_OK;
}

/* Jinja joins source.splitlines() with "\n": every line break (\r\n, \r, \v, \f, \x1c-\x1e,
 * U+0085, U+2028, U+2029) becomes "\n" and one trailing line break is dropped. */
static dp_status normalize(J *j, const char *s, size_t n) {
  char *o;
  NEW(j, o, n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    size_t brk = 0;
    if (c == '\r') brk = i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
    else if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) brk = 1;
    else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85) brk = 2;
    else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 && ((unsigned char)s[i + 2] | 1) == 0xA9) brk = 3;
    if (brk) { o[k++] = '\n'; i += brk - 1; }
    else o[k++] = (char)c;
  }
  if (k && o[k - 1] == '\n') k--;
  j->src = o, j->len = k;
  return DP_OK;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_name0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int lines_in(const char *s, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++) k += s[i] == '\n';
  return k;
}

/* A string literal at src[*p] (quote q): Python escapes decoded. */
static dp_status lex_string(J *j, size_t *p, int *line, jtok *t) {
  const char *s = j->src;
  char q = s[*p];
  size_t i = *p + 1, start_line = (size_t)*line;
  dp_buf b = {0};
  dp_status st = DP_OK;
  while (i < j->len && s[i] != q && !st) {
    char c = s[i++];
    if (c == '\n') (*line)++;
    if (c != '\\' || i >= j->len) { st = dp_buf_append(&b, &c, 1); continue; }
    char e = s[i++];
    static const char ESC[] = "nrtbfva\\'\"", REP[] = "\n\r\t\b\f\v\a\\'\"";
    const char *simple = e ? strchr(ESC, e) : NULL;
    if (simple) {
      st = dp_buf_append(&b, &REP[simple - ESC], 1);
    } else if ((e >= '0' && e <= '7') || e == 'N') {
      st = UNSUP(*line, "\\%c escapes in strings", e == 'N' ? 'N' : '0');
    } else if (e == 'x' || e == 'u' || e == 'U') {
      size_t nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      uint32_t cp = 0;
      for (size_t k = 0; k < nd && !st; k++, i++) {
        char h = i < j->len ? s[i] : 0;
        int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (v < 0) st = BAD(*line, "bad \\%c escape in a string", e);
        cp = cp * 16 + (uint32_t)v;
      }
      char u[4];
      if (!st && (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))
        st = UNSUP(*line, "escape \\%c%X outside Unicode scalar values", e, cp);
      if (!st) st = dp_buf_append(&b, u, dp_utf8_encode(cp, u));
    } else {
      char keep[2] = {'\\', e};
      if (e == '\n') (*line)++;
      st = dp_buf_append(&b, keep, 2);
    }
  }
  if (!st && i >= j->len) st = BAD((int)start_line, "unterminated string literal");
  jv v;
  if (!st) st = dp_jinja_str(j, *line, b.data ? b.data : "", b.len, &v);
  dp_buf_free(&b);
  if (st) return st;
  t->k = T_STR, t->s = v.u.s;
  *p = i + 1;
  return DP_OK;
}

/* Tokens inside {{ }} or {% %} up to the closing tag; *end_strip: closed with "-}}"/"-%}",
 * *end_plus: with "+%}". */
static dp_status lex_tag(J *j, size_t *p, int *line, int block, int *end_strip, int *end_plus) {
  const char *s = j->src;
  size_t i = *p;
  int bal = 0, open_line = *line;
  static const char *const OPS2[] = {"//", "**", "==", "!=", ">=", "<="};
  for (;;) {
    while (i < j->len && is_ws(s[i])) { if (s[i] == '\n') (*line)++; i++; }
    if (i >= j->len) return BAD(open_line, "unterminated '%s' tag", block ? "{%" : "{{");
    const char *close = block ? "%}" : "}}";
    *end_strip = *end_plus = 0;
    if (!bal) {
      if (!strncmp(s + i, close, 2)) { *p = i + 2; break; }
      if ((s[i] == '-' || (block && s[i] == '+')) && i + 3 <= j->len && !strncmp(s + i + 1, close, 2)) {
        *end_strip = s[i] == '-', *end_plus = s[i] == '+';
        *p = i + 3;
        break;
      }
    }
    jtok t = {0};
    t.line = *line;
    char c = s[i];
    if (is_name0(c)) {
      size_t b = i;
      while (i < j->len && (is_name0(s[i]) || is_digit(s[i]))) i++;
      t.k = T_NAME, t.s = (jstr){s + b, i - b};
    } else if (is_digit(c)) {
      size_t b = i;
      int fl = 0;
      while (i < j->len && is_digit(s[i])) i++;
      if (i + 1 < j->len && s[i] == '.' && is_digit(s[i + 1])) { fl = 1; i++; while (i < j->len && is_digit(s[i])) i++; }
      if (i < j->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = i + 1;
        if (e < j->len && (s[e] == '+' || s[e] == '-')) e++;
        if (e < j->len && is_digit(s[e])) { fl = 1; i = e; while (i < j->len && is_digit(s[i])) i++; }
      }
      char num[64];
      if (i - b >= sizeof num) return UNSUP(*line, "number literal too long");
      memcpy(num, s + b, i - b);
      num[i - b] = 0;
      if (fl) t.k = T_FLOAT, t.f = strtod(num, NULL);
      else {
        char *end;
        unsigned long long v = strtoull(num, &end, 10);
        if (v > INT64_MAX) return UNSUP(*line, "integer literal %s does not fit 64 bits", num);
        t.k = T_INT, t.i = (int64_t)v;
      }
    } else if (c == '\'' || c == '"') {
      TRY(lex_string(j, &i, line, &t));
    } else {
      size_t n = 0;
      for (size_t k = 0; k < sizeof OPS2 / sizeof *OPS2 && !n; k++) if (!strncmp(s + i, OPS2[k], 2)) n = 2;
      if (!n && strchr("+-*/%~[](){}<>=.:|,", c) && c) n = 1;
      if (!n) return BAD(*line, "unexpected character '%c' in a tag", c);
      if (c == '(' || c == '[' || c == '{') bal++;
      if ((c == ')' || c == ']' || c == '}') && bal > 0) bal--;
      t.k = T_OP, t.s = (jstr){s + i, n};
      i += n;
    }
    TRY(push_tok(j, t));
  }
  return DP_OK;
}

static dp_status lex(J *j) {
  const char *s = j->src;
  size_t pos = 0;
  int line = 1, line_starting = 1, strip_next = 0;
  for (;;) {
    size_t p = pos;
    while (p + 1 < j->len && !(s[p] == '{' && (s[p + 1] == '{' || s[p + 1] == '%' || s[p + 1] == '#'))) p++;
    int tag = p + 1 < j->len;
    if (!tag) p = j->len;
    size_t a = pos, b = p;
    if (strip_next) while (a < b && is_ws(s[a])) a++;
    char kind = tag ? s[p + 1] : 0, mod = tag && p + 2 < j->len ? s[p + 2] : 0;
    if (tag && mod == '-') while (b > a && is_ws(s[b - 1])) b--;
    else if (tag && kind != '{' && mod != '+') { /* lstrip_blocks */
      size_t l = b;
      while (l > a && (s[l - 1] == ' ' || s[l - 1] == '\t')) l--;
      if ((l > a && s[l - 1] == '\n') || (l == a && line_starting)) b = l;
    }
    if (b > a) TRY(push_tok(j, (jtok){T_TEXT, line + lines_in(s + pos, a - pos), {s + a, b - a}, 0, 0}));
    line += lines_in(s + pos, p - pos);
    if (!tag) break;
    int tag_line = line;
    size_t q = p + 2 + (mod == '-' || (mod == '+' && kind != '{'));
    int end_strip = 0, end_plus = 0;
    if (kind == '#') {
      const char *e = NULL;
      for (size_t k = q; k + 1 < j->len && !e; k++) if (s[k] == '#' && s[k + 1] == '}') e = s + k;
      if (!e) return BAD(tag_line, "unterminated comment '{#'");
      size_t k = (size_t)(e - s);
      end_strip = k > q && s[k - 1] == '-';
      end_plus = k > q && s[k - 1] == '+';
      line += lines_in(s + q, k - q);
      q = k + 2;
    } else {
      TRY(push_tok(j, (jtok){kind == '{' ? T_VAR : T_BLOCK, tag_line, {s + p, 2}, 0, 0}));
      TRY(lex_tag(j, &q, &line, kind == '%', &end_strip, &end_plus));
      TRY(push_tok(j, (jtok){kind == '{' ? T_VAR_END : T_BLOCK_END, line, {s + q - 2, 2}, 0, 0}));
    }
    strip_next = end_strip;
    line_starting = 0;
    if (!end_strip && !end_plus && kind != '{' && q < j->len && s[q] == '\n') { /* trim_blocks */
      q++, line++;
      line_starting = 1;
    }
    if (end_strip) { /* Jinja's "-%}\s*" consumes the whitespace as part of the tag */
      size_t k = q;
      while (k < j->len && is_ws(s[k])) k++;
      line_starting = k > q && s[k - 1] == '\n';
    }
    pos = q;
  }
  return push_tok(j, (jtok){T_EOF, line, {"", 0}, 0, 0});
}

/* ---- parser --------------------------------------------------------------------------------- */
static const jtok *peek(J *j) { return &j->tok[j->pos]; }
static const jtok *next(J *j) { const jtok *t = &j->tok[j->pos]; if (t->k != T_EOF) j->pos++; return t; }
static int is_op(const jtok *t, const char *op) { return t->k == T_OP && str_eq(t->s, op, strlen(op)); }
static int is_kw(const jtok *t, const char *kw) { return t->k == T_NAME && str_eq(t->s, kw, strlen(kw)); }
static int accept_op(J *j, const char *op) { if (is_op(peek(j), op)) { j->pos++; return 1; } return 0; }
static int accept_kw(J *j, const char *kw) { if (is_kw(peek(j), kw)) { j->pos++; return 1; } return 0; }
static const char *tok_desc(const jtok *t, char *buf, size_t cap) {
  switch (t->k) {
  case T_EOF: return "end of template";
  case T_TEXT: return "text";
  case T_VAR_END: case T_BLOCK_END: case T_VAR: case T_BLOCK: case T_NAME: case T_OP:
    snprintf(buf, cap, "'%.*s'", (int)(t->s.n < 40 ? t->s.n : 40), t->s.s);
    return buf;
  case T_STR: return "a string";
  default: return "a number";
  }
}
static dp_status expect_op(J *j, const char *op) {
  if (accept_op(j, op)) return DP_OK;
  char b[64];
  return BAD(peek(j)->line, "expected '%s', found %s", op, tok_desc(peek(j), b, sizeof b));
}
static dp_status expect_end(J *j, int kind, const char *what) {
  if (peek(j)->k == kind) { j->pos++; return DP_OK; }
  char b[64];
  return BAD(peek(j)->line, "expected the end of the %s tag, found %s", what, tok_desc(peek(j), b, sizeof b));
}
static dp_status new_node(J *j, int k, int line, jnode **out) {
  NEW(j, *out, 1);
  (*out)->k = k, (*out)->line = line;
  return DP_OK;
}
static dp_status deeper(J *j) {
  if (++j->depth > DP_JINJA_MAX_DEPTH) return UNSUP(peek(j)->line, "nesting deeper than %d", DP_JINJA_MAX_DEPTH);
  return DP_OK;
}

/* Growable node list in the arena. */
typedef struct { jnode **v; jstr *kw; size_t n, cap; } nlist;
static dp_status nl_push(J *j, nlist *l, jnode *x, jstr kw) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    jnode **nv;
    jstr *nk;
    NEW(j, nv, cap);
    NEW(j, nk, cap);
    if (l->n) { memcpy(nv, l->v, l->n * sizeof *nv); memcpy(nk, l->kw, l->n * sizeof *nk); }
    l->v = nv, l->kw = nk, l->cap = cap;
  }
  l->kw[l->n] = kw, l->v[l->n++] = x;
  return DP_OK;
}

static const char *const FILTERS[] = {"trim", "length", "count", "upper", "lower", "capitalize", "default", "d", "tojson",
                                      "string", "first", "last", "join", "safe", "list", "reverse", "items", "int"};
static const char *const TESTS[] = {"defined", "undefined", "none", "string", "number", "integer", "float", "boolean",
                                    "true", "false", "iterable", "sequence", "mapping", "even", "odd"};
static int known(const char *const *names, size_t n, jstr s) {
  for (size_t i = 0; i < n; i++) if (str_eq(s, names[i], strlen(names[i]))) return 1;
  return 0;
}

static dp_status parse_expr(J *j, jnode **out);
static dp_status parse_or(J *j, jnode **out);

/* (args) after a call or filter: positional expressions and name=expr keywords. */
static dp_status parse_args(J *j, jnode *n) {
  nlist l = {0};
  while (!accept_op(j, ")")) {
    if (l.n) TRY(expect_op(j, ","));
    if (accept_op(j, ")")) break;
    jstr kw = {NULL, 0};
    if (peek(j)->k == T_NAME && is_op(&j->tok[j->pos + 1], "=")) { kw = peek(j)->s; j->pos += 2; }
    jnode *x;
    TRY(parse_expr(j, &x));
    TRY(nl_push(j, &l, x, kw));
  }
  n->kid = l.v, n->kw = l.kw, n->nkid = l.n;
  return DP_OK;
}

static dp_status parse_primary(J *j, jnode **out) {
  const jtok *t = next(j);
  jnode *n;
  TRY(new_node(j, E_LIT, t->line, &n));
  *out = n;
  switch (t->k) {
  case T_STR: {
    jstr s = t->s;
    if (peek(j)->k == T_STR) { /* adjacent literals concatenate */
      dp_buf b = {0};
      dp_buf_append(&b, s.s, s.n);
      while (peek(j)->k == T_STR) { const jtok *u = next(j); dp_buf_append(&b, u->s.s, u->s.n); }
      jv v;
      dp_status st = b.failed ? DP_ERR_NOMEM : dp_jinja_str(j, t->line, b.data, b.len, &v);
      dp_buf_free(&b);
      if (st) return st;
      s = v.u.s;
    }
    n->lit = mk_str(s.s, s.n);
    return DP_OK;
  }
  case T_INT: n->lit = mk_int(t->i); return DP_OK;
  case T_FLOAT: n->lit = mk_float(t->f); return DP_OK;
  case T_NAME:
    if (is_kw(t, "true") || is_kw(t, "True")) n->lit = mk_bool(1);
    else if (is_kw(t, "false") || is_kw(t, "False")) n->lit = mk_bool(0);
    else if (is_kw(t, "none") || is_kw(t, "None")) n->lit = mk_none();
    else n->k = E_NAME, n->s = t->s;
    return DP_OK;
  case T_OP:
    if (is_op(t, "(")) {
      TRY(parse_expr(j, out));
      if (is_op(peek(j), ",")) return UNSUP(t->line, "tuples");
      return expect_op(j, ")");
    }
    if (is_op(t, "[") || is_op(t, "{")) {
      int dict = is_op(t, "{");
      const char *close = dict ? "}" : "]";
      nlist l = {0};
      n->k = dict ? E_DICT : E_LIST;
      while (!accept_op(j, close)) {
        if (l.n) TRY(expect_op(j, ","));
        if (accept_op(j, close)) break;
        jnode *x;
        TRY(parse_expr(j, &x));
        TRY(nl_push(j, &l, x, (jstr){NULL, 0}));
        if (dict) {
          TRY(expect_op(j, ":"));
          TRY(parse_expr(j, &x));
          TRY(nl_push(j, &l, x, (jstr){NULL, 0}));
        }
      }
      n->kid = l.v, n->nkid = l.n;
      return DP_OK;
    }
    break;
  default: break;
  }
  char b[64];
  return BAD(t->line, "expected an expression, found %s", tok_desc(t, b, sizeof b));
}

/* x.a, x[i], x[a:b], f(...); with filters also x|f(...) and x is [not] t (Jinja applies a
 * unary minus before the filters: -1|string is (-1)|string). */
static dp_status parse_postfix(J *j, jnode **x, int filters) {
  for (;;) {
    const jtok *t = peek(j);
    jnode *n;
    if (is_op(t, ".")) {
      j->pos++;
      const jtok *name = next(j);
      if (name->k != T_NAME) return UNSUP(t->line, "'.' not followed by an attribute name");
      TRY(new_node(j, E_ATTR, t->line, &n));
      n->a = *x, n->s = name->s;
      if (accept_op(j, "(")) { n->k = E_METHOD; TRY(parse_args(j, n)); }
    } else if (is_op(t, "[")) {
      j->pos++;
      TRY(new_node(j, E_INDEX, t->line, &n));
      n->a = *x;
      jnode *part[3] = {NULL, NULL, NULL};
      int k = 0;
      for (;;) {
        if (!is_op(peek(j), ":") && !is_op(peek(j), "]")) TRY(parse_expr(j, &part[k]));
        if (accept_op(j, ":")) {
          n->k = E_SLICE;
          if (++k > 2) return BAD(t->line, "a slice has at most three parts");
          continue;
        }
        break;
      }
      TRY(expect_op(j, "]"));
      if (n->k == E_INDEX && !part[0]) return BAD(t->line, "empty subscript");
      n->b = part[0], n->c = part[1], n->d = part[2];
    } else if (is_op(t, "(")) {
      if ((*x)->k != E_NAME) return UNSUP(t->line, "calling anything but a named function");
      j->pos++;
      (*x)->k = E_CALL;
      TRY(parse_args(j, *x));
      continue;
    } else if (filters && is_op(t, "|")) {
      j->pos++;
      const jtok *name = next(j);
      if (name->k != T_NAME) return BAD(t->line, "'|' not followed by a filter name");
      if (!known(FILTERS, sizeof FILTERS / sizeof *FILTERS, name->s))
        return UNSUP(t->line, "filter '%.*s'", (int)(name->s.n < 40 ? name->s.n : 40), name->s.s);
      TRY(new_node(j, E_FILTER, t->line, &n));
      n->a = *x, n->s = name->s;
      if (accept_op(j, "(")) TRY(parse_args(j, n));
    } else if (filters && is_kw(t, "is")) {
      j->pos++;
      TRY(new_node(j, E_TEST, t->line, &n));
      n->op = accept_kw(j, "not");
      const jtok *name = next(j);
      if (name->k != T_NAME) return BAD(t->line, "'is' not followed by a test name");
      if (!known(TESTS, sizeof TESTS / sizeof *TESTS, name->s))
        return UNSUP(t->line, "test '%.*s'", (int)(name->s.n < 40 ? name->s.n : 40), name->s.s);
      const jtok *a = peek(j);
      if (a->k == T_STR || a->k == T_INT || a->k == T_FLOAT || is_op(a, "(") || is_op(a, "[") ||
          (a->k == T_NAME && !is_kw(a, "else") && !is_kw(a, "and") && !is_kw(a, "or") && !is_kw(a, "if") && !is_kw(a, "is") &&
           !is_kw(a, "in") && !is_kw(a, "not")))
        return UNSUP(t->line, "test '%.*s' with an argument", (int)name->s.n, name->s.s);
      n->a = *x, n->s = name->s;
    } else {
      return DP_OK;
    }
    *x = n;
  }
}

static dp_status parse_unary(J *j, jnode **out, int filters) {
  TRY(deeper(j));
  const jtok *t = peek(j);
  if (is_op(t, "-") || is_op(t, "+")) {
    j->pos++;
    jnode *n;
    TRY(new_node(j, E_NEG, t->line, &n));
    n->op = is_op(t, "-");
    TRY(parse_unary(j, &n->a, 0));
    *out = n;
  } else {
    TRY(parse_primary(j, out));
    TRY(parse_postfix(j, out, 0));
  }
  if (filters) TRY(parse_postfix(j, out, 1));
  j->depth--;
  return DP_OK;
}

/* Left-associative binary levels, loosest first: ops[level] lists "op:code" pairs. */
static dp_status parse_level(J *j, int level, jnode **out) {
  static const struct { const char *op; int code; } LV[4][4] = {
    {{"+", OP_ADD}, {"-", OP_SUB}},
    {{"~", OP_CAT}},
    {{"*", OP_MUL}, {"/", OP_DIV}, {"//", OP_FDIV}, {"%", OP_MOD}},
    {{"**", OP_POW}},
  };
  if (level == 4) return parse_unary(j, out, 1);
  TRY(parse_level(j, level + 1, out));
  for (;;) {
    int code = 0;
    const jtok *t = peek(j);
    for (int k = 0; k < 4 && LV[level][k].op && !code; k++) if (is_op(t, LV[level][k].op)) code = LV[level][k].code;
    if (!code) return DP_OK;
    j->pos++;
    jnode *n;
    TRY(new_node(j, E_BIN, t->line, &n));
    n->op = code, n->a = *out;
    TRY(parse_level(j, level + 1, &n->b));
    *out = n;
  }
}

static dp_status parse_compare(J *j, jnode **out) {
  static const struct { const char *op; int code; } CMP[] = {
    {"==", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT}, {">=", OP_GE}};
  TRY(parse_level(j, 0, out));
  jnode *prev = NULL; /* chained a < b < c = (a < b) and (b < c) */
  for (;;) {
    const jtok *t = peek(j);
    int code = 0;
    for (size_t k = 0; k < sizeof CMP / sizeof *CMP && !code; k++) if (is_op(t, CMP[k].op)) code = CMP[k].code;
    if (!code && is_kw(t, "in")) code = OP_IN;
    if (!code && is_kw(t, "not") && is_kw(&j->tok[j->pos + 1], "in")) { code = OP_NOTIN; j->pos++; }
    if (!code) return DP_OK;
    j->pos++;
    jnode *n;
    TRY(new_node(j, E_BIN, t->line, &n));
    n->op = code, n->a = prev ? prev->b : *out;
    TRY(parse_level(j, 0, &n->b));
    if (prev) {
      jnode *both;
      TRY(new_node(j, E_AND, t->line, &both));
      both->a = *out, both->b = n;
      *out = both;
    } else *out = n;
    prev = n;
  }
}

static dp_status parse_not(J *j, jnode **out) {
  if (!is_kw(peek(j), "not")) return parse_compare(j, out);
  jnode *n;
  TRY(new_node(j, E_NOT, next(j)->line, &n));
  TRY(deeper(j));
  TRY(parse_not(j, &n->a));
  j->depth--;
  *out = n;
  return DP_OK;
}

static dp_status parse_and_or(J *j, int is_or, jnode **out) {
  if (is_or) TRY(parse_and_or(j, 0, out));
  else TRY(parse_not(j, out));
  while (is_kw(peek(j), is_or ? "or" : "and")) {
    jnode *n;
    TRY(new_node(j, is_or ? E_OR : E_AND, next(j)->line, &n));
    n->a = *out;
    if (is_or) TRY(parse_and_or(j, 0, &n->b));
    else TRY(parse_not(j, &n->b));
    *out = n;
  }
  return DP_OK;
}
static dp_status parse_or(J *j, jnode **out) { return parse_and_or(j, 1, out); }

/* a if cond else b (else optional: undefined) */
static dp_status parse_expr(J *j, jnode **out) {
  TRY(deeper(j));
  TRY(parse_or(j, out));
  while (is_kw(peek(j), "if")) {
    jnode *n;
    TRY(new_node(j, E_COND, next(j)->line, &n));
    n->b = *out;
    TRY(parse_or(j, &n->a));
    if (accept_kw(j, "else")) TRY(parse_expr(j, &n->c));
    *out = n;
  }
  j->depth--;
  return DP_OK;
}

static dp_status parse_body(J *j, const char *const *stop, jnode **out);

/* After "{%": the statement whose keyword is next. */
static dp_status parse_stmt(J *j, jnode **out) {
  const jtok *kw = next(j);
  int line = kw->line;
  if (kw->k != T_NAME) return BAD(line, "expected a statement keyword after '{%%'");
  jnode *n;
  TRY(new_node(j, S_BLOCK, line, &n));
  *out = n;
  if (is_kw(kw, "if") || is_kw(kw, "elif")) {
    static const char *const stop[] = {"elif", "else", "endif", NULL};
    n->k = S_IF;
    TRY(parse_expr(j, &n->a));
    TRY(expect_end(j, T_BLOCK_END, "if"));
    TRY(parse_body(j, stop, &n->b));
    const jtok *e = &j->tok[j->pos + 1]; /* parse_body stopped at "{%" before e */
    if (is_kw(e, "elif")) {
      j->pos++;
      TRY(deeper(j));
      TRY(parse_stmt(j, &n->c));
      j->depth--;
      return DP_OK;
    }
    j->pos += 2;
    if (is_kw(e, "else")) {
      static const char *const stop2[] = {"endif", NULL};
      TRY(expect_end(j, T_BLOCK_END, "else"));
      TRY(parse_body(j, stop2, &n->c));
      j->pos += 2;
    }
    return expect_end(j, T_BLOCK_END, "endif");
  }
  if (is_kw(kw, "for")) {
    static const char *const stop[] = {"else", "endfor", NULL};
    n->k = S_FOR;
    const jtok *a = next(j);
    if (a->k != T_NAME) return UNSUP(line, "for-loop target other than names");
    n->s = a->s;
    if (accept_op(j, ",")) {
      const jtok *b = next(j);
      if (b->k != T_NAME) return UNSUP(line, "for-loop target other than names");
      n->s2 = b->s;
      if (is_op(peek(j), ",")) return UNSUP(line, "for-loop unpacking into more than two names");
    }
    if (!accept_kw(j, "in")) return BAD(line, "expected 'in' in the for tag");
    TRY(parse_or(j, &n->a));
    if (accept_kw(j, "if")) TRY(parse_or(j, &n->d));
    if (is_kw(peek(j), "recursive")) return UNSUP(line, "recursive for-loops");
    TRY(expect_end(j, T_BLOCK_END, "for"));
    j->loops++;
    TRY(parse_body(j, stop, &n->b));
    j->loops--;
    const jtok *e = &j->tok[j->pos + 1];
    j->pos += 2;
    if (is_kw(e, "else")) {
      static const char *const stop2[] = {"endfor", NULL};
      TRY(expect_end(j, T_BLOCK_END, "else"));
      TRY(parse_body(j, stop2, &n->c));
      j->pos += 2;
    }
    return expect_end(j, T_BLOCK_END, "endfor");
  }
  if (is_kw(kw, "set")) {
    n->k = S_SET;
    const jtok *a = next(j);
    if (a->k != T_NAME) return UNSUP(line, "set target other than a name or name.attribute");
    n->s = a->s;
    if (accept_op(j, ".")) {
      const jtok *b = next(j);
      if (b->k != T_NAME) return BAD(line, "expected an attribute name after '.' in set");
      n->s2 = b->s;
    }
    if (is_op(peek(j), ",")) return UNSUP(line, "set with several targets");
    if (!accept_op(j, "=")) return UNSUP(line, "block set ({%% set x %%}...{%% endset %%})");
    TRY(parse_expr(j, &n->a));
    return expect_end(j, T_BLOCK_END, "set");
  }
  if (is_kw(kw, "break") || is_kw(kw, "continue")) {
    n->k = is_kw(kw, "break") ? S_BREAK : S_CONTINUE;
    if (!j->loops) return BAD(line, "'%.*s' outside a for-loop", (int)kw->s.n, kw->s.s);
    return expect_end(j, T_BLOCK_END, "break/continue");
  }
  if (is_kw(kw, "generation")) { /* transformers' assistant-mask marker: renders its body */
    static const char *const stop[] = {"endgeneration", NULL};
    TRY(expect_end(j, T_BLOCK_END, "generation"));
    TRY(parse_body(j, stop, out));
    j->pos += 2;
    return expect_end(j, T_BLOCK_END, "endgeneration");
  }
  return UNSUP(line, "tag '%.*s'", (int)(kw->s.n < 40 ? kw->s.n : 40), kw->s.s);
}

/* Statements up to "{% w" for a w in stop (left unconsumed: j->pos at its "{%"), or to the end
 * of the template when stop is NULL. */
static dp_status parse_body(J *j, const char *const *stop, jnode **out) {
  TRY(deeper(j));
  int line = peek(j)->line;
  nlist l = {0};
  for (;;) {
    const jtok *t = peek(j);
    jnode *n = NULL;
    if (t->k == T_EOF) {
      if (stop) {
        size_t k = 0;
        while (stop[k + 1]) k++;
        return BAD(line, "unterminated block: no {%% %s %%} before the end of the template", stop[k]);
      }
      break;
    }
    if (t->k == T_TEXT) {
      TRY(new_node(j, S_TEXT, t->line, &n));
      n->s = t->s;
      j->pos++;
    } else if (t->k == T_VAR) {
      j->pos++;
      TRY(new_node(j, S_OUT, t->line, &n));
      TRY(parse_expr(j, &n->a));
      TRY(expect_end(j, T_VAR_END, "'{{'"));
    } else if (t->k == T_BLOCK) {
      const jtok *kw = &j->tok[j->pos + 1];
      int stops = 0;
      for (size_t k = 0; stop && stop[k] && !stops; k++) stops = is_kw(kw, stop[k]);
      if (stops) break;
      if (kw->k == T_NAME && (is_kw(kw, "endif") || is_kw(kw, "endfor") || is_kw(kw, "elif") || is_kw(kw, "else") ||
                              is_kw(kw, "endgeneration")))
        return BAD(kw->line, "unexpected '{%% %.*s %%}'", (int)kw->s.n, kw->s.s);
      j->pos++;
      TRY(parse_stmt(j, &n));
    } else {
      char b[64];
      return BAD(t->line, "unexpected %s", tok_desc(t, b, sizeof b));
    }
    TRY(nl_push(j, &l, n, (jstr){NULL, 0}));
  }
  jnode *blk;
  TRY(new_node(j, S_BLOCK, line, &blk));
  blk->kid = l.v, blk->nkid = l.n;
  *out = blk;
  j->depth--;
  return DP_OK;
}

/* ---- entry ---------------------------------------------------------------------------------- */
dp_status dp_jinja_parse(J *j, const char *src, size_t len, jnode **root) {
  if (len > DP_JINJA_MAX_SRC) return dp_error(DP_ERR_UNSUPPORTED, "chat template: %zu bytes (at most %d)", len, DP_JINJA_MAX_SRC);
  size_t ok = dp_utf8_validate(src, len);
  if (ok != len) return dp_error(DP_ERR_FORMAT, "chat template: not valid UTF-8 at byte %zu", ok);
  if (memchr(src, 0, len)) return dp_error(DP_ERR_FORMAT, "chat template: contains a NUL byte");
  TRY(normalize(j, src, len));
  TRY(lex(j));
  return parse_body(j, NULL, root);
}
