/* gpu_kernels_util.h -- helpers shared by the kernel tests (tests/gpu_kernels_*.c): open the
 * device chosen by DOPPLER_ADAPTER and an ops context, make buffers from host data, poison
 * outputs with NaN bit patterns before each run, read back, and compare with the CPU
 * reference by ||out - ref|| / ||ref|| against a stated tolerance. Header-only (static). */
#ifndef DP_TESTS_GPU_KERNELS_UTIL_H
#define DP_TESTS_GPU_KERNELS_UTIL_H
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/error.h"
#include "gpu/gpu.h"
#include "kernels/ops.h"
#include "testlib.h"

static dp_gpu *G;
static dp_ops *O;

static inline int kt_open(void) {
  dp_status s = dp_gpu_open(NULL, &G);
  CHECK(s == DP_OK, "open: %s", dp_error_message());
  if (s) return -1;
  s = dp_ops_create(G, &O);
  CHECK(s == DP_OK, "ops: %s", dp_error_message());
  if (s) return -1;
  const dp_gpu_info *in = dp_gpu_get_info(G);
  printf("adapter: %s (%s) subgroups=%d [%u..%u] f16=%d\n", in->adapter, in->driver_choice,
         in->has_subgroups, in->subgroup_min, in->subgroup_max, in->has_f16);
  return 0;
}
static inline void kt_close(void) { dp_ops_free(O); dp_gpu_close(G); }

/* Subgroup modes to run: the shared-memory path always, the subgroup path where present. */
static inline int kt_n_modes(void) { return dp_gpu_get_info(G)->has_subgroups ? 2 : 1; }
static inline void kt_mode(int m) { dp_ops_set_subgroups(O, m); }

static inline void *kt_alloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
  return p;
}
static inline float *kt_randn(size_t n, float scale) {
  float *x = kt_alloc(n * sizeof *x);
  dp_test_fill_normal(x, n, scale);
  return x;
}

/* NaN bit patterns (quiet and signalling, both signs, varying payloads). */
static inline void kt_poison_host(void *p, size_t bytes) {
  uint32_t *w = p;
  for (size_t i = 0; i < bytes / 4; i++) w[i] = (i & 1 ? 0xffc00000u : 0x7fa00000u) | (uint32_t)(i & 0x1fffff);
}
static inline void kt_poison(dp_gpu_buffer *b) {
  size_t n = dp_gpu_buffer_size(b);
  void *t = kt_alloc(n);
  kt_poison_host(t, n);
  dp_gpu_buffer_write(G, b, 0, t, n);
  free(t);
}
static inline dp_gpu_buffer *kt_buf(size_t bytes) {
  dp_gpu_buffer *b = NULL;
  dp_status s = dp_gpu_buffer_create(G, (bytes + 3) & ~(size_t)3, "test", &b);
  if (s) { fprintf(stderr, "buffer of %zu bytes: %s\n", bytes, dp_error_message()); exit(2); }
  kt_poison(b);
  return b;
}
static inline dp_gpu_buffer *kt_upload(const void *data, size_t bytes) {
  dp_gpu_buffer *b = kt_buf(bytes);
  size_t n = bytes & ~(size_t)3;
  if (n) dp_gpu_buffer_write(G, b, 0, data, n);
  if (bytes > n) { /* tail of a byte-sized blob (GGUF blocks) */
    uint32_t w = 0;
    memcpy(&w, (const char *)data + n, bytes - n);
    dp_gpu_buffer_write(G, b, n, &w, 4);
  }
  return b;
}
static inline dp_view kv(dp_gpu_buffer *b) { return dp_view_of(b, 0); }
static inline void kt_read(dp_gpu_buffer *b, void *dst, size_t bytes) {
  dp_status s = dp_gpu_buffer_read(G, b, 0, dst, bytes);
  CHECK(s == DP_OK, "read back: %s", dp_error_message());
}
/* Compare, print, check; returns the relative error. */
static inline double kt_check(const char *what, const float *out, const float *ref, size_t n, double tol) {
  double e = dp_test_rel_err(out, ref, n);
  printf("  %-58s rel err %.2e (tol %.0e)", what, e, tol);
  if (getenv("KT_TIME")) printf(" t=%.2fs", (double)clock() / CLOCKS_PER_SEC);
  printf("\n");
  CHECK(e <= tol, "%s: rel err %.3e > %.1e", what, e, tol);
  return e;
}
#define KT_OK(call) do { dp_status s_ = (call); CHECK(s_ == DP_OK, "%s: %s", #call, dp_error_message()); } while (0)
#endif
