/* rdrr_write.c -- streaming RDRR writer (see rdrr.h): tensors are appended in order, padded to
 * 256 bytes, cut into shards of shard_size bytes (a tensor may continue in the next shard),
 * each shard hashed with SHA-256 as it is written; manifest.json is written last. Called by
 * the converter; depends on core (sha256, buf, file). Output is deterministic. */
#include "tools/rdrr_write.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/sha256.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct shard_rec { uint64_t size; char sha[65]; } shard_rec;

struct dp_rdrr_writer {
  char *dir;
  uint64_t shard_size;
  FILE *f;             /* current shard */
  uint64_t fill;       /* bytes in the current shard */
  dp_sha256 h;
  shard_rec *shards;
  size_t n_shards;
  dp_buf tensors;      /* JSON entries */
  size_t n_tensors;
  uint64_t remaining;  /* bytes still owed to the current tensor */
  char *cur;           /* current tensor name */
};

static dp_status open_shard(dp_rdrr_writer *w) {
  char name[32];
  snprintf(name, sizeof name, "shard_%05zu.bin", w->n_shards);
  char *p = dp_path_join(w->dir, name);
  if (!p) return DP_ERR_NOMEM;
  w->f = fopen(p, "wb");
  dp_status st = w->f ? DP_OK : dp_error(DP_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
  dp_free(p);
  if (st) return st;
  shard_rec *ns = dp_realloc(w->shards, (w->n_shards + 1) * sizeof *ns);
  if (!ns) return DP_ERR_NOMEM;
  w->shards = ns;
  w->n_shards++;
  w->fill = 0;
  dp_sha256_init(&w->h);
  return DP_OK;
}

static dp_status close_shard(dp_rdrr_writer *w) {
  if (!w->f) return DP_OK;
  shard_rec *s = &w->shards[w->n_shards - 1];
  uint8_t d[32];
  dp_sha256_final(&w->h, d);
  dp_sha256_to_hex(d, s->sha);
  s->size = w->fill;
  int bad = fflush(w->f) != 0;
  bad |= fclose(w->f) != 0;
  w->f = NULL;
  if (bad) return dp_error(DP_ERR_IO, "%s: shard %zu: write failed", w->dir, w->n_shards - 1);
  return DP_OK;
}

/* Append raw bytes (tensor data or padding), cutting shards. */
static dp_status put(dp_rdrr_writer *w, const void *p, uint64_t n) {
  const uint8_t *b = p;
  while (n) {
    if (!w->f || w->fill == w->shard_size) {
      dp_status st = close_shard(w);
      if (st || (st = open_shard(w))) return st;
    }
    uint64_t k = w->shard_size - w->fill < n ? w->shard_size - w->fill : n;
    if (fwrite(b, 1, (size_t)k, w->f) != k) return dp_error(DP_ERR_IO, "%s: shard %zu: write failed: %s", w->dir, w->n_shards - 1, strerror(errno));
    dp_sha256_update(&w->h, b, (size_t)k);
    w->fill += k, b += k, n -= k;
  }
  return DP_OK;
}

dp_status dp_rdrr_writer_open(const char *dir, uint64_t shard_size, dp_rdrr_writer **out) {
  if (!shard_size || shard_size % DP_RDRR_ALIGN) return dp_error(DP_ERR_INVALID_ARG, "shard size %llu is not a multiple of %d", (unsigned long long)shard_size, DP_RDRR_ALIGN);
  dp_rdrr_writer *w = dp_calloc(1, sizeof *w);
  if (!w) return DP_ERR_NOMEM;
  if (!(w->dir = dp_strdup(dir))) { dp_free(w); return DP_ERR_NOMEM; }
  w->shard_size = shard_size;
  *out = w;
  return DP_OK;
}

dp_status dp_rdrr_writer_begin(dp_rdrr_writer *w, const char *name, dp_dtype dt, int n_dims, const uint64_t *shape, uint64_t nbytes) {
  if (w->remaining) return dp_error(DP_ERR_INTERNAL, "rdrr writer: tensor %s: %llu bytes missing", w->cur, (unsigned long long)w->remaining);
  static const uint8_t zero[DP_RDRR_ALIGN];
  if (w->f && w->fill % DP_RDRR_ALIGN) {
    dp_status st = put(w, zero, DP_RDRR_ALIGN - w->fill % DP_RDRR_ALIGN);
    if (st) return st;
  }
  if (w->f && w->fill == w->shard_size) { /* start in a fresh shard */
    dp_status st = close_shard(w);
    if (st || (st = open_shard(w))) return st;
  }
  if (!w->f) { dp_status st = open_shard(w); if (st) return st; }
  dp_buf *b = &w->tensors;
  dp_buf_puts(b, w->n_tensors ? ",\n    {\"name\": " : "\n    {\"name\": ");
  dp_buf_json_string(b, name, strlen(name));
  dp_buf_printf(b, ", \"dtype\": \"%s\", \"shape\": [", dp_dtype_name(dt));
  for (int i = 0; i < n_dims; i++) dp_buf_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
  dp_buf_printf(b, "], \"shard\": %zu, \"offset\": %llu, \"size\": %llu, \"layout\": \"%s\"", w->n_shards - 1,
                (unsigned long long)w->fill, (unsigned long long)nbytes, DP_RDRR_LAYOUT_GGUF);
  int layer, expert, n = 0;
  const char *ex = strstr(name, ".experts.");
  if (sscanf(name, "model.layers.%d.%n", &layer, &n) == 1 && n) dp_buf_printf(b, ", \"layer\": %d", layer);
  if (ex && sscanf(ex, ".experts.%d.", &expert) == 1) dp_buf_printf(b, ", \"expert\": %d", expert);
  dp_buf_puts(b, "}");
  if (b->failed) return DP_ERR_NOMEM;
  w->n_tensors++;
  w->remaining = nbytes;
  dp_free(w->cur);
  w->cur = dp_strdup(name);
  return w->cur ? DP_OK : DP_ERR_NOMEM;
}

dp_status dp_rdrr_writer_write(dp_rdrr_writer *w, const void *p, uint64_t n) {
  if (n > w->remaining) return dp_error(DP_ERR_INTERNAL, "rdrr writer: tensor %s: %llu bytes too many", w->cur ? w->cur : "?", (unsigned long long)(n - w->remaining));
  w->remaining -= n;
  return put(w, p, n);
}

static void writer_free(dp_rdrr_writer *w) {
  if (w->f) fclose(w->f);
  dp_buf_free(&w->tensors);
  dp_free(w->shards);
  dp_free(w->cur);
  dp_free(w->dir);
  dp_free(w);
}

dp_status dp_rdrr_writer_finish(dp_rdrr_writer *w, const char *fields) {
  dp_status st = w->remaining ? dp_error(DP_ERR_INTERNAL, "rdrr writer: tensor %s incomplete", w->cur) : DP_OK;
  if (!st) st = close_shard(w);
  dp_buf m = {0};
  if (!st) {
    dp_buf_printf(&m, "{\n  \"format\": \"rdrr\",\n  \"version\": %d,\n  %s,\n  \"shard_size\": %llu,\n  \"alignment\": %d,\n  \"shards\": [",
                  DP_RDRR_VERSION, fields, (unsigned long long)w->shard_size, DP_RDRR_ALIGN);
    for (size_t i = 0; i < w->n_shards; i++)
      dp_buf_printf(&m, "%s\n    {\"file\": \"shard_%05zu.bin\", \"size\": %llu, \"sha256\": \"%s\"}", i ? "," : "", i,
                    (unsigned long long)w->shards[i].size, w->shards[i].sha);
    dp_buf_printf(&m, "\n  ],\n  \"tensors\": [%s\n  ]\n}\n", w->tensors.data ? w->tensors.data : "");
    if (m.failed) st = DP_ERR_NOMEM;
  }
  if (!st) {
    char *p = dp_path_join(w->dir, "manifest.json");
    st = p ? dp_file_write_atomic(p, m.data, m.len) : DP_ERR_NOMEM;
    dp_free(p);
  }
  dp_buf_free(&m);
  writer_free(w);
  return st;
}

void dp_rdrr_writer_abort(dp_rdrr_writer *w) {
  if (w) writer_free(w);
}
