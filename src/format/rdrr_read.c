/* rdrr_read.c -- RDRR manifest validation and dp_model_file over an RDRR directory (see
 * rdrr.h). Every check names the file and, where there is one, the tensor: missing, extra or
 * truncated shard, tensor out of bounds, dtype/shape vs size, unknown layout at open; SHA-256
 * mismatch when a shard is first read (model_file.c src_verify; all shards at open with
 * DOPPLER_VERIFY=1, or dp_model_file_verify). Called by model_file.c, update-manifest and the
 * fuzzer; depends on core, hparams. */
#include "format/json_status.h"
#include "format/model_file_impl.h"
#include "format/rdrr.h"
#include "format/ranges.h"
#include "format/gguf.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_uint(const dp_json *v, uint64_t *out) {
  double x = dp_json_num(v, -1);
  if (!dp_json_is(v, DP_JSON_NUMBER) || x < 0 || x > 9.0e15 || x != (double)(uint64_t)x) return 0;
  *out = (uint64_t)x;
  return 1;
}

static dp_status check_tensor(const dp_json *shards, const dp_json *t, uint32_t i, uint64_t total, const char *what, dp_range *r);

/* Structure of the manifest: shards, alignment, every tensor (check_tensor), no two overlapping. */
static dp_status check_manifest(const dp_json *m, const char *what) {
  if (!dp_json_is(m, DP_JSON_OBJECT)) return dp_error(DP_ERR_FORMAT, "%s: not a JSON object", what);
  if (strcmp(dp_json_get_str(m, "format", ""), "rdrr")) return dp_error(DP_ERR_FORMAT, "%s: field format: not \"rdrr\"", what);
  uint64_t ver = 0;
  if (!is_uint(dp_json_get(m, "version"), &ver) || ver < 1) return dp_error(DP_ERR_FORMAT, "%s: field version: missing", what);
  if (ver > DP_RDRR_VERSION) return dp_error(DP_ERR_UNSUPPORTED, "%s: field version: %llu is newer than this build (%d)", what, (unsigned long long)ver, DP_RDRR_VERSION);
  const dp_json *shards = dp_json_get(m, "shards"), *tensors = dp_json_get(m, "tensors");
  if (!dp_json_is(shards, DP_JSON_ARRAY)) return dp_error(DP_ERR_FORMAT, "%s: field shards: missing", what);
  if (!dp_json_is(tensors, DP_JSON_ARRAY)) return dp_error(DP_ERR_FORMAT, "%s: field tensors: missing", what);
  uint64_t total = 0, sz;
  for (uint32_t i = 0; i < shards->n; i++) {
    const dp_json *s = dp_json_at(shards, i);
    char want[32];
    snprintf(want, sizeof want, "shard_%05u.bin", i);
    if (strcmp(dp_json_get_str(s, "file", ""), want)) return dp_error(DP_ERR_FORMAT, "%s: shards[%u]: file must be %s", what, i, want);
    if (!is_uint(dp_json_get(s, "size"), &sz) || sz > (1ull << 60) - total) return dp_error(DP_ERR_FORMAT, "%s: shard %s: bad size", what, want);
    const char *h = dp_json_get_str(s, "sha256", "");
    if (strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64) return dp_error(DP_ERR_FORMAT, "%s: shard %s: bad sha256", what, want);
    total += sz;
  }
  uint64_t align = 0;
  if (!is_uint(dp_json_get(m, "alignment"), &align) || align != DP_RDRR_ALIGN)
    return dp_error(DP_ERR_FORMAT, "%s: field alignment: must be %d", what, DP_RDRR_ALIGN);
  dp_range *rg = dp_malloc((tensors->n ? tensors->n : 1) * sizeof *rg);
  if (!rg) return DP_ERR_NOMEM;
  dp_status st = DP_OK;
  for (uint32_t i = 0; i < tensors->n && !st; i++) st = check_tensor(shards, dp_json_at(tensors, i), i, total, what, &rg[i]);
  if (!st) st = dp_ranges_disjoint(rg, tensors->n, what);
  dp_free(rg);
  return st;
}

/* One tensor entry: name, dtype, shape agreeing with size, inside the shards, aligned; its
 * range in the shards' address space goes to *r. */
static dp_status check_tensor(const dp_json *shards, const dp_json *t, uint32_t i, uint64_t total, const char *what, dp_range *r) {
  uint64_t sz;
  const char *name = dp_json_get_str(t, "name", NULL);
  if (!name || !*name) return dp_error(DP_ERR_FORMAT, "%s: tensors[%u]: missing name", what, i);
  dp_dtype dt;
  if (dp_dtype_from_name(dp_json_get_str(t, "dtype", ""), &dt))
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: unknown dtype \"%s\"", what, name, dp_json_get_str(t, "dtype", ""));
  const dp_json *shape = dp_json_get(t, "shape");
  if (!dp_json_is(shape, DP_JSON_ARRAY) || shape->n > 4) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bad shape", what, name);
  uint64_t elems = 1, d, last = 1;
  for (uint32_t k = 0; k < shape->n; k++) {
    if (!is_uint(dp_json_at(shape, k), &d) || (d && elems > (1ull << 50) / d)) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bad shape[%u]", what, name, k);
    elems *= d;
    last = d;
  }
  uint64_t v[3];
  static const char *const key[3] = {"shard", "offset", "size"};
  for (int k = 0; k < 3; k++) {
    const dp_json *f = dp_json_get(t, key[k]);
    if (!f) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: missing field %s", what, name, key[k]);
    if (!is_uint(f, &v[k]))
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: field %s: not a whole number in 0..9e15", what, name, key[k]);
  }
  uint64_t shard = v[0], off = v[1], size = v[2];
  uint64_t rb = dp_dtype_row_bytes(dt, last);
  if (rb == UINT64_MAX || (last ? rb * (elems / last) : 0) != size)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: dtype %s and shape do not match size %llu", what, name, dp_dtype_name(dt), (unsigned long long)size);
  if (shard >= shards->n) return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shard %llu does not exist", what, name, (unsigned long long)shard);
  uint64_t base = 0;
  for (uint64_t k = 0; k < shard; k++) { is_uint(dp_json_get(dp_json_at(shards, (size_t)k), "size"), &sz); base += sz; }
  is_uint(dp_json_get(dp_json_at(shards, (size_t)shard), "size"), &sz);
  if (off > sz || base + off + size > total)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: bytes [%llu, +%llu) of shard %llu out of bounds", what, name, (unsigned long long)off,
                    (unsigned long long)size, (unsigned long long)shard);
  if (off % DP_RDRR_ALIGN)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: offset %llu of shard %llu is not a multiple of %d", what, name, (unsigned long long)off,
                    (unsigned long long)shard, DP_RDRR_ALIGN);
  const char *layout = dp_json_get_str(t, "layout", "");
  if (strcmp(layout, DP_RDRR_LAYOUT_GGUF)) return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: unsupported layout \"%s\"", what, name, layout);
  *r = (dp_range){base + off, base + off + size, name};
  return DP_OK;
}

dp_status dp_rdrr_manifest_check(const char *text, size_t len, const char *what) {
  dp_json_doc *d = dp_json_parse(text, len, what);
  if (!d) return dp_json_fail_status();
  dp_status st = check_manifest(dp_json_root(d), what);
  dp_hparams hp;
  if (!st) st = dp_hparams_from_json(dp_json_get(dp_json_root(d), "hparams"), what, &hp);
  dp_json_free(d);
  return st;
}

static dp_status check_shard(dp_model_file *mf, const dp_json *s, size_t i) {
  char *p = dp_path_join(mf->path, dp_json_get_str(s, "file", ""));
  if (!p) return DP_ERR_NOMEM;
  uint64_t want = 0, have = 0;
  is_uint(dp_json_get(s, "size"), &want);
  dp_status st = DP_OK;
  if (!dp_file_exists(p)) st = dp_error(DP_ERR_FORMAT, "%s: missing shard", p);
  else if ((st = dp_file_size(p, &have))) {}
  else if (have < want) st = dp_error(DP_ERR_FORMAT, "%s: truncated shard: %llu bytes, manifest says %llu", p, (unsigned long long)have, (unsigned long long)want);
  else if (have > want) st = dp_error(DP_ERR_FORMAT, "%s: shard size %llu, manifest says %llu", p, (unsigned long long)have, (unsigned long long)want);
  else if (!(st = dp_mf_add_source(mf, p))) /* hash checked on first read (model_file.c) */
    snprintf(mf->srcs[i].sha, sizeof mf->srcs[i].sha, "%s", dp_json_get_str(s, "sha256", ""));
  dp_free(p);
  return st;
}

static dp_status check_extra(const char *dir, size_t n_shards) {
  DIR *d = opendir(dir);
  if (!d) return dp_error(DP_ERR_IO, "%s: cannot list directory", dir);
  struct dirent *e;
  dp_status st = DP_OK;
  while ((e = readdir(d)) && !st) {
    unsigned k;
    int n = 0;
    if (sscanf(e->d_name, "shard_%u.bin%n", &k, &n) == 1 && n && !e->d_name[n] && k >= n_shards)
      st = dp_error(DP_ERR_FORMAT, "%s/%s: extra shard not listed in manifest.json", dir, e->d_name);
  }
  closedir(d);
  return st;
}

/* A supplied shard (no file): its size and hash from the manifest, bytes from the host. */
static dp_status add_supplied(dp_model_file *mf, const dp_json *s) {
  mf_source *ns = dp_realloc(mf->srcs, (mf->n_srcs + 1) * sizeof *ns);
  if (!ns) return DP_ERR_NOMEM;
  mf->srcs = ns;
  mf_source *src = &mf->srcs[mf->n_srcs];
  memset(src, 0, sizeof *src);
  if (!(src->path = dp_strdup(dp_json_get_str(s, "file", "")))) return DP_ERR_NOMEM;
  is_uint(dp_json_get(s, "size"), &src->map.size);
  snprintf(src->sha, sizeof src->sha, "%s", dp_json_get_str(s, "sha256", ""));
  src->supplied = 1;
  mf->n_srcs++;
  return DP_OK;
}

static dp_status open_rdrr(const char *dir, const char *text, size_t len, int supplied, dp_model_file **out);

dp_status dp_model_file_open_rdrr(const char *dir, dp_model_file **out) { return open_rdrr(dir, NULL, 0, 0, out); }

dp_status dp_rdrr_open_manifest(const char *dir, const char *text, size_t len, dp_model_file **out) {
  return open_rdrr(dir, text, len, 0, out);
}

dp_status dp_rdrr_open_supplied(const char *name, const char *text, size_t len, dp_model_file **out) {
  return open_rdrr(name, text, len, 1, out);
}

/* supplied: shards are sizes and hashes only (no directory to look at), no tokenizer files
 * are looked for (the loader asks the host for them). */
static dp_status open_rdrr(const char *dir, const char *text, size_t len, int supplied, dp_model_file **out) {
  dp_model_file *mf = dp_mf_new("rdrr", dir);
  if (!mf) return DP_ERR_NOMEM;
  mf->concat = 1;
  char *mp = dp_path_join(dir, "manifest.json");
  dp_status st = mp ? DP_OK : DP_ERR_NOMEM;
  if (!st && !(mf->manifest = text ? dp_json_parse(text, len, mp) : dp_json_parse_file(mp))) st = dp_json_fail_status();
  const dp_json *m = mf->manifest ? dp_json_root(mf->manifest) : NULL;
  if (!st) st = check_manifest(m, mp);
  if (!st) st = dp_hparams_from_json(dp_json_get(m, "hparams"), mp, &mf->hp);
  const dp_json *shards = dp_json_get(m, "shards"), *tensors = dp_json_get(m, "tensors");
  for (size_t i = 0; !st && i < dp_json_len(shards); i++)
    st = supplied ? add_supplied(mf, dp_json_at(shards, i)) : check_shard(mf, dp_json_at(shards, i), i);
  if (!st && !supplied) st = check_extra(dir, dp_json_len(shards));
  const char *ver = getenv("DOPPLER_VERIFY");
  if (!st && !supplied && ver && *ver && strcmp(ver, "0")) st = dp_model_file_verify(mf);
  uint64_t *base = st ? NULL : dp_calloc(mf->n_srcs + 1, sizeof *base);
  if (!st && !base) st = DP_ERR_NOMEM;
  for (size_t i = 0; !st && i < mf->n_srcs; i++) base[i + 1] = base[i] + mf->srcs[i].map.size;
  for (size_t i = 0; !st && i < dp_json_len(tensors); i++) {
    const dp_json *t = dp_json_at(tensors, i), *shape = dp_json_get(t, "shape");
    dp_dtype dt;
    dp_dtype_from_name(dp_json_get_str(t, "dtype", ""), &dt);
    uint64_t sh[4] = {0}, shard = 0, off = 0;
    for (uint32_t k = 0; k < shape->n; k++) is_uint(dp_json_at(shape, k), &sh[k]);
    is_uint(dp_json_get(t, "shard"), &shard);
    is_uint(dp_json_get(t, "offset"), &off);
    mf_view *v = dp_mf_add(mf, dp_json_get_str(t, "name", ""), dt, (int)shape->n, sh);
    if (!v) { st = DP_ERR_NOMEM; break; }
    v->off = base[shard] + off;
  }
  dp_free(base);
  if (!st) st = dp_mf_finish(mf);
  if (!st) mf->hints = dp_json_get(m, "hints");
  if (!st && !supplied) {
    char *tj = dp_path_join(dir, "tokenizer.json"), *tg = dp_path_join(dir, "tokenizer.gguf");
    if (!tj || !tg) st = DP_ERR_NOMEM;
    if (!st && dp_file_exists(tj)) { mf->tokenizer_json = tj; tj = NULL; }
    if (!st && dp_file_exists(tg)) st = dp_gguf_open(tg, &mf->gguf);
    dp_free(tj);
    dp_free(tg);
  }
  dp_free(mp);
  if (st) { dp_model_file_close(mf); return st; }
  *out = mf;
  return DP_OK;
}
