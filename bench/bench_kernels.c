/* bench_kernels.c -- matmul kernel timings at real model shapes, for the lent GPU (see
 * docs/device.md) and for lavapipe. For each weight type: y[M, N] = x[M, K] . W[N, K]^T with
 * N = 4096, K = 14336 (Llama-3-8B ffn_down), M = 1 (decode GEMV) and M = 512 (prefill GEMM).
 * Several weight copies rotate so repeated runs do not sit in the L2 cache; 4 warm-up runs,
 * then the median over batches of `reps` dispatches per submit, timed by wall clock around a
 * finished queue. Prints µs per matmul, effective GB/s (weight bytes / time) and TFLOP/s.
 * Usage: bench_kernels [N K [reps]]  (DOPPLER_ADAPTER picks the adapter). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/error.h"
#include "gpu/gpu.h"
#include "kernels/ops.h"
#include "quant/quant.h"
#include "testlib.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  uint32_t N = argc > 2 ? (uint32_t)atoi(argv[1]) : 4096, K = argc > 2 ? (uint32_t)atoi(argv[2]) : 14336;
  int reps = argc > 3 ? atoi(argv[3]) : 50;
  dp_gpu *g;
  dp_ops *o;
  if (dp_gpu_open(NULL, &g) || dp_ops_create(g, &o)) { fprintf(stderr, "bench_kernels: %s\n", dp_error_message()); return 1; }
  const dp_gpu_info *in = dp_gpu_get_info(g);
  printf("bench_kernels: %s (%s), N=%u K=%u, %d dispatches per submit\n", in->adapter, in->driver_choice, N, K, reps);
  int cpu = !strcmp(in->adapter_type, "cpu");
  dp_dtype types[] = {DP_F32, DP_F16, DP_BF16, DP_Q8_0, DP_Q4_K, DP_Q6_K, DP_MXFP4};
  uint32_t Ms[] = {1, 512};
  float *wf = malloc((size_t)N * K * 4);
  dp_test_fill_normal(wf, (size_t)N * K, 0.02f);
  printf("%-6s %5s %10s %10s %9s\n", "type", "M", "us", "GB/s", "TFLOP/s");
  for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
    dp_dtype t = types[ti];
    uint64_t wbytes = dp_dtype_row_bytes(t, K) * N;
    if (wbytes > in->max_storage_binding) { printf("%-6s skipped: %llu bytes > max binding\n", dp_dtype_name(t), (unsigned long long)wbytes); continue; }
    void *wq = malloc(wbytes + 4);
    if (dp_quantize(t, wf, wq, (uint64_t)N * K)) { printf("%s: %s\n", dp_dtype_name(t), dp_error_message()); return 1; }
    int copies = cpu ? 1 : (int)(200000000ull / wbytes + 1); /* > 50 MB L2 in rotation */
    if (copies > 8) copies = 8;
    dp_gpu_buffer *w[8];
    for (int c = 0; c < copies; c++) {
      dp_gpu_buffer_create(g, wbytes, "w", &w[c]);
      dp_gpu_buffer_write(g, w[c], 0, wq, wbytes & ~3ull);
    }
    for (size_t mi = 0; mi < 2; mi++) {
      uint32_t M = Ms[mi];
      if (cpu && M > 1) continue; /* software renderers: decode shape only */
      dp_gpu_buffer *x, *y;
      dp_gpu_buffer_create(g, (uint64_t)M * K * 4, "x", &x);
      dp_gpu_buffer_create(g, (uint64_t)M * N * 4, "y", &y);
      float *xf = malloc((size_t)M * K * 4);
      dp_test_fill_normal(xf, (size_t)M * K, 1);
      dp_gpu_buffer_write(g, x, 0, xf, (size_t)M * K * 4);
      int r = cpu ? 3 : (M > 1 ? reps / 5 + 1 : reps);
      double times[7];
      int batches = cpu ? 3 : 7;
      for (int b = -1; b < batches; b++) {
        dp_gpu_finish(g);
        double t0 = now();
        for (int i = 0; i < (b < 0 ? 4 : r); i++)
          if (dp_op_matmul(o, dp_view_of(y, 0), dp_view_of(x, 0), dp_view_of(w[i % copies], 0), t, (dp_view){0}, M, N, K, 0)) {
            printf("%s: %s\n", dp_dtype_name(t), dp_error_message());
            return 1;
          }
        if (dp_gpu_finish(g)) { printf("%s\n", dp_error_message()); return 1; }
        if (b >= 0) times[b] = (now() - t0) / r;
      }
      qsort(times, (size_t)batches, sizeof *times, cmp);
      double s = times[batches / 2];
      printf("%-6s %5u %10.2f %10.1f %9.2f\n", dp_dtype_name(t), M, s * 1e6, wbytes / s * 1e-9, 2.0 * M * N * K / s * 1e-12);
      fflush(stdout);
      dp_gpu_buffer_free(x);
      dp_gpu_buffer_free(y);
      free(xf);
    }
    for (int c = 0; c < copies; c++) dp_gpu_buffer_free(w[c]);
    free(wq);
  }
  free(wf);
  dp_ops_free(o);
  dp_gpu_close(g);
  return 0;
}
