/* json.c -- recursive-descent JSON reader into one arena (see json.h).
 * Two passes would be needed to size arrays exactly; instead children are collected on a
 * scratch stack and copied into the arena when their container closes. Depth is capped so
 * hostile input cannot exhaust the C stack. */
#include "core/json.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/utf8.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512

typedef struct block { struct block *next; size_t used, cap; char data[]; } block;

struct dp_json_doc {
  block *blocks;
  dp_json root;
};

typedef struct {
  const char *p, *end, *start, *what;
  dp_json_doc *doc;
  dp_json *stack; size_t sp, scap;            /* pending values */
  const char **kstack; uint32_t *klen; size_t kcap; /* pending keys, parallel to stack */
  int failed;
} parser;

static void *arena(dp_json_doc *d, size_t n) {
  n = (n + 7) & ~(size_t)7;
  block *b = d->blocks;
  if (!b || b->used + n > b->cap) {
    size_t cap = n > (1u << 20) ? n : (1u << 20);
    block *nb = dp_malloc(sizeof(block) + cap);
    if (!nb) return NULL;
    nb->next = d->blocks; nb->used = 0; nb->cap = cap;
    d->blocks = nb;
    b = nb;
  }
  void *r = b->data + b->used;
  b->used += n;
  return r;
}

static int fail(parser *ps, const char *msg) {
  if (!ps->failed)
    dp_error(DP_ERR_FORMAT, "%s: byte %zu: %s", ps->what, (size_t)(ps->p - ps->start), msg);
  ps->failed = 1;
  return -1;
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

static int push(parser *ps, const dp_json *v, const char *key, uint32_t klen) {
  if (ps->sp == ps->scap) {
    size_t cap = ps->scap ? ps->scap * 2 : 256;
    dp_json *s = dp_realloc(ps->stack, cap * sizeof *s);
    if (!s) { ps->failed = 1; return -1; }
    ps->stack = s;
    const char **k = dp_realloc(ps->kstack, cap * sizeof *k);
    if (!k) { ps->failed = 1; return -1; }
    ps->kstack = k;
    uint32_t *kl = dp_realloc(ps->klen, cap * sizeof *kl);
    if (!kl) { ps->failed = 1; return -1; }
    ps->klen = kl;
    ps->scap = cap;
  }
  ps->stack[ps->sp] = *v;
  ps->kstack[ps->sp] = key;
  ps->klen[ps->sp] = klen;
  ps->sp++;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(parser *ps, uint32_t *out) {
  if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval((unsigned char)ps->p[i]);
    if (h < 0) return fail(ps, "bad hex digit in \\u escape");
    v = v * 16 + (uint32_t)h;
  }
  ps->p += 4;
  *out = v;
  return 0;
}

/* Parse a string at ps->p (after the opening quote). Decoded bytes never exceed raw bytes. */
static int parse_string(parser *ps, const char **out, uint32_t *out_len) {
  const char *s = ps->p;
  const char *q = s;
  int has_escape = 0;
  while (q < ps->end && *q != '"') {
    if (*q == '\\') { has_escape = 1; q++; }
    else if ((unsigned char)*q < 0x20) { ps->p = q; return fail(ps, "control character in string"); }
    q++;
  }
  if (q >= ps->end) return fail(ps, "unterminated string");
  size_t raw = (size_t)(q - s);
  if (raw > UINT32_MAX) return fail(ps, "string too long");
  char *o = arena(ps->doc, raw + 1);
  if (!o) { ps->failed = 1; return -1; }
  size_t n = 0;
  if (!has_escape) {
    memcpy(o, s, raw);
    n = raw;
    ps->p = q + 1;
  } else {
    ps->p = s;
    while (*ps->p != '"') {
      char c = *ps->p++;
      if (c != '\\') { o[n++] = c; continue; }
      c = *ps->p++;
      switch (c) {
      case '"': o[n++] = '"'; break;
      case '\\': o[n++] = '\\'; break;
      case '/': o[n++] = '/'; break;
      case 'b': o[n++] = '\b'; break;
      case 'f': o[n++] = '\f'; break;
      case 'n': o[n++] = '\n'; break;
      case 'r': o[n++] = '\r'; break;
      case 't': o[n++] = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (read_hex4(ps, &cp)) return -1;
        if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
          const char *save = ps->p;
          ps->p += 2;
          uint32_t lo;
          if (read_hex4(ps, &lo)) return -1;
          if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          else ps->p = save;
        }
        if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* lone surrogate, as most decoders do */
        n += dp_utf8_encode(cp, o + n);
        break;
      }
      default: ps->p--; return fail(ps, "bad escape in string");
      }
    }
    ps->p++;
  }
  o[n] = 0;
  *out = o;
  *out_len = (uint32_t)n;
  return 0;
}

static int parse_value(parser *ps, dp_json *v, int depth);

static int parse_container(parser *ps, dp_json *v, int depth, int is_obj) {
  if (depth > MAX_DEPTH) return fail(ps, "nesting too deep");
  size_t base = ps->sp;
  char close = is_obj ? '}' : ']';
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
  } else {
    for (;;) {
      const char *key = NULL;
      uint32_t klen = 0;
      skip_ws(ps);
      if (is_obj) {
        if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key");
        ps->p++;
        if (parse_string(ps, &key, &klen)) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':'");
        ps->p++;
      }
      dp_json child;
      if (parse_value(ps, &child, depth + 1)) return -1;
      if (push(ps, &child, key, klen)) return -1;
      skip_ws(ps);
      if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
      if (ps->p < ps->end && *ps->p == close) { ps->p++; break; }
      return fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  size_t n = ps->sp - base;
  memset(v, 0, sizeof *v);
  v->type = is_obj ? DP_JSON_OBJECT : DP_JSON_ARRAY;
  v->n = (uint32_t)n;
  if (n) {
    v->u.items = arena(ps->doc, n * sizeof(dp_json));
    if (!v->u.items) { ps->failed = 1; return -1; }
    memcpy(v->u.items, ps->stack + base, n * sizeof(dp_json));
    if (is_obj) {
      v->keys = arena(ps->doc, n * sizeof(char *));
      v->key_lens = arena(ps->doc, n * sizeof(uint32_t));
      if (!v->keys || !v->key_lens) { ps->failed = 1; return -1; }
      memcpy(v->keys, ps->kstack + base, n * sizeof(char *));
      memcpy(v->key_lens, ps->klen + base, n * sizeof(uint32_t));
    }
  }
  ps->sp = base;
  return 0;
}

static int parse_number(parser *ps, dp_json *v) {
  const char *s = ps->p;
  const char *q = s;
  if (q < ps->end && *q == '-') q++;
  if (q >= ps->end || !(*q >= '0' && *q <= '9')) return fail(ps, "bad number");
  if (*q == '0') q++;
  else while (q < ps->end && *q >= '0' && *q <= '9') q++;
  if (q < ps->end && *q == '.') {
    q++;
    if (q >= ps->end || !(*q >= '0' && *q <= '9')) { ps->p = q; return fail(ps, "bad number"); }
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    q++;
    if (q < ps->end && (*q == '+' || *q == '-')) q++;
    if (q >= ps->end || !(*q >= '0' && *q <= '9')) { ps->p = q; return fail(ps, "bad number"); }
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  char tmp[64];
  size_t n = (size_t)(q - s);
  memset(v, 0, sizeof *v);
  v->type = DP_JSON_NUMBER;
  if (n < sizeof tmp) {
    memcpy(tmp, s, n);
    tmp[n] = 0;
    v->u.number = strtod(tmp, NULL);
  } else {
    char *t = dp_strndup(s, n);
    if (!t) { ps->failed = 1; return -1; }
    v->u.number = strtod(t, NULL);
    dp_free(t);
  }
  ps->p = q;
  return 0;
}

static int match(parser *ps, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n)) return fail(ps, "unexpected token");
  ps->p += n;
  return 0;
}

static int parse_value(parser *ps, dp_json *v, int depth) {
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, "unexpected end of input");
  memset(v, 0, sizeof *v);
  switch (*ps->p) {
  case '{': ps->p++; return parse_container(ps, v, depth, 1);
  case '[': ps->p++; return parse_container(ps, v, depth, 0);
  case '"': {
    ps->p++;
    v->type = DP_JSON_STRING;
    return parse_string(ps, &v->u.str, &v->n);
  }
  case 't': v->type = DP_JSON_BOOL; v->u.boolean = 1; return match(ps, "true");
  case 'f': v->type = DP_JSON_BOOL; v->u.boolean = 0; return match(ps, "false");
  case 'n': v->type = DP_JSON_NULL; return match(ps, "null");
  default: return parse_number(ps, v);
  }
}

dp_json_doc *dp_json_parse(const char *text, size_t len, const char *what) {
  dp_json_doc *d = dp_calloc(1, sizeof *d);
  if (!d) return NULL;
  parser ps = {text, text + len, text, what ? what : "JSON", d, NULL, 0, 0, NULL, NULL, 0, 0};
  int rc = parse_value(&ps, &d->root, 0);
  if (!rc) {
    skip_ws(&ps);
    if (ps.p != ps.end) rc = fail(&ps, "trailing characters after the JSON value");
  }
  dp_free(ps.stack);
  dp_free(ps.kstack);
  dp_free(ps.klen);
  if (rc || ps.failed) {
    dp_json_free(d);
    return NULL;
  }
  return d;
}

dp_json_doc *dp_json_parse_file(const char *path) {
  char *text;
  size_t len;
  if (dp_file_read_all(path, &text, &len)) return NULL;
  dp_json_doc *d = dp_json_parse(text, len, path);
  dp_free(text);
  return d;
}

const dp_json *dp_json_root(const dp_json_doc *d) { return d ? &d->root : NULL; }

void dp_json_free(dp_json_doc *d) {
  if (!d) return;
  for (block *b = d->blocks; b;) {
    block *n = b->next;
    dp_free(b);
    b = n;
  }
  dp_free(d);
}

const dp_json *dp_json_get(const dp_json *obj, const char *key) {
  if (!obj || obj->type != DP_JSON_OBJECT) return NULL;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < obj->n; i++)
    if (obj->key_lens[i] == kl && !memcmp(obj->keys[i], key, kl)) return &obj->u.items[i];
  return NULL;
}

const dp_json *dp_json_at(const dp_json *arr, size_t i) {
  if (!arr || (arr->type != DP_JSON_ARRAY && arr->type != DP_JSON_OBJECT) || i >= arr->n) return NULL;
  return &arr->u.items[i];
}

size_t dp_json_len(const dp_json *v) {
  return v && (v->type == DP_JSON_ARRAY || v->type == DP_JSON_OBJECT) ? v->n : 0;
}
int dp_json_is(const dp_json *v, dp_json_type t) { return v && v->type == t; }
double dp_json_num(const dp_json *v, double dflt) { return v && v->type == DP_JSON_NUMBER ? v->u.number : dflt; }
int64_t dp_json_int(const dp_json *v, int64_t dflt) {
  if (!v || v->type != DP_JSON_NUMBER) return dflt;
  double x = v->u.number;
  if (!(x >= -9.2e18 && x <= 9.2e18) || floor(x) != x) return dflt;
  return (int64_t)x;
}
int dp_json_bool(const dp_json *v, int dflt) { return v && v->type == DP_JSON_BOOL ? v->u.boolean : dflt; }
const char *dp_json_str(const dp_json *v, const char *dflt) { return v && v->type == DP_JSON_STRING ? v->u.str : dflt; }
double dp_json_get_num(const dp_json *o, const char *k, double d) { return dp_json_num(dp_json_get(o, k), d); }
int64_t dp_json_get_int(const dp_json *o, const char *k, int64_t d) { return dp_json_int(dp_json_get(o, k), d); }
int dp_json_get_bool(const dp_json *o, const char *k, int d) { return dp_json_bool(dp_json_get(o, k), d); }
const char *dp_json_get_str(const dp_json *o, const char *k, const char *d) { return dp_json_str(dp_json_get(o, k), d); }
