/* gpu_device.c -- the device layer on the adapter chosen by DOPPLER_ADAPTER: buffer round
 * trips, a dispatch with uniform parameters, many dispatches in one command buffer, a 2-D grid
 * past 65535 workgroups, a texture round trip (written in rectangles, read by textureLoad),
 * and errors (bad WGSL, unknown adapter, oversized grid, texture sizes and writes out of
 * range) surfacing as engine errors with the shader's message. */
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

/* out[4 (y * w + x) + c] = texel (x, y) component c: a texture read back through textureLoad. */
static const char *TEXCOPY =
    "struct P { w: u32, h: u32, _p0: u32, _p1: u32 };\n"
    "@group(0) @binding(0) var<uniform> p: P;\n"
    "@group(0) @binding(1) var t: texture_2d<u32>;\n"
    "@group(0) @binding(2) var<storage, read_write> out: array<vec4<u32>>;\n"
    "@compute @workgroup_size(64)\n"
    "fn main(@builtin(global_invocation_id) id: vec3u) {\n"
    "  let i = id.x;\n"
    "  if (i >= p.w * p.h) { return; }\n"
    "  out[i] = textureLoad(t, vec2<u32>(i % p.w, i / p.w), 0);\n"
    "}\n";

/* Texture of W x H texels (sides not multiples of anything): a rectangle written in two writes
 * (left part, then right part at a texel offset in both x and y), the rest left as created
 * (zero), read back bit for bit. A wrong texture format (DP_WGPU_RGBA32UINT in dawn.c) fails
 * here: the pipeline or the bits. Then the size and write checks. */
static void texture_tests(dp_gpu *g) {
  const dp_gpu_info *in = dp_gpu_get_info(g);
  CHECK(in->max_texture_2d >= 8192, "maxTextureDimension2D %u < 8192 (the WebGPU default)", in->max_texture_2d);
  enum { W = 37, H = 23, X0 = 2, Y0 = 1, W1 = 20, W2 = 13, RH = 19 }; /* written: [2, 35) x [1, 20) */
  uint32_t *want = calloc((size_t)W * H * 4, 4), *got = malloc((size_t)W * H * 16);
  uint32_t *a = malloc((size_t)W1 * RH * 16), *b = malloc((size_t)W2 * RH * 16);
  for (size_t i = 0; i < (size_t)W1 * RH * 4; i++) a[i] = dp_test_rand_u32();
  for (size_t i = 0; i < (size_t)W2 * RH * 4; i++) b[i] = dp_test_rand_u32();
  for (int y = 0; y < RH; y++)
    for (int c = 0; c < 4; c++) {
      for (int x = 0; x < W1; x++) want[((Y0 + y) * W + X0 + x) * 4 + c] = a[(y * W1 + x) * 4 + c];
      for (int x = 0; x < W2; x++) want[((Y0 + y) * W + X0 + W1 + x) * 4 + c] = b[(y * W2 + x) * 4 + c];
    }
  dp_gpu_texture *t = NULL;
  dp_status st = dp_gpu_texture_create(g, W, H, "tex", &t);
  CHECK(st == DP_OK && t, "texture create: %s", dp_error_message());
  dp_gpu_buffer *out = NULL;
  CHECK(dp_gpu_buffer_create(g, (uint64_t)W * H * 16, "texout", &out) == DP_OK, "%s", dp_error_message());
  dp_gpu_kernel *k = NULL;
  st = dp_gpu_kernel_get(g, "texcopy", TEXCOPY, "main", NULL, 0, &k);
  CHECK(st == DP_OK, "texcopy kernel: %s", dp_error_message());
  if (t && out && k) {
    CHECK(dp_gpu_texture_write(g, t, X0, Y0, W1, RH, a) == DP_OK, "write 1: %s", dp_error_message());
    CHECK(dp_gpu_texture_write(g, t, X0 + W1, Y0, W2, RH, b) == DP_OK, "write 2: %s", dp_error_message());
    memset(got, 0xa5, (size_t)W * H * 16);
    dp_gpu_buffer_write(g, out, 0, got, (size_t)W * H * 16); /* poison */
    uint32_t p[4] = {W, H, 0, 0};
    dp_gpu_binding bd[2] = {{NULL, 0, 0, t}, {out, 0, 0, NULL}};
    CHECK(dp_gpu_dispatch(g, k, p, sizeof p, bd, 2, (W * H + 63) / 64, 1, 1) == DP_OK, "%s", dp_error_message());
    CHECK(dp_gpu_buffer_read(g, out, 0, got, (size_t)W * H * 16) == DP_OK, "%s", dp_error_message());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < (size_t)W * H * 4; i++)
      if (got[i] != want[i] && !bad++) first = i;
    CHECK(bad == 0, "texture round trip: %zu of %d words differ, first texel (%zu, %zu) comp %zu: %08x != %08x", bad,
          W * H * 4, first / 4 % W, first / 4 / W, first % 4, got[first], want[first]);
    /* a write that overwrites part of the first one, then read again */
    uint32_t one[4] = {0xdeadbeefu, 0x7fc00001u, 0, 0xffffffffu};
    CHECK(dp_gpu_texture_write(g, t, W - 1, H - 1, 1, 1, one) == DP_OK, "%s", dp_error_message());
    memcpy(&want[((H - 1) * W + W - 1) * 4], one, 16);
    CHECK(dp_gpu_dispatch(g, k, p, sizeof p, bd, 2, (W * H + 63) / 64, 1, 1) == DP_OK, "%s", dp_error_message());
    CHECK(dp_gpu_buffer_read(g, out, 0, got, (size_t)W * H * 16) == DP_OK, "%s", dp_error_message());
    CHECK(!memcmp(got, want, (size_t)W * H * 16), "texture round trip after a 1-texel write at the corner");
  }
  /* writes outside the texture: past the right edge, past the bottom, and an offset past it */
  uint32_t px[16 * 4] = {0};
  st = dp_gpu_texture_write(g, t, W - 2, 0, 3, 1, px);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "outside"), "write past the right edge: %d %s", st, dp_error_message());
  st = dp_gpu_texture_write(g, t, 0, H - 1, 1, 2, px);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "outside"), "write past the bottom: %d %s", st, dp_error_message());
  st = dp_gpu_texture_write(g, t, 0xffffffffu, 0, 2, 1, px);
  CHECK(st == DP_ERR_INVALID_ARG, "write at x = 2^32 - 1 (wrap-around): %d %s", st, dp_error_message());
  CHECK(dp_gpu_finish(g) == DP_OK, "finish after bad texture writes: %s", dp_error_message());
  dp_gpu_texture_free(t);
  dp_gpu_buffer_free(out);
  free(want); free(got); free(a); free(b);

  /* sizes: 0 or past maxTextureDimension2D on either side are refused with the limit named */
  uint32_t m = in->max_texture_2d, bad_sizes[][2] = {{0, 1}, {1, 0}, {m + 1, 1}, {1, m + 1}};
  for (size_t i = 0; i < 4; i++) {
    dp_gpu_texture *tb = (dp_gpu_texture *)1;
    st = dp_gpu_texture_create(g, bad_sizes[i][0], bad_sizes[i][1], "bad", &tb);
    CHECK(st == DP_ERR_INVALID_ARG && !tb && strstr(dp_error_message(), "maxTextureDimension2D"),
          "texture %u x %u: %d %s", bad_sizes[i][0], bad_sizes[i][1], st, dp_error_message());
  }
  /* the largest side allowed is accepted */
  dp_gpu_texture *tm = NULL;
  st = dp_gpu_texture_create(g, m, 1, "max", &tm);
  CHECK(st == DP_OK && tm, "texture %u x 1: %s", m, dp_error_message());
  dp_gpu_texture_free(tm);
  CHECK(dp_gpu_finish(g) == DP_OK, "finish after texture errors: %s", dp_error_message());
}

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
    dp_gpu_binding b[2] = {{bx, 0, 0, NULL}, {by, 0, 0, NULL}};
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
    dp_gpu_binding b[2] = {{bx, 0, 0, NULL}, {bx, 0, 0, NULL}};
    axpy_params p = {1, 1, {0, 0}};
    st = dp_gpu_dispatch(g, k, &p, sizeof p, b, 2, in->max_workgroups_per_dim + 1, 1, 1);
    CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "per-dimension"), "oversized grid: %s", dp_error_message());
    CHECK(dp_gpu_finish(g) == DP_OK, "finish: %s", dp_error_message());
    dp_gpu_buffer_free(bx);
  }

  texture_tests(g);

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
