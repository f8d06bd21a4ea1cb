/* gpu_device.c -- the device layer on the adapter chosen by DOPPLER_ADAPTER: buffer round
 * trips, a dispatch with uniform parameters, many dispatches in one command buffer, a 2-D grid
 * past 65535 workgroups, and errors (bad WGSL, unknown adapter, oversized grid) surfacing as
 * engine errors with the shader's message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "gpu/gpu.h"
#include "testlib.h"

static const char *AXPY =
    "struct P { n: u32, a: f32, _p0: u32, _p1: u32 };\n"
    "@group(0) @binding(0) var<uniform> p: P;\n"
    "@group(0) @binding(1) var<storage, read> x: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read_write> y: array<f32>;\n"
    "@compute @workgroup_size(64)\n"
    "fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {\n"
    "  let i = (wg.x + wg.y * nwg.x) * 64u + li;\n"
    "  if (i >= p.n) { return; }\n"
    "  y[i] = p.a * x[i] + y[i];\n"
    "}\n";

typedef struct { uint32_t n; float a; uint32_t pad[2]; } axpy_params;

int main(void) {
  dp_gpu *g;
  dp_status st = dp_gpu_open(NULL, &g);
  CHECK(st == DP_OK, "open: %s", dp_error_message());
  if (st) return dp_test_summary("gpu_device");
  const dp_gpu_info *in = dp_gpu_get_info(g);
  printf("adapter: %s (%s, %s) f16=%d subgroups=%d\n", in->adapter, in->backend, in->driver_choice, in->has_f16, in->has_subgroups);
  CHECK(strcmp(in->backend, "null") != 0, "null backend must be refused");

  /* Sizes: 1, not a multiple of 64, and past 65535 workgroups (2-D grid). */
  uint32_t sizes[] = {1, 1000, 65535u * 64u + 777u};
  dp_gpu_kernel *k;
  CHECK(dp_gpu_kernel_get(g, "axpy", AXPY, "main", NULL, 0, &k) == DP_OK, "%s", dp_error_message());
  dp_gpu_kernel *k2;
  CHECK(dp_gpu_kernel_get(g, "axpy", AXPY, "main", NULL, 0, &k2) == DP_OK && k2 == k, "pipeline cache hit");
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    uint32_t n = sizes[s];
    float *x = malloc(n * 4), *y = malloc(n * 4), *ref = malloc(n * 4), *out = malloc(n * 4);
    dp_test_fill_normal(x, n, 1);
    dp_test_fill_normal(y, n, 1);
    float a = dp_test_rand_uniform(0.5f, 2.0f);
    int reps = 5; /* 5 dependent dispatches in one command buffer */
    for (uint32_t i = 0; i < n; i++) { ref[i] = y[i]; for (int r = 0; r < reps; r++) ref[i] += a * x[i]; }
    dp_gpu_buffer *bx, *by;
    CHECK(dp_gpu_buffer_create(g, n * 4ull, "x", &bx) == DP_OK, "%s", dp_error_message());
    CHECK(dp_gpu_buffer_create(g, n * 4ull, "y", &by) == DP_OK, "%s", dp_error_message());
    dp_gpu_buffer_write(g, bx, 0, x, n * 4ull);
    dp_gpu_buffer_write(g, by, 0, y, n * 4ull);
    axpy_params p = {n, a, {0, 0}};
    dp_gpu_binding b[2] = {{bx, 0, 0}, {by, 0, 0}};
    uint32_t gx, gy;
    dp_gpu_grid_2d(g, (n + 63) / 64, &gx, &gy);
    for (int r = 0; r < reps; r++)
      CHECK(dp_gpu_dispatch(g, k, &p, sizeof p, b, 2, gx, gy, 1) == DP_OK, "%s", dp_error_message());
    memset(out, 0xff, n * 4ull); /* poison */
    CHECK(dp_gpu_buffer_read(g, by, 0, out, n * 4ull) == DP_OK, "%s", dp_error_message());
    double err = dp_test_rel_err(out, ref, n);
    CHECK(err <= 1e-6, "axpy n=%u grid %ux%u: rel err %.3g > 1e-6", n, gx, gy, err);
    /* partial read at an offset */
    if (n > 10) {
      float part[3];
      CHECK(dp_gpu_buffer_read(g, by, 28, part, 12) == DP_OK && part[0] == out[7] && part[2] == out[9], "offset read");
    }
    dp_gpu_buffer_free(bx);
    dp_gpu_buffer_free(by);
    free(x); free(y); free(ref); free(out);
  }

  /* A grid past the per-dimension limit is refused, not silently truncated. */
  {
    dp_gpu_buffer *bx;
    dp_gpu_buffer_create(g, 256, "x", &bx);
    dp_gpu_binding b[2] = {{bx, 0, 0}, {bx, 0, 0}};
    axpy_params p = {1, 1, {0, 0}};
    st = dp_gpu_dispatch(g, k, &p, sizeof p, b, 2, in->max_workgroups_per_dim + 1, 1, 1);
    CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "per-dimension"), "oversized grid: %s", dp_error_message());
    CHECK(dp_gpu_finish(g) == DP_OK, "finish: %s", dp_error_message());
    dp_gpu_buffer_free(bx);
  }

  /* Broken WGSL: an engine error carrying the compiler's message. */
  dp_gpu_kernel *bad;
  st = dp_gpu_kernel_get(g, "broken", "@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }", "main", NULL, 0, &bad);
  CHECK(st == DP_ERR_GPU, "broken shader status %d", st);
  CHECK(strstr(dp_error_message(), "broken") && strstr(dp_error_message(), "undefined_thing"), "message: %s", dp_error_message());
  CHECK(!strchr(dp_error_message(), '\n'), "one-line message");
  /* The device stays usable afterwards. */
  CHECK(dp_gpu_finish(g) == DP_OK, "finish after compile error: %s", dp_error_message());

  /* Out-of-range write and read are errors, not crashes. */
  dp_gpu_buffer *small;
  dp_gpu_buffer_create(g, 16, "small", &small);
  float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(dp_gpu_buffer_write(g, small, 8, v, 32) == DP_ERR_INVALID_ARG, "write past end");
  CHECK(dp_gpu_buffer_read(g, small, 8, v, 32) == DP_ERR_INVALID_ARG, "read past end");
  dp_gpu_buffer_free(small);
  dp_gpu_close(g);

  dp_gpu *g2 = NULL;
  st = dp_gpu_open("no-such-adapter", &g2);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "no-such-adapter"), "unknown adapter: %s", dp_error_message());
  st = dp_gpu_open("/nonexistent/icd.json", &g2);
  CHECK(st != DP_OK && strstr(dp_error_message(), "/nonexistent/icd.json"), "missing ICD: %s", dp_error_message());
  return dp_test_summary("gpu_device");
}
