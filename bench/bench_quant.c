/* bench_quant.c -- CPU quantizer/dequantizer throughput (src/quant), one thread.
 * Reports MB/s of f32 input (quantize) or of f32 output (dequantize) for each format, and for
 * q4_k_m over a synthetic llama-shaped model (the real mix: dp_q4km_tensor_type per tensor).
 * Usage: bench_quant [seconds per case, default 1]. Targets (issue 3): f32->q8_0 >= 200 MB/s,
 * f32->q4_k_m >= 50 MB/s on one core. Figures go to notes/performance.md. */
#include "quant/quant.h"
#include "testlib.h" /* dp_test_fill_normal; dp_testlib is linked */
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { char name[64]; int layer; uint64_t rows, cols; int out; } bt; /* one weight matrix */

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 1.0;
  enum { N = 1 << 22 }; /* 4M floats = 16 MiB of input, past the caches */
  float *x = malloc((size_t)N * 4), *y = malloc((size_t)N * 4);
  uint8_t *q = malloc((size_t)N * 4);
  dp_test_fill_normal(x, N, 0.02f);
  static const dp_dtype T[] = {DP_F16, DP_BF16, DP_Q8_0, DP_Q4_K, DP_Q6_K, DP_MXFP4};
  printf("MB/s of f32 (CPU time; wall time in brackets)\n%-8s %22s %22s\n", "format", "quantize", "dequantize");
  for (int k = 0; k < 6; k++) {
    double c0 = dp_test_cpu_now(), w0 = dp_test_now(), tq, td, wq, wd;
    int reps = 0;
    do dp_quantize(T[k], x, q, N), reps++; while ((tq = dp_test_cpu_now() - c0) < secs);
    wq = dp_test_now() - w0;
    double mq = reps * (N * 4.0) / 1e6;
    c0 = dp_test_cpu_now(), w0 = dp_test_now();
    int repd = 0;
    do dp_dequantize(T[k], q, y, N), repd++; while ((td = dp_test_cpu_now() - c0) < secs);
    wd = dp_test_now() - w0;
    double md = repd * (N * 4.0) / 1e6;
    printf("%-8s %12.1f (%7.1f) %12.1f (%7.1f)\n", dp_dtype_name(T[k]), mq / tq, mq / wq, md / td, md / wd);
  }
  /* q4_k_m over a llama-shaped model: 8 layers, d 1024, 4 heads of 64 for k/v... (GQA), ff 2816,
   * vocab 8192, tied embedding (Q6_K) */
  const int L = 8, D = 1024, KV = 256, FF = 2816, V = 8192;
  bt ts[8 * 7 + 1];
  int nt = 0;
  ts[nt++] = (bt){"model.embed_tokens.weight", -1, V, D, 1};
  static const char *nm[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
  for (int l = 0; l < L; l++)
    for (int j = 0; j < 7; j++) {
      bt *t = &ts[nt++];
      snprintf(t->name, sizeof t->name, "model.layers.%d.%s.weight", l, nm[j]);
      t->layer = l, t->out = 0;
      t->rows = j == 1 || j == 2 ? KV : j == 4 || j == 5 ? FF : D;
      t->cols = j == 6 ? FF : D;
    }
  uint64_t total = 0, maxn = 0, n6 = 0;
  for (int i = 0; i < nt; i++) {
    uint64_t n = ts[i].rows * ts[i].cols;
    total += n, maxn = n > maxn ? n : maxn;
    n6 += dp_q4km_tensor_type(ts[i].name, ts[i].layer, L, ts[i].out, ts[i].cols) == DP_Q6_K ? n : 0;
  }
  float *w = malloc(maxn * 4);
  uint8_t *o = malloc(maxn * 4);
  dp_test_fill_normal(w, maxn, 0.02f);
  double t0 = dp_test_cpu_now(), w0 = dp_test_now();
  for (int i = 0; i < nt; i++) {
    uint64_t n = ts[i].rows * ts[i].cols;
    dp_quantize(dp_q4km_tensor_type(ts[i].name, ts[i].layer, L, ts[i].out, ts[i].cols), w, o, n);
  }
  double t = dp_test_cpu_now() - t0, wt = dp_test_now() - w0;
  printf("q4_k_m   %12.1f (%7.1f)   model of %.1f MB of f32, %.0f%% of it Q6_K, %.2f s CPU\n", total * 4.0 / t / 1e6,
         total * 4.0 / wt / 1e6, total * 4.0 / 1e6, 100.0 * n6 / total, t);
  free(x), free(y), free(q), free(w), free(o);
  return 0;
}
