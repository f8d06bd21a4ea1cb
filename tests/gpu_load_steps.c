/* gpu_load_steps.c -- resumable model loading (doppler.h dp_load_*) with the model's files
 * supplied by the host, the way the browser loads over HTTP / OPFS:
 * * doppler-tiny converted to RDRR with 1 MiB shards (so pieces cross shard ends): the loader
 *   asks for manifest.json, tokenizer.json, tokenizer_config.json (whole), then shard ranges
 *   of at most 4 MiB, each inside one shard; the host answers from the files; progress ends at
 *   done == total; the model's weight bytes, logits equal dp_model_load's of the
 *   same folder bit for bit, and so do greedy tokens and the tokenizer's ids;
 * * no blocking GPU wait during a supplied load (drains are the host's);
 * * resumable logits (dp_logits_*): the rows of dp_session_eval, bit for bit, without a wait,
 *   then greedy decode continues from them as after dp_session_eval;
 * * errors: a wrong byte count, a missing manifest, a malformed manifest (named), an abandoned
 *   load (DP_ERR_CANCELLED), a supply without an open request; nothing leaks (ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "doppler.h"
#include "testlib.h"
#include "tools/convert.h"

typedef struct host_stats { int reads, drains, wholes, max_piece_over; uint64_t max_len; } host_stats;

/* The host: serve each request from folder dir. */
static dp_status load_supplied(const char *dir, dp_model **out, host_stats *hs) {
  dp_load *l;
  dp_status st = dp_load_begin(NULL, NULL, &l);
  if (st) return st;
  dp_load_request r;
  uint64_t waits0 = dp_gpu_wait_count(dp_load_gpu(l));
  while (!st && dp_load_next(l, &r)) {
    if (r.drain) { hs->drains++; st = dp_load_drain(l); continue; }
    char *p = dp_path_join(dir, r.file);
    if (r.whole) {
      hs->wholes++;
      char *text = NULL;
      size_t n = 0;
      if (!dp_file_exists(p)) st = dp_load_supply(l, NULL, 0);
      else if (!(st = dp_file_read_all(p, &text, &n))) st = dp_load_supply(l, text, n);
      dp_free(text);
    } else {
      hs->reads++;
      if (r.length > hs->max_len) hs->max_len = r.length;
      uint64_t size = 0;
      dp_file_size(p, &size);
      if (r.offset + r.length > size) hs->max_piece_over++;
      uint8_t *b = dp_malloc((size_t)r.length);
      FILE *f = fopen(p, "rb");
      st = f && b ? dp_file_pread(f, p, r.offset, b, (size_t)r.length) : DP_ERR_IO;
      if (!st) st = dp_load_supply(l, b, r.length);
      if (f) fclose(f);
      dp_free(b);
    }
    dp_free(p);
  }
  uint64_t done, total;
  dp_load_progress(l, &done, &total);
  CHECK(done == total && total > 0, "progress %llu of %llu", (unsigned long long)done, (unsigned long long)total);
  CHECK(dp_gpu_wait_count(dp_load_gpu(l)) - waits0 == (uint64_t)hs->drains, "the loader itself waited for the GPU");
  dp_status fs = dp_load_finish(l, out);
  if (!st) st = fs;
  return st;
}

static void compare_models(dp_model *a, dp_model *b) {
  static const int32_t ids[] = {1, 415, 2083, 300, 17, 4000};
  size_t n = sizeof ids / sizeof *ids;
  dp_model_info ia, ib;
  dp_model_get_info(a, &ia);
  dp_model_get_info(b, &ib);
  size_t V = (size_t)ia.vocab_size;
  CHECK(ia.vocab_size == ib.vocab_size && ia.n_layers == ib.n_layers && ia.has_tokenizer && ib.has_tokenizer &&
            ia.bos_id == ib.bos_id && ia.add_bos == ib.add_bos && !strcmp(ia.arch, ib.arch) &&
            ia.weight_bytes == ib.weight_bytes && ia.weight_bytes > 0,
        "model info differs");
  float *la = malloc(n * V * sizeof *la), *lb = malloc(n * V * sizeof *lb);
  dp_session *sa = NULL, *sb = NULL;
  dp_status st = dp_session_create(a, NULL, &sa);
  if (!st) st = dp_session_create(b, NULL, &sb);
  if (!st) st = dp_session_eval(sa, ids, n, la);
  if (!st) st = dp_session_eval(sb, ids, n, lb);
  CHECK(!st, "eval: %s", dp_error_message());
  if (!st) CHECK(!memcmp(la, lb, n * V * sizeof *la), "logits of the supplied load differ from dp_model_load's");
  /* resumable logits: the same rows as dp_session_eval, no blocking wait until dp_logits_wait */
  if (!st) {
    dp_session_reset(sa);
    float *lc = malloc(n * V * sizeof *lc);
    memset(lc, 0xff, n * V * sizeof *lc);
    dp_logits *r = NULL;
    uint64_t w0 = dp_gpu_wait_count(a->gpu);
    st = dp_logits_start(sa, ids, n, &r);
    CHECK(!st && dp_gpu_wait_count(a->gpu) == w0, "dp_logits_start waited or failed: %s", dp_error_message());
    while (!st && !dp_logits_poll(r)) {}
    if (!st) st = dp_logits_finish(r, lc);
    CHECK(!st && !memcmp(lc, la, n * V * sizeof *lc), "dp_logits_* rows differ from dp_session_eval's: %s", dp_error_message());
    CHECK(dp_session_position(sa) == (int)n, "position %d after dp_logits of %zu ids", dp_session_position(sa), n);
    CHECK(dp_session_logits_rows(sa) >= (int)n, "logits rows %d", dp_session_logits_rows(sa));
    st = dp_logits_start(sa, ids, (size_t)dp_session_logits_rows(sa) + 1, &r);
    CHECK(st == DP_ERR_INVALID_ARG, "too many rows accepted");
    st = DP_OK;
    free(lc);
  }
  int32_t ga[16], gb[16];
  if (!st) st = dp_session_greedy(sa, 16, ga, NULL);
  if (!st) st = dp_session_greedy(sb, 16, gb, NULL);
  CHECK(!st && !memcmp(ga, gb, sizeof ga), "greedy ids differ: %s", st ? dp_error_message() : "");
  int32_t ta[64], tb[64];
  size_t na = 0, nb = 0;
  st = dp_tokenize(a, "The jury said", -1, ta, 64, &na);
  if (!st) st = dp_tokenize(b, "The jury said", -1, tb, 64, &nb);
  CHECK(!st && na == nb && !memcmp(ta, tb, na * sizeof *ta), "tokenizer ids differ");
  dp_session_free(sa);
  dp_session_free(sb);
  free(la);
  free(lb);
}

static void error_cases(const char *dir) {
  dp_load *l;
  dp_load_request r;
  dp_model *m = (dp_model *)1;
  /* a supply without an open request, then an abandoned load */
  dp_status st = dp_load_begin(NULL, NULL, &l);
  CHECK(!st, "begin: %s", dp_error_message());
  if (st) return;
  st = dp_load_supply(l, "x", 1);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "no request is open"), "supply first: %d %s", st, dp_error_message());
  CHECK(dp_load_next(l, &r) && r.whole && !strcmp(r.file, "manifest.json") && !r.optional, "first request: %s", r.file);
  st = dp_load_finish(l, &m);
  CHECK(st == DP_ERR_CANCELLED && m == NULL, "abandoned load: %d %s", st, dp_error_message());
  /* a missing manifest */
  dp_load_begin(NULL, NULL, &l);
  dp_load_next(l, &r);
  st = dp_load_supply(l, NULL, 0);
  CHECK(st == DP_ERR_NOT_FOUND && strstr(dp_error_message(), "manifest.json"), "missing manifest: %s", dp_error_message());
  CHECK(!dp_load_next(l, &r), "a failed load asks for more");
  st = dp_load_finish(l, &m);
  CHECK(st == DP_ERR_NOT_FOUND && strstr(dp_error_message(), "manifest.json: missing"), "finish after failure: %s", dp_error_message());
  /* a malformed manifest */
  const char *bad = "{\"format\": \"rdrr\", \"version\": 1, \"shards\": 3}";
  dp_load_begin(NULL, NULL, &l);
  dp_load_next(l, &r);
  st = dp_load_supply(l, bad, strlen(bad));
  CHECK(st == DP_ERR_FORMAT && strstr(dp_error_message(), "shards"), "bad manifest: %s", dp_error_message());
  dp_load_finish(l, &m);
  /* a wrong byte count for a shard range */
  dp_load_begin(NULL, NULL, &l);
  st = DP_OK;
  int wrong = 0;
  while (!st && dp_load_next(l, &r)) {
    if (r.drain) { st = dp_load_drain(l); continue; }
    char *p = dp_path_join(dir, r.file), *text = NULL;
    size_t n = 0;
    if (r.whole) {
      st = dp_file_exists(p) ? dp_file_read_all(p, &text, &n) : DP_OK;
      if (!st) st = dp_load_supply(l, text, n);
    } else {
      uint8_t *b = calloc(1, (size_t)r.length + 8);
      st = dp_load_supply(l, b, r.length - 4);
      wrong = st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "bytes supplied for a request of");
      free(b);
    }
    dp_free(text);
    dp_free(p);
  }
  CHECK(wrong, "a short piece was not refused: %s", dp_error_message());
  st = dp_load_finish(l, &m);
  CHECK(st == DP_ERR_INVALID_ARG && m == NULL, "finish after a short piece: %d", st);
}

int main(void) {
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/dp_load_steps_%d", (int)getpid());
  dp_convert_opts co = {0};
  co.shard_size = 1u << 20;
  dp_status st = dp_convert(dp_test_shared("models/doppler-tiny"), dir, &co);
  CHECK(!st, "convert: %s", dp_error_message());
  if (st) return dp_test_summary("gpu_load_steps");
  dp_model *local = NULL, *sup = NULL;
  st = dp_model_load(dir, NULL, &local);
  CHECK(!st, "dp_model_load: %s", dp_error_message());
  host_stats hs = {0};
  dp_status st2 = load_supplied(dir, &sup, &hs);
  CHECK(!st2, "supplied load: %s", dp_error_message());
  CHECK(hs.wholes == 3, "%d whole-file requests (manifest, tokenizer, config)", hs.wholes);
  CHECK(hs.reads > 12 && hs.max_len <= (4u << 20) && !hs.max_piece_over, "%d reads, longest %llu, %d past a shard's end",
        hs.reads, (unsigned long long)hs.max_len, hs.max_piece_over);
  if (!st && !st2) compare_models(local, sup);
  dp_model_free(local);
  dp_model_free(sup);
  error_cases(dir);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0, "cleanup");
  return dp_test_summary("gpu_load_steps");
}
