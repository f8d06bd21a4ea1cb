/* cmd_perplexity.c -- `doppler perplexity MODEL --file F [--ctx 256] [--windows N]`
 * (or --ids F.i32, a little-endian int32 token stream): perplexity exactly as
 * ../shared/fixtures/README.md states it. The text is split on blank lines ("\n\n") into
 * documents, each encoded without special tokens; the stream is [BOS] doc [EOS] [BOS] doc
 * [EOS] ...; window w is stream[w*ctx : w*ctx + ctx + 1] (shorter at the end), scored from
 * an empty cache, predicting its tokens 1..n-1 (the negative log-likelihoods are computed on
 * the GPU, only they are read back). perplexity = exp(mean NLL). The last line printed is
 * `perplexity: <value>` with 4 decimals. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "doppler.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct stream { int32_t *ids; size_t n, cap; } stream;

static int push(stream *s, const int32_t *ids, size_t n) {
  if (s->n + n > s->cap) {
    size_t nc = (s->n + n) * 2 + 1024;
    int32_t *ni = realloc(s->ids, nc * sizeof *ni);
    if (!ni) return -1;
    s->ids = ni, s->cap = nc;
  }
  memcpy(s->ids + s->n, ids, n * sizeof *ids);
  s->n += n;
  return 0;
}

static dp_status build_stream(dp_model *m, const char *path, stream *out) {
  char *text;
  size_t len;
  dp_status st = dp_file_read_all(path, &text, &len);
  if (st) return st;
  dp_model_info mi;
  dp_model_get_info(m, &mi);
  if (mi.bos_id < 0 || mi.eos_id < 0) {
    dp_free(text);
    return dp_error(DP_ERR_UNSUPPORTED, "%s: the model's tokenizer has no BOS/EOS ids for the [BOS] doc [EOS] stream", path);
  }
  int32_t *ids = NULL;
  size_t cap = 0;
  for (char *doc = text; doc && !st;) {
    char *sep = strstr(doc, "\n\n");
    if (sep) *sep = 0;
    if (*doc) {
      size_t n = 0;
      st = dp_tokenize(m, doc, 0, ids, cap, &n);
      if (!st && n > cap) {
        free(ids);
        cap = n * 2;
        if (!(ids = malloc(cap * sizeof *ids))) st = DP_ERR_NOMEM;
        if (!st) st = dp_tokenize(m, doc, 0, ids, cap, &n);
      }
      int32_t b = mi.bos_id, e = mi.eos_id;
      if (!st && (push(out, &b, 1) || push(out, ids, n) || push(out, &e, 1))) st = DP_ERR_NOMEM;
    }
    doc = sep ? sep + 2 : NULL;
  }
  free(ids);
  dp_free(text);
  return st;
}

static dp_status read_ids(const char *path, stream *out) {
  char *data;
  size_t len;
  dp_status st = dp_file_read_all(path, &data, &len);
  if (st) return st;
  if (len % 4) { dp_free(data); return dp_error(DP_ERR_FORMAT, "%s: %zu bytes is not a whole number of int32 ids", path, len); }
  out->n = len / 4;
  out->ids = malloc((out->n ? out->n : 1) * sizeof *out->ids);
  if (!out->ids) { dp_free(data); return DP_ERR_NOMEM; }
  const uint8_t *p = (const uint8_t *)data;
  for (size_t i = 0; i < out->n; i++)
    out->ids[i] = (int32_t)((uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24);
  dp_free(data);
  return DP_OK;
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler perplexity MODEL (--file TEXT | --ids TOKENS.i32) [--ctx 256] [--windows N] [--adapter NAME] [--kernel NAME=FILE]\n"
             "       [--q4k-matmul fused|dequant] [--compute-precision f16|f32] [--matvec-input q8|f32] [--expert-budget N|SIZE] [--quiet]\n"
             "Documents are split on blank lines and joined as [BOS] doc [EOS] ...; windows of ctx predictions,\n"
             "each scored from an empty cache. --windows N scores only the first N windows (0 = all).\n"
             "stdout: only the last line `perplexity: X.XXXX`. stderr: progress (windows, running value, ETA)\n"
             "on a terminal, else one summary line at the end; --quiet: neither.\n"
             CLI_OVERRIDE_HELP CLI_EXPERT_HELP);
}

/* Progress on stderr: redrawn in place on a terminal, nothing until the summary otherwise. */
static void draw_progress(int w, int n_windows, size_t count, double sum, double t0) {
  double el = now_s() - t0, eta = w ? el / w * (n_windows - w) : 0;
  fprintf(stderr, "\rwindow %d/%d: running perplexity %.4f, %.0f tok/s, ETA %.0f s   ", w, n_windows, exp(sum / (double)count),
          (double)count / (el > 0 ? el : 1e-9), eta);
  fflush(stderr);
}

int cmd_perplexity(int argc, char **argv) {
  const char *model = NULL, *file = NULL, *ids_file = NULL;
  int ctx = 256, max_windows = 0, quiet = 0, npos = 0;
  cli_load ld = {0};
  cli_opt more[CLI_LOAD_OPTS];
  size_t n_more = cli_load_opts(&ld, more);
  const cli_opt opts[] = {
    {"--file", "-f", CLI_STR, &file, 0, 0, 0, NULL},
    {"--ids", NULL, CLI_STR, &ids_file, 0, 0, 0, NULL},
    {"--ctx", "-c", CLI_INT, &ctx, 1, 1 << 20, 0, NULL},
    {"--windows", NULL, CLI_INT, &max_windows, 0, INT_MAX, 0, NULL},
    {"--quiet", NULL, CLI_BOOL, &quiet, 0, 0, 0, NULL},
  };
  cli_spec sp = {"perplexity", opts, sizeof opts / sizeof *opts, more, n_more, &model, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  if (!model) return cli_usage_error("perplexity", "MODEL is required");
  if (!file == !ids_file) return cli_usage_error("perplexity", "one of --file and --ids is required");
  dp_model *m = NULL;
  dp_session *s = NULL;
  stream S = {0};
  double *nll = NULL;
  if ((rc = cli_load_model("perplexity", &ld, model, &m)) || (rc = cli_check_ctx("perplexity", m, ctx, 1))) {
    dp_model_free(m);
    cli_load_free(&ld);
    return rc;
  }
  dp_status st = DP_OK;
  dp_session_options so = {ctx + 1, 0};
  if (!st) st = dp_session_create(m, &so, &s);
  if (!st) st = file ? build_stream(m, file, &S) : read_ids(ids_file, &S);
  if (!st && S.n < 2) st = dp_error(DP_ERR_INVALID_ARG, "%s: fewer than 2 tokens to score", file ? file : ids_file);
  if (!st && !(nll = malloc((size_t)ctx * sizeof *nll))) st = dp_error(DP_ERR_NOMEM, "out of memory for %d scores", ctx);
  double sum = 0, t0 = now_s(), last = 0;
  size_t count = 0;
  size_t all = S.n > 1 ? (S.n - 2) / (size_t)ctx + 1 : 0; /* windows in the stream */
  int n_windows = max_windows > 0 && (size_t)max_windows < all ? max_windows : (int)all;
  int tty = !quiet && isatty(2), w = 0;
  for (; !st && w < n_windows; w++) {
    size_t start = (size_t)w * (size_t)ctx, n = S.n - start < (size_t)ctx + 1 ? S.n - start : (size_t)ctx + 1;
    st = dp_session_score(s, S.ids + start, n, nll);
    for (size_t i = 0; !st && i + 1 < n; i++) sum += nll[i];
    count += n - 1;
    if (!st && tty && (now_s() - last >= 0.2 || w + 1 == n_windows)) {
      draw_progress(w + 1, n_windows, count, sum, t0);
      last = now_s();
    }
  }
  if (tty && w) fputc('\n', stderr);
  if (!st) {
    double dt = now_s() - t0;
    if (!quiet) fprintf(stderr, "%d windows, %zu predictions in %.1f s (%.0f tok/s)\n", w, count, dt, (double)count / dt);
    printf("perplexity: %.4f\n", exp(sum / (double)count));
    rc = 0;
  } else {
    rc = cli_fail("perplexity");
  }
  free(nll);
  free(S.ids);
  dp_session_free(s);
  dp_model_free(m);
  cli_load_free(&ld);
  return rc;
}
