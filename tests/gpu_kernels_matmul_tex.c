/* gpu_kernels_matmul_tex.c -- matmuls over weight textures (dp_wtex + dp_op_matmul_tex,
 * matmul_tex.wgsl) against the CPU reference. The decode GEMV: y[M, N] (+)= pro(x) . W^T (+ bias) with
 * pro(x) made by dp_ref_rmsnorm / dp_ref_glu and the product by dp_ref_matmul over the
 * dequantised weights. Every weight type it takes (F32, F16, BF16) with every prologue
 * pipeline (none, RMSNorm with and without the plus-one weight, GLU SiLU, GLU GELU-tanh);
 * M = 1..4; bias and accumulate; N = 1, 37, 200, 1000 (not multiples of the 64 rows of a
 * workgroup); K = 8, 40, 264, 1032 (multiples of 8, not of 32); tall matrices folded into
 * several texture column blocks (dp_ops_set_weight_texture_height 64 and 100, N a multiple of
 * the height and not), rows written in several dp_wtex_write calls that straddle blocks; a grid
 * past 65535 workgroups. Row ranges of a taller texture (the q/k/v parts), and the prefill path
 * (M = 9, 33, 257) where the device has subgroups of 8 (else its refusal). Then the cases where dp_wtex_create gives no texture, and argument
 * errors. The CPU kernel family is forced (dp_ops_set_cpu_kernels), so the test runs on any
 * adapter. One pipeline per (type, prologue) and 3 prefill ones: their compiles dominate the run time. */
#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

/* One dp_op_matmul_tex dispatch (the GEMV, M <= 4, all rows). pro: DP_PRO_*; arg: plus-one for RMSNorm, the activation for
 * GLU. H: rows per texture column block (0 = the device limit); chunk: rows per dp_wtex_write
 * call (0 = all in one). shared: x and y as two views of one buffer. */
static void run_case(dp_dtype t, int M, int N, int K, int pro, int arg, int bias, int accum, int shared,
                     uint32_t H, int chunk) {
  int kx = pro == DP_PRO_GLU ? 2 * K : K; /* x row: gate | up for GLU */
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = kt_randn((size_t)N * K, 0.5f), *wd = kt_alloc((size_t)N * K * 4);
  float *x = kt_randn((size_t)M * kx, 1), *xin = kt_alloc((size_t)M * K * 4);
  float *nw = kt_randn(K, 0.5f), *b = kt_randn(N, 1), *y0 = kt_randn((size_t)M * N, 1);
  float *ref = kt_alloc((size_t)M * N * 4), *out = kt_alloc((size_t)M * N * 4);
  void *wq = kt_alloc(rb * N);
  float eps = dp_test_rand_uniform(0.05f, 0.5f); /* large enough that a lost eps shows */
  if (N == 1) {
    /* A single output per row is one dot product: with signed terms it can nearly cancel, and
     * then f32 rounding is large relative to |ref|. Same-sign inputs (and a positive product
     * through each prologue) keep the relative error a test of the indexing. */
    for (size_t i = 0; i < (size_t)K; i++) { w[i] = fabsf(w[i]); nw[i] = fabsf(nw[i]); }
    for (size_t i = 0; i < (size_t)M * kx; i++) x[i] = fabsf(x[i]);
    b[0] = fabsf(b[0]);
    for (int m = 0; m < M; m++) y0[m] = fabsf(y0[m]);
  }
  KT_OK(dp_quantize(t, w, wq, (uint64_t)N * K));
  KT_OK(dp_ref_dequant_rows(t, wq, N, K, wd));
  if (pro == DP_PRO_RMSNORM) dp_ref_rmsnorm(xin, x, nw, M, K, eps, arg);
  else if (pro == DP_PRO_GLU)
    for (int m = 0; m < M; m++) dp_ref_glu(xin + (size_t)m * K, x + (size_t)m * kx, x + (size_t)m * kx + K, K, arg);
  else memcpy(xin, x, (size_t)M * K * 4);
  memcpy(ref, y0, (size_t)M * N * 4);
  dp_ref_matmul(ref, xin, wd, bias ? b : NULL, M, N, K, accum);

  dp_ops_set_weight_texture_height(O, H);
  dp_wtex *wt = NULL;
  KT_OK(dp_wtex_create(O, t, N, K, "test.w", &wt));
  dp_ops_set_weight_texture_height(O, 0);
  CHECK(wt != NULL && dp_wtex_rows(wt) == (uint32_t)N, "%s N=%d K=%d: no weight texture", dp_dtype_name(t), N, K);
  if (!wt) goto done;
  for (int r = 0, n; r < N; r += n) {
    n = chunk && chunk < N - r ? chunk : N - r;
    KT_OK(dp_wtex_write(O, wt, r, n, (const uint8_t *)wq + (size_t)r * rb));
  }
  dp_gpu_buffer *bb = kt_upload(b, (size_t)N * 4), *bn = kt_upload(nw, (size_t)K * 4), *bx, *by;
  dp_view vx, vy;
  size_t xb = (size_t)M * kx * 4, xpad = (xb + 255) & ~(size_t)255;
  if (shared) {
    bx = by = kt_buf(xpad + (size_t)M * N * 4);
    dp_gpu_buffer_write(G, bx, 0, x, xb);
    vx = kv(bx);
    vy = dp_view_of(bx, xpad);
  } else {
    bx = kt_upload(x, xb);
    by = kt_buf((size_t)M * N * 4); /* poisoned */
    vx = kv(bx);
    vy = kv(by);
  }
  if (accum) dp_gpu_buffer_write(G, vy.buf, vy.offset, y0, (size_t)M * N * 4);
  dp_gemv_pro p = {pro, kv(bn), eps, arg ? DP_NORM_PLUS_ONE : 0, arg, 0, 0};
  KT_OK(dp_op_matmul_tex(O, vy, vx, wt, 0, 0, bias ? kv(bb) : dp_view_of(NULL, 0), M, &p, accum ? DP_MM_ACCUM : 0));
  dp_status s = dp_gpu_buffer_read(G, vy.buf, vy.offset, out, (size_t)M * N * 4);
  CHECK(s == DP_OK, "read: %s", dp_error_message());
  static const char *pname[2][3] = {{"none", "rmsnorm", "glu-silu"}, {"none", "rmsnorm+1", "glu-gelu"}};
  char what[128];
  snprintf(what, sizeof what, "matmul_tex %-4s %-9s M=%d N=%d K=%d bias=%d acc=%d sh=%d H=%u chunk=%d",
           dp_dtype_name(t), pname[arg != 0][pro], M, N, K, bias, accum, shared, H, chunk);
  kt_check(what, out, ref, (size_t)M * N, 1e-5);
  dp_gpu_buffer_free(bb); dp_gpu_buffer_free(bn); dp_gpu_buffer_free(bx);
  if (!shared) dp_gpu_buffer_free(by);
  dp_wtex_free(wt);
done:
  free(w); free(wd); free(x); free(xin); free(nw); free(b); free(y0); free(ref); free(out); free(wq);
}

/* Rows [row0, row0 + N) of a texture of row0 + N + extra rows (a part of stacked q|k|v),
 * M rows of x: M > 4 is the prefill path (matmul_v4_sg8's rows_mm4_sg over the texture, on
 * devices with subgroups of 8), M <= 4 the GEMV. No prologue. */
static void range_case(dp_dtype t, int M, int N, int K, int row0, int extra, int bias, int accum, uint32_t H) {
  int NT = row0 + N + extra;
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = kt_randn((size_t)NT * K, 0.5f), *wd = kt_alloc((size_t)NT * K * 4), *x = kt_randn((size_t)M * K, 1);
  float *b = kt_randn(N, 1), *ref = kt_randn((size_t)M * N, 1), *out = kt_alloc((size_t)M * N * 4);
  void *wq = kt_alloc(rb * NT);
  KT_OK(dp_quantize(t, w, wq, (uint64_t)NT * K));
  KT_OK(dp_ref_dequant_rows(t, wq, NT, K, wd));
  dp_gpu_buffer *bx = kt_upload(x, (size_t)M * K * 4), *bb = kt_upload(b, (size_t)N * 4), *by = kt_buf((size_t)M * N * 4);
  if (accum) dp_gpu_buffer_write(G, by, 0, ref, (size_t)M * N * 4);
  dp_ref_matmul(ref, x, wd + (size_t)row0 * K, bias ? b : NULL, M, N, K, accum);
  dp_ops_set_weight_texture_height(O, H);
  dp_wtex *wt = NULL;
  KT_OK(dp_wtex_create(O, t, NT, K, "test.range", &wt));
  dp_ops_set_weight_texture_height(O, 0);
  CHECK(wt != NULL, "%s N=%d K=%d: no weight texture", dp_dtype_name(t), NT, K);
  if (wt) {
    KT_OK(dp_wtex_write(O, wt, 0, NT, wq));
    KT_OK(dp_op_matmul_tex(O, kv(by), kv(bx), wt, row0, N, bias ? kv(bb) : dp_view_of(NULL, 0), M, NULL,
                           accum ? DP_MM_ACCUM : 0));
    kt_read(by, out, (size_t)M * N * 4);
    char what[128];
    snprintf(what, sizeof what, "matmul_tex %-4s rows [%d, +%d) of %d M=%d K=%d bias=%d acc=%d H=%u", dp_dtype_name(t),
             row0, N, NT, M, K, bias, accum, H);
    kt_check(what, out, ref, (size_t)M * N, 1e-5);
    dp_wtex_free(wt);
  }
  dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(by);
  free(w); free(wd); free(x); free(b); free(ref); free(out); free(wq);
}

/* F16, K = 8 (one texel per row), M = 1, N past 64 * 65535 rows: the dispatch needs a 2-D
 * grid. Reference computed row by row so the f32 copy of W is never held. */
static void grid_case(void) {
  const uint32_t N = 65535u * 64u + 37u, K = 8;
  uint16_t *wq = kt_alloc((size_t)N * K * 2);
  float x[8], *ref = kt_alloc((size_t)N * 4), *out = kt_alloc((size_t)N * 4);
  dp_test_fill_normal(x, K, 1);
  for (uint32_t n = 0; n < N; n++) {
    double acc = 0;
    for (uint32_t k = 0; k < K; k += 2) { /* random sign and mantissa, |w| in [0.5, 2) */
      uint32_t r = dp_test_rand_u32();
      uint16_t h[2] = {(uint16_t)(0x3800u | (r & 0x87ffu)), (uint16_t)(0x3800u | (r >> 16 & 0x87ffu))};
      for (int j = 0; j < 2; j++) {
        wq[(size_t)n * K + k + j] = h[j];
        acc += (double)dp_f16_to_f32(h[j]) * x[k + j];
      }
    }
    ref[n] = (float)acc;
  }
  dp_wtex *wt = NULL;
  KT_OK(dp_wtex_create(O, DP_F16, N, K, "test.wgrid", &wt));
  CHECK(wt != NULL, "F16 N=%u K=%u: no weight texture", N, K);
  if (wt) {
    KT_OK(dp_wtex_write(O, wt, 0, N, wq));
    dp_gpu_buffer *bx = kt_upload(x, sizeof x), *by = kt_buf((size_t)N * 4);
    KT_OK(dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, dp_view_of(NULL, 0), 1, NULL, 0));
    kt_read(by, out, (size_t)N * 4);
    char what[96];
    snprintf(what, sizeof what, "matmul_tex F16  none      M=1 N=%u K=%u (2-D grid)", N, K);
    kt_check(what, out, ref, N, 1e-5);
    dp_gpu_buffer_free(bx); dp_gpu_buffer_free(by);
    dp_wtex_free(wt);
  }
  free(wq); free(ref); free(out);
}

/* dp_wtex_create: *out = NULL with DP_OK where weight textures do not apply. */
static void create_none(const char *what, dp_dtype t, uint32_t N, uint32_t K) {
  dp_wtex *wt = (dp_wtex *)&wt; /* not NULL: the call must clear it */
  dp_status s = dp_wtex_create(O, t, N, K, "test.none", &wt);
  CHECK(s == DP_OK && wt == NULL, "%s (%s N=%u K=%u): status %d, texture %p: %s", what, dp_dtype_name(t), N, K, s,
        (void *)wt, dp_error_message());
  if (s == DP_OK && wt) dp_wtex_free(wt);
}

static void expect_err(const char *what, dp_status s, const char *needle) {
  CHECK(s == DP_ERR_INVALID_ARG && strstr(dp_error_message(), needle), "%s: status %d, message '%s' (want '%s')", what, s,
        dp_error_message(), needle);
}

static void not_applicable_and_errors(void) {
  uint32_t lim = dp_gpu_get_info(G)->max_texture_2d;
  create_none("block type", DP_Q8_0, 64, 64);
  create_none("block type", DP_Q4_K, 64, 256);
  create_none("K % 8 != 0", DP_F16, 64, 36);
  create_none("K % 8 != 0", DP_F32, 64, 4);
  create_none("N = 0", DP_F16, 0, 64);
  create_none("K = 0", DP_F16, 64, 0);
  dp_ops_set_weight_texture_height(O, 1); /* N + 1 column blocks of one texel each: too wide */
  create_none("wider than the texture limit", DP_F16, lim + 1, 8);
  dp_ops_set_weight_texture_height(O, 0);
  dp_ops_set_weight_textures(O, 0);
  create_none("weight textures off", DP_F16, 64, 64);
  dp_ops_set_weight_textures(O, 1);
  dp_ops_set_cpu_kernels(O, 0);
  create_none("GPU kernel family", DP_F16, 64, 64);
  dp_ops_set_cpu_kernels(O, 1);

  /* argument errors of dp_op_matmul_tex and dp_wtex_write */
  const int N = 40, K = 16;
  dp_wtex *wt = NULL;
  KT_OK(dp_wtex_create(O, DP_BF16, N, K, "test.err", &wt));
  CHECK(wt != NULL, "BF16 N=%d K=%d: no weight texture", N, K);
  if (!wt) return;
  float *x = kt_randn(5 * 2 * K, 1);
  dp_gpu_buffer *bx = kt_upload(x, 5 * 2 * K * 4), *by = kt_buf(5 * N * 4), *bs = kt_buf(4);
  dp_view nb = dp_view_of(NULL, 0);
  expect_err("M = 0", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, nb, 0, NULL, 0), "M=0");
  dp_gemv_pro norm = {DP_PRO_RMSNORM, kv(bx), 1e-5f, 0, 0, 0, 0};
  expect_err("M = 5 with a prologue", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, nb, 5, &norm, 0), "prologues are for the GEMV");
  expect_err("rows past the texture", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 1, N, nb, 1, NULL, 0), "rows [1,");
  expect_err("row0 past the texture", dp_op_matmul_tex(O, kv(by), kv(bx), wt, N, 0, nb, 1, NULL, 0), "rows [");
  expect_err("no texture", dp_op_matmul_tex(O, kv(by), kv(bx), NULL, 0, 0, nb, 1, NULL, 0), "no weight texture");
  dp_gemv_pro bad = {3, {NULL, 0}, 0, 0, 0, 0, 0};
  expect_err("prologue 3", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, nb, 1, &bad, 0), "prologue");
  bad.kind = -1;
  expect_err("prologue -1", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, nb, 1, &bad, 0), "prologue");
  bad.kind = DP_PRO_GLU, bad.act = 7;
  expect_err("GLU act 7", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, nb, 1, &bad, 0), "prologue");
  bad.kind = DP_PRO_RMSNORM; /* no norm weight */
  expect_err("RMSNorm without weight", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, nb, 1, &bad, 0), "matmul_tex: norm weight:");
  expect_err("x too small", dp_op_matmul_tex(O, kv(by), kv(bs), wt, 0, 0, nb, 1, NULL, 0), "matmul_tex: x:");
  expect_err("y too small", dp_op_matmul_tex(O, kv(bs), kv(bx), wt, 0, 0, nb, 1, NULL, 0), "matmul_tex: y:");
  expect_err("bias too small", dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, 0, kv(bs), 1, NULL, 0), "matmul_tex: bias:");
  expect_err("y offset not aligned", dp_op_matmul_tex(O, dp_view_of(by, 4), kv(bx), wt, 0, 0, nb, 1, NULL, 0), "256");
  uint8_t rows[2 * 16 * 2];
  memset(rows, 0x3c, sizeof rows);
  expect_err("rows past N", dp_wtex_write(O, wt, N - 1, 2, rows), "rows");
  CHECK(dp_gpu_finish(G) == DP_OK, "finish after errors: %s", dp_error_message());
  dp_gpu_buffer_free(bx); dp_gpu_buffer_free(by); dp_gpu_buffer_free(bs);
  dp_wtex_free(wt);
  free(x);
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_matmul_tex");
  dp_ops_set_cpu_kernels(O, 1);
  dp_ops_set_weight_textures(O, 1); /* whatever DOPPLER_WEIGHT_TEXTURES says */
  printf("maxTextureDimension2D %u\n", dp_gpu_get_info(G)->max_texture_2d);
  const dp_dtype types[] = {DP_F32, DP_F16, DP_BF16};
  /* (prologue, arg) pipelines; RMSNorm's plus-one is a flag, so it alternates between cases */
  const struct { int pro, arg; } pros[] = {
    {DP_PRO_NONE, 0}, {DP_PRO_RMSNORM, 0}, {DP_PRO_GLU, DP_GLU_SILU}, {DP_PRO_GLU, DP_GLU_GELU_TANH}};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) {
      dp_dtype t = types[i];
      int pro = pros[j].pro, a = pros[j].arg, p1 = pro == DP_PRO_RMSNORM; /* plus-one on / off by case */
      run_case(t, 1, 1, 8, pro, p1 ? 1 : a, 0, 0, 0, 0, 0);
      run_case(t, 2, 37, 40, pro, p1 ? 0 : a, 1, 0, 0, 0, 20);          /* two writes */
      run_case(t, 3, 200, 264, pro, p1 ? 1 : a, 0, 1, t == DP_F32, 64, 97); /* 4 blocks, last 8 rows */
      run_case(t, 4, 1000, 40, pro, p1 ? 0 : a, 1, 1, 0, 100, 150);     /* 10 full blocks */
    }
  run_case(DP_F16, 1, 67, 1032, DP_PRO_NONE, 0, 1, 0, 0, 0, 0);
  run_case(DP_BF16, 2, 45, 1032, DP_PRO_GLU, DP_GLU_GELU_TANH, 0, 1, 1, 16, 7); /* 3 blocks, writes of 7 rows */
  run_case(DP_F32, 4, 300, 8, DP_PRO_RMSNORM, 1, 1, 0, 0, 1, 0); /* one row per block: 300 blocks wide */
  /* row ranges of a taller texture (parts of stacked q|k|v); M > 4 = the prefill kernel */
  range_case(DP_F16, 1, 40, 64, 24, 16, 1, 0, 0);
  int pre = dp_ops_tex_prefill(O);
  printf("prefill over textures (subgroups of 8): %s\n", pre ? "yes" : "no, M > 4 must be refused");
  if (pre) {
    for (int i = 0; i < 3; i++) range_case(types[i], 9, 70, 40, 33, 5, i != 1, i == 2, 0);
    range_case(DP_F16, 33, 200, 264, 64, 0, 0, 1, 64);  /* 5 column blocks, range not block-aligned */
    range_case(DP_BF16, 257, 37, 8, 0, 3, 1, 0, 16);
  } else {
    dp_wtex *wt = NULL;
    KT_OK(dp_wtex_create(O, DP_F16, 8, 8, "test.nopre", &wt));
    if (wt) {
      dp_gpu_buffer *b = kt_buf(4096);
      dp_status s = dp_op_matmul_tex(O, kv(b), kv(b), wt, 0, 0, dp_view_of(NULL, 0), 5, NULL, 0);
      CHECK(s == DP_ERR_UNSUPPORTED && strstr(dp_error_message(), "subgroups of 8"), "M=5 without subgroups of 8: %d %s", s,
            dp_error_message());
      dp_gpu_buffer_free(b);
      dp_wtex_free(wt);
    }
  }
  grid_case();
  not_applicable_and_errors();
  kt_close();
  return dp_test_summary("gpu_kernels_matmul_tex");
}
