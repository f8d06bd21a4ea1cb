/* jinja.c -- a small interpreter for the Jinja subset of Hugging Face chat templates, used by
 * chat_template.c for a chat_template that no built-in renderer recognises. It behaves as
 * transformers' apply_chat_template environment: Jinja 3 with trim_blocks, lstrip_blocks and the
 * loopcontrols extension, HF's tojson (ensure_ascii=False, keys unsorted), raise_exception and
 * strftime_now, Python semantics for values (str, int, float, bool, None, list, dict).
 *
 * Pipeline: jinja_parse.c lexes and parses the template into a tree; this file evaluates the tree
 * with a scope stack (a for-loop iteration is a scope; if is not).
 * Supported: {{ }}, {% if/elif/else %}, {% for a[, b] in x [if c] %} with else, loop.index,
 * index0, revindex, revindex0, first, last, length, previtem, nextitem, depth(0); {% set x = %}, {% set
 * ns.a = %} with namespace(); break, continue; {% generation %}; {# #}; {%- -%} {%+ +%}.
 * Expressions: literals, lists, dicts, names, x.a, x[i], x[a:b:c], if-else, or/and/not, == != <
 * <= > >= in, not in, + - * / // % ** ~, filters (FILTERS[]), tests (TESTS[]), string and dict
 * methods (call_method), functions raise_exception, namespace, range, strftime_now (FILTERS and
 * TESTS are in jinja_parse.c, which refuses other names).
 * Anything else fails with "chat template line N: ..." naming the construct. Every tree node and
 * value lives in one arena freed after the render; the limits of jinja.h bound time and memory.
 * Depends on core only. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/jinja_internal.h"

/* ---- containers ----------------------------------------------------------------------------- */
static dp_status new_list(J *j, size_t n, jv *out) {
  jlist *l;
  NEW(j, l, 1);
  if (n) NEW(j, l->v, n);
  l->n = n;
  out->t = V_LIST, out->u.l = l, out->why = NULL;
  return DP_OK;
}
static dp_status new_dict(J *j, jv *out) {
  jdict *d;
  NEW(j, d, 1);
  out->t = V_DICT, out->u.d = d, out->why = NULL;
  return DP_OK;
}
static const char *find(const char *h, size_t hn, const char *nd, size_t nn) {
  if (!nn) return h;
  for (size_t i = 0; i + nn <= hn; i++) if (h[i] == nd[0] && !memcmp(h + i, nd, nn)) return h + i;
  return NULL;
}
static jv *dict_find(const jdict *d, const char *k, size_t kn) {
  for (size_t i = 0; i < d->n; i++) if (str_eq(d->k[i], k, kn)) return &d->v[i];
  return NULL;
}
static dp_status dict_set(J *j, jdict *d, jstr k, jv v) {
  jv *have = dict_find(d, k.s, k.n);
  if (have) { *have = v; return DP_OK; }
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    jstr *nk;
    jv *nv;
    NEW(j, nk, cap);
    NEW(j, nv, cap);
    if (d->n) { memcpy(nk, d->k, d->n * sizeof *nk); memcpy(nv, d->v, d->n * sizeof *nv); }
    d->k = nk, d->v = nv, d->cap = cap;
  }
  d->k[d->n] = k, d->v[d->n++] = v;
  return DP_OK;
}

/* ---- value helpers -------------------------------------------------------------------------- */
static const char *type_name(const jv *v) {
  static const char *const N[] = {"undefined", "NoneType", "bool", "int", "float", "str", "list", "dict"};
  return v->t == V_LIST && v->u.l->tuple ? "tuple" : v->t == V_DICT && v->u.d->ns ? "namespace" : N[v->t];
}
static int truthy(const jv *v) {
  switch (v->t) {
  case V_BOOL: return v->u.b;
  case V_INT: return v->u.i != 0;
  case V_FLOAT: return v->u.f != 0;
  case V_STR: return v->u.s.n != 0;
  case V_LIST: return v->u.l->n != 0;
  case V_DICT: return v->u.d->ns || v->u.d->n != 0;
  default: return 0;
  }
}
static int is_num(const jv *v) { return v->t == V_INT || v->t == V_FLOAT || v->t == V_BOOL; }
static double num(const jv *v) { return v->t == V_FLOAT ? v->u.f : v->t == V_INT ? (double)v->u.i : v->u.b; }
static int64_t inum(const jv *v) { return v->t == V_INT ? v->u.i : v->u.b; }

/* Python's repr of a float (shortest round trip; exponent form below 1e-4 and from 1e16). */
static void put_float(dp_buf *b, double f) {
  if (isnan(f)) { dp_buf_puts(b, "nan"); return; }
  if (isinf(f)) { dp_buf_puts(b, f < 0 ? "-inf" : "inf"); return; }
  char e[40];
  for (int p = 0; p < 17; p++) { snprintf(e, sizeof e, "%.*e", p, f); if (strtod(e, NULL) == f) break; }
  char digits[24];
  size_t nd = 0;
  const char *q = e;
  int neg = *q == '-';
  if (neg) q++;
  for (; *q && *q != 'e'; q++) if (is_digit(*q) && nd < sizeof digits - 1) digits[nd++] = *q;
  int exp = atoi(q + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  if (neg) dp_buf_puts(b, "-");
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      for (int i = 0; i <= exp; i++) dp_buf_append(b, i < (int)nd ? &digits[i] : "0", 1);
      dp_buf_puts(b, ".");
      if ((int)nd > exp + 1) dp_buf_append(b, digits + exp + 1, nd - (size_t)exp - 1);
      else dp_buf_puts(b, "0");
    } else {
      dp_buf_puts(b, "0.");
      for (int i = 0; i < -exp - 1; i++) dp_buf_puts(b, "0");
      dp_buf_append(b, digits, nd);
    }
  } else {
    dp_buf_append(b, digits, 1);
    if (nd > 1) { dp_buf_puts(b, "."); dp_buf_append(b, digits + 1, nd - 1); }
    dp_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  }
}

/* The value writers and equal() walk nested values: a value can hold itself through a namespace
 * (ns.x = [ns]) or share parts many times, so the walk is bounded in depth and in bytes / steps. */
static dp_status walk_check(const dp_buf *b, int line, int depth) {
  if (depth > DP_JINJA_MAX_NEST)
    return UNSUP(line, "values nested deeper than %d (or containing themselves)", DP_JINJA_MAX_NEST);
  if (b->len > DP_JINJA_MAX_OUT) return UNSUP(line, "a value printing longer than %d MiB", DP_JINJA_MAX_OUT >> 20);
  return DP_OK;
}

static dp_status put_repr(dp_buf *b, const jv *v, int line, int depth);
/* str(v) as Python prints it (undefined prints as nothing). */
static dp_status put_str(dp_buf *b, const jv *v, int line, int depth) {
  TRY(walk_check(b, line, depth));
  switch (v->t) {
  case V_UNDEF: break;
  case V_NONE: dp_buf_puts(b, "None"); break;
  case V_BOOL: dp_buf_puts(b, v->u.b ? "True" : "False"); break;
  case V_INT: dp_buf_printf(b, "%lld", (long long)v->u.i); break;
  case V_FLOAT: put_float(b, v->u.f); break;
  case V_STR: dp_buf_append(b, v->u.s.s, v->u.s.n); break;
  case V_LIST: {
    const jlist *l = v->u.l;
    dp_buf_puts(b, l->tuple ? "(" : "[");
    for (size_t i = 0; i < l->n; i++) {
      if (i) dp_buf_puts(b, ", ");
      TRY(put_repr(b, &l->v[i], line, depth + 1));
    }
    dp_buf_puts(b, l->tuple ? (l->n == 1 ? ",)" : ")") : "]");
    break;
  }
  case V_DICT: {
    const jdict *d = v->u.d;
    if (d->ns) dp_buf_puts(b, "<Namespace ");
    dp_buf_puts(b, "{");
    for (size_t i = 0; i < d->n; i++) {
      if (i) dp_buf_puts(b, ", ");
      jv k = mk_str(d->k[i].s, d->k[i].n);
      TRY(put_repr(b, &k, line, depth + 1));
      dp_buf_puts(b, ": ");
      TRY(put_repr(b, &d->v[i], line, depth + 1));
    }
    dp_buf_puts(b, d->ns ? "}>" : "}");
    break;
  }
  }
  return DP_OK;
}
/* repr(v): strings quoted as Python does ('x', or "x" when it holds ' and no "). */
static dp_status put_repr(dp_buf *b, const jv *v, int line, int depth) {
  if (v->t != V_STR) return put_str(b, v, line, depth);
  const char *s = v->u.s.s;
  size_t n = v->u.s.n;
  char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
  dp_buf_append(b, &q, 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\' || c == (unsigned char)q) { dp_buf_puts(b, "\\"); dp_buf_append(b, &s[i], 1); }
    else if (c == '\n') dp_buf_puts(b, "\\n");
    else if (c == '\r') dp_buf_puts(b, "\\r");
    else if (c == '\t') dp_buf_puts(b, "\\t");
    else if (c < 0x20 || c == 0x7f) dp_buf_printf(b, "\\x%02x", c);
    else dp_buf_append(b, &s[i], 1);
  }
  dp_buf_append(b, &q, 1);
  return DP_OK;
}
/* HF's tojson: json.dumps(x, ensure_ascii=False), keys in insertion order. */
static dp_status put_json(dp_buf *b, const jv *v, int line, int depth) {
  TRY(walk_check(b, line, depth));
  switch (v->t) {
  case V_NONE: dp_buf_puts(b, "null"); break;
  case V_BOOL: dp_buf_puts(b, v->u.b ? "true" : "false"); break;
  case V_INT: dp_buf_printf(b, "%lld", (long long)v->u.i); break;
  case V_FLOAT:
    if (isnan(v->u.f)) dp_buf_puts(b, "NaN");
    else if (isinf(v->u.f)) dp_buf_puts(b, v->u.f < 0 ? "-Infinity" : "Infinity");
    else put_float(b, v->u.f);
    break;
  case V_STR: dp_buf_json_string(b, v->u.s.s, v->u.s.n); break;
  case V_LIST:
    dp_buf_puts(b, "[");
    for (size_t i = 0; i < v->u.l->n; i++) {
      if (i) dp_buf_puts(b, ", ");
      TRY(put_json(b, &v->u.l->v[i], line, depth + 1));
    }
    dp_buf_puts(b, "]");
    break;
  case V_DICT:
    if (v->u.d->ns) return UNSUP(line, "tojson of a namespace");
    dp_buf_puts(b, "{");
    for (size_t i = 0; i < v->u.d->n; i++) {
      if (i) dp_buf_puts(b, ", ");
      dp_buf_json_string(b, v->u.d->k[i].s, v->u.d->k[i].n);
      dp_buf_puts(b, ": ");
      TRY(put_json(b, &v->u.d->v[i], line, depth + 1));
    }
    dp_buf_puts(b, "}");
    break;
  default: return INVAL(line, "tojson of an undefined value (%s)", v->why ? v->why : "undefined");
  }
  return DP_OK;
}

/* Render a value with one of the writers above into an arena string. */
static dp_status to_str(J *j, int line, const jv *v, int repr, jv *out) {
  if (v->t == V_STR && !repr) { *out = *v; return DP_OK; }
  dp_buf b = {0};
  dp_status st = repr == 2 ? put_json(&b, v, line, 0) : repr ? put_repr(&b, v, line, 0) : put_str(&b, v, line, 0);
  if (!st) st = b.failed ? DP_ERR_NOMEM : dp_jinja_str(j, line, b.data ? b.data : "", b.len, out);
  dp_buf_free(&b);
  return st;
}

/* Python ==: 1 equal, 0 not, -1 when the values are nested too deep or too large to compare. */
static int equal(J *j, const jv *a, const jv *b, int depth) {
  if (depth > DP_JINJA_MAX_NEST || ++j->steps > DP_JINJA_MAX_STEPS) return -1;
  if (is_num(a) && is_num(b)) {
    if (a->t == V_FLOAT || b->t == V_FLOAT) return num(a) == num(b);
    return inum(a) == inum(b);
  }
  if (a->t != b->t) return 0;
  int r = 1;
  switch (a->t) {
  case V_UNDEF: case V_NONE: return 1;
  case V_STR: return str_eq(a->u.s, b->u.s.s, b->u.s.n);
  case V_LIST:
    if (a->u.l->n != b->u.l->n) return 0;
    for (size_t i = 0; i < a->u.l->n && r == 1; i++) r = equal(j, &a->u.l->v[i], &b->u.l->v[i], depth + 1);
    return r;
  case V_DICT:
    if (a->u.d->n != b->u.d->n || a->u.d->ns || b->u.d->ns) return a->u.d == b->u.d;
    for (size_t i = 0; i < a->u.d->n && r == 1; i++) {
      const jv *o = dict_find(b->u.d, a->u.d->k[i].s, a->u.d->k[i].n);
      r = o ? equal(j, &a->u.d->v[i], o, depth + 1) : 0;
    }
    return r;
  default: return 0;
  }
}

/* Python's whitespace (str.isspace / str.strip() with no argument). */
static int py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}
static size_t cp_at(const char *s, size_t n, uint32_t *cp) { /* invalid bytes count as one */
  size_t k = dp_utf8_decode(s, n, cp);
  if (!k) { *cp = 0xFFFD; k = 1; }
  return k;
}
/* s.strip(chars) / lstrip / rstrip (which: 1 left, 2 right, 3 both); chars NULL = whitespace. */
static jstr py_strip(jstr s, const jstr *chars, int which) {
  size_t a = 0, b = s.n;
  uint32_t c;
  for (;;) {
    if (!(which & 1) || a >= b) break;
    size_t k = cp_at(s.s + a, b - a, &c);
    int hit = chars ? find(chars->s, chars->n, s.s + a, k) != NULL : py_space(c);
    if (!hit) break;
    a += k;
  }
  while ((which & 2) && b > a) {
    size_t st = b - 1;
    while (st > a && ((unsigned char)s.s[st] & 0xC0) == 0x80) st--;
    cp_at(s.s + st, b - st, &c);
    int hit = chars ? find(chars->s, chars->n, s.s + st, b - st) != NULL : py_space(c);
    if (!hit) break;
    b = st;
  }
  return (jstr){s.s + a, b - a};
}
void dp_jinja_trim(const char *s, size_t n, size_t *start, size_t *len) {
  jstr r = py_strip((jstr){s, n}, NULL, 3);
  *start = (size_t)(r.s - s), *len = r.n;
}
static size_t cp_count(jstr s) {
  size_t n = 0;
  uint32_t c;
  for (size_t i = 0; i < s.n; i += cp_at(s.s + i, s.n - i, &c)) n++;
  return n;
}
/* Code points of s as a list of one-character strings. */
static dp_status chars_of(J *j, jstr s, jv *out) {
  TRY(new_list(j, cp_count(s), out));
  uint32_t c;
  for (size_t i = 0, k = 0; i < s.n; k++) {
    size_t w = cp_at(s.s + i, s.n - i, &c);
    out->u.l->v[k] = mk_str(s.s + i, w);
    i += w;
  }
  return DP_OK;
}
/* Byte offsets of the code points of s: (*offs)[0..*n], the last one s.n. A temporary array
 * (dp_free it): indexing and slicing strings then cost no arena memory per operation. */
static dp_status cp_offsets(jstr s, size_t **offs, size_t *n) {
  size_t cnt = cp_count(s), k = 0;
  size_t *o = dp_malloc((cnt + 1) * sizeof *o);
  if (!o) return dp_error(DP_ERR_NOMEM, "chat template: out of memory");
  uint32_t c;
  for (size_t i = 0; i < s.n; i += cp_at(s.s + i, s.n - i, &c)) o[k++] = i;
  o[cnt] = s.n;
  *offs = o, *n = cnt;
  return DP_OK;
}

/* ASCII case mapping; other letters would need Unicode tables: refused. */
static dp_status change_case(J *j, int line, jstr s, int mode, jv *out) { /* 0 lower, 1 upper, 2 capitalize */
  char *p;
  for (size_t i = 0; i < s.n; i++)
    if ((unsigned char)s.s[i] >= 0x80) return UNSUP(line, "upper/lower/capitalize of non-ASCII text");
  NEW(j, p, s.n + 1);
  for (size_t i = 0; i < s.n; i++) {
    char c = s.s[i];
    int up = mode == 1 || (mode == 2 && i == 0);
    p[i] = up ? (c >= 'a' && c <= 'z' ? (char)(c - 32) : c) : (c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
  }
  *out = mk_str(p, s.n);
  return DP_OK;
}

/* ---- evaluation ----------------------------------------------------------------------------- */
static dp_status eval(J *j, const jnode *e, jv *out);

static dp_status step(J *j, int line) {
  if (++j->steps > DP_JINJA_MAX_STEPS) return UNSUP(line, "evaluation exceeds %d steps", DP_JINJA_MAX_STEPS);
  return DP_OK;
}
/* Evaluation recursion is bounded too: a long operator chain parses into a deep tree. */
static dp_status enter(J *j, int line) {
  TRY(step(j, line));
  if (++j->nest > DP_JINJA_MAX_NEST) return UNSUP(line, "expressions or blocks nested deeper than %d", DP_JINJA_MAX_NEST);
  return DP_OK;
}
static dp_status undefined_use(int line, const jv *v) {
  return INVAL(line, "%s", v->why ? v->why : "use of an undefined value");
}

static const jv *lookup(const J *j, jstr name) {
  for (size_t i = j->nvars; i-- > 0;) if (str_eq(j->vars[i].name, name.s, name.n)) return &j->vars[i].v;
  return NULL;
}
static dp_status set_var(J *j, jstr name, jv v) {
  for (size_t i = j->nvars; i-- > j->scope;) if (str_eq(j->vars[i].name, name.s, name.n)) { j->vars[i].v = v; return DP_OK; }
  if (j->nvars == j->capvars) {
    size_t cap = j->capvars ? j->capvars * 2 : 32;
    jvar *nv;
    NEW(j, nv, cap);
    if (j->nvars) memcpy(nv, j->vars, j->nvars * sizeof *nv);
    j->vars = nv, j->capvars = cap;
  }
  j->vars[j->nvars++] = (jvar){name, v};
  return DP_OK;
}

static dp_status why_msg(J *j, jv *out, const char *fmt, ...) {
  char m[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  jv s;
  TRY(dp_jinja_str(j, 0, m, strlen(m), &s));
  *out = mk_undef(s.u.s.s);
  return DP_OK;
}

/* x[i] and x.name */
static dp_status get_item(J *j, int line, const jv *x, const jv *key, jv *out) {
  if (x->t == V_UNDEF) return undefined_use(line, x);
  if (x->t == V_DICT && key->t == V_STR) {
    const jv *v = dict_find(x->u.d, key->u.s.s, key->u.s.n);
    if (v) { *out = *v; return DP_OK; }
    return why_msg(j, out, "'%s object' has no attribute '%.*s'", type_name(x), (int)(key->u.s.n < 60 ? key->u.s.n : 60),
                   key->u.s.s);
  }
  if ((x->t == V_LIST || x->t == V_STR) && (key->t == V_INT || key->t == V_BOOL)) {
    int64_t i = inum(key);
    if (x->t == V_LIST) {
      int64_t n = (int64_t)x->u.l->n;
      if (i < 0) i += n;
      if (i >= 0 && i < n) { *out = x->u.l->v[i]; return DP_OK; }
      return why_msg(j, out, "list object has no element %lld", (long long)inum(key));
    }
    size_t *o, n;
    TRY(cp_offsets(x->u.s, &o, &n));
    if (i < 0) i += (int64_t)n;
    int in = i >= 0 && i < (int64_t)n;
    if (in) *out = mk_str(x->u.s.s + o[i], o[i + 1] - o[i]);
    dp_free(o);
    if (in) return DP_OK;
    return why_msg(j, out, "str object has no element %lld", (long long)inum(key));
  }
  if (key->t == V_STR)
    return why_msg(j, out, "'%s object' has no attribute '%.*s'", type_name(x), (int)(key->u.s.n < 60 ? key->u.s.n : 60),
                   key->u.s.s);
  return why_msg(j, out, "'%s object' has no element of type %s", type_name(x), type_name(key));
}

static dp_status slice(J *j, const jnode *e, const jv *x, jv *out) {
  if (x->t == V_UNDEF) return undefined_use(e->line, x);
  if (x->t != V_LIST && x->t != V_STR) return UNSUP(e->line, "slicing a %s", type_name(x));
  int64_t n = x->t == V_LIST ? (int64_t)x->u.l->n : (int64_t)cp_count(x->u.s), part[3] = {0, 0, 1};
  int given[3] = {0, 0, 0};
  const jnode *pn[3] = {e->b, e->c, e->d};
  for (int k = 0; k < 3; k++) {
    if (!pn[k]) continue;
    jv v;
    TRY(eval(j, pn[k], &v));
    if (v.t == V_NONE) continue;
    if (v.t != V_INT && v.t != V_BOOL) return INVAL(e->line, "slice index of type %s", type_name(&v));
    part[k] = inum(&v), given[k] = 1;
  }
  int64_t st = part[2];
  if (!st) return INVAL(e->line, "slice step cannot be zero");
  if (st < -n - 1 || st > n + 1) st = st < 0 ? -n - 1 : n + 1; /* same result, no overflow below */
  int64_t lo = st > 0 ? 0 : -1, hi = st > 0 ? n : n - 1; /* Python's PySlice_AdjustIndices */
  int64_t a = given[0] ? part[0] : (st > 0 ? 0 : n - 1), b = given[1] ? part[1] : (st > 0 ? n : -1);
  if (given[0]) { if (a < 0) a += n; a = a < lo ? lo : a > hi ? hi : a; }
  if (given[1]) { if (b < 0) b += n; b = b < lo ? lo : b > hi ? hi : b; }
  size_t cnt = 0;
  for (int64_t i = a; st > 0 ? i < b : i > b; i += st) cnt++;
  if (x->t == V_LIST) {
    TRY(new_list(j, cnt, out));
    size_t k = 0;
    for (int64_t i = a; st > 0 ? i < b : i > b; i += st) out->u.l->v[k++] = x->u.l->v[i];
    return DP_OK;
  }
  size_t *o, cn, bytes = 0;
  TRY(cp_offsets(x->u.s, &o, &cn));
  for (int64_t i = a; st > 0 ? i < b : i > b; i += st) bytes += o[i + 1] - o[i];
  char *p = dp_jinja_alloc(j, bytes + 1);
  if (p) {
    size_t w = 0;
    for (int64_t i = a; st > 0 ? i < b : i > b; i += st) {
      memcpy(p + w, x->u.s.s + o[i], o[i + 1] - o[i]);
      w += o[i + 1] - o[i];
    }
    *out = mk_str(p, bytes);
  }
  dp_free(o);
  return p ? DP_OK : dp_jinja_mem_status();
}

static dp_status concat(J *j, int line, jstr a, jstr b, jv *out) {
  if (a.n + b.n > DP_JINJA_MAX_OUT) return UNSUP(line, "a string longer than %d MiB", DP_JINJA_MAX_OUT >> 20);
  char *p;
  NEW(j, p, a.n + b.n + 1);
  if (a.n) memcpy(p, a.s, a.n);
  if (b.n) memcpy(p + a.n, b.s, b.n);
  *out = mk_str(p, a.n + b.n);
  return DP_OK;
}

static dp_status repeat(J *j, int line, const jv *x, int64_t times, jv *out) {
  if (times < 0) times = 0;
  size_t unit = x->t == V_STR ? x->u.s.n : x->u.l->n * sizeof(jv);
  if (unit && (uint64_t)times > DP_JINJA_MAX_OUT / unit)
    return UNSUP(line, "a repetition larger than %d MiB", DP_JINJA_MAX_OUT >> 20);
  if (x->t == V_STR) {
    char *p;
    NEW(j, p, unit * (size_t)times + 1);
    for (int64_t i = 0; i < times; i++) memcpy(p + (size_t)i * unit, x->u.s.s, unit);
    *out = mk_str(p, unit * (size_t)times);
    return DP_OK;
  }
  size_t n = x->u.l->n;
  TRY(new_list(j, n * (size_t)times, out));
  for (int64_t i = 0; i < times; i++) if (n) memcpy(out->u.l->v + (size_t)i * n, x->u.l->v, n * sizeof(jv));
  return DP_OK;
}

static dp_status arith(J *j, int line, int op, const jv *a, const jv *b, jv *out) {
  static const char *const SYM[] = {"", "+", "-", "*", "/", "//", "%", "**"};
  if (a->t == V_UNDEF) return undefined_use(line, a);
  if (b->t == V_UNDEF) return undefined_use(line, b);
  if (op == OP_ADD && a->t == V_STR && b->t == V_STR) return concat(j, line, a->u.s, b->u.s, out);
  if (op == OP_ADD && a->t == V_LIST && b->t == V_LIST) {
    size_t n = a->u.l->n + b->u.l->n;
    TRY(new_list(j, n, out));
    if (a->u.l->n) memcpy(out->u.l->v, a->u.l->v, a->u.l->n * sizeof(jv));
    if (b->u.l->n) memcpy(out->u.l->v + a->u.l->n, b->u.l->v, b->u.l->n * sizeof(jv));
    return DP_OK;
  }
  if (op == OP_MUL && (a->t == V_STR || a->t == V_LIST) && (b->t == V_INT || b->t == V_BOOL))
    return repeat(j, line, a, inum(b), out);
  if (op == OP_MUL && (b->t == V_STR || b->t == V_LIST) && (a->t == V_INT || a->t == V_BOOL))
    return repeat(j, line, b, inum(a), out);
  if (op == OP_MOD && a->t == V_STR) return UNSUP(line, "string formatting with '%%'");
  if (!is_num(a) || !is_num(b))
    return INVAL(line, "unsupported operand types for %s: '%s' and '%s'", SYM[op], type_name(a), type_name(b));
  int fl = a->t == V_FLOAT || b->t == V_FLOAT || op == OP_DIV;
  if (op == OP_POW && !fl && inum(b) < 0) fl = 1;
  if ((op == OP_DIV || op == OP_FDIV || op == OP_MOD) && num(b) == 0) return INVAL(line, "division by zero");
  if (fl) {
    double x = num(a), y = num(b), r = 0;
    switch (op) {
    case OP_ADD: r = x + y; break;
    case OP_SUB: r = x - y; break;
    case OP_MUL: r = x * y; break;
    case OP_DIV: r = x / y; break;
    case OP_FDIV: r = floor(x / y); break;
    case OP_MOD: r = fmod(x, y); if (r != 0 && ((r < 0) != (y < 0))) r += y; break;
    case OP_POW: r = pow(x, y); break;
    }
    *out = mk_float(r);
    return DP_OK;
  }
  int64_t x = inum(a), y = inum(b), r = 0;
  int ovf = 0;
  switch (op) {
  case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
  case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
  case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
  case OP_FDIV: case OP_MOD:
    if (x == INT64_MIN && y == -1) { ovf = 1; break; }
    r = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) r--;
    if (op == OP_MOD) r = x - r * y;
    break;
  case OP_POW: /* by squaring: at most 64 rounds */
    r = 1;
    for (int64_t e = y, base = x; e > 0 && !ovf; e >>= 1) {
      if (e & 1) ovf = __builtin_mul_overflow(r, base, &r);
      if (e > 1 && !ovf) ovf = __builtin_mul_overflow(base, base, &base);
    }
    break;
  }
  if (ovf) return UNSUP(line, "integer overflow in '%s'", SYM[op]);
  *out = mk_int(r);
  return DP_OK;
}

static dp_status compare(J *j, int line, int op, const jv *a, const jv *b, jv *out) {
  static const char DEEP[] = "comparison of values nested deeper than %d or larger than the step budget";
  if (op == OP_EQ || op == OP_NE) {
    int r = equal(j, a, b, 0);
    if (r < 0) return UNSUP(line, DEEP, DP_JINJA_MAX_NEST);
    *out = mk_bool(r == (op == OP_EQ));
    return DP_OK;
  }
  if (op == OP_IN || op == OP_NOTIN) {
    int r;
    if (b->t == V_STR && a->t == V_STR) r = !a->u.s.n || find(b->u.s.s, b->u.s.n, a->u.s.s, a->u.s.n) != NULL;
    else if (b->t == V_LIST) {
      r = 0;
      for (size_t i = 0; i < b->u.l->n && !r; i++) r = equal(j, a, &b->u.l->v[i], 0);
      if (r < 0) return UNSUP(line, DEEP, DP_JINJA_MAX_NEST);
    }
    else if (b->t == V_DICT && a->t == V_STR) r = dict_find(b->u.d, a->u.s.s, a->u.s.n) != NULL;
    else if (b->t == V_UNDEF) return undefined_use(line, b);
    else return INVAL(line, "'in <%s>' requires a container, not %s", type_name(b), type_name(a));
    *out = mk_bool(r == (op == OP_IN));
    return DP_OK;
  }
  int c;
  if (is_num(a) && is_num(b)) c = num(a) < num(b) ? -1 : num(a) > num(b);
  else if (a->t == V_STR && b->t == V_STR) {
    size_t m = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    c = m ? memcmp(a->u.s.s, b->u.s.s, m) : 0;
    if (!c) c = a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
  } else return INVAL(line, "ordering comparison between '%s' and '%s'", type_name(a), type_name(b));
  int r = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
  *out = mk_bool(r);
  return DP_OK;
}

/* Evaluated positional arguments of a call/filter/method node; at most max of them. */
static dp_status eval_args(J *j, const jnode *e, size_t min, size_t max, const char *what, jv *args) {
  size_t np = 0;
  for (size_t i = 0; i < e->nkid; i++) {
    if (e->kw && e->kw[i].s) return UNSUP(e->line, "keyword argument '%.*s' to %s", (int)e->kw[i].n, e->kw[i].s, what);
    np++;
  }
  if (np < min || np > max) return INVAL(e->line, "%s takes %zu to %zu arguments, got %zu", what, min, max, np);
  for (size_t i = 0; i < np; i++) TRY(eval(j, e->kid[i], &args[i]));
  return DP_OK;
}
static dp_status want_str(int line, const jv *v, const char *what) {
  if (v->t == V_STR) return DP_OK;
  if (v->t == V_UNDEF) return undefined_use(line, v);
  return INVAL(line, "%s needs a string, got %s", what, type_name(v));
}

static dp_status split(J *j, const jnode *e, jstr s, const jv *args, size_t na, jv *out) {
  int64_t maxsplit = na > 1 && (args[1].t == V_INT) ? args[1].u.i : -1;
  int ws = na == 0 || args[0].t == V_NONE;
  if (!ws) TRY(want_str(e->line, &args[0], "split"));
  if (!ws && !args[0].u.s.n) return INVAL(e->line, "split: empty separator");
  size_t n = 0;
  jstr *v = NULL;
  size_t i = 0;
  for (int pass = 0; pass < 2; pass++) { /* count, then fill */
    n = 0, i = 0;
    int64_t splits = 0;
    if (ws) {
      uint32_t c;
      for (;;) {
        while (i < s.n) { size_t k = cp_at(s.s + i, s.n - i, &c); if (!py_space(c)) break; i += k; }
        if (i >= s.n) break;
        size_t b = i;
        if (maxsplit >= 0 && splits >= maxsplit) { /* the rest, trailing whitespace kept */
          if (pass) v[n] = (jstr){s.s + b, s.n - b};
          n++;
          break;
        }
        while (i < s.n) { size_t k = cp_at(s.s + i, s.n - i, &c); if (py_space(c)) break; i += k; }
        if (pass) v[n] = (jstr){s.s + b, i - b};
        n++, splits++;
      }
    } else {
      jstr sep = args[0].u.s;
      for (;;) {
        const char *hit = maxsplit >= 0 && splits >= maxsplit ? NULL : find(s.s + i, s.n - i, sep.s, sep.n);
        size_t end = hit ? (size_t)(hit - s.s) : s.n;
        if (pass) v[n] = (jstr){s.s + i, end - i};
        n++, splits++;
        if (!hit) break;
        i = end + sep.n;
      }
    }
    if (!pass && n) NEW(j, v, n);
  }
  TRY(new_list(j, n, out));
  for (size_t k = 0; k < n; k++) out->u.l->v[k] = mk_str(v[k].s, v[k].n);
  return DP_OK;
}

/* x.name(args): the str and dict methods templates use. */
static dp_status call_method(J *j, const jnode *e, jv *out) {
  jv x, args[3] = {{0}};
  TRY(eval(j, e->a, &x));
  if (x.t == V_UNDEF) return undefined_use(e->line, &x);
  jstr m = e->s;
  char what[64];
  snprintf(what, sizeof what, "%s.%.*s()", type_name(&x), (int)(m.n < 30 ? m.n : 30), m.s);
#define IS(name) str_eq(m, name, strlen(name))
  if (x.t == V_STR) {
    if (IS("strip") || IS("lstrip") || IS("rstrip")) {
      TRY(eval_args(j, e, 0, 1, what, args));
      int which = IS("strip") ? 3 : IS("lstrip") ? 1 : 2;
      if (e->nkid && args[0].t != V_NONE) TRY(want_str(e->line, &args[0], what));
      jstr r = py_strip(x.u.s, e->nkid && args[0].t == V_STR ? &args[0].u.s : NULL, which);
      *out = mk_str(r.s, r.n);
      return DP_OK;
    }
    if (IS("startswith") || IS("endswith")) {
      TRY(eval_args(j, e, 1, 1, what, args));
      TRY(want_str(e->line, &args[0], what));
      jstr p = args[0].u.s;
      int r = p.n <= x.u.s.n && (!p.n || !memcmp(IS("startswith") ? x.u.s.s : x.u.s.s + x.u.s.n - p.n, p.s, p.n));
      *out = mk_bool(r);
      return DP_OK;
    }
    if (IS("split")) {
      TRY(eval_args(j, e, 0, 2, what, args));
      return split(j, e, x.u.s, args, e->nkid, out);
    }
    if (IS("upper") || IS("lower") || IS("capitalize")) {
      TRY(eval_args(j, e, 0, 0, what, args));
      return change_case(j, e->line, x.u.s, IS("lower") ? 0 : IS("upper") ? 1 : 2, out);
    }
    if (IS("replace")) {
      TRY(eval_args(j, e, 2, 2, what, args));
      TRY(want_str(e->line, &args[0], what));
      TRY(want_str(e->line, &args[1], what));
      jstr a = args[0].u.s, b = args[1].u.s;
      if (!a.n) return UNSUP(e->line, "replace of the empty string");
      dp_buf r = {0};
      for (size_t i = 0; i < x.u.s.n;) {
        const char *hit = find(x.u.s.s + i, x.u.s.n - i, a.s, a.n);
        size_t end = hit ? (size_t)(hit - x.u.s.s) : x.u.s.n;
        dp_buf_append(&r, x.u.s.s + i, end - i);
        if (hit) dp_buf_append(&r, b.s, b.n);
        i = hit ? end + a.n : end;
        if (r.len > DP_JINJA_MAX_OUT) break;
      }
      dp_status st = r.failed ? DP_ERR_NOMEM : dp_jinja_str(j, e->line, r.data ? r.data : "", r.len, out);
      dp_buf_free(&r);
      return st;
    }
  }
  if (x.t == V_DICT && !x.u.d->ns) {
    const jdict *d = x.u.d;
    if (IS("get")) {
      TRY(eval_args(j, e, 1, 2, what, args));
      const jv *v = args[0].t == V_STR ? dict_find(d, args[0].u.s.s, args[0].u.s.n) : NULL;
      *out = v ? *v : e->nkid > 1 ? args[1] : mk_none();
      return DP_OK;
    }
    if (IS("items") || IS("keys") || IS("values")) {
      TRY(eval_args(j, e, 0, 0, what, args));
      TRY(new_list(j, d->n, out));
      for (size_t i = 0; i < d->n; i++) {
        jv k = mk_str(d->k[i].s, d->k[i].n);
        if (IS("keys")) out->u.l->v[i] = k;
        else if (IS("values")) out->u.l->v[i] = d->v[i];
        else {
          jv pair;
          TRY(new_list(j, 2, &pair));
          pair.u.l->tuple = 1, pair.u.l->v[0] = k, pair.u.l->v[1] = d->v[i];
          out->u.l->v[i] = pair;
        }
      }
      return DP_OK;
    }
  }
#undef IS
  return UNSUP(e->line, "method %s", what);
}

static dp_status call_function(J *j, const jnode *e, jv *out) {
  jstr f = e->s;
  jv args[3] = {{0}};
  if (str_eq(f, "raise_exception", 15)) {
    TRY(eval_args(j, e, 1, 1, "raise_exception", args));
    jv msg;
    TRY(to_str(j, e->line, &args[0], 0, &msg));
    return INVAL(e->line, "raise_exception: %.*s", (int)(msg.u.s.n < 300 ? msg.u.s.n : 300), msg.u.s.s);
  }
  if (str_eq(f, "namespace", 9)) {
    TRY(new_dict(j, out));
    out->u.d->ns = 1;
    for (size_t i = 0; i < e->nkid; i++) {
      if (!e->kw[i].s) return UNSUP(e->line, "namespace() with positional arguments");
      jv v;
      TRY(eval(j, e->kid[i], &v));
      TRY(dict_set(j, out->u.d, e->kw[i], v));
    }
    return DP_OK;
  }
  if (str_eq(f, "range", 5)) {
    TRY(eval_args(j, e, 1, 3, "range", args));
    int64_t p[3] = {0, 0, 1};
    for (size_t i = 0; i < e->nkid; i++) {
      if (args[i].t != V_INT && args[i].t != V_BOOL) return INVAL(e->line, "range() needs integers");
      p[e->nkid == 1 ? 1 : i] = inum(&args[i]);
    }
    if (!p[2]) return INVAL(e->line, "range() step cannot be zero");
    double cnt = ceil(((double)p[1] - (double)p[0]) / (double)p[2]);
    if (cnt < 0) cnt = 0;
    if (cnt > DP_JINJA_MAX_ITERATIONS) return UNSUP(e->line, "range() of more than %d numbers", DP_JINJA_MAX_ITERATIONS);
    TRY(new_list(j, (size_t)cnt, out));
    for (size_t i = 0; i < (size_t)cnt; i++) out->u.l->v[i] = mk_int(p[0] + (int64_t)i * p[2]);
    return DP_OK;
  }
  if (str_eq(f, "strftime_now", 12)) { /* transformers' global: the local time, C strftime */
    TRY(eval_args(j, e, 1, 1, "strftime_now", args));
    TRY(want_str(e->line, &args[0], "strftime_now"));
    char fmt[128], buf[256];
    if (args[0].u.s.n >= sizeof fmt) return UNSUP(e->line, "strftime_now format longer than %zu bytes", sizeof fmt - 1);
    memcpy(fmt, args[0].u.s.s, args[0].u.s.n);
    fmt[args[0].u.s.n] = 0;
    time_t now = time(NULL);
    struct tm *tm = localtime(&now);
    size_t n = tm ? strftime(buf, sizeof buf, fmt, tm) : 0;
    if (!tm || (!n && fmt[0])) return UNSUP(e->line, "strftime_now(\"%s\")", fmt);
    return dp_jinja_str(j, e->line, buf, n, out);
  }
  const jv *v = lookup(j, f);
  if (!v) return INVAL(e->line, "'%.*s' is undefined", (int)(f.n < 60 ? f.n : 60), f.s);
  return UNSUP(e->line, "calling '%.*s'", (int)(f.n < 60 ? f.n : 60), f.s);
}

static dp_status filter(J *j, const jnode *e, jv *out) {
  jv x, args[2] = {{0}};
  TRY(eval(j, e->a, &x));
  jstr f = e->s;
  char what[48];
  snprintf(what, sizeof what, "filter '%.*s'", (int)(f.n < 30 ? f.n : 30), f.s);
#define IS(name) str_eq(f, name, strlen(name))
  if (IS("default") || IS("d")) {
    TRY(eval_args(j, e, 0, 2, what, args));
    int use = x.t == V_UNDEF || (e->nkid > 1 && truthy(&args[1]) && !truthy(&x));
    *out = use ? (e->nkid ? args[0] : mk_str("", 0)) : x;
    return DP_OK;
  }
  if (IS("trim")) {
    TRY(eval_args(j, e, 0, 1, what, args));
    if (e->nkid && args[0].t != V_NONE) TRY(want_str(e->line, &args[0], what));
    jv s;
    TRY(to_str(j, e->line, &x, 0, &s));
    jstr r = py_strip(s.u.s, e->nkid && args[0].t == V_STR ? &args[0].u.s : NULL, 3);
    *out = mk_str(r.s, r.n);
    return DP_OK;
  }
  if (IS("tojson")) {
    TRY(eval_args(j, e, 0, 0, what, args));
    return to_str(j, e->line, &x, 2, out);
  }
  TRY(eval_args(j, e, 0, IS("join") ? 1 : 0, what, args));
  if (IS("safe")) { *out = x; return DP_OK; }
  if (IS("string")) return to_str(j, e->line, &x, 0, out);
  if (IS("length") || IS("count")) {
    if (x.t == V_STR) *out = mk_int((int64_t)cp_count(x.u.s));
    else if (x.t == V_LIST) *out = mk_int((int64_t)x.u.l->n);
    else if (x.t == V_DICT) *out = mk_int((int64_t)x.u.d->n);
    else if (x.t == V_UNDEF) *out = mk_int(0);
    else return INVAL(e->line, "object of type '%s' has no length", type_name(&x));
    return DP_OK;
  }
  if (IS("upper") || IS("lower") || IS("capitalize")) {
    jv s;
    TRY(to_str(j, e->line, &x, 0, &s));
    return change_case(j, e->line, s.u.s, IS("lower") ? 0 : IS("upper") ? 1 : 2, out);
  }
  if (x.t == V_UNDEF) return undefined_use(e->line, &x);
  if (x.t == V_STR && (IS("first") || IS("last") || IS("reverse"))) {
    size_t *o, n;
    TRY(cp_offsets(x.u.s, &o, &n));
    char *p = IS("reverse") ? dp_jinja_alloc(j, x.u.s.n + 1) : NULL;
    if (p)
      for (size_t k = n, w = 0; k-- > 0; w += o[k + 1] - o[k]) memcpy(p + w, x.u.s.s + o[k], o[k + 1] - o[k]);
    jv r = p ? mk_str(p, x.u.s.n) : !n ? mk_undef(NULL)
             : IS("first") ? mk_str(x.u.s.s, o[1]) : mk_str(x.u.s.s + o[n - 1], o[n] - o[n - 1]);
    dp_free(o);
    if (IS("reverse") && !p) return dp_jinja_mem_status();
    if (r.t == V_UNDEF) return why_msg(j, out, "%s of an empty sequence", what);
    *out = r;
    return DP_OK;
  }
  jv items = x;
  if (x.t == V_STR) TRY(chars_of(j, x.u.s, &items));
  if (x.t == V_DICT && !x.u.d->ns) {
    if (IS("items")) {
      TRY(new_list(j, x.u.d->n, out));
      for (size_t i = 0; i < x.u.d->n; i++) {
        jv pair;
        TRY(new_list(j, 2, &pair));
        pair.u.l->tuple = 1, pair.u.l->v[0] = mk_str(x.u.d->k[i].s, x.u.d->k[i].n), pair.u.l->v[1] = x.u.d->v[i];
        out->u.l->v[i] = pair;
      }
      return DP_OK;
    }
    TRY(new_list(j, x.u.d->n, &items));
    for (size_t i = 0; i < x.u.d->n; i++) items.u.l->v[i] = mk_str(x.u.d->k[i].s, x.u.d->k[i].n);
  }
  if (IS("int")) {
    if (x.t == V_INT || x.t == V_BOOL) *out = mk_int(inum(&x));
    else if (x.t == V_FLOAT) *out = mk_int(isfinite(x.u.f) && fabs(x.u.f) < 9.2e18 ? (int64_t)x.u.f : 0);
    else if (x.t == V_STR) {
      char b[32];
      jstr s = py_strip(x.u.s, NULL, 3);
      size_t n = s.n < sizeof b - 1 ? s.n : sizeof b - 1;
      memcpy(b, s.s, n);
      b[n] = 0;
      char *end;
      long long v = strtoll(b, &end, 10);
      *out = mk_int(n && !*end && n == s.n ? v : 0);
    } else *out = mk_int(0);
    return DP_OK;
  }
  if (items.t != V_LIST) return INVAL(e->line, "%s of a %s", what, type_name(&x));
  const jlist *l = items.u.l;
  if (IS("first") || IS("last")) {
    if (!l->n) return why_msg(j, out, "%s of an empty sequence", what);
    *out = l->v[IS("first") ? 0 : l->n - 1];
    return DP_OK;
  }
  if (IS("list")) { *out = items; return DP_OK; }
  if (IS("reverse")) {
    TRY(new_list(j, l->n, out));
    for (size_t i = 0; i < l->n; i++) out->u.l->v[i] = l->v[l->n - 1 - i];
    return DP_OK;
  }
  if (IS("join")) {
    jv sep = mk_str("", 0);
    if (e->nkid) TRY(to_str(j, e->line, &args[0], 0, &sep));
    dp_buf b = {0};
    dp_status st = DP_OK;
    for (size_t i = 0; i < l->n && !st; i++) {
      if (i) dp_buf_append(&b, sep.u.s.s, sep.u.s.n);
      st = put_str(&b, &l->v[i], e->line, 1);
    }
    if (!st) st = b.failed ? DP_ERR_NOMEM : dp_jinja_str(j, e->line, b.data ? b.data : "", b.len, out);
    dp_buf_free(&b);
    return st;
  }
#undef IS
  return UNSUP(e->line, "%s on a %s", what, type_name(&x));
}

static dp_status test(J *j, const jnode *e, jv *out) {
  jv x;
  TRY(eval(j, e->a, &x));
  jstr t = e->s;
  int r;
#define IS(name) str_eq(t, name, strlen(name))
  if (IS("defined")) r = x.t != V_UNDEF;
  else if (IS("undefined")) r = x.t == V_UNDEF;
  else if (IS("none")) r = x.t == V_NONE;
  else if (IS("string")) r = x.t == V_STR;
  else if (IS("number")) r = is_num(&x);
  else if (IS("integer")) r = x.t == V_INT;
  else if (IS("float")) r = x.t == V_FLOAT;
  else if (IS("boolean")) r = x.t == V_BOOL;
  else if (IS("true")) r = x.t == V_BOOL && x.u.b;
  else if (IS("false")) r = x.t == V_BOOL && !x.u.b;
  else if (IS("iterable")) r = x.t == V_STR || x.t == V_LIST || (x.t == V_DICT && !x.u.d->ns) || x.t == V_UNDEF;
  else if (IS("sequence")) r = x.t == V_STR || x.t == V_LIST || (x.t == V_DICT && !x.u.d->ns);
  else if (IS("mapping")) r = x.t == V_DICT && !x.u.d->ns;
  else { /* even, odd */
    if (x.t == V_UNDEF) return undefined_use(e->line, &x);
    if (x.t != V_INT && x.t != V_BOOL) return INVAL(e->line, "test '%.*s' of a %s", (int)t.n, t.s, type_name(&x));
    r = (inum(&x) % 2 != 0) == IS("odd");
  }
#undef IS
  *out = mk_bool(r != e->op);
  return DP_OK;
}

static dp_status eval_node(J *j, const jnode *e, jv *out);
static dp_status eval(J *j, const jnode *e, jv *out) {
  TRY(enter(j, e->line));
  dp_status st = eval_node(j, e, out);
  j->nest--;
  return st;
}
static dp_status eval_node(J *j, const jnode *e, jv *out) {
  jv a, b;
  switch (e->k) {
  case E_LIT: *out = e->lit; return DP_OK;
  case E_NAME: {
    const jv *v = lookup(j, e->s);
    if (v) { *out = *v; return DP_OK; }
    return why_msg(j, out, "'%.*s' is undefined", (int)(e->s.n < 60 ? e->s.n : 60), e->s.s);
  }
  case E_ATTR:
    TRY(eval(j, e->a, &a));
    if (a.t == V_NONE) return why_msg(j, out, "'None' has no attribute '%.*s'", (int)(e->s.n < 60 ? e->s.n : 60), e->s.s);
    b = mk_str(e->s.s, e->s.n);
    return get_item(j, e->line, &a, &b, out);
  case E_INDEX:
    TRY(eval(j, e->a, &a));
    TRY(eval(j, e->b, &b));
    if (a.t == V_NONE) return why_msg(j, out, "'None' has no element");
    return get_item(j, e->line, &a, &b, out);
  case E_SLICE: TRY(eval(j, e->a, &a)); return slice(j, e, &a, out);
  case E_CALL: return call_function(j, e, out);
  case E_METHOD: return call_method(j, e, out);
  case E_FILTER: return filter(j, e, out);
  case E_TEST: return test(j, e, out);
  case E_NOT: TRY(eval(j, e->a, &a)); *out = mk_bool(!truthy(&a)); return DP_OK;
  case E_NEG:
    TRY(eval(j, e->a, &a));
    if (a.t == V_UNDEF) return undefined_use(e->line, &a);
    if (!is_num(&a)) return INVAL(e->line, "bad operand type for unary %c: '%s'", e->op ? '-' : '+', type_name(&a));
    if (!e->op) { *out = a; return DP_OK; }
    if (a.t == V_FLOAT) { *out = mk_float(-a.u.f); return DP_OK; }
    b = mk_int(0);
    return arith(j, e->line, OP_SUB, &b, &a, out);
  case E_AND: case E_OR:
    TRY(eval(j, e->a, &a));
    if (truthy(&a) == (e->k == E_OR)) { *out = a; return DP_OK; }
    return eval(j, e->b, out);
  case E_COND:
    TRY(eval(j, e->a, &a));
    if (truthy(&a)) return eval(j, e->b, out);
    if (e->c) return eval(j, e->c, out);
    *out = mk_undef("the else branch of an if-expression without else");
    return DP_OK;
  case E_BIN:
    TRY(eval(j, e->a, &a));
    TRY(eval(j, e->b, &b));
    if (e->op == OP_CAT) {
      jv x, y;
      TRY(to_str(j, e->line, &a, 0, &x));
      TRY(to_str(j, e->line, &b, 0, &y));
      return concat(j, e->line, x.u.s, y.u.s, out);
    }
    if (e->op >= OP_EQ) return compare(j, e->line, e->op, &a, &b, out);
    return arith(j, e->line, e->op, &a, &b, out);
  case E_LIST:
    TRY(new_list(j, e->nkid, out));
    for (size_t i = 0; i < e->nkid; i++) TRY(eval(j, e->kid[i], &out->u.l->v[i]));
    return DP_OK;
  case E_DICT:
    TRY(new_dict(j, out));
    for (size_t i = 0; i + 1 < e->nkid; i += 2) {
      TRY(eval(j, e->kid[i], &a));
      TRY(eval(j, e->kid[i + 1], &b));
      if (a.t != V_STR) return UNSUP(e->line, "dict keys other than strings");
      TRY(dict_set(j, out->u.d, a.u.s, b));
    }
    return DP_OK;
  }
  return dp_jinja_fail(DP_ERR_INTERNAL, e->line, "bad expression node %d", e->k);
}

static dp_status emit(J *j, int line, const char *s, size_t n) {
  if (j->out->len - j->out0 + n > DP_JINJA_MAX_OUT) return UNSUP(line, "output longer than %d MiB", DP_JINJA_MAX_OUT >> 20);
  return dp_buf_append(j->out, s, n) ? DP_ERR_NOMEM : DP_OK;
}

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };
static dp_status exec(J *j, const jnode *s, int *ctl);

static dp_status exec_for(J *j, const jnode *s, int *ctl) {
  jv seq, items = mk(V_LIST);
  TRY(eval(j, s->a, &seq));
  if (seq.t == V_UNDEF) TRY(new_list(j, 0, &items)); /* Jinja iterates an undefined value as empty */
  else if (seq.t == V_LIST) items = seq;
  else if (seq.t == V_STR) TRY(chars_of(j, seq.u.s, &items));
  else if (seq.t == V_DICT && !seq.u.d->ns) {
    TRY(new_list(j, seq.u.d->n, &items));
    for (size_t i = 0; i < seq.u.d->n; i++) items.u.l->v[i] = mk_str(seq.u.d->k[i].s, seq.u.d->k[i].n);
  } else return INVAL(s->line, "'%s' object is not iterable", type_name(&seq));
  size_t saved = j->scope, n = items.u.l->n;
  if (s->d) { /* {% for x in xs if cond %}: filter first (loop.length counts what is kept) */
    jv kept;
    TRY(new_list(j, n, &kept));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (++j->iters > DP_JINJA_MAX_ITERATIONS) return UNSUP(s->line, "more than %d loop iterations", DP_JINJA_MAX_ITERATIONS);
      j->scope = j->nvars;
      dp_status st = set_var(j, s->s, items.u.l->v[i]);
      jv c;
      if (!st) st = eval(j, s->d, &c);
      j->nvars = j->scope, j->scope = saved;
      if (st) return st;
      if (truthy(&c)) kept.u.l->v[k++] = items.u.l->v[i];
    }
    kept.u.l->n = k;
    items = kept, n = k;
  }
  jv loop;
  TRY(new_dict(j, &loop));
  static const char *const KEYS[] = {"index", "index0", "revindex", "revindex0", "first", "last",
                                     "length", "previtem", "nextitem", "depth", "depth0"};
  for (size_t k = 0; k < 11; k++) TRY(dict_set(j, loop.u.d, (jstr){KEYS[k], strlen(KEYS[k])}, mk_none()));
  loop.u.d->v[9] = mk_int(1), loop.u.d->v[10] = mk_int(0); /* no recursive loops */
  for (size_t i = 0; i < n; i++) {
    if (++j->iters > DP_JINJA_MAX_ITERATIONS) return UNSUP(s->line, "more than %d loop iterations", DP_JINJA_MAX_ITERATIONS);
    jv *lv = loop.u.d->v;
    lv[0] = mk_int((int64_t)i + 1), lv[1] = mk_int((int64_t)i), lv[2] = mk_int((int64_t)(n - i));
    lv[3] = mk_int((int64_t)(n - i - 1)), lv[4] = mk_bool(i == 0), lv[5] = mk_bool(i + 1 == n), lv[6] = mk_int((int64_t)n);
    lv[7] = i ? items.u.l->v[i - 1] : mk_undef("there is no previous item");
    lv[8] = i + 1 < n ? items.u.l->v[i + 1] : mk_undef("there is no next item");
    j->scope = j->nvars; /* each iteration is a fresh scope, as in Jinja */
    const jv *it = &items.u.l->v[i];
    dp_status st = DP_OK;
    if (s->s2.s) {
      if (it->t != V_LIST || it->u.l->n != 2)
        st = INVAL(s->line, "cannot unpack a %s into two loop variables", type_name(it));
      if (!st) st = set_var(j, s->s, it->u.l->v[0]);
      if (!st) st = set_var(j, s->s2, it->u.l->v[1]);
    } else st = set_var(j, s->s, *it);
    if (!st) st = set_var(j, (jstr){"loop", 4}, loop);
    int c = CTL_NONE;
    if (!st) st = exec(j, s->b, &c);
    j->nvars = j->scope, j->scope = saved;
    if (st) return st;
    if (c == CTL_BREAK) break;
  }
  *ctl = CTL_NONE;
  if (!n && s->c) return exec(j, s->c, ctl);
  return DP_OK;
}

static dp_status exec_node(J *j, const jnode *s, int *ctl);
static dp_status exec(J *j, const jnode *s, int *ctl) {
  TRY(enter(j, s->line));
  dp_status st = exec_node(j, s, ctl);
  j->nest--;
  return st;
}
static dp_status exec_node(J *j, const jnode *s, int *ctl) {
  switch (s->k) {
  case S_BLOCK:
    for (size_t i = 0; i < s->nkid && *ctl == CTL_NONE; i++) TRY(exec(j, s->kid[i], ctl));
    return DP_OK;
  case S_TEXT: return emit(j, s->line, s->s.s, s->s.n);
  case S_OUT: {
    jv v, str;
    TRY(eval(j, s->a, &v));
    TRY(to_str(j, s->line, &v, 0, &str));
    return emit(j, s->line, str.u.s.s, str.u.s.n);
  }
  case S_IF: {
    jv c;
    TRY(eval(j, s->a, &c));
    if (truthy(&c)) return exec(j, s->b, ctl);
    return s->c ? exec(j, s->c, ctl) : DP_OK;
  }
  case S_FOR: return exec_for(j, s, ctl);
  case S_SET: {
    jv v;
    TRY(eval(j, s->a, &v));
    if (!s->s2.s) return set_var(j, s->s, v);
    const jv *ns = lookup(j, s->s);
    if (!ns || ns->t != V_DICT || !ns->u.d->ns)
      return UNSUP(s->line, "set of an attribute of '%.*s', which is not a namespace()", (int)(s->s.n < 60 ? s->s.n : 60),
                   s->s.s);
    return dict_set(j, ns->u.d, s->s2, v);
  }
  case S_BREAK: *ctl = CTL_BREAK; return DP_OK;
  case S_CONTINUE: *ctl = CTL_CONTINUE; return DP_OK;
  }
  return dp_jinja_fail(DP_ERR_INTERNAL, s->line, "bad statement node %d", s->k);
}

/* ---- entry ---------------------------------------------------------------------------------- */
static dp_status render(J *j, const char *src, size_t len, const dp_chat_msg *msgs, size_t n, int gen, const char *bos,
                        const char *eos) {
  jnode *root;
  TRY(dp_jinja_parse(j, src, len, &root));
  jv messages;
  TRY(new_list(j, n, &messages));
  for (size_t i = 0; i < n; i++) {
    jv m;
    TRY(new_dict(j, &m));
    TRY(dict_set(j, m.u.d, (jstr){"role", 4}, mk_str(msgs[i].role, strlen(msgs[i].role))));
    TRY(dict_set(j, m.u.d, (jstr){"content", 7}, mk_str(msgs[i].content, strlen(msgs[i].content))));
    messages.u.l->v[i] = m;
  }
  TRY(set_var(j, (jstr){"messages", 8}, messages));
  TRY(set_var(j, (jstr){"add_generation_prompt", 21}, mk_bool(gen)));
  if (bos) TRY(set_var(j, (jstr){"bos_token", 9}, mk_str(bos, strlen(bos))));
  if (eos) TRY(set_var(j, (jstr){"eos_token", 9}, mk_str(eos, strlen(eos))));
  int ctl = CTL_NONE;
  return exec(j, root, &ctl);
}

dp_status dp_jinja_render(const char *src, size_t len, const dp_chat_msg *msgs, size_t n, int add_generation_prompt,
                          const char *bos_token, const char *eos_token, dp_buf *out) {
  for (size_t i = 0; i < n; i++)
    if (!msgs[i].role || !msgs[i].content)
      return dp_error(DP_ERR_INVALID_ARG, "chat template: message %zu has no role/content", i);
  J j;
  memset(&j, 0, sizeof j);
  j.out = out, j.out0 = out->len;
  dp_status st = render(&j, src ? src : "", src ? len : 0, msgs, n, add_generation_prompt, bos_token, eos_token);
  if (!st && out->failed) st = DP_ERR_NOMEM;
  if (st) { /* no partial output */
    out->len = j.out0;
    if (out->data) out->data[out->len] = 0;
  }
  for (jchunk *c = j.mem, *nx; c; c = nx) { nx = c->next; dp_free(c); }
  return st;
}
