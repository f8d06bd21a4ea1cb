/* gpu_kernels_gemv_sg.c -- the GPU family's decode GEMV matmul_gemv_sg (gemv_sg.wgsl: subgroup
 * per row, 16-byte weight units or lib_wdecode blocks) through dp_op_linear, against the CPU
 * reference: y[M, N] (+)= pro(x) . W^T (+ bias) with pro(x) made by dp_ref_rmsnorm (plain and
 * plus-one) / dp_ref_glu (SiLU, GELU-tanh) and the product by dp_ref_matmul over the
 * dequantised rows; every weight type, M = 1..4, bias and accumulate, N not a multiple of the
 * rows per workgroup, for 1..4 rows per subgroup (DOPPLER_GEMV_R, one ops context each) and
 * workgroups of 256 and 64 invocations (DOPPLER_GEMV_WG); then row groups of 4 subgroups with 4
 * units per step (DOPPLER_GEMV_SPR=4, DOPPLER_GEMV_U=4, lib_gemv.wgsl) on F16, Q4_K, Q6_K rows
 * longer than 3 steps of the group (the 4-unit loop, the pair and the single unit all run) and the
 * GLU epilogue; the GLU epilogue (dp_gemv_pro.glu_out: W =
 * gate | up, y = act(gate) * up) against dp_ref_glu over the reference product. Runs where the adapter has subgroups
 * of one size (lavapipe 8, SwiftShader 4, NVIDIA 32), with the GPU kernel family forced
 * (dp_ops_set_cpu_kernels(o, 0)); outputs poisoned with NaN; tolerance 1e-5 (f32 compute).
 * 2-12 s on lavapipe (pipeline compilation; less with a warm shader cache), 7 s on SwiftShader,
 * before the SPR / U configuration; with it 106 s wall on lavapipe and 45 s on SwiftShader at a
 * load average of 4-7 on 2 cores (2026-12-03). */
#include <math.h>
#include <stdio.h>

#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

static void run_case(dp_ops *o, const char *cfg, dp_dtype t, int M, int N, int K, int pro, int arg, int bias, int accum) {
  int kx = pro == DP_PRO_GLU ? 2 * K : K;
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = kt_randn((size_t)N * K, 0.5f), *wd = kt_alloc((size_t)N * K * 4), *x = kt_randn((size_t)M * kx, 1);
  float *xin = kt_alloc((size_t)M * K * 4), *nw = kt_randn(K, 0.5f), *b = kt_randn(N, 1);
  float *ref = kt_randn((size_t)M * N, 1), *out = kt_alloc((size_t)M * N * 4);
  void *wq = kt_alloc(rb * N);
  KT_OK(dp_quantize(t, w, wq, (uint64_t)N * K));
  KT_OK(dp_ref_dequant_rows(t, wq, N, K, wd));
  if (pro == DP_PRO_RMSNORM) dp_ref_rmsnorm(xin, x, nw, M, K, 1e-5f, arg);
  else if (pro == DP_PRO_GLU)
    for (int m = 0; m < M; m++) dp_ref_glu(xin + (size_t)m * K, x + (size_t)m * kx, x + (size_t)m * kx + K, K, arg);
  else memcpy(xin, x, (size_t)M * K * 4);
  dp_weight *W = NULL;
  KT_OK(dp_weight_create(o, t, N, K, 0, "test.w", &W));
  if (W) KT_OK(dp_weight_write(o, W, 0, N, wq));
  dp_gpu_buffer *bx = kt_upload(x, (size_t)M * kx * 4), *bb = kt_upload(b, (size_t)N * 4), *by = kt_buf((size_t)M * N * 4);
  dp_gpu_buffer *bn = kt_upload(nw, (size_t)K * 4);
  if (accum) dp_gpu_buffer_write(G, by, 0, ref, (size_t)M * N * 4);
  dp_ref_matmul(ref, xin, wd, bias ? b : NULL, M, N, K, accum);
  dp_gemv_pro p = {pro, kv(bn), 1e-5f, pro == DP_PRO_RMSNORM && arg ? DP_NORM_PLUS_ONE : 0, arg, 0, 0};
  if (W) {
    CHECK(dp_ops_linear_pro(o, W, (uint32_t)M), "%s %s K=%d: no prologue GEMV", cfg, dp_dtype_name(t), K);
    KT_OK(dp_op_linear(o, kv(by), kv(bx), W, 0, (uint32_t)N, bias ? kv(bb) : dp_view_of(NULL, 0), (uint32_t)M,
                       pro ? &p : NULL, accum ? DP_MM_ACCUM : 0));
  }
  kt_read(by, out, (size_t)M * N * 4);
  static const char *pname[] = {"", " rmsnorm", " silu", " gelu"};
  char what[160];
  snprintf(what, sizeof what, "gemv_sg %s %-5s M=%d N=%d K=%d%s%s%s%s", cfg, dp_dtype_name(t), M, N, K,
           pname[pro == DP_PRO_GLU ? 2 + arg : pro], pro == DP_PRO_RMSNORM && arg ? "+1" : "", bias ? " bias" : "",
           accum ? " acc" : "");
  /* One output (N = M = 1) is one dot product, which cancellation can bring near 0 (seed
   * 37415397111: rel err 1.6e-5 of an exact-enough result): there the error is relative to the
   * size such a product has, sum_k |xin_k w_k| / sqrt(K), when that is larger than |ref|. */
  if (M * N == 1) {
    double mag = 0;
    for (int k = 0; k < K; k++) mag += fabs((double)xin[k] * wd[k]);
    mag /= sqrt((double)K);
    float fl = (float)(fabs(ref[0]) > mag ? fabs(ref[0]) : mag), e0 = out[0] - ref[0], z = 0;
    float a[2] = {e0, fl}, r[2] = {z, fl}; /* rel err of (e0, fl) against (0, fl): |e0| / |fl| */
    kt_check(what, a, r, 2, 1e-5);
  } else kt_check(what, out, ref, (size_t)M * N, 1e-5);
  dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(by); dp_gpu_buffer_free(bn);
  dp_weight_free(W);
  free(w); free(wd); free(x); free(xin); free(nw); free(b); free(ref); free(out); free(wq);
}

/* y[M, F] = act(pro(x) . gate^T) * (pro(x) . up^T), W = gate | up (2F rows): the GLU epilogue */
static void glu_case(dp_ops *o, dp_dtype t, int M, int F, int K, int act, int norm) {
  int N = 2 * F;
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = kt_randn((size_t)N * K, 0.5f), *wd = kt_alloc((size_t)N * K * 4), *x = kt_randn((size_t)M * K, 1);
  float *xin = kt_alloc((size_t)M * K * 4), *nw = kt_randn(K, 0.5f), *gu = kt_alloc((size_t)M * N * 4);
  float *ref = kt_alloc((size_t)M * F * 4), *out = kt_alloc((size_t)M * F * 4);
  void *wq = kt_alloc(rb * N);
  KT_OK(dp_quantize(t, w, wq, (uint64_t)N * K));
  KT_OK(dp_ref_dequant_rows(t, wq, N, K, wd));
  if (norm) dp_ref_rmsnorm(xin, x, nw, M, K, 1e-5f, 0);
  else memcpy(xin, x, (size_t)M * K * 4);
  dp_ref_matmul(gu, xin, wd, NULL, M, N, K, 0);
  for (int m = 0; m < M; m++) dp_ref_glu(ref + (size_t)m * F, gu + (size_t)m * N, gu + (size_t)m * N + F, F, act);
  dp_weight *W = NULL;
  KT_OK(dp_weight_create(o, t, N, K, 0, "test.gu", &W));
  if (W) KT_OK(dp_weight_write(o, W, 0, N, wq));
  dp_gpu_buffer *bx = kt_upload(x, (size_t)M * K * 4), *by = kt_buf((size_t)M * F * 4), *bn = kt_upload(nw, (size_t)K * 4);
  dp_gemv_pro p = {norm ? DP_PRO_RMSNORM : DP_PRO_NONE, kv(bn), 1e-5f, 0, 0, 1 + act, 0};
  if (W) {
    CHECK(dp_ops_linear_glu_out(o, W, (uint32_t)M), "%s: no GLU output", dp_dtype_name(t));
    KT_OK(dp_op_linear(o, kv(by), kv(bx), W, 0, (uint32_t)N, dp_view_of(NULL, 0), (uint32_t)M, &p, 0));
  }
  kt_read(by, out, (size_t)M * F * 4);
  char what[160];
  snprintf(what, sizeof what, "gemv_sg glu-out %-5s M=%d F=%d K=%d %s%s", dp_dtype_name(t), M, F, K, act ? "gelu" : "silu",
           norm ? " rmsnorm" : "");
  kt_check(what, out, ref, (size_t)M * F, 1e-5);
  dp_gpu_buffer_free(bx); dp_gpu_buffer_free(by); dp_gpu_buffer_free(bn);
  dp_weight_free(W);
  free(w); free(wd); free(x); free(xin); free(nw); free(gu); free(ref); free(out); free(wq);
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_gemv_sg");
  const dp_gpu_info *in = dp_gpu_get_info(G);
  if (!in->has_subgroups || in->subgroup_min != in->subgroup_max) {
    printf("skip: subgroups [%u..%u] are not of one size\n", in->subgroup_min, in->subgroup_max);
    kt_close();
    return dp_test_summary("gpu_kernels_gemv_sg");
  }
  const struct { dp_dtype t; int K; } types[] = {
    {DP_F32, 36}, {DP_F16, 264}, {DP_BF16, 72}, {DP_Q8_0, 96}, {DP_Q4_K, 512}, {DP_Q6_K, 256}, {DP_MXFP4, 160},
  };
  /* the last: row groups of 4 subgroups (DOPPLER_GEMV_SPR), 4 units per step (DOPPLER_GEMV_U) */
  const struct { const char *r, *wg, *spr, *u; } cfgs[] = {{"1", "256", "1", "2"}, {"2", "64", "1", "2"}, {"3", "256", "1", "2"},
                                                          {"4", "64", "1", "2"}, {"2", "256", "4", "4"}};
  for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
    setenv("DOPPLER_GEMV_R", cfgs[c].r, 1);
    setenv("DOPPLER_GEMV_WG", cfgs[c].wg, 1);
    setenv("DOPPLER_GEMV_SPR", cfgs[c].spr, 1);
    setenv("DOPPLER_GEMV_U", cfgs[c].u, 1);
    dp_ops *o = NULL;
    KT_OK(dp_ops_create(G, &o));
    if (!o) break;
    dp_ops_set_cpu_kernels(o, 0);
    char cfg[48];
    snprintf(cfg, sizeof cfg, "R=%s WG=%s SPR=%s U=%s", cfgs[c].r, cfgs[c].wg, cfgs[c].spr, cfgs[c].u);
    if (c == 4) { /* rows long enough for the 4-unit steps, the pair and the single unit (K / unit > 3 SG SPR) */
      run_case(o, cfg, DP_F16, 1, 45, 1096, DP_PRO_RMSNORM, 0, 1, 0);
      run_case(o, cfg, DP_Q4_K, 3, 77, 4352, DP_PRO_NONE, 0, 0, 1);
      run_case(o, cfg, DP_Q6_K, 2, 29, 2304, DP_PRO_GLU, DP_GLU_SILU, 1, 0);
      glu_case(o, DP_F16, 2, 38, 1096, DP_GLU_SILU, 1);
    }
    for (size_t i = 0; i < sizeof types / sizeof *types && c < 4; i++) {
      dp_dtype t = types[i].t;
      int K = types[i].K;
      if (c == 0) { /* every prologue and flag on the first configuration */
        run_case(o, cfg, t, 1, 1, K, DP_PRO_NONE, 0, 0, 0);
        run_case(o, cfg, t, 1, 67, K, DP_PRO_RMSNORM, 0, 1, 0);
        run_case(o, cfg, t, 2, 70, K, DP_PRO_RMSNORM, 1, 0, 1);
        run_case(o, cfg, t, 3, 33, K, DP_PRO_GLU, DP_GLU_SILU, 1, 1);
        run_case(o, cfg, t, 4, 41, K, DP_PRO_GLU, DP_GLU_GELU_TANH, 0, 0);
      } else {
        run_case(o, cfg, t, (int)c + 1, 75 + 55 * (int)c, K, (int)c % 3, c == 2 ? DP_GLU_SILU : 0, c != 2, c != 1);
      }
    }
    if (c == 0 || c == 2) /* the GLU epilogue (rows in pairs) */
      for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        glu_case(o, types[i].t, c == 0 ? 1 : 3, c == 0 ? 37 : 70, types[i].K, c == 0 ? DP_GLU_SILU : DP_GLU_GELU_TANH, c == 0);
    /* the variant ran (not the plain GEMV) */
    long e = dp_kernel_variant_find("matmul_gemv_sg_q4_k");
    CHECK(e >= 0 && dp_ops_variant_runs(o, (size_t)e) > 0, "%s: matmul_gemv_sg_q4_k never ran", cfg);
    dp_ops_free(o);
  }
  unsetenv("DOPPLER_GEMV_R");
  unsetenv("DOPPLER_GEMV_WG");
  unsetenv("DOPPLER_GEMV_SPR");
  unsetenv("DOPPLER_GEMV_U");
  kt_close();
  return dp_test_summary("gpu_kernels_gemv_sg");
}
