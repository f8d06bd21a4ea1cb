/* bench_batch.c -- aggregate decode throughput of continuous batching (doppler.h
 * dp_gen_resume_batch) at several batch sizes: B sessions of one model, each with its own
 * 8-token prompt, all started, then stepped together (one forward pass with B rows, one
 * submit and one read-back per token) until each has generated N tokens (greedy, EOS
 * ignored). Timed from the first batched step after every prefill completed to the last
 * token: aggregate tok/s = B * N / time, and per second of the process's CPU time (lavapipe's
 * threads included: steadier on a shared machine); median of R runs after one warm-up. For
 * reference, the single-session path (dp_generate_ids: 8 decode steps per submit; its CPU
 * figure includes the 8-token prefill) on one session.
 * Usage: bench_batch [MODEL [N [R [B,B,...]]]]  (defaults: ../shared/models/doppler-tiny, 64,
 * 3, 1,4,16); the adapter from $DOPPLER_ADAPTER. Figures: notes/performance.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "doppler.h"
#include "testlib.h"

#define MAXB 256

static void die(const char *what) {
  fprintf(stderr, "bench_batch: %s: %s\n", what, dp_error_message());
  exit(1);
}

/* One run: B sessions, N tokens each; returns aggregate decode tok/s (*cpu_ts: per CPU second). */
static double run_batch(dp_session **ss, int B, int N, const dp_generate_options *o, double *mean_rows, double *cpu_ts) {
  dp_gen *g[MAXB], *ready[MAXB];
  dp_status st[MAXB];
  for (int i = 0; i < B; i++) {
    int32_t prompt[8];
    for (int j = 0; j < 8; j++) prompt[j] = 5 + (i * 131 + j * 17) % 3000;
    dp_session_reset(ss[i]);
    if (dp_gen_start_ids(ss[i], prompt, 8, o, NULL, NULL, &g[i])) die("start");
  }
  for (int i = 0; i < B; i++)
    if (dp_gen_wait(g[i])) die("prefill");
  double t0 = dp_test_now(), c0 = dp_test_cpu_now(), rows_sum = 0;
  int steps = 0;
  for (;;) {
    int k = 0;
    for (int i = 0; i < B; i++)
      if (g[i] && dp_gen_pending(g[i])) {
        if (dp_gen_wait(g[i])) die("wait");
        ready[k++] = g[i];
      }
    if (!k) break;
    size_t rows = 0;
    if (dp_gen_resume_batch(ready, (size_t)k, st, &rows)) die("step");
    rows_sum += (double)rows, steps += rows > 0;
  }
  double t = dp_test_now() - t0;
  *cpu_ts = (double)B * N / (dp_test_cpu_now() - c0);
  for (int i = 0; i < B; i++) {
    dp_generate_stats s;
    if (dp_gen_finish(g[i], &s) || s.n_generated != N) die("finish");
  }
  *mean_rows = steps ? rows_sum / steps : 0;
  return (double)B * N / t;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : dp_test_shared("models/doppler-tiny");
  int N = argc > 2 ? atoi(argv[2]) : 64, R = argc > 3 ? atoi(argv[3]) : 3;
  int bs[16] = {1, 4, 16}, nb = 3;
  if (argc > 4) {
    nb = 0;
    for (char *p = argv[4]; *p && nb < 16;) {
      bs[nb++] = atoi(p);
      while (*p && *p != ',') p++;
      if (*p) p++;
    }
  }
  if (N < 1 || R < 1) { fprintf(stderr, "usage: bench_batch [MODEL [N [R [B,B,...]]]]\n"); return 2; }
  dp_model *m = NULL;
  if (dp_model_load(path, NULL, &m)) die("load");
  dp_model_info mi;
  dp_model_get_info(m, &mi);
  printf("model %s, adapter %s, %d tokens per session, median of %d runs\n", path, mi.adapter, N, R);
  int maxb = 1;
  for (int i = 0; i < nb; i++) {
    if (bs[i] < 1 || bs[i] > MAXB) { fprintf(stderr, "bench_batch: batch %d out of 1..%d\n", bs[i], MAXB); return 2; }
    if (bs[i] > maxb) maxb = bs[i];
  }
  dp_session **ss = calloc((size_t)maxb, sizeof *ss);
  dp_session_options so = {N + 16, 0};
  for (int i = 0; i < maxb; i++)
    if (dp_session_create(m, &so, &ss[i])) die("session");
  dp_generate_options o = dp_generate_defaults();
  o.max_tokens = N, o.sampling.temperature = 0, o.ignore_eos = 1;
  double ts[16], cs[16];
  { /* the single-session path for reference: 8 decode steps per submit */
    int32_t prompt[8] = {5, 22, 39, 56, 73, 90, 107, 124};
    for (int r = 0; r <= R; r++) {
      dp_generate_stats s;
      dp_session_reset(ss[0]);
      double c0 = dp_test_cpu_now();
      if (dp_generate_ids(ss[0], prompt, 8, &o, NULL, NULL, &s)) die("generate");
      if (r) ts[r - 1] = s.n_generated / (s.decode_ms / 1e3), cs[r - 1] = s.n_generated / (dp_test_cpu_now() - c0);
    }
    qsort(ts, (size_t)R, sizeof *ts, dp_test_cmp_double);
    qsort(cs, (size_t)R, sizeof *cs, dp_test_cmp_double);
    printf("| %-34s | %9s | %10s | %10s |\n| %-34s | --------: | ---------: | ---------: |\n", "test", "rows/step", "tok/s",
           "tok/cpu-s", "---");
    printf("| %-34s | %9d | %10.1f | %10.1f |\n", "dp_generate alone (8 steps/submit)", 1, ts[R / 2], cs[R / 2]);
  }
  for (int b = 0; b < nb; b++) {
    double rows = 0;
    for (int r = 0; r <= R; r++) {
      double c, t = run_batch(ss, bs[b], N, &o, &rows, &c);
      if (r) ts[r - 1] = t, cs[r - 1] = c;
    }
    qsort(ts, (size_t)R, sizeof *ts, dp_test_cmp_double);
    qsort(cs, (size_t)R, sizeof *cs, dp_test_cmp_double);
    char name[64];
    snprintf(name, sizeof name, "dp_gen_resume_batch, batch %d", bs[b]);
    printf("| %-34s | %9.1f | %10.1f | %10.1f |\n", name, rows, ts[R / 2], cs[R / 2]);
  }
  for (int i = 0; i < maxb; i++) dp_session_free(ss[i]);
  free(ss);
  dp_model_free(m);
  return 0;
}
