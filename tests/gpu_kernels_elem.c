/* gpu_kernels_elem.c -- row and element-wise kernels against their CPU references
 * (src/ref/kernels_ref.c): rmsnorm (plain and (1 + w), in place), softmax, glu (SiLU,
 * GELU-tanh, in place), add (incl. a grid past 65535 workgroups), argmax (ties, NaNs, rows
 * past 65535). Random inputs, outputs poisoned with NaN patterns, both reduction paths. */
#include "gpu_kernels_util.h"
#include "ref/kernels_ref.h"

static void test_rmsnorm(int mode) {
  const struct { int rows, D; } sz[] = {{1, 1}, {3, 257}, {5, 4096}, {65600, 5}};
  for (size_t c = 0; c < sizeof sz / sizeof *sz; c++)
    for (int flags = 0; flags < 4; flags++) { /* bit 0: plus_one, bit 1: in place */
      int rows = sz[c].rows, D = sz[c].D, plus = flags & 1, inplace = flags & 2;
      if (rows > 10000 && (flags != 1 || mode + 1 < kt_n_modes())) continue; /* big grid: once */
      size_t n = (size_t)rows * D;
      float *x = kt_randn(n, 2), *w = kt_randn(D, 1), *ref = kt_alloc(n * 4), *out = kt_alloc(n * 4);
      dp_gpu_buffer *bx = kt_upload(x, n * 4), *bw = kt_upload(w, D * 4), *by = inplace ? bx : kt_buf(n * 4);
      dp_ref_rmsnorm(ref, x, w, rows, D, 1e-5f, plus);
      KT_OK(dp_op_rmsnorm(O, kv(by), kv(bx), kv(bw), rows, D, 1e-5f, plus ? DP_NORM_PLUS_ONE : 0));
      kt_read(by, out, n * 4);
      char what[96];
      snprintf(what, sizeof what, "rmsnorm rows=%d D=%d plus_one=%d inplace=%d sg=%d", rows, D, plus, !!inplace, mode);
      kt_check(what, out, ref, n, 1e-5);
      dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bw); if (!inplace) dp_gpu_buffer_free(by);
      free(x); free(w); free(ref); free(out);
    }
}

static void test_softmax(int mode) {
  const struct { int rows, n; } sz[] = {{1, 1}, {2, 1000}, {3, 50000}, {65600, 3}};
  for (size_t c = 0; c < sizeof sz / sizeof *sz; c++)
    for (int inplace = 0; inplace < 2; inplace++) {
      int rows = sz[c].rows, n = sz[c].n;
      if (rows > 10000 && (inplace || mode + 1 < kt_n_modes())) continue; /* big grid: once */
      size_t t = (size_t)rows * n;
      float *x = kt_randn(t, 4), *ref = kt_alloc(t * 4), *out = kt_alloc(t * 4);
      dp_gpu_buffer *bx = kt_upload(x, t * 4), *by = inplace ? bx : kt_buf(t * 4);
      dp_ref_softmax(ref, x, rows, n);
      KT_OK(dp_op_softmax(O, kv(by), kv(bx), rows, n));
      kt_read(by, out, t * 4);
      char what[96];
      snprintf(what, sizeof what, "softmax rows=%d n=%d inplace=%d sg=%d", rows, n, inplace, mode);
      kt_check(what, out, ref, t, 1e-5);
      dp_gpu_buffer_free(bx); if (!inplace) dp_gpu_buffer_free(by);
      free(x); free(ref); free(out);
    }
}

static void test_glu(void) {
  const int sizes[] = {1, 1000, 14337};
  for (int act = 0; act < 2; act++)
    for (size_t c = 0; c < 3; c++)
      for (int inplace = 0; inplace < 2; inplace++) {
        int n = sizes[c];
        float *g = kt_randn(n, 3), *u = kt_randn(n, 1), *ref = kt_alloc(n * 4), *out = kt_alloc(n * 4);
        g[0] = 60; /* large gate: tanh/exp must not overflow into NaN */
        if (n > 1) g[1] = -60;
        dp_gpu_buffer *bg = kt_upload(g, n * 4), *bu = kt_upload(u, n * 4), *by = inplace ? bg : kt_buf(n * 4);
        dp_ref_glu(ref, g, u, n, act);
        KT_OK(dp_op_glu(O, kv(by), kv(bg), kv(bu), n, act));
        kt_read(by, out, n * 4);
        char what[96];
        snprintf(what, sizeof what, "glu %s n=%d inplace=%d", act ? "gelu_tanh" : "silu", n, inplace);
        kt_check(what, out, ref, n, 1e-5);
        dp_gpu_buffer_free(bg); dp_gpu_buffer_free(bu); if (!inplace) dp_gpu_buffer_free(by);
        free(g); free(u); free(ref); free(out);
      }
}

static void test_add(void) {
  /* the last size needs more than 65535 workgroups of 256 (2-D grid) */
  const uint32_t sizes[] = {1, 1000, 65535u * 256u + 1000u};
  for (size_t c = 0; c < 3; c++)
    for (int inplace = 0; inplace < 2; inplace++) {
      uint32_t n = sizes[c];
      if (c == 2 && inplace) continue;
      float *a = kt_randn(n, 1), *b = kt_randn(n, 1), *ref = kt_alloc((size_t)n * 4), *out = kt_alloc((size_t)n * 4);
      dp_gpu_buffer *ba = kt_upload(a, (size_t)n * 4), *bb = kt_upload(b, (size_t)n * 4), *by = inplace ? ba : kt_buf((size_t)n * 4);
      dp_ref_add(ref, a, b, n);
      KT_OK(dp_op_add(O, kv(by), kv(ba), kv(bb), n));
      kt_read(by, out, (size_t)n * 4);
      char what[96];
      snprintf(what, sizeof what, "add n=%u inplace=%d", n, inplace);
      kt_check(what, out, ref, n, 1e-7);
      dp_gpu_buffer_free(ba); dp_gpu_buffer_free(bb); if (!inplace) dp_gpu_buffer_free(by);
      free(a); free(b); free(ref); free(out);
    }
}

static void test_argmax(int mode) {
  const struct { int rows, n; } sz[] = {{1, 1}, {4, 32001}, {2, 262145}, {65600, 3}};
  for (size_t c = 0; c < sizeof sz / sizeof *sz; c++) {
    int rows = sz[c].rows, n = sz[c].n;
    if (rows > 10000 && mode + 1 < kt_n_modes()) continue; /* big grid: once */
    size_t t = (size_t)rows * n;
    float *x = kt_randn(t, 3);
    uint32_t *ref = kt_alloc(rows * 4), *out = kt_alloc(rows * 4);
    for (int r = 0; r < rows && n > 10; r++) { /* ties: the first index must win; NaNs never */
      size_t b = (size_t)r * n;
      int j = (int)(dp_test_rand_u32() % (n - 5));
      x[b + j + 3] = x[b + j] = 100;
      x[b + (j + 1)] = NAN;
    }
    if (rows >= 2 && n == 1) x[0] = NAN;
    dp_gpu_buffer *bx = kt_upload(x, t * 4), *bi = kt_buf(rows * 4);
    dp_ref_argmax(ref, x, rows, n);
    KT_OK(dp_op_argmax(O, kv(bi), kv(bx), rows, n));
    kt_read(bi, out, rows * 4);
    int bad = 0;
    for (int r = 0; r < rows; r++) bad += out[r] != ref[r];
    printf("  argmax rows=%d n=%d sg=%d: %d mismatches\n", rows, n, mode, bad);
    CHECK(bad == 0, "argmax rows=%d n=%d: %d rows differ (first: %u vs %u)", rows, n, bad, out[0], ref[0]);
    dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bi);
    free(x); free(ref); free(out);
  }
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_elem");
  for (int f = 0; f < 2; f++) { /* kernel families: GPU (workgroups of 32..256), CPU (8) */
    dp_ops_set_cpu_kernels(O, f);
    for (int m = 0; m < kt_n_modes(); m++) {
      kt_mode(m);
      test_rmsnorm(m + 2 * f);
      test_softmax(m + 2 * f);
      test_argmax(m + 2 * f);
    }
  }
  test_glu();
  test_add();
  kt_close();
  return dp_test_summary("gpu_kernels_elem");
}
