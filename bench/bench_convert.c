/* bench_convert.c -- conversion speed in MB/s of f32 input: (1) the quantizers alone on 64 MiB
 * of random normal f32 rows (q8_0, q4_k, q6_k), (2) the whole converter (read, quantize, hash,
 * write shards) on doppler-tiny's f32 checkpoint to q8_0 and q4_k_m; each as MB/s of CPU time
 * (user + system) and of wall time. Issue 3's bar on the
 * 2-core dev machine: >= 200 MB/s to q8_0, >= 50 MB/s to q4_k_m. Results go to stdout;
 * figures are copied into notes/performance.md by hand. */
#include "testlib.h"
#include "core/alloc.h"
#include "tools/convert.h"
#include "quant/quant.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  size_t n = (64u << 20) / 4;
  float *x = malloc(n * 4);
  uint8_t *q = malloc(n * 2);
  dp_test_fill_normal(x, n, 0.02f);
  static const struct { dp_dtype t; const char *name; } Q[] = {{DP_Q8_0, "q8_0"}, {DP_Q4_K, "q4_k"}, {DP_Q6_K, "q6_k"}};
  for (int i = 0; i < 3; i++) {
    double t0 = dp_test_now(), c0 = dp_test_cpu_now();
    if (dp_quantize(Q[i].t, x, q, n)) { fprintf(stderr, "quantize failed\n"); return 1; }
    double dt = dp_test_now() - t0, dc = dp_test_cpu_now() - c0;
    printf("quantize f32 -> %-6s %8.1f MB/s CPU time, %8.1f MB/s wall  (64 MiB)\n", Q[i].name, n * 4 / 1e6 / dc, n * 4 / 1e6 / dt);
  }
  free(x), free(q);
  const char *src = argc > 1 ? argv[1] : dp_test_shared("models/doppler-tiny");
  char srcbuf[512];
  snprintf(srcbuf, sizeof srcbuf, "%s", src);
  static const char *C[] = {"q8_0", "q4_k_m"};
  for (int i = 0; i < 2; i++) {
    char out[128];
    snprintf(out, sizeof out, "/tmp/bench_convert_%ld_%s", (long)getpid(), C[i]);
    dp_convert_opts o = {.quant = C[i]};
    double best = 1e9, bestc = 1e9;
    for (int rep = 0; rep < 5; rep++) {
      double t0 = dp_test_now(), c0 = dp_test_cpu_now();
      if (dp_convert(srcbuf, out, &o)) { fprintf(stderr, "convert: %s\n", dp_error_message()); return 1; }
      double dt = dp_test_now() - t0, dc = dp_test_cpu_now() - c0;
      if (dt < best) best = dt;
      if (dc < bestc) bestc = dc;
    }
    printf("convert doppler-tiny (23.1 MB f32) -> %-6s %8.1f MB/s CPU time, %8.1f MB/s wall  (%.3f s CPU, %.3f s wall, best of 5)\n",
           C[i], 23.08 / bestc, 23.08 / best, bestc, best);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    if (system(cmd)) {}
  }
  return 0;
}
