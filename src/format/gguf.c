/* gguf.c -- GGUF v2/v3 reader (see gguf.h). Called by model_file_gguf.c, the tokenizer
 * (tokenizer.ggml.*) and the fuzzer; depends on core only. Layout: "GGUF", u32 version,
 * u64 tensor count, u64 kv count, the kv pairs (gguf string key, u32 type, value), the
 * tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset), padding to
 * general.alignment (default 32), then the tensor data. */
#include "format/gguf.h"
#include "format/ranges.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd { const uint8_t *p; uint64_t pos, size; const char *what; } rd;

static const uint32_t SCALAR_SIZE[DP_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static dp_status need(rd *r, uint64_t n, const char *field) {
  if (n > r->size - r->pos)
    return dp_error(DP_ERR_FORMAT, "%s: byte %llu: truncated reading %s (%llu bytes needed, %llu left)", r->what,
                    (unsigned long long)r->pos, field, (unsigned long long)n, (unsigned long long)(r->size - r->pos));
  return DP_OK;
}
static uint64_t le(const uint8_t *p, int n) {
  uint64_t x = 0;
  for (int i = n - 1; i >= 0; i--) x = x << 8 | p[i];
  return x;
}
static dp_status u32(rd *r, uint32_t *x, const char *f) {
  dp_status s = need(r, 4, f);
  if (!s) { *x = (uint32_t)le(r->p + r->pos, 4); r->pos += 4; }
  return s;
}
static dp_status u64(rd *r, uint64_t *x, const char *f) {
  dp_status s = need(r, 8, f);
  if (!s) { *x = le(r->p + r->pos, 8); r->pos += 8; }
  return s;
}
static dp_status str(rd *r, const uint8_t **s, uint64_t *n, const char *f) {
  dp_status st = u64(r, n, f);
  if (st || (st = need(r, *n, f))) return st;
  *s = r->p + r->pos;
  r->pos += *n;
  return DP_OK;
}
static dp_status name_copy(rd *r, const uint8_t *s, uint64_t n, const char *f, char **out) {
  if (n == 0 || n > 65535 || memchr(s, 0, n) || dp_utf8_validate((const char *)s, n) != n)
    return dp_error(DP_ERR_FORMAT, "%s: byte %llu: %s is empty, too long or not valid UTF-8", r->what, (unsigned long long)r->pos, f);
  return (*out = dp_strndup((const char *)s, n)) ? DP_OK : DP_ERR_NOMEM;
}

const char *dp_ggml_type_name(uint32_t t) {
  static const char *N[] = {"F32", "F16", "Q4_0", "Q4_1", "TYPE_4", "TYPE_5", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
                            "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
                            "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64",
                            "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4",
                            "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
  static char buf[32];
  if (t < sizeof N / sizeof *N) return N[t];
  snprintf(buf, sizeof buf, "TYPE_%u", t);
  return buf;
}

static int ggml_to_dtype(uint32_t t, dp_dtype *d) {
  switch (t) {
  case DP_GGML_F32: *d = DP_F32; return 0;
  case DP_GGML_F16: *d = DP_F16; return 0;
  case DP_GGML_BF16: *d = DP_BF16; return 0;
  case DP_GGML_Q8_0: *d = DP_Q8_0; return 0;
  case DP_GGML_Q4_K: *d = DP_Q4_K; return 0;
  case DP_GGML_Q6_K: *d = DP_Q6_K; return 0;
  case DP_GGML_MXFP4: *d = DP_MXFP4; return 0;
  default: return -1;
  }
}

static dp_status read_kv(rd *r, dp_gguf_kv *kv) {
  const uint8_t *s;
  uint64_t n;
  dp_status st = str(r, &s, &n, "a key");
  if (st || (st = name_copy(r, s, n, "key", &kv->key))) return st;
  if ((st = u32(r, &kv->type, kv->key))) return st;
  if (kv->type >= DP_GGUF_TYPE_COUNT) return dp_error(DP_ERR_FORMAT, "%s: key %s: unknown value type %u", r->what, kv->key, kv->type);
  if (kv->type == DP_GGUF_STRING) {
    if ((st = str(r, &kv->data, &kv->n, kv->key))) return st;
    if (dp_utf8_validate((const char *)kv->data, kv->n) != kv->n)
      return dp_error(DP_ERR_FORMAT, "%s: key %s: string value is not valid UTF-8", r->what, kv->key);
    return DP_OK;
  }
  if (kv->type != DP_GGUF_ARRAY) {
    if ((st = need(r, SCALAR_SIZE[kv->type], kv->key))) return st;
    kv->data = r->p + r->pos;
    r->pos += SCALAR_SIZE[kv->type];
    return DP_OK;
  }
  if ((st = u32(r, &kv->arr_type, kv->key)) || (st = u64(r, &kv->n, kv->key))) return st;
  if (kv->arr_type >= DP_GGUF_TYPE_COUNT || kv->arr_type == DP_GGUF_ARRAY)
    return dp_error(DP_ERR_FORMAT, "%s: key %s: unsupported array element type %u", r->what, kv->key, kv->arr_type);
  kv->data = r->p + r->pos;
  if (kv->arr_type != DP_GGUF_STRING) {
    uint64_t es = SCALAR_SIZE[kv->arr_type];
    if (kv->n > (r->size - r->pos) / es)
      return dp_error(DP_ERR_FORMAT, "%s: key %s: array of %llu elements exceeds the file", r->what, kv->key, (unsigned long long)kv->n);
    r->pos += kv->n * es;
    return DP_OK;
  }
  if (kv->n > (r->size - r->pos) / 8)
    return dp_error(DP_ERR_FORMAT, "%s: key %s: array of %llu strings exceeds the file", r->what, kv->key, (unsigned long long)kv->n);
  if (!(kv->strs = dp_malloc((kv->n ? kv->n : 1) * sizeof *kv->strs))) return DP_ERR_NOMEM;
  for (uint64_t i = 0; i < kv->n; i++) {
    kv->strs[i] = r->p + r->pos;
    if ((st = str(r, &s, &n, kv->key))) return st;
  }
  return DP_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static dp_status check_dups(const char *what, const char *kind, char **names, size_t n) {
  if (n < 2) return DP_OK;
  char **s = dp_malloc(n * sizeof *s);
  if (!s) return DP_ERR_NOMEM;
  memcpy(s, names, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_str);
  dp_status st = DP_OK;
  for (size_t i = 1; i < n && !st; i++)
    if (!strcmp(s[i], s[i - 1])) st = dp_error(DP_ERR_FORMAT, "%s: %s %s: duplicate", what, kind, s[i]);
  dp_free(s);
  return st;
}

static dp_status read_tensor(rd *r, dp_gguf_tensor *t) {
  const uint8_t *s;
  uint64_t n;
  uint32_t nd;
  dp_status st = str(r, &s, &n, "a tensor name");
  if (st || (st = name_copy(r, s, n, "tensor name", &t->name))) return st;
  if ((st = u32(r, &nd, t->name))) return st;
  if (nd < 1 || nd > 4) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: %u dimensions (1..4 allowed)", r->what, t->name, nd);
  t->n_dims = (int)nd;
  uint64_t elems = 1;
  for (uint32_t i = 0; i < nd; i++) {
    if ((st = u64(r, &t->ne[i], t->name))) return st;
    if (t->ne[i] > (1ull << 40) || (t->ne[i] && elems > (1ull << 50) / t->ne[i]))
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: dimension %u (%llu) overflows", r->what, t->name, i, (unsigned long long)t->ne[i]);
    elems *= t->ne[i];
  }
  for (uint32_t i = nd; i < 4; i++) t->ne[i] = 1;
  if ((st = u32(r, &t->ggml_type, t->name)) || (st = u64(r, &t->offset, t->name))) return st;
  if (ggml_to_dtype(t->ggml_type, &t->dtype))
    return dp_error(DP_ERR_UNSUPPORTED, "unsupported GGUF tensor type %s in %s", dp_ggml_type_name(t->ggml_type), t->name);
  uint64_t rb = dp_dtype_row_bytes(t->dtype, t->ne[0]);
  if (rb == UINT64_MAX)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: row of %llu elements is not a whole number of %s blocks", r->what, t->name,
                    (unsigned long long)t->ne[0], dp_ggml_type_name(t->ggml_type));
  t->nbytes = t->ne[0] ? rb * (elems / t->ne[0]) : 0;
  return DP_OK;
}

dp_status dp_gguf_parse(const uint8_t *data, uint64_t size, const char *what, dp_gguf **out) {
  *out = NULL;
  rd r = {data, 0, size, what};
  uint32_t magic = 0, version = 0;
  uint64_t nt = 0, nkv = 0;
  dp_status st = u32(&r, &magic, "magic");
  if (st) return st;
  if (magic != 0x46554747u) return dp_error(DP_ERR_FORMAT, "%s: not a GGUF file (bad magic)", what);
  if ((st = u32(&r, &version, "version"))) return st;
  if (version != 2 && version != 3) return dp_error(DP_ERR_UNSUPPORTED, "%s: GGUF version %u (2 and 3 are supported)", what, version);
  if ((st = u64(&r, &nt, "tensor count")) || (st = u64(&r, &nkv, "kv count"))) return st;
  /* each kv takes >= 12 bytes, each tensor info >= 28: bound the counts by the file */
  if (nkv > size / 12 || nt > size / 28)
    return dp_error(DP_ERR_FORMAT, "%s: counts (%llu tensors, %llu keys) exceed the file size", what, (unsigned long long)nt,
                    (unsigned long long)nkv);
  dp_gguf *g = dp_calloc(1, sizeof *g);
  if (!g) return DP_ERR_NOMEM;
  g->data = data;
  g->size = size;
  g->version = version;
  g->alignment = 32;
  g->kv = dp_calloc(nkv ? nkv : 1, sizeof *g->kv);
  g->t = dp_calloc(nt ? nt : 1, sizeof *g->t);
  if (!g->kv || !g->t) { dp_gguf_free(g); return DP_ERR_NOMEM; }
  for (uint64_t i = 0; i < nkv && !st; i++) {
    st = read_kv(&r, &g->kv[i]);
    g->n_kv = i + 1;
  }
  char **names = NULL;
  if (!st && !(names = dp_malloc((nkv > nt ? nkv : nt) * sizeof *names + 1))) st = DP_ERR_NOMEM;
  if (!st) {
    for (size_t i = 0; i < g->n_kv; i++) names[i] = g->kv[i].key;
    st = check_dups(what, "key", names, g->n_kv);
  }
  if (!st) {
    const dp_gguf_kv *al = dp_gguf_find(g, "general.alignment");
    if (al) {
      int64_t a = al->type == DP_GGUF_U32 ? (int64_t)le(al->data, 4) : -1;
      if (a <= 0 || (a & (a - 1)) || a > 65536) st = dp_error(DP_ERR_FORMAT, "%s: key general.alignment: not a power of two u32", what);
      else g->alignment = (uint32_t)a;
    }
  }
  for (uint64_t i = 0; i < nt && !st; i++) {
    st = read_tensor(&r, &g->t[i]);
    g->n_tensors = i + 1;
  }
  if (!st) {
    for (size_t i = 0; i < g->n_tensors; i++) names[i] = g->t[i].name;
    st = check_dups(what, "tensor", names, g->n_tensors);
  }
  dp_free(names);
  if (!st) {
    uint64_t a = g->alignment;
    g->data_offset = (r.pos + a - 1) / a * a;
    if (g->data_offset > size && g->n_tensors) st = dp_error(DP_ERR_FORMAT, "%s: tensor data starts past the end of the file", what);
  }
  for (size_t i = 0; i < g->n_tensors && !st; i++) {
    dp_gguf_tensor *t = &g->t[i];
    if (t->offset % g->alignment) {
      st = dp_error(DP_ERR_FORMAT, "%s: tensor %s: offset %llu not aligned to %u", what, t->name, (unsigned long long)t->offset, g->alignment);
      break;
    }
    uint64_t avail = size > g->data_offset ? size - g->data_offset : 0;
    if (t->offset > avail || t->nbytes > avail - t->offset) {
      st = dp_error(DP_ERR_FORMAT, "%s: tensor %s: data [%llu, +%llu) past the end of the file", what, t->name,
                    (unsigned long long)(g->data_offset + t->offset), (unsigned long long)t->nbytes);
      break;
    }
    t->offset += g->data_offset;
  }
  dp_range *rg = st || !g->n_tensors ? NULL : dp_malloc(g->n_tensors * sizeof *rg);
  if (!st && g->n_tensors && !rg) st = DP_ERR_NOMEM;
  if (rg) {
    for (size_t i = 0; i < g->n_tensors; i++) rg[i] = (dp_range){g->t[i].offset, g->t[i].offset + g->t[i].nbytes, g->t[i].name};
    st = dp_ranges_disjoint(rg, g->n_tensors, what);
    dp_free(rg);
  }
  if (st) { dp_gguf_free(g); return st; }
  *out = g;
  return DP_OK;
}

dp_status dp_gguf_open(const char *path, dp_gguf **out) {
  dp_mapped m;
  dp_status st = dp_file_map(path, &m);
  if (st) return st;
  if ((st = dp_gguf_parse(m.data, m.size, path, out))) { dp_file_unmap(&m); return st; }
  (*out)->map = m;
  if (!((*out)->path = dp_strdup(path))) { dp_gguf_free(*out); *out = NULL; return DP_ERR_NOMEM; }
  return DP_OK;
}

void dp_gguf_free(dp_gguf *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n_kv; i++) { dp_free(g->kv[i].key); dp_free(g->kv[i].strs); }
  for (size_t i = 0; i < g->n_tensors; i++) dp_free(g->t[i].name);
  dp_free(g->kv);
  dp_free(g->t);
  if (g->map.data) dp_file_unmap(&g->map);
  dp_free(g->path);
  dp_free(g);
}

const dp_gguf_kv *dp_gguf_find(const dp_gguf *g, const char *key) {
  for (size_t i = 0; i < g->n_kv; i++)
    if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
  return NULL;
}
const dp_gguf_tensor *dp_gguf_find_tensor(const dp_gguf *g, const char *name) {
  for (size_t i = 0; i < g->n_tensors; i++)
    if (!strcmp(g->t[i].name, name)) return &g->t[i];
  return NULL;
}

static double scalar_num(uint32_t type, const uint8_t *p, int *ok) {
  *ok = 1;
  switch (type) {
  case DP_GGUF_U8: case DP_GGUF_BOOL: return p[0];
  case DP_GGUF_I8: return (int8_t)p[0];
  case DP_GGUF_U16: return (double)le(p, 2);
  case DP_GGUF_I16: return (int16_t)le(p, 2);
  case DP_GGUF_U32: return (double)le(p, 4);
  case DP_GGUF_I32: return (int32_t)le(p, 4);
  case DP_GGUF_U64: return (double)le(p, 8);
  case DP_GGUF_I64: return (double)(int64_t)le(p, 8);
  case DP_GGUF_F32: { uint32_t x = (uint32_t)le(p, 4); float f; memcpy(&f, &x, 4); return f; }
  case DP_GGUF_F64: { uint64_t x = le(p, 8); double f; memcpy(&f, &x, 8); return f; }
  default: *ok = 0; return 0;
  }
}
static int64_t scalar_int(uint32_t type, const uint8_t *p, int *ok) {
  if (type == DP_GGUF_U64 || type == DP_GGUF_I64) { *ok = 1; return (int64_t)le(p, 8); }
  double d = scalar_num(type, p, ok);
  /* a float key holding NaN or a value past int64 saturates (the caller's range check names it) */
  if (!(d > -9.2e18)) return d < 0 ? INT64_MIN : INT64_MAX;
  if (d > 9.2e18) return INT64_MAX;
  return (int64_t)d;
}

int64_t dp_gguf_get_int(const dp_gguf *g, const char *key, int64_t dflt) {
  const dp_gguf_kv *kv = dp_gguf_find(g, key);
  int ok = 0;
  int64_t v = kv && kv->type != DP_GGUF_ARRAY && kv->type != DP_GGUF_STRING ? scalar_int(kv->type, kv->data, &ok) : 0;
  return ok ? v : dflt;
}
double dp_gguf_get_num(const dp_gguf *g, const char *key, double dflt) {
  const dp_gguf_kv *kv = dp_gguf_find(g, key);
  int ok = 0;
  double v = kv && kv->type != DP_GGUF_ARRAY && kv->type != DP_GGUF_STRING ? scalar_num(kv->type, kv->data, &ok) : 0;
  return ok ? v : dflt;
}
const char *dp_gguf_get_str(const dp_gguf *g, const char *key, size_t *len) {
  const dp_gguf_kv *kv = dp_gguf_find(g, key);
  if (!kv || kv->type != DP_GGUF_STRING) return NULL;
  if (len) *len = (size_t)kv->n;
  return (const char *)kv->data;
}
const char *dp_gguf_get_strz(const dp_gguf *g, const char *key, char *buf, size_t cap, const char *dflt) {
  size_t n;
  const char *s = dp_gguf_get_str(g, key, &n);
  if (!s) return dflt;
  snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
  return buf;
}
const char *dp_gguf_arr_str(const dp_gguf_kv *kv, uint64_t i, size_t *len) {
  if (kv->type != DP_GGUF_ARRAY || kv->arr_type != DP_GGUF_STRING || i >= kv->n) return NULL;
  *len = (size_t)le(kv->strs[i], 8);
  return (const char *)kv->strs[i] + 8;
}
int64_t dp_gguf_arr_int(const dp_gguf_kv *kv, uint64_t i) {
  int ok;
  if (kv->type != DP_GGUF_ARRAY || kv->arr_type == DP_GGUF_STRING || i >= kv->n) return 0;
  return scalar_int(kv->arr_type, kv->data + i * SCALAR_SIZE[kv->arr_type], &ok);
}
double dp_gguf_arr_num(const dp_gguf_kv *kv, uint64_t i) {
  int ok;
  if (kv->type != DP_GGUF_ARRAY || kv->arr_type == DP_GGUF_STRING || i >= kv->n) return 0;
  return scalar_num(kv->arr_type, kv->data + i * SCALAR_SIZE[kv->arr_type], &ok);
}
