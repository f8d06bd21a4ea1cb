/* gpu_kernels_matmul.c -- y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias) on the GPU against
 * dp_ref_matmul over the dequantised weights, for every weight type (F32, F16, BF16, Q8_0,
 * Q4_K, Q6_K, MXFP4 as GGUF blocks made by dp_quantize): the GEMV path (M <= 4, both
 * reduction paths) and the tiled path, with bias and accumulate, sizes that are not multiples
 * of the tiles, size 1, x and y sharing one buffer, and a GEMV over more than 65535 rows; both
 * kernel families (dp_ops_set_cpu_kernels: the CPU-adapter rows_mv / rows_mm_sg / rows_mm,
 * and the GPU gemv / gemv_sg / tiled / tiled64 / tiled128) on whichever adapter runs the test, each for every weight type
 * where it runs (see main). sg=2 / 3 in the output mark the CPU family with / without
 * subgroups. */
#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

static void run_case(dp_dtype t, int M, int N, int K, int bias, int accum, int shared, int mode) {
  size_t rb = dp_dtype_row_bytes(t, K), wbytes = rb * N;
  float *w = kt_randn((size_t)N * K, 0.5f), *wd = kt_alloc((size_t)N * K * 4);
  float *x = kt_randn((size_t)M * K, 1), *b = kt_randn(N, 1);
  float *y0 = kt_randn((size_t)M * N, 1), *ref = kt_alloc((size_t)M * N * 4), *out = kt_alloc((size_t)M * N * 4);
  void *wq = kt_alloc(wbytes);
  if (M * N == 1) {
    /* A single output is one dot product: with signed terms it can nearly cancel, and then
     * f32 rounding is large relative to |ref| however right the kernel is. Same-sign terms
     * keep ||out-ref||/||ref|| a test of the indexing at size 1. */
    for (size_t i = 0; i < (size_t)K; i++) { w[i] = fabsf(w[i]); x[i] = fabsf(x[i]); }
  }
  KT_OK(dp_quantize(t, w, wq, (uint64_t)N * K)); /* rows are whole blocks: one call */
  KT_OK(dp_ref_dequant_rows(t, wq, N, K, wd));
  memcpy(ref, y0, (size_t)M * N * 4);
  dp_ref_matmul(ref, x, wd, bias ? b : NULL, M, N, K, accum);

  dp_gpu_buffer *bw = kt_upload(wq, wbytes), *bb = kt_upload(b, N * 4), *bx, *by;
  dp_view vx, vy;
  size_t xb = (size_t)M * K * 4, xpad = (xb + 255) & ~(size_t)255;
  if (shared) { /* x and y as two views of one buffer */
    bx = by = kt_buf(xpad + (size_t)M * N * 4);
    dp_gpu_buffer_write(G, bx, 0, x, xb);
    vx = kv(bx);
    vy = dp_view_of(bx, xpad);
  } else {
    bx = kt_upload(x, xb);
    by = kt_buf((size_t)M * N * 4);
    vx = kv(bx);
    vy = kv(by);
  }
  if (accum) dp_gpu_buffer_write(G, vy.buf, vy.offset, y0, (size_t)M * N * 4);
  char vname[64];
  snprintf(vname, sizeof vname, "matmul_tiled128_%s", dp_dtype_name(t));
  size_t v128 = (size_t)dp_kernel_variant_find(vname);
  uint64_t runs0 = dp_ops_variant_runs(O, v128);
  KT_OK(dp_op_matmul(O, vy, vx, kv(bw), t, bias ? kv(bb) : dp_view_of(NULL, 0), M, N, K, accum ? DP_MM_ACCUM : 0));
  int want128 = !dp_ops_cpu_kernels(O) && M >= 64 && K % 32 == 0; /* the GPU family's prefill kernel */
  CHECK((dp_ops_variant_runs(O, v128) > runs0) == want128, "matmul %s M=%d K=%d: %s %s", dp_dtype_name(t), M, K, vname,
        want128 ? "did not run" : "ran");
  dp_status s = dp_gpu_buffer_read(G, vy.buf, vy.offset, out, (size_t)M * N * 4);
  CHECK(s == DP_OK, "read: %s", dp_error_message());
  char what[128];
  snprintf(what, sizeof what, "matmul %-5s M=%d N=%d K=%d bias=%d accum=%d shared=%d sg=%d", dp_dtype_name(t), M, N, K,
           bias, accum, shared, mode);
  kt_check(what, out, ref, (size_t)M * N, 1e-5);
  dp_gpu_buffer_free(bw); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(bx);
  if (!shared) dp_gpu_buffer_free(by);
  free(w); free(wd); free(x); free(b); free(y0); free(ref); free(out); free(wq);
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_matmul");
  const struct { dp_dtype t; int k1, k2; } types[] = {
    {DP_F32, 1, 300}, {DP_F16, 3, 67}, {DP_BF16, 5, 130}, {DP_Q8_0, 32, 96},
    {DP_Q4_K, 256, 512}, {DP_Q6_K, 256, 512}, {DP_MXFP4, 32, 160},
  };
  const size_t nt = sizeof types / sizeof *types;
  /* Every pipeline costs seconds of compilation on CPU adapters (Mesa, SwiftShader), so each
   * family is tested for every type where it runs and for a few types elsewhere. */
  const dp_gpu_info *in = dp_gpu_get_info(G);
  int cpu_adapter = !strcmp(in->adapter_type, "cpu");
  /* the CPU-adapter kernels: rows_mv (M <= 4), and for M > 4 rows_mm_sg (subgroups of 8,
   * lavapipe) or rows_mm; no workgroup reduction, so the subgroup mode only picks between
   * rows_mm_sg and rows_mm, so each adapter tests the one it runs (lavapipe rows_mm_sg,
   * SwiftShader with subgroups of 4 rows_mm, for every type). F32/F16/BF16 with K % 8 == 0 take
   * the 16-byte-load kernels rows_mv8 / rows_mm4_sg (the k1/k2 sizes of the table are not). */
  dp_ops_set_cpu_kernels(O, 1);
  for (size_t i = 0; i < nt; i++) {
    dp_dtype t = types[i].t;
    int k1 = types[i].k1, k2 = types[i].k2;
    run_case(t, 1, 1, k1, 0, 0, 0, 2);
    run_case(t, 1, 67, k2, 1, 0, 0, 2);
    run_case(t, 4, 70, k2, 1, 1, t == DP_F32, 2);
    run_case(t, 5, 33, k2, 0, 0, 0, 2);      /* one partial 8-row block */
    run_case(t, 37, 45, k2, 1, 1, 0, 2);
  }
  run_case(DP_F16, 16000, 1056, 2, 1, 0, 0, 2); /* grid past 65535 workgroups */
  for (int t = DP_F32; t <= DP_BF16; t++) { /* rows_mv8 / rows_mm4_sg (K % 8 == 0: 16-byte loads) */
    run_case((dp_dtype)t, 1, 1, 8, 0, 0, 0, 2);
    run_case((dp_dtype)t, 1, 67, 256, 1, 0, 0, 2);
    run_case((dp_dtype)t, 4, 70, 264, 1, 1, t == DP_F32, 2);
    run_case((dp_dtype)t, 5, 33, 256, 0, 0, 0, 2);
    run_case((dp_dtype)t, 37, 45, 264, 1, 1, t == DP_F32, 2);
  }
  run_case(DP_F16, 16000, 1056, 8, 1, 0, 0, 2); /* rows_mm4_sg grid past 65535 workgroups */
  /* the GPU kernels (gemv for M <= 4, tiled): GEMV for every type on
   * every adapter, both reduction paths (subgroups where the adapter has them, and without);
   * small shapes (N 37..67, M = 1..4) so CPU adapters compile and run it quickly; tiled
   * for every type on GPUs, F32 only on CPU adapters (a GPU run covers the rest) */
  dp_ops_set_cpu_kernels(O, 0);
  for (size_t i = 0; i < nt; i++) {
    dp_dtype t = types[i].t;
    int k1 = types[i].k1, k2 = types[i].k2;
    for (int m = 0; m < kt_n_modes(); m++) {
      kt_mode(m);
      run_case(t, 1, 1, k1, 0, 0, 0, m);
      run_case(t, 1, 67, k2, 1, 0, 0, m);
      run_case(t, 2, 38, k2, 0, 0, 0, m);
      run_case(t, 3, 37, k1, 1, 1, t == DP_F32, m);
      run_case(t, 4, 41, k2, 1, 1, 0, m);
    }
    if (cpu_adapter && t != DP_F32) continue;
    run_case(t, 37, 45, k2, 1, 0, 0, 1);    /* tiled */
    run_case(t, 40, 33, k2, 0, 1, t == DP_F32, 1);
    run_case(t, 70, 130, k2, 1, 1, 0, 1);   /* tiled64: partial 64x64 tiles in both dimensions */
  }
  run_case(DP_Q6_K, 64, 64, 256, 0, 0, 0, 1); /* tiled64 (K % 32 != 0 elsewhere) / tiled128: one whole tile */
  /* tiled128 (K % 32 == 0, M >= 64), partial tiles in both dimensions and several K steps (the
   * register prefetch), in each tile shape (forced: 64x64 WG 128, 128x64 WG 256, and 64x128 /
   * 128x128 with 8 columns per invocation and a K step of 16): on GPUs every type in every
   * shape; on CPU adapters, where each of these pipelines costs ~5 s of compilation (lavapipe),
   * F32 and Q4_K in the 64x64 tiles and one decoder per other shape (gpu_kernels_variants
   * checks every type in the 64x64 tiles); then the 128x64 tiles picked by size (>= 256). */
  const struct { uint32_t wg, tn; dp_dtype cpu_t; } shapes[] = {{128, 4, DP_Q4_K}, {256, 4, DP_F16}, {128, 8, DP_BF16},
                                                                {256, 8, DP_Q4_K}};
  for (int sh = 0; sh < 4; sh++) {
    dp_ops_set_tiled128_shape(O, shapes[sh].wg, shapes[sh].tn);
    for (size_t i = 0; i < nt; i++) {
      dp_dtype t = types[i].t;
      if (cpu_adapter && t != shapes[sh].cpu_t && !(sh == 0 && t == DP_F32)) continue;
      int k = t == DP_Q4_K || t == DP_Q6_K ? 512 : t == DP_Q8_0 || t == DP_MXFP4 ? 64 : 96;
      run_case(t, 70 + 70 * (sh & 1), 130 + 70 * (sh >> 1), k, 1, 1, 0, 1);
    }
  }
  dp_ops_set_tiled128_shape(O, 0, 0);
  /* tiled128 split over K (partial products, then matmul_splitk_sum adds them + bias + y):
   * threshold 1024 workgroups, so these few tiles split in as many parts of >= 8 K steps as
   * fit: F32/F16/BF16/Q8_0/MXFP4 K = 800 (25 steps of 32: 3 splits of 9, 9, 7), Q4_K/Q6_K
   * K = 1280 (40 steps: 5 of 8); bias and accumulate; x and y sharing a buffer (F32); then the
   * 8x8 tiles (K step 16) split. Every type on GPUs; on CPU adapters F32 and Q4_K (their
   * tiled128 pipelines are built above: only matmul_splitk_sum is new). Same 1e-5 tolerance. */
  size_t vsum = (size_t)dp_kernel_variant_find("matmul_splitk_sum");
  dp_ops_set_tiled128_split(O, 1024);
  for (size_t i = 0; i < nt; i++) {
    dp_dtype t = types[i].t;
    if (cpu_adapter && t != DP_F32 && t != DP_Q4_K) continue;
    uint64_t r0 = dp_ops_variant_runs(O, vsum);
    run_case(t, 70, 130, t == DP_Q4_K || t == DP_Q6_K ? 1280 : 800, 1, 1, t == DP_F32, 1);
    CHECK(dp_ops_variant_runs(O, vsum) > r0, "matmul %s split over K: matmul_splitk_sum did not run", dp_dtype_name(t));
  }
  dp_ops_set_tiled128_shape(O, 256, 8);
  run_case(DP_Q4_K, 140, 200, 1280, 1, 0, 0, 1); /* 80 steps of 16: 10 splits of 8 */
  dp_ops_set_tiled128_shape(O, 0, 0);
  dp_ops_set_tiled128_split(O, 0);
  run_case(DP_F16, 130, 8200, 64, 1, 0, 0, 1);
  for (int t = DP_F32; t <= DP_BF16; t++) /* K % 8 == 0 and K % 4 == 0, K < 8: whole and partial units */
    run_case((dp_dtype)t, 2, 39, 264, 1, 0, 0, 1);
  run_case(DP_F16, 1, 45, 4, 0, 0, 0, 1);
  kt_mode(1);
  run_case(DP_F32, 1, 65600, 7, 1, 0, 0, 1); /* GEMV grid past 65535 workgroups */
  run_case(cpu_adapter ? DP_F32 : DP_Q4_K, 65, 70, 256, 0, 0, 0, 1); /* tiles past one in both dimensions */
  kt_close();
  return dp_test_summary("gpu_kernels_matmul");
}
