/* model_file.c -- dp_model_file (see model_file.h): the common view machinery (row maps,
 * transforms, bounds checks, f32 reads) and the HF-directory reader (config.json +
 * model.safetensors or the shards listed in model.safetensors.index.json). GGUF and RDRR
 * sources are filled by model_file_gguf.c and rdrr_read.c through model_file_impl.h.
 * Called by the converter, inspect, the model/runtime layers; depends on core, quant (f32
 * reads of block types), format/safetensors and format/hparams.
 *
 * gpt-oss: HF stores experts packed as `mlp.experts.gate_up_proj_blocks` [E, 2I, H/32, 16] +
 * `_scales` [E, 2I, H/32] with gate/up interleaved (gate = even rows). They are presented per
 * expert, de-interleaved, as GGUF MXFP4 blocks:
 *   model.layers.L.mlp.experts.E.gate_proj.weight  MXFP4 [I, H]   (+ .bias [I], stored type)
 *   model.layers.L.mlp.experts.E.up_proj.weight    MXFP4 [I, H]   (+ .bias [I], stored type)
 *   model.layers.L.mlp.experts.E.down_proj.weight  MXFP4 [H, I]   (+ .bias [H], stored type) */
#include "format/json_status.h"
#include "format/model_file_impl.h"
#include "format/safetensors.h"
#include "format/gguf.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "core/sha256.h"
#include "quant/quant.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- common machinery */

dp_model_file *dp_mf_new(const char *kind, const char *path) {
  dp_model_file *mf = dp_calloc(1, sizeof *mf);
  if (!mf) return NULL;
  snprintf(mf->kind, sizeof mf->kind, "%s", kind);
  if (!(mf->path = dp_strdup(path))) { dp_free(mf); return NULL; }
  return mf;
}

dp_status dp_mf_add_source(dp_model_file *mf, const char *path) {
  mf_source *ns = dp_realloc(mf->srcs, (mf->n_srcs + 1) * sizeof *ns);
  if (!ns) return DP_ERR_NOMEM;
  mf->srcs = ns;
  mf_source *s = &mf->srcs[mf->n_srcs];
  memset(s, 0, sizeof *s);
  if (!(s->path = dp_strdup(path))) return DP_ERR_NOMEM;
  dp_status st = dp_file_map(path, &s->map);
  if (st) { dp_free(s->path); return st; }
  mf->n_srcs++;
  return DP_OK;
}

mf_view *dp_mf_add(dp_model_file *mf, const char *name, dp_dtype dt, int n_dims, const uint64_t *shape) {
  if (mf->n == mf->cap) {
    size_t nc = mf->cap ? mf->cap * 2 : 64;
    mf_view *nv = dp_realloc(mf->v, nc * sizeof *nv);
    if (!nv) return NULL;
    mf->v = nv;
    mf->cap = nc;
  }
  mf_view *v = &mf->v[mf->n];
  memset(v, 0, sizeof *v);
  if (!(v->info.name = dp_strdup(name))) return NULL;
  v->info.dtype = dt;
  v->info.n_dims = n_dims;
  for (int i = 0; i < n_dims && i < 4; i++) v->info.shape[i] = shape[i];
  mf->n++;
  return v;
}

uint64_t dp_tensor_nelems(const dp_tensor_info *t) {
  uint64_t n = 1;
  for (int i = 0; i < t->n_dims; i++) n *= t->shape[i];
  return n;
}

/* Natural order: digit runs compare numerically, so layer 10 follows layer 9. */
static int natcmp(const char *a, const char *b) {
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      unsigned long long x = strtoull(a, (char **)&a, 10), y = strtoull(b, (char **)&b, 10);
      if (x != y) return x < y ? -1 : 1;
      continue;
    }
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    a++, b++;
  }
  return (unsigned char)*a - (unsigned char)*b;
}
static int view_cmp(const void *x, const void *y) {
  return natcmp(((const mf_view *)x)->info.name, ((const mf_view *)y)->info.name);
}

static uint64_t src_size(const dp_model_file *mf, int src) {
  if (mf->concat) {
    uint64_t s = 0;
    for (size_t i = 0; i < mf->n_srcs; i++) s += mf->srcs[i].map.size;
    return s;
  }
  return mf->srcs[src].map.size;
}

dp_status dp_mf_finish(dp_model_file *mf) {
  for (size_t i = 0; i < mf->n; i++) {
    mf_view *v = &mf->v[i];
    dp_tensor_info *t = &v->info;
    uint64_t last = t->n_dims ? t->shape[t->n_dims - 1] : 1, total = 1;
    for (int d = 0; d < t->n_dims; d++) {
      if (t->shape[d] && total > (UINT64_MAX >> 8) / t->shape[d])
        return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape overflows", mf->path, t->name);
      total *= t->shape[d];
    }
    if (t->n_dims == 1 && v->rowmap != MF_ROWS_ID && v->xform == MF_RAW) last = 1; /* re-ordered elements */
    uint64_t rb = dp_dtype_row_bytes(t->dtype, last);
    if (rb == UINT64_MAX)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: row of %llu elements is not a whole number of %s blocks", mf->path, t->name,
                      (unsigned long long)last, dp_dtype_name(t->dtype));
    v->rows = last ? total / last : 0;
    v->out_row_bytes = rb;
    t->nbytes = v->rows * rb;
    if (v->xform == MF_NORM1) {
      v->rows = 1;
      v->out_row_bytes = t->nbytes;
      v->src_row_bytes = total * dp_dtype_block_bytes(v->src_dtype);
    } else if (v->xform == MF_RAW) {
      v->src_row_bytes = rb;
    } else {
      v->src_row_bytes = rb / 17 * 16;
    }
    if (!v->rows) continue;
    uint64_t maxrow = v->rowmap == MF_ROWS_STRIDE ? (v->rows - 1) * v->row_step + v->row_first : v->rows - 1;
    if (v->rowmap == MF_ROWS_UNPERM && (v->head_rows < 2 || v->head_rows % 2 || v->rows % v->head_rows))
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: %llu rows do not split into heads of %u", mf->path, t->name,
                      (unsigned long long)v->rows, v->head_rows);
    uint64_t size = src_size(mf, v->src);
    uint64_t end = v->off + (maxrow + 1) * v->src_row_bytes;
    if (end > size || end < v->off)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: data [%llu, %llu) out of bounds (%llu bytes)", mf->path, t->name,
                      (unsigned long long)v->off, (unsigned long long)end, (unsigned long long)size);
    if (v->xform == MF_HF_MXFP4 && v->off_scales + (maxrow + 1) * (rb / 17) > size)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: scales out of bounds", mf->path, t->name);
  }
  qsort(mf->v, mf->n, sizeof *mf->v, view_cmp);
  for (size_t i = 1; i < mf->n; i++)
    if (!strcmp(mf->v[i].info.name, mf->v[i - 1].info.name))
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: duplicate name", mf->path, mf->v[i].info.name);
  dp_free(mf->infos);
  if (!(mf->infos = dp_calloc(mf->n ? mf->n : 1, sizeof *mf->infos))) return DP_ERR_NOMEM;
  for (size_t i = 0; i < mf->n; i++) mf->infos[i] = mf->v[i].info;
  return DP_OK;
}

/* RDRR shard i: check its SHA-256 against the manifest the first time any byte of it is
 * read (the whole shard is hashed then, before the bytes are handed out). A mismatch is
 * remembered, so every later read of that shard fails too. `tname` names the tensor read. */
static dp_status src_verify(dp_model_file *mf, size_t i, const char *tname) {
  mf_source *s = &mf->srcs[i];
  if (s->verified == 1 || !s->sha[0] || s->supplied) return DP_OK; /* supplied: the host checks */
  if (!s->verified) {
    char hex[65];
    dp_sha256_hex(s->map.data, (size_t)s->map.size, hex);
    s->verified = strcmp(hex, s->sha) ? -1 : 1;
    if (s->verified < 0) memcpy(s->bad, hex, sizeof hex);
  }
  if (s->verified < 0)
    return dp_error(DP_ERR_FORMAT, "%s: SHA-256 mismatch (file %s, manifest %s)%s%s", s->path, s->bad, s->sha,
                    tname ? "; reading tensor " : "", tname ? tname : "");
  return DP_OK;
}

dp_status dp_model_file_verify(dp_model_file *mf) {
  for (size_t i = 0; i < mf->n_srcs; i++) {
    dp_status st = src_verify(mf, i, NULL);
    if (st) return st;
  }
  return DP_OK;
}

static dp_status src_read(dp_model_file *mf, int src, uint64_t off, void *dst, uint64_t n, const char *tname) {
  uint8_t *d = dst;
  if (!mf->concat) {
    const dp_mapped *m = &mf->srcs[src].map;
    if (off > m->size || n > m->size - off)
      return dp_error(DP_ERR_FORMAT, "%s: read of %llu bytes at byte %llu past the end", mf->srcs[src].path,
                      (unsigned long long)n, (unsigned long long)off);
    memcpy(d, m->data + off, n);
    return DP_OK;
  }
  for (size_t i = 0; i < mf->n_srcs && n; i++) {
    const mf_source *s = &mf->srcs[i];
    const dp_mapped *m = &s->map;
    if (off >= m->size) { off -= m->size; continue; }
    dp_status st = src_verify(mf, i, tname);
    if (st) return st;
    uint64_t k = m->size - off < n ? m->size - off : n;
    if (s->supplied) {
      if (off < s->win_off || k > s->win_len || off - s->win_off > s->win_len - k)
        return dp_error(DP_ERR_INVALID_ARG, "%s: bytes [%llu, +%llu) of %s were not supplied (reading tensor %s)", mf->path,
                        (unsigned long long)off, (unsigned long long)k, s->path, tname ? tname : "?");
      memcpy(d, s->win + (off - s->win_off), k);
    } else {
      memcpy(d, m->data + off, k);
    }
    d += k, n -= k, off = 0;
  }
  if (n) return dp_error(DP_ERR_FORMAT, "%s: read past the last shard", mf->path);
  return DP_OK;
}

static uint64_t src_row(const mf_view *v, uint64_t r) {
  switch (v->rowmap) {
  case MF_ROWS_STRIDE: return r * v->row_step + v->row_first;
  case MF_ROWS_UNPERM: {
    uint64_t D = v->head_rows, h = r / D, k = r % D, j = k / (D / 2), i = k % (D / 2);
    return h * D + 2 * i + j;
  }
  default: return r;
  }
}

static float elem_f32(dp_dtype t, const uint8_t *p) {
  switch (t) {
  case DP_F16: return dp_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
  case DP_BF16: return dp_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
  default: { float f; memcpy(&f, p, 4); return f; }
  }
}

/* Produce output row r (v->out_row_bytes bytes) of a transformed view into row. */
static dp_status make_row(dp_model_file *mf, const mf_view *v, uint64_t r, uint8_t *row, uint8_t *tmp) {
  dp_status st;
  if (v->xform == MF_NORM1) {
    uint64_t n = dp_tensor_nelems(&v->info), es = dp_dtype_block_bytes(v->src_dtype);
    if ((st = src_read(mf, v->src, v->off, tmp, n * es, v->info.name))) return st;
    for (uint64_t i = 0; i < n; i++) {
      float f = elem_f32(v->src_dtype, tmp + i * es) - 1.0f;
      memcpy(row + 4 * i, &f, 4);
    }
    return DP_OK;
  }
  /* MF_HF_MXFP4: G groups of 32 per row, repacked by quant's dp_mxfp4_from_hf_packed. */
  uint64_t G = v->out_row_bytes / 17, sr = src_row(v, r);
  if ((st = src_read(mf, v->src, v->off + sr * G * 16, tmp, G * 16, v->info.name))) return st;
  if ((st = src_read(mf, v->src, v->off_scales + sr * G, tmp + G * 16, G, v->info.name))) return st;
  for (uint64_t g = 0; g < G; g++) dp_mxfp4_from_hf_packed(tmp + g * 16, tmp[G * 16 + g], row + g * 17);
  return DP_OK;
}

dp_status dp_model_file_read(dp_model_file *mf, const dp_tensor_info *t, uint64_t offset, void *dst, uint64_t n) {
  const mf_view *v = NULL;
  if (t >= mf->infos && t < mf->infos + mf->n) v = &mf->v[t - mf->infos];
  if (!v) return dp_error(DP_ERR_INVALID_ARG, "%s: tensor info not from this model file", mf->path);
  if (offset > t->nbytes || n > t->nbytes - offset)
    return dp_error(DP_ERR_INVALID_ARG, "%s: tensor %s: read [%llu, +%llu) past its %llu bytes", mf->path, t->name,
                    (unsigned long long)offset, (unsigned long long)n, (unsigned long long)t->nbytes);
  if (!n) return DP_OK;
  if (v->xform == MF_RAW && v->rowmap == MF_ROWS_ID) return src_read(mf, v->src, v->off + offset, dst, n, t->name);
  uint8_t *d = dst, *row = NULL, *tmp = NULL;
  if (v->xform != MF_RAW) {
    row = dp_malloc(v->out_row_bytes);
    tmp = dp_malloc(v->xform == MF_NORM1 ? v->src_row_bytes : v->out_row_bytes);
    if (!row || !tmp) { dp_free(row); dp_free(tmp); return DP_ERR_NOMEM; }
  }
  dp_status st = DP_OK;
  uint64_t rb = v->out_row_bytes;
  for (uint64_t r = offset / rb, in = offset % rb; n && !st; r++, in = 0) {
    uint64_t k = rb - in < n ? rb - in : n;
    if (v->xform == MF_RAW) st = src_read(mf, v->src, v->off + src_row(v, r) * v->src_row_bytes + in, d, k, t->name);
    else if (!(st = make_row(mf, v, r, row, tmp))) memcpy(d, row + in, k);
    d += k, n -= k;
  }
  dp_free(row);
  dp_free(tmp);
  return st;
}

dp_status dp_model_file_peek(dp_model_file *mf, const dp_tensor_info *t, uint64_t offset, uint64_t n, const void **p) {
  const mf_view *v = (t >= mf->infos && t < mf->infos + mf->n) ? &mf->v[t - mf->infos] : NULL;
  *p = NULL;
  if (!v) return dp_error(DP_ERR_INVALID_ARG, "%s: tensor info not from this model file", mf->path);
  if (offset > t->nbytes || n > t->nbytes - offset)
    return dp_error(DP_ERR_INVALID_ARG, "%s: tensor %s: read [%llu, +%llu) past its %llu bytes", mf->path, t->name,
                    (unsigned long long)offset, (unsigned long long)n, (unsigned long long)t->nbytes);
  if (v->xform != MF_RAW || v->rowmap != MF_ROWS_ID || !n) return DP_OK;
  uint64_t off = v->off + offset;
  size_t i = mf->concat ? 0 : (size_t)v->src;
  if (mf->concat)
    for (; i < mf->n_srcs && off >= mf->srcs[i].map.size; i++) off -= mf->srcs[i].map.size;
  if (i >= mf->n_srcs || off > mf->srcs[i].map.size || n > mf->srcs[i].map.size - off) return DP_OK; /* spans shards */
  if (mf->srcs[i].supplied) return DP_OK; /* no mapping: read through the window */
  if (mf->concat) {
    dp_status st = src_verify(mf, i, t->name);
    if (st) return st;
  }
  *p = mf->srcs[i].map.data + off;
  return DP_OK;
}

static void ints_to_f32(dp_dtype t, const uint8_t *p, float *o, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    switch (t) {
    case DP_I32: { int32_t x; memcpy(&x, p + 4 * i, 4); o[i] = (float)x; break; }
    case DP_I16: { int16_t x; memcpy(&x, p + 2 * i, 2); o[i] = (float)x; break; }
    case DP_I64: { int64_t x; memcpy(&x, p + 8 * i, 8); o[i] = (float)x; break; }
    case DP_F64: { double x; memcpy(&x, p + 8 * i, 8); o[i] = (float)x; break; }
    case DP_I8: o[i] = (float)(int8_t)p[i]; break;
    default: o[i] = (float)p[i]; break; /* U8, BOOL */
    }
  }
}

dp_status dp_model_file_read_f32(dp_model_file *mf, const dp_tensor_info *t, float *dst) {
  const mf_view *v = (t >= mf->infos && t < mf->infos + mf->n) ? &mf->v[t - mf->infos] : NULL;
  if (!v) return dp_error(DP_ERR_INVALID_ARG, "%s: tensor info not from this model file", mf->path);
  uint64_t rb = v->out_row_bytes, rows = t->nbytes / (rb ? rb : 1), row_elems = rows ? dp_tensor_nelems(t) / rows : 0;
  if (!rows || !rb) return DP_OK;
  if (t->dtype == DP_F32) return dp_model_file_read(mf, t, 0, dst, t->nbytes);
  uint64_t chunk = (4u << 20) / rb;
  if (!chunk) chunk = 1;
  if (chunk > rows) chunk = rows;
  uint8_t *buf = dp_malloc(chunk * rb);
  if (!buf) return DP_ERR_NOMEM;
  dp_status st = DP_OK;
  for (uint64_t r = 0; r < rows && !st; r += chunk) {
    uint64_t k = rows - r < chunk ? rows - r : chunk;
    if ((st = dp_model_file_read(mf, t, r * rb, buf, k * rb))) break;
    float *o = dst + r * row_elems;
    switch (t->dtype) {
    case DP_F16: case DP_BF16: case DP_Q8_0: case DP_Q4_K: case DP_Q6_K: case DP_MXFP4:
      st = dp_dequantize(t->dtype, buf, o, k * row_elems);
      break;
    default: ints_to_f32(t->dtype, buf, o, k * row_elems); break;
    }
  }
  dp_free(buf);
  if (st) return dp_error_wrap(st, "%s: tensor %s", mf->path, t->name);
  return DP_OK;
}

void dp_model_file_close(dp_model_file *mf) {
  if (!mf) return;
  for (size_t i = 0; i < mf->n; i++) dp_free((char *)mf->v[i].info.name);
  for (size_t i = 0; i < mf->n_srcs; i++) {
    if (!mf->srcs[i].supplied) dp_file_unmap(&mf->srcs[i].map);
    dp_free(mf->srcs[i].win);
    dp_free(mf->srcs[i].path);
  }
  dp_free(mf->srcs);
  dp_free(mf->v);
  dp_free(mf->infos);
  dp_free(mf->tokenizer_json);
  if (mf->gguf) dp_gguf_free(mf->gguf);
  if (mf->manifest) dp_json_free(mf->manifest);
  dp_free(mf->extra);
  dp_free(mf->path);
  dp_free(mf);
}

/* ---- supplied sources ---- */

dp_status dp_model_file_open_supplied(const char *name, const char *manifest, size_t len, dp_model_file **out) {
  *out = NULL;
  return dp_rdrr_open_supplied(name, manifest, len, out);
}

int dp_model_file_missing(const dp_model_file *mf, const dp_tensor_info *t, uint64_t offset, uint64_t n, dp_mf_piece *piece) {
  const mf_view *v = (t >= mf->infos && t < mf->infos + mf->n) ? &mf->v[t - mf->infos] : NULL;
  if (!v || !mf->concat || !n || offset > t->nbytes || n > t->nbytes - offset) return 0;
  /* supplied models are RDRR: every view is raw with identity rows, one range of the shards */
  uint64_t off = v->off + offset;
  for (size_t i = 0; i < mf->n_srcs && n; i++) {
    const mf_source *s = &mf->srcs[i];
    if (off >= s->map.size) { off -= s->map.size; continue; }
    uint64_t k = s->map.size - off < n ? s->map.size - off : n;
    if (s->supplied && (off < s->win_off || k > s->win_len || off - s->win_off > s->win_len - k)) {
      const char *slash = strrchr(s->path, '/');
      *piece = (dp_mf_piece){i, slash ? slash + 1 : s->path, off, k};
      return 1;
    }
    n -= k, off = 0;
  }
  return 0;
}

dp_status dp_model_file_supply(dp_model_file *mf, size_t src, uint64_t offset, const void *data, uint64_t n) {
  if (src >= mf->n_srcs || !mf->srcs[src].supplied)
    return dp_error(DP_ERR_INVALID_ARG, "%s: source %zu takes no supplied bytes", mf->path, src);
  mf_source *s = &mf->srcs[src];
  if (offset > s->map.size || n > s->map.size - offset)
    return dp_error(DP_ERR_INVALID_ARG, "%s: %llu bytes at %llu supplied past its %llu bytes", s->path, (unsigned long long)n,
                    (unsigned long long)offset, (unsigned long long)s->map.size);
  if (n > s->win_cap) {
    uint8_t *w = dp_realloc(s->win, (size_t)n);
    if (!w) return DP_ERR_NOMEM;
    s->win = w, s->win_cap = n;
  }
  if (n) memcpy(s->win, data, (size_t)n);
  s->win_off = offset, s->win_len = n;
  return DP_OK;
}

void dp_model_file_release(dp_model_file *mf) {
  for (size_t i = 0; i < mf->n_srcs; i++) {
    mf_source *s = &mf->srcs[i];
    dp_free(s->win);
    s->win = NULL, s->win_cap = s->win_len = s->win_off = 0;
  }
}

const char *dp_model_file_kind(const dp_model_file *mf) { return mf->kind; }
const char *dp_model_file_path(const dp_model_file *mf) { return mf->path; }
const dp_hparams *dp_model_file_hparams(const dp_model_file *mf) { return &mf->hp; }
size_t dp_model_file_tensor_count(const dp_model_file *mf) { return mf->n; }
const dp_tensor_info *dp_model_file_tensor(const dp_model_file *mf, size_t i) { return i < mf->n ? &mf->infos[i] : NULL; }
const dp_tensor_info *dp_model_file_find(const dp_model_file *mf, const char *name) {
  size_t lo = 0, hi = mf->n; /* infos are in natural order */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = natcmp(mf->infos[mid].name, name);
    if (!c) return &mf->infos[mid];
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return NULL;
}
const char *dp_model_file_hint(const dp_model_file *mf, const char *key) { return dp_json_get_str(mf->hints, key, NULL); }
const char *dp_model_file_tokenizer_json(const dp_model_file *mf) { return mf->tokenizer_json; }
const struct dp_gguf *dp_model_file_gguf(const dp_model_file *mf) { return mf->gguf; }

/* ---------------------------------------------------------------- HF directories */

static int name_ok(const char *f) { return *f && *f != '.' && !strchr(f, '/') && !strchr(f, '\\'); }

/* gpt-oss packed experts: model.layers.L.mlp.experts.{gate_up,down}_proj_{blocks,scales,bias}. */
static dp_status add_gptoss_experts(dp_model_file *mf, int src, const dp_safetensors *st, const dp_st_tensor *blk,
                                    const char *prefix, const char *proj) {
  char nb[256];
  snprintf(nb, sizeof nb, "%s%s_scales", prefix, proj);
  const dp_st_tensor *sc = dp_safetensors_find(st, nb);
  snprintf(nb, sizeof nb, "%s%s_bias", prefix, proj);
  const dp_st_tensor *bias = dp_safetensors_find(st, nb);
  if (!sc) return dp_error(DP_ERR_FORMAT, "%s: tensor %s%s_blocks: no matching _scales", st->path, prefix, proj);
  if (blk->n_dims != 4 || blk->shape[3] != 16 || blk->dtype != DP_U8 || sc->dtype != DP_U8 || sc->n_dims != 3 ||
      sc->shape[0] != blk->shape[0] || sc->shape[1] != blk->shape[1] || sc->shape[2] != blk->shape[2])
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: unexpected MXFP4 blocks/scales shapes", st->path, blk->name);
  uint64_t E = blk->shape[0], out = blk->shape[1], G = blk->shape[2];
  int gate_up = !strcmp(proj, "gate_up_proj");
  if (gate_up && out % 2) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: odd gate_up rows", st->path, blk->name);
  if (bias && ((bias->dtype != DP_F32 && bias->dtype != DP_BF16 && bias->dtype != DP_F16) || bias->n_dims != 2 || bias->shape[0] != E ||
               bias->shape[1] != out)) /* the released checkpoints store them bf16 */
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: unexpected bias shape", st->path, bias->name);
  static const char *PARTS[] = {"gate_proj", "up_proj", "down_proj"};
  for (uint64_t e = 0; e < E; e++) {
    for (int part = gate_up ? 0 : 2; part < (gate_up ? 2 : 3); part++) {
      uint64_t rows = gate_up ? out / 2 : out;
      uint64_t shape[2] = {rows, G * 32};
      char name[256];
      snprintf(name, sizeof name, "%s%llu.%s.weight", prefix, (unsigned long long)e, PARTS[part]);
      mf_view *v = dp_mf_add(mf, name, DP_MXFP4, 2, shape);
      if (!v) return DP_ERR_NOMEM;
      v->xform = MF_HF_MXFP4;
      v->src = src;
      v->off = blk->offset;
      v->off_scales = sc->offset;
      v->rowmap = MF_ROWS_STRIDE;
      v->row_step = gate_up ? 2 : 1;
      v->row_first = e * out + (part == 1);
      if (bias) {
        snprintf(name, sizeof name, "%s%llu.%s.bias", prefix, (unsigned long long)e, PARTS[part]);
        uint64_t bs[1] = {rows};
        mf_view *b = dp_mf_add(mf, name, bias->dtype, 1, bs);
        if (!b) return DP_ERR_NOMEM;
        /* one f32 per "row" so the stride machinery picks every other element */
        b->src = src;
        b->off = bias->offset;
        b->rowmap = MF_ROWS_STRIDE;
        b->row_step = gate_up ? 2 : 1;
        b->row_first = e * out + (part == 1);
      }
    }
  }
  return DP_OK;
}

/* Gemma3ForConditionalGeneration: the text model's tensors are presented under the names of
 * Gemma3ForCausalLM -- `model.language_model.X` (transformers >= 4.52) and the hub files'
 * `language_model.model.X` as `model.X`, `language_model.lm_head.weight` as `lm_head.weight`;
 * the vision tower and the multimodal projector are no part of the text model: NULL (skipped).
 * Other names are returned unchanged. buf holds the renamed name. */
static const char *text_name(const dp_hparams *hp, const char *n, char *buf, size_t cap) {
  if (hp->arch != DP_ARCH_GEMMA3) return n;
  static const char *const skip[] = {"vision_tower.", "model.vision_tower.", "multi_modal_projector.", "model.multi_modal_projector."};
  for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
    if (!strncmp(n, skip[i], strlen(skip[i]))) return NULL;
  static const struct { const char *from, *to; } R[] = {
    {"model.language_model.", "model."}, {"language_model.model.", "model."}, {"language_model.lm_head.", "lm_head."}};
  for (size_t i = 0; i < sizeof R / sizeof *R; i++)
    if (!strncmp(n, R[i].from, strlen(R[i].from)) && snprintf(buf, cap, "%s%s", R[i].to, n + strlen(R[i].from)) < (int)cap) return buf;
  return n;
}

static dp_status add_st_tensors(dp_model_file *mf, int src, const dp_safetensors *st, const dp_json *weight_map, const char *fname) {
  for (size_t i = 0; i < st->n; i++) {
    const dp_st_tensor *t = &st->t[i];
    size_t L = strlen(t->name);
    if (weight_map) {
      const char *f = dp_json_get_str(weight_map, t->name, NULL);
      if (!f || strcmp(f, fname)) continue;
    }
    if (L >= 19 && !strcmp(t->name + L - 19, "rotary_emb.inv_freq")) continue;
    const char *ex = strstr(t->name, ".mlp.experts.");
    if (mf->hp.arch == DP_ARCH_GPTOSS && ex) {
      char prefix[200], proj[32];
      size_t pl = (size_t)(ex - t->name) + 13;
      if (pl >= sizeof prefix) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: name too long", st->path, t->name);
      memcpy(prefix, t->name, pl);
      prefix[pl] = 0;
      const char *rest = t->name + pl;
      if (!strcmp(rest, "gate_up_proj_blocks") || !strcmp(rest, "down_proj_blocks")) {
        snprintf(proj, sizeof proj, "%.*s", (int)(strlen(rest) - 7), rest);
        dp_status s = add_gptoss_experts(mf, src, st, t, prefix, proj);
        if (s) return s;
        continue;
      }
      if (strstr(rest, "_scales") || strstr(rest, "_bias")) continue; /* consumed with _blocks */
      return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: only MXFP4-packed gpt-oss experts are supported", st->path, t->name);
    }
    char renamed[256];
    const char *name = text_name(&mf->hp, t->name, renamed, sizeof renamed);
    if (!name) continue;
    mf_view *v = dp_mf_add(mf, name, t->dtype, t->n_dims, t->shape);
    if (!v) return DP_ERR_NOMEM;
    v->src = src;
    v->off = t->offset;
  }
  return DP_OK;
}

static dp_status open_hf(const char *dir, dp_model_file *mf) {
  char *p = dp_path_join(dir, "config.json");
  if (!p) return DP_ERR_NOMEM;
  dp_json_doc *cfg = dp_json_parse_file(p);
  dp_status st = cfg ? dp_hparams_from_hf_config(dp_json_root(cfg), p, &mf->hp) : dp_json_fail_status();
  dp_free(p);
  if (cfg) dp_json_free(cfg);
  if (st) return st;
  if (!(p = dp_path_join(dir, "tokenizer.json"))) return DP_ERR_NOMEM;
  if (dp_file_exists(p)) mf->tokenizer_json = p; else dp_free(p);

  char *idx = dp_path_join(dir, "model.safetensors.index.json");
  if (!idx) return DP_ERR_NOMEM;
  dp_json_doc *index = NULL;
  const dp_json *wm = NULL;
  if (dp_file_exists(idx)) {
    if (!(index = dp_json_parse_file(idx))) { dp_free(idx); return dp_json_fail_status(); }
    wm = dp_json_get(dp_json_root(index), "weight_map");
    if (!dp_json_is(wm, DP_JSON_OBJECT) || !wm->n) st = dp_error(DP_ERR_FORMAT, "%s: field weight_map: missing or empty", idx);
  }
  /* the file list: the index's distinct values in first-seen order, or model.safetensors */
  const char **files = dp_calloc(wm ? wm->n : 1, sizeof *files);
  size_t nf = 0;
  if (!files) st = DP_ERR_NOMEM;
  if (!st && !wm) files[nf++] = "model.safetensors";
  for (uint32_t i = 0; !st && wm && i < wm->n; i++) {
    const char *f = dp_json_str(&wm->u.items[i], NULL);
    if (!f || !name_ok(f)) { st = dp_error(DP_ERR_FORMAT, "%s: tensor %s: bad shard file name", idx, wm->keys[i]); break; }
    size_t k = 0;
    while (k < nf && strcmp(files[k], f)) k++;
    if (k == nf) files[nf++] = f;
  }
  size_t listed = 0;
  for (size_t k = 0; !st && k < nf; k++) {
    char *fp = dp_path_join(dir, files[k]);
    if (!fp) { st = DP_ERR_NOMEM; break; }
    if (!(st = dp_mf_add_source(mf, fp))) {
      dp_safetensors sf = {0};
      sf.path = fp;
      size_t before = mf->n;
      st = dp_safetensors_parse(mf->srcs[mf->n_srcs - 1].map.data, mf->srcs[mf->n_srcs - 1].map.size, fp, &sf);
      if (!st) st = add_st_tensors(mf, (int)mf->n_srcs - 1, &sf, wm, files[k]);
      if (!st && wm)
        for (size_t i = 0; i < sf.n; i++) {
          const char *f = dp_json_get_str(wm, sf.t[i].name, NULL);
          if (f && !strcmp(f, files[k])) listed++;
        }
      (void)before;
      for (size_t i = 0; i < sf.n; i++) dp_free(sf.t[i].name);
      dp_free(sf.t);
    }
    dp_free(fp);
  }
  if (!st && wm && listed != wm->n) {
    for (uint32_t i = 0; i < wm->n; i++) {
      char renamed[256];
      const char *key = text_name(&mf->hp, wm->keys[i], renamed, sizeof renamed);
      int found = !key; /* skipped (vision tower) */
      for (size_t k = 0; k < mf->n && !found; k++) found = !strcmp(mf->v[k].info.name, key);
      if (!found && !strstr(wm->keys[i], "_scales") && !strstr(wm->keys[i], "_blocks") && !strstr(wm->keys[i], "_bias") &&
          !strstr(wm->keys[i], "inv_freq")) {
        st = dp_error(DP_ERR_FORMAT, "%s: tensor %s: listed in the index but not found in %s", idx, wm->keys[i],
                      dp_json_get_str(wm, wm->keys[i], "?"));
        break;
      }
    }
  }
  dp_free(files);
  if (index) dp_json_free(index);
  dp_free(idx);
  if (st) return st;
  return dp_mf_finish(mf);
}

/* A file inside a model directory (config.json, manifest.json, model.safetensors, a shard...)
 * stands for the directory, unless it is a .gguf file: *dir = the directory (dp_free), or NULL. */
static dp_status model_dir_of(const char *path, char **dir) {
  *dir = NULL;
  size_t n = strlen(path);
  if (n >= 5 && !strcmp(path + n - 5, ".gguf")) return DP_OK;
  const char *slash = strrchr(path, '/');
  char *d = slash ? dp_strndup(path, slash > path ? (size_t)(slash - path) : 1) : dp_strndup(".", 1);
  char *m = d ? dp_path_join(d, "manifest.json") : NULL, *c = d ? dp_path_join(d, "config.json") : NULL;
  dp_status st = d && m && c ? DP_OK : DP_ERR_NOMEM;
  if (!st && (dp_file_exists(m) || dp_file_exists(c))) *dir = d, d = NULL;
  dp_free(m), dp_free(c), dp_free(d);
  return st;
}

dp_status dp_model_file_open(const char *path, dp_model_file **out) {
  *out = NULL;
  if (!dp_is_dir(path)) {
    char *dir = NULL;
    dp_status st = dp_file_exists(path) ? model_dir_of(path, &dir) : DP_OK;
    if (dir) st = dp_model_file_open(dir, out);
    dp_free(dir);
    if (st || *out) return st;
    if (dp_file_exists(path)) return dp_model_file_open_gguf(path, out);
    return dp_error(DP_ERR_IO, "%s: no such file or directory", path);
  }
  char *man = dp_path_join(path, "manifest.json");
  if (!man) return DP_ERR_NOMEM;
  int is_rdrr = dp_file_exists(man);
  dp_free(man);
  if (is_rdrr) return dp_model_file_open_rdrr(path, out);
  dp_model_file *mf = dp_mf_new("hf", path);
  if (!mf) return DP_ERR_NOMEM;
  dp_status st = open_hf(path, mf);
  if (st) { dp_model_file_close(mf); return st; }
  *out = mf;
  return DP_OK;
}
