/* safetensors.c -- the safetensors reader (see safetensors.h), and the header writer used by
 * synth.c and `doppler logits`. The reader is called by model_file.c for HF directories and
 * by the fuzzer; depends on core (json, file, alloc, utf8). The header is
 * untrusted: every size is checked before it is used, nothing is allocated in proportion to
 * a number read from the file (only to the header's actual length). */
#include "format/json_status.h"
#include "format/safetensors.h"
#include "format/ranges.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/utf8.h"
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER (100u << 20)

static const struct { const char *name; dp_dtype t; } ST_TYPES[] = {
  {"F32", DP_F32}, {"F16", DP_F16}, {"BF16", DP_BF16}, {"I32", DP_I32}, {"U8", DP_U8},
  {"I8", DP_I8},   {"I16", DP_I16}, {"I64", DP_I64},   {"F64", DP_F64}, {"BOOL", DP_BOOL},
};

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const dp_st_tensor *)a)->name, ((const dp_st_tensor *)b)->name);
}

static void free_tensors(dp_safetensors *st) {
  for (size_t i = 0; i < st->n; i++) dp_free(st->t[i].name);
  dp_free(st->t);
  st->t = NULL;
  st->n = 0;
}

static dp_status parse_entry(const char *what, const char *name, const dp_json *v, uint64_t data_size,
                             uint64_t data_start, dp_st_tensor *t) {
  const char *dt = dp_json_get_str(v, "dtype", NULL);
  if (!dt) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: missing dtype", what, name);
  int found = 0;
  for (size_t i = 0; i < sizeof ST_TYPES / sizeof *ST_TYPES; i++)
    if (!strcmp(ST_TYPES[i].name, dt)) { t->dtype = ST_TYPES[i].t; found = 1; }
  if (!found) return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: unsupported dtype %s", what, name, dt);
  const dp_json *shape = dp_json_get(v, "shape");
  if (!dp_json_is(shape, DP_JSON_ARRAY)) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: missing shape", what, name);
  if (shape->n > DP_ST_MAX_DIMS)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: %u dimensions (at most %d)", what, name, shape->n, DP_ST_MAX_DIMS);
  t->n_dims = (int)shape->n;
  uint64_t elems = 1;
  for (uint32_t i = 0; i < shape->n; i++) {
    const dp_json *d = dp_json_at(shape, i);
    double x = dp_json_num(d, -1);
    if (!dp_json_is(d, DP_JSON_NUMBER) || x < 0 || x > 9.0e15 || x != (double)(uint64_t)x)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bad shape[%u]", what, name, i);
    t->shape[i] = (uint64_t)x;
    if (t->shape[i] && elems > UINT64_MAX / t->shape[i])
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape overflows", what, name);
    elems *= t->shape[i];
  }
  uint32_t esz = dp_dtype_block_bytes(t->dtype);
  if (elems > UINT64_MAX / esz) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape overflows", what, name);
  const dp_json *offs = dp_json_get(v, "data_offsets");
  if (!dp_json_is(offs, DP_JSON_ARRAY) || offs->n != 2)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: missing data_offsets", what, name);
  double b = dp_json_num(dp_json_at(offs, 0), -1), e = dp_json_num(dp_json_at(offs, 1), -1);
  if (b < 0 || e < b || e > 9.0e15 || b != (double)(uint64_t)b || e != (double)(uint64_t)e)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bad data_offsets", what, name);
  if ((uint64_t)e > data_size)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: data_offsets end %llu past the end of the data (%llu bytes)", what,
                    name, (unsigned long long)e, (unsigned long long)data_size);
  t->nbytes = elems * esz;
  if ((uint64_t)e - (uint64_t)b != t->nbytes)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: data_offsets span %llu bytes, shape needs %llu", what, name,
                    (unsigned long long)((uint64_t)e - (uint64_t)b), (unsigned long long)t->nbytes);
  if ((uint64_t)b % esz)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: data_offsets begin %llu is not a multiple of its %u-byte element", what, name,
                    (unsigned long long)b, esz);
  t->offset = data_start + (uint64_t)b;
  return DP_OK;
}

dp_status dp_safetensors_parse(const uint8_t *data, uint64_t size, const char *what, dp_safetensors *st) {
  st->t = NULL;
  st->n = 0;
  if (size < 8) return dp_error(DP_ERR_FORMAT, "%s: too short for a safetensors header (%llu bytes)", what, (unsigned long long)size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
  if (hlen > size - 8 || hlen > MAX_HEADER)
    return dp_error(DP_ERR_FORMAT, "%s: header length %llu exceeds the file (%llu bytes)", what, (unsigned long long)hlen,
                    (unsigned long long)size);
  dp_json_doc *doc = dp_json_parse((const char *)data + 8, (size_t)hlen, what);
  if (!doc) return dp_json_fail_status();
  const dp_json *root = dp_json_root(doc);
  dp_status st_ = DP_OK;
  if (!dp_json_is(root, DP_JSON_OBJECT)) { dp_json_free(doc); return dp_error(DP_ERR_FORMAT, "%s: header is not a JSON object", what); }
  st->t = dp_calloc(root->n ? root->n : 1, sizeof *st->t);
  if (!st->t) { dp_json_free(doc); return DP_ERR_NOMEM; }
  uint64_t data_start = 8 + hlen, data_size = size - data_start;
  for (uint32_t i = 0; i < root->n && !st_; i++) {
    const char *name = root->keys[i];
    if (!strcmp(name, "__metadata__")) continue;
    if (root->key_lens[i] == 0 || memchr(name, 0, root->key_lens[i]) ||
        dp_utf8_validate(name, root->key_lens[i]) != root->key_lens[i]) {
      st_ = dp_error(DP_ERR_FORMAT, "%s: tensor name #%u is empty or not valid UTF-8", what, i);
      break;
    }
    if (!dp_json_is(&root->u.items[i], DP_JSON_OBJECT)) {
      st_ = dp_error(DP_ERR_FORMAT, "%s: tensor %s: entry is not an object", what, name);
      break;
    }
    dp_st_tensor *t = &st->t[st->n];
    if ((st_ = parse_entry(what, name, &root->u.items[i], data_size, data_start, t))) break;
    if (!(t->name = dp_strdup(name))) { st_ = DP_ERR_NOMEM; break; }
    st->n++;
  }
  dp_json_free(doc);
  if (!st_ && st->n > 1) {
    dp_st_tensor *sorted = dp_malloc(st->n * sizeof *sorted);
    if (!sorted) st_ = DP_ERR_NOMEM;
    else {
      memcpy(sorted, st->t, st->n * sizeof *sorted);
      qsort(sorted, st->n, sizeof *sorted, cmp_name);
      for (size_t i = 1; i < st->n && !st_; i++)
        if (!strcmp(sorted[i].name, sorted[i - 1].name))
          st_ = dp_error(DP_ERR_FORMAT, "%s: tensor %s: duplicate name", what, sorted[i].name);
      dp_free(sorted);
    }
    dp_range *r = st_ ? NULL : dp_malloc(st->n * sizeof *r);
    if (!st_ && !r) st_ = DP_ERR_NOMEM;
    if (r) {
      for (size_t i = 0; i < st->n; i++) r[i] = (dp_range){st->t[i].offset, st->t[i].offset + st->t[i].nbytes, st->t[i].name};
      st_ = dp_ranges_disjoint(r, st->n, what);
      dp_free(r);
    }
  }
  if (st_) free_tensors(st);
  return st_;
}

dp_status dp_safetensors_open(const char *path, dp_safetensors **out) {
  dp_safetensors *st = dp_calloc(1, sizeof *st);
  if (!st) return DP_ERR_NOMEM;
  if (!(st->path = dp_strdup(path))) { dp_free(st); return DP_ERR_NOMEM; }
  dp_status s = dp_file_map(path, &st->map);
  if (!s) s = dp_safetensors_parse(st->map.data, st->map.size, path, st);
  if (s) { dp_safetensors_free(st); return s; }
  *out = st;
  return DP_OK;
}

void dp_safetensors_free(dp_safetensors *st) {
  if (!st) return;
  free_tensors(st);
  if (st->map.data) dp_file_unmap(&st->map);
  dp_free(st->path);
  dp_free(st);
}

const dp_st_tensor *dp_safetensors_find(const dp_safetensors *st, const char *name) {
  for (size_t i = 0; i < st->n; i++)
    if (!strcmp(st->t[i].name, name)) return &st->t[i];
  return NULL;
}

dp_status dp_safetensors_header(const dp_st_entry *e, size_t n, int pt_metadata, dp_buf *out) {
  dp_buf h = {0};
  uint64_t off = 0;
  dp_buf_puts(&h, pt_metadata ? "{\"__metadata__\":{\"format\":\"pt\"}" : "{");
  for (size_t i = 0; i < n; i++) {
    const char *dt = "?";
    for (size_t k = 0; k < sizeof ST_TYPES / sizeof *ST_TYPES; k++)
      if (ST_TYPES[k].t == e[i].dtype) dt = ST_TYPES[k].name;
    dp_buf_puts(&h, i || pt_metadata ? "," : "");
    dp_buf_json_string(&h, e[i].name, strlen(e[i].name));
    dp_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dt);
    for (int d = 0; d < e[i].n_dims; d++) dp_buf_printf(&h, "%s%llu", d ? "," : "", (unsigned long long)e[i].shape[d]);
    dp_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + e[i].nbytes));
    off += e[i].nbytes;
  }
  dp_buf_puts(&h, "}");
  while (h.len % 8 && !h.failed) dp_buf_puts(&h, " ");
  uint8_t len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
  if (!h.failed) dp_buf_append(out, len8, 8);
  if (!h.failed) dp_buf_append(out, h.data, h.len);
  dp_status st = h.failed || out->failed ? DP_ERR_NOMEM : DP_OK;
  dp_buf_free(&h);
  return st;
}
