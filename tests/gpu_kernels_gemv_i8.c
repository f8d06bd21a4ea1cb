/* gpu_kernels_gemv_i8.c -- the int8-input decode GEMV of the GPU family (matvec input q8):
 * quantize_x (quantize_x.wgsl: RMSNorm / GLU prologue + int8 blocks of 32) and
 * matmul_gemv_i8 (gemv_i8.wgsl, dot4I8Packed) through dp_op_quantize_x and dp_op_linear
 * (DP_PRO_Q8), against the CPU references on fresh random inputs, outputs poisoned with NaN:
 *  * quantize_x, every prologue, M = 1..4: the codes equal dp_ref_quantize_x's of the
 *    reference prologue's values, except where the reference value t is within 2e-3 of a
 *    rounding tie (the GPU's RMSNorm / activation differ from the CPU's in the last bits;
 *    there the code may be one off; with PRO 0 too: WGSL's 127 / amax may be off in the last
 *    bit); d within 1e-5 relative (PRO 0: 1e-6), s = d * sum(q) of the GPU's own codes within
 *    1e-5 (PRO 0: 1e-6);
 *  * matmul_gemv_i8 for Q4_K, Q6_K (K/256 odd: blocks at 2 mod 4), Q8_0: against dp_ref_matmul
 *    of the dequantised weights and the GPU's quantized x (dp_ref_dequantize_x), tolerance
 *    1e-5 (f32 sums of exact integer dot products), M = 1..4, bias and accumulate, N not a
 *    multiple of the rows per workgroup; every type with R = 1 row per subgroup and workgroups of
 *    256, then R = 2, 3, 4 (DOPPLER_GEMV_I8_R) with workgroups of 64 / 256 / 64 for Q4_K, Q6_K,
 *    Q8_0 respectively; each row of an M > 1 product bit for bit its M = 1 result; then row
 *    groups of SPR = 2 / 8 subgroups with 4 units per step (DOPPLER_GEMV_I8_SPR, _I8_U,
 *    lib_gemv.wgsl) on rows past three steps of a group (K 4352, 4608: the 4-unit loop, the pair
 *    and the single unit all run), with Q6_K read by word loads (DOPPLER_GEMV_I8_WIDE=0,
 *    gemv_i8_u32.wgsl, the default) and, elsewhere, Q6_K and Q8_0 by vec4 loads
 *    (gemv_i8_wide.wgsl, DOPPLER_GEMV_I8_WIDE=1), K / 256 odd and even (Q6_K blocks at every
 *    even offset mod 16; Q8_0 pairs at every word offset);
 *  * matmul_gemv_i8_fused (pro->q8: the prologue and the quantization inside the product) on
 *    the same x, prologue and weight, output poisoned: bit for bit the quantize_x +
 *    matmul_gemv_i8 result (the same codes: lib_qx.wgsl's expressions and sum order; the same
 *    product order), and its last row alone (M = 1) bit for bit its row of M; one case with
 *    K / 32 > the workgroup (blocks quantized in two passes), one with K past its limit
 *    (DP_ERR_UNSUPPORTED naming it);
 *  * the error of the whole (quantize + product) against the f32 product is reported;
 *  * bad inputs (K % 32, an unknown activation, an F16 weight, the CPU family) each give their
 *    error.
 * Runs where the adapter has subgroups of one size and dot4I8Packed (lavapipe: yes), with the
 * GPU kernel family forced (dp_ops_set_cpu_kernels(o, 0)) and dp_ops_set_matvec_input(o, 1).
 * Bounded by pipeline compilation: ~20 s of CPU on lavapipe with the shader cache off before
 * the SPR / U / word-load configurations (~70 s wall at a load average of 11); with them 160-310 s
 * wall on lavapipe and 71-79 s on SwiftShader at a load average of 4-7 on 2 cores (2026-12-03). */
#include <stdio.h>

#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

/* xq of M rows of K on the GPU from x (pro) -> host codes and scales */
static dp_gpu_buffer *quantize(dp_ops *o, const float *x, int M, int K, int pro, int arg, dp_gpu_buffer *bn, int8_t *q,
                               float *ds) {
  int kx = pro == DP_PRO_GLU ? 2 * K : K;
  dp_gpu_buffer *bx = kt_upload(x, (size_t)M * kx * 4), *bq = kt_buf(dp_xq_bytes((uint32_t)M, (uint32_t)K));
  dp_gemv_pro p = {pro, kv(bn), 1e-5f, pro == DP_PRO_RMSNORM && arg ? DP_NORM_PLUS_ONE : 0, arg, 0, 0};
  KT_OK(dp_op_quantize_x(o, kv(bq), kv(bx), (uint32_t)M, (uint32_t)K, pro ? &p : NULL));
  uint64_t dofs = (uint64_t)(((size_t)M * K + 255) & ~(size_t)255);
  uint8_t *all = kt_alloc(dp_xq_bytes((uint32_t)M, (uint32_t)K));
  kt_read(bq, all, dp_xq_bytes((uint32_t)M, (uint32_t)K));
  memcpy(q, all, (size_t)M * K);
  memcpy(ds, all + dofs, (size_t)M * (K / 32) * 8);
  free(all);
  dp_gpu_buffer_free(bx);
  return bq;
}

static void quantize_case(dp_ops *o, int M, int K, int pro, int arg) {
  int kx = pro == DP_PRO_GLU ? 2 * K : K;
  float *x = kt_randn((size_t)M * kx, 1), *v = kt_alloc((size_t)M * K * 4), *nw = kt_randn(K, 0.5f);
  float *rds = kt_alloc((size_t)M * K / 32 * 8), *ds = kt_alloc((size_t)M * K / 32 * 8);
  int8_t *rq = kt_alloc((size_t)M * K), *q = kt_alloc((size_t)M * K);
  if (pro == DP_PRO_RMSNORM) dp_ref_rmsnorm(v, x, nw, M, K, 1e-5f, arg);
  else if (pro == DP_PRO_GLU)
    for (int m = 0; m < M; m++) dp_ref_glu(v + (size_t)m * K, x + (size_t)m * kx, x + (size_t)m * kx + K, K, arg);
  else memcpy(v, x, (size_t)M * K * 4);
  dp_ref_quantize_x(rq, rds, v, M, K);
  dp_gpu_buffer *bn = kt_upload(nw, (size_t)K * 4);
  dp_gpu_buffer_free(quantize(o, x, M, K, pro, arg, bn, q, ds));
  int bad = 0, ties = 0;
  double dmax = 0, smax = 0;
  for (size_t i = 0; i < (size_t)M * K; i++) {
    if (q[i] == rq[i]) continue;
    float d = rds[2 * (i / 32)], t = d > 0 ? v[i] / d : 0, f = fabsf(t) - floorf(fabsf(t));
    if (abs(q[i] - rq[i]) == 1 && fabsf(f - 0.5f) < 2e-3f) ties++;
    else bad++;
  }
  for (size_t b = 0; b < (size_t)M * K / 32; b++) {
    int sum = 0;
    for (int i = 0; i < 32; i++) sum += q[32 * b + i];
    double e = fabs(ds[2 * b] - rds[2 * b]) / (rds[2 * b] > 0 ? rds[2 * b] : 1);
    double es = fabs(ds[2 * b + 1] - ds[2 * b] * (float)sum) / (fabs(ds[2 * b] * (float)sum) + ds[2 * b] + 1e-30);
    dmax = e > dmax ? e : dmax, smax = es > smax ? es : smax;
  }
  double tol = pro == DP_PRO_NONE ? 1e-6 : 1e-5;
  static const char *pname[] = {"plain", "rmsnorm", "silu", "gelu"};
  const char *pn = pname[pro == DP_PRO_GLU ? 2 + arg : pro];
  printf("quantize_x %-7s%s M=%d K=%d: codes off %d (near ties %d), d rel %.1e, s rel %.1e\n", pn,
         pro == DP_PRO_RMSNORM && arg ? "+1" : "", M, K, bad, ties, dmax, smax);
  CHECK(bad == 0 && dmax <= tol && smax <= tol, "quantize_x %s M=%d K=%d: %d codes off, d %.2e, s %.2e", pn, M, K, bad, dmax, smax);
  dp_gpu_buffer_free(bn);
  free(x); free(v); free(nw); free(rds); free(ds); free(rq); free(q);
}

static void gemv_case(dp_ops *o, const char *cfg, dp_dtype t, int M, int N, int K, int pro, int bias, int accum) {
  size_t rb = dp_dtype_row_bytes(t, K);
  int kx = pro == DP_PRO_GLU ? 2 * K : K;
  float *w = kt_randn((size_t)N * K, 0.5f), *wd = kt_alloc((size_t)N * K * 4), *x = kt_randn((size_t)M * kx, 1);
  float *xd = kt_alloc((size_t)M * K * 4), *nw = kt_randn(K, 0.5f), *b = kt_randn(N, 1), *ds = kt_alloc((size_t)M * K / 32 * 8);
  float *ref = kt_randn((size_t)M * N, 1), *out = kt_alloc((size_t)M * N * 4), *one = kt_alloc((size_t)N * 4);
  float *reff = kt_alloc((size_t)M * N * 4);
  int8_t *q = kt_alloc((size_t)M * K);
  void *wq = kt_alloc(rb * N);
  KT_OK(dp_quantize(t, w, wq, (uint64_t)N * K));
  KT_OK(dp_ref_dequant_rows(t, wq, N, K, wd));
  dp_weight *W = NULL;
  KT_OK(dp_weight_create(o, t, N, K, 0, "test.w", &W));
  if (W) KT_OK(dp_weight_write(o, W, 0, N, wq));
  dp_gpu_buffer *bn = kt_upload(nw, (size_t)K * 4), *bb = kt_upload(b, (size_t)N * 4), *by = kt_buf((size_t)M * N * 4);
  dp_gpu_buffer *bq = quantize(o, x, M, K, pro, 0, bn, q, ds);
  dp_ref_dequantize_x(xd, q, ds, M, K);
  if (accum) dp_gpu_buffer_write(G, by, 0, ref, (size_t)M * N * 4);
  memcpy(reff, ref, (size_t)M * N * 4);
  dp_ref_matmul(ref, xd, wd, bias ? b : NULL, M, N, K, accum);
  dp_gemv_pro p = {DP_PRO_Q8, {NULL, 0}, 0, 0, 0, 0, 0};
  if (W) {
    CHECK(dp_ops_linear_q8(o, W, (uint32_t)M), "%s %s K=%d: no int8 GEMV", cfg, dp_dtype_name(t), K);
    KT_OK(dp_op_linear(o, kv(by), kv(bq), W, 0, (uint32_t)N, bias ? kv(bb) : dp_view_of(NULL, 0), (uint32_t)M, &p,
                       (accum ? DP_MM_ACCUM : 0) | DP_MM_ROWS));
  }
  kt_read(by, out, (size_t)M * N * 4);
  char what[160];
  snprintf(what, sizeof what, "gemv_i8 %s %-5s M=%d N=%d K=%d%s%s%s", cfg, dp_dtype_name(t), M, N, K,
           pro == DP_PRO_RMSNORM ? " rmsnorm" : pro == DP_PRO_GLU ? " silu" : "", bias ? " bias" : "", accum ? " acc" : "");
  kt_check(what, out, ref, (size_t)M * N, 1e-5);
  /* the fused product: pro(x) quantized inside it; bit for bit the two dispatches' result */
  if (W && dp_ops_linear_q8_fused(o, W, (uint32_t)M)) {
    int kx1 = pro == DP_PRO_GLU ? 2 * K : K;
    dp_gemv_pro pf = {pro, kv(bn), 1e-5f, 0, pro == DP_PRO_GLU ? DP_GLU_SILU : 0, 0, 1};
    dp_gpu_buffer *bx = kt_upload(x, (size_t)M * kx1 * 4), *bf = kt_buf((size_t)M * N * 4), *b1 = kt_buf((size_t)N * 4);
    if (accum) dp_gpu_buffer_write(G, bf, 0, reff, (size_t)M * N * 4);
    float *fo = kt_alloc((size_t)M * N * 4);
    KT_OK(dp_op_linear(o, kv(bf), kv(bx), W, 0, (uint32_t)N, bias ? kv(bb) : dp_view_of(NULL, 0), (uint32_t)M, &pf,
                       (accum ? DP_MM_ACCUM : 0) | DP_MM_ROWS));
    kt_read(bf, fo, (size_t)M * N * 4);
    int same = !memcmp(fo, out, (size_t)M * N * 4);
    printf("  fused (quantized in the product): %s\n", same ? "bitwise equal" : "DIFFERENT");
    CHECK(same, "%s: matmul_gemv_i8_fused differs from quantize_x + matmul_gemv_i8", what);
    if (M > 1 && !accum) {
      dp_gpu_buffer *bx1 = kt_upload(x + (size_t)(M - 1) * kx1, (size_t)kx1 * 4);
      KT_OK(dp_op_linear(o, kv(b1), kv(bx1), W, 0, (uint32_t)N, bias ? kv(bb) : dp_view_of(NULL, 0), 1, &pf, DP_MM_ROWS));
      kt_read(b1, one, (size_t)N * 4);
      CHECK(!memcmp(one, fo + (size_t)(M - 1) * N, (size_t)N * 4), "%s: fused row %d of M=%d differs from its M=1 result",
            what, M - 1, M);
      dp_gpu_buffer_free(bx1);
    }
    dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bf); dp_gpu_buffer_free(b1);
    free(fo);
  } else {
    CHECK(0, "%s: matmul_gemv_i8_fused does not apply", what);
  }
  /* against the f32 input: the quantization error (reported, not a check) */
  if (pro == DP_PRO_NONE && !accum) {
    dp_ref_matmul(reff, x, wd, bias ? b : NULL, M, N, K, 0);
    double e = 0, r = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) e += (out[i] - reff[i]) * (double)(out[i] - reff[i]), r += (double)reff[i] * reff[i];
    printf("  vs f32 input: rel %.2e\n", sqrt(e / (r > 0 ? r : 1)));
  }
  /* batch invariance: the last row alone, bit for bit (rows are quantized independently) */
  if (M > 1 && W && !accum) {
    dp_gpu_buffer *b1 = kt_buf((size_t)N * 4);
    int8_t *q1 = kt_alloc((size_t)K);
    float *ds1 = kt_alloc((size_t)K / 32 * 8);
    dp_gpu_buffer *bq1 = quantize(o, x + (size_t)(M - 1) * kx, 1, K, pro, 0, bn, q1, ds1);
    KT_OK(dp_op_linear(o, kv(b1), kv(bq1), W, 0, (uint32_t)N, bias ? kv(bb) : dp_view_of(NULL, 0), 1, &p, DP_MM_ROWS));
    kt_read(b1, one, (size_t)N * 4);
    CHECK(!memcmp(q1, q + (size_t)(M - 1) * K, (size_t)K) && !memcmp(one, out + (size_t)(M - 1) * N, (size_t)N * 4),
          "%s: row %d of M=%d differs from its M=1 result", what, M - 1, M);
    dp_gpu_buffer_free(b1); dp_gpu_buffer_free(bq1);
    free(q1); free(ds1);
  }
  dp_gpu_buffer_free(bn); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(by); dp_gpu_buffer_free(bq);
  dp_weight_free(W);
  free(w); free(wd); free(x); free(xd); free(nw); free(b); free(ds); free(ref); free(out); free(one); free(reff);
  free(q); free(wq);
}

/* bad inputs: one clear error each, nothing dispatched */
static void errors_case(dp_ops *o) {
  dp_gpu_buffer *bx = kt_buf(4096), *bq = kt_buf(dp_xq_bytes(1, 256)), *by = kt_buf(1024);
  dp_status st = dp_op_quantize_x(o, kv(bq), kv(bx), 1, 48, NULL);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "K=48"), "quantize_x K=48: %d %s", st, dp_error_message());
  dp_gemv_pro bad = {DP_PRO_GLU, {NULL, 0}, 0, 0, 7, 0, 0};
  st = dp_op_quantize_x(o, kv(bq), kv(bx), 1, 256, &bad);
  CHECK(st == DP_ERR_INVALID_ARG, "quantize_x activation 7: %d %s", st, dp_error_message());
  dp_weight *W = NULL;
  KT_OK(dp_weight_create(o, DP_F16, 4, 256, 0, "test.f16", &W));
  dp_gemv_pro q = {DP_PRO_Q8, {NULL, 0}, 0, 0, 0, 0, 0};
  st = W ? dp_op_linear(o, kv(by), kv(bq), W, 0, 4, dp_view_of(NULL, 0), 1, &q, DP_MM_ROWS) : DP_OK;
  CHECK(st == DP_ERR_UNSUPPORTED && strstr(dp_error_message(), "int8 input"), "int8 input on F16: %d %s", st, dp_error_message());
  dp_weight *W2 = NULL; /* K past the fused product's workgroup memory (at most 16384) */
  dp_gpu_buffer *bx2 = kt_buf((size_t)16640 * 4);
  KT_OK(dp_weight_create(o, DP_Q8_0, 4, 16640, 0, "test.q8_0", &W2));
  dp_gemv_pro f = {DP_PRO_NONE, {NULL, 0}, 0, 0, 0, 0, 1};
  CHECK(W2 && dp_ops_linear_q8(o, W2, 1) && !dp_ops_linear_q8_fused(o, W2, 1), "K=16640: int8 input but not fused expected");
  st = W2 ? dp_op_linear(o, kv(by), kv(bx2), W2, 0, 4, dp_view_of(NULL, 0), 1, &f, DP_MM_ROWS) : DP_OK;
  CHECK(st == DP_ERR_UNSUPPORTED && strstr(dp_error_message(), "_fused"), "fused K=16640: %d %s", st, dp_error_message());
  dp_weight_free(W2);
  dp_gpu_buffer_free(bx2);
  dp_ops_set_cpu_kernels(o, 1);
  st = dp_op_quantize_x(o, kv(bq), kv(bx), 1, 256, NULL);
  CHECK(st == DP_ERR_UNSUPPORTED, "quantize_x on the CPU family: %d %s", st, dp_error_message());
  dp_ops_set_cpu_kernels(o, 0);
  dp_weight_free(W);
  dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bq); dp_gpu_buffer_free(by);
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_gemv_i8");
  const dp_gpu_info *in = dp_gpu_get_info(G);
  if (!in->has_subgroups || in->subgroup_min != in->subgroup_max || !in->has_dot4) {
    printf("skip: subgroups [%u..%u] not of one size, or no dot4I8Packed (%d)\n", in->subgroup_min, in->subgroup_max, in->has_dot4);
    kt_close();
    return dp_test_summary("gpu_kernels_gemv_i8");
  }
  const struct { dp_dtype t; int K; } types[] = {{DP_Q4_K, 512}, {DP_Q6_K, 768}, {DP_Q8_0, 192}};
  /* the last two: row groups of SPR subgroups with 4 units per step (lib_gemv.wgsl), Q6_K by word
   * loads (WIDE=0, gemv_i8_u32) and Q4_K; rows long enough for the 4-unit steps, the pair and the single unit */
  const struct { const char *r, *wg, *spr, *u, *wide; } cfgs[] = {
    {"1", "256", "1", "2", "1"}, {"2", "64", "1", "2", "1"}, {"3", "256", "1", "2", "1"}, {"4", "64", "1", "2", "1"},
    {"2", "128", "2", "4", "0"}, {"1", "256", "8", "4", "1"}};
  for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
    setenv("DOPPLER_GEMV_I8_R", cfgs[c].r, 1);
    setenv("DOPPLER_GEMV_WG", cfgs[c].wg, 1);
    setenv("DOPPLER_GEMV_I8_SPR", cfgs[c].spr, 1);
    setenv("DOPPLER_GEMV_I8_U", cfgs[c].u, 1);
    setenv("DOPPLER_GEMV_I8_WIDE", cfgs[c].wide, 1);
    dp_ops *o = NULL;
    KT_OK(dp_ops_create(G, &o));
    if (!o) break;
    dp_ops_set_cpu_kernels(o, 0);
    dp_ops_set_matvec_input(o, 1);
    dp_ops_set_q8_fused(o, 1);
    char cfg[64];
    snprintf(cfg, sizeof cfg, "R=%s WG=%s SPR=%s U=%s WIDE=%s", cfgs[c].r, cfgs[c].wg, cfgs[c].spr, cfgs[c].u, cfgs[c].wide);
    if (c == 0) {
      errors_case(o);
      quantize_case(o, 1, 32, DP_PRO_NONE, 0);
      quantize_case(o, 3, 4096, DP_PRO_NONE, 0);
      quantize_case(o, 2, 2080, DP_PRO_RMSNORM, 0);
      quantize_case(o, 1, 256, DP_PRO_RMSNORM, 1);
      quantize_case(o, 4, 96, DP_PRO_GLU, DP_GLU_SILU);
      quantize_case(o, 2, 320, DP_PRO_GLU, DP_GLU_GELU_TANH);
    }
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
      if (c == 0) {
        gemv_case(o, cfg, types[i].t, 1, 1, types[i].K, DP_PRO_NONE, 0, 0);
        gemv_case(o, cfg, types[i].t, 1, 67, types[i].K, DP_PRO_RMSNORM, 1, 0);
        gemv_case(o, cfg, types[i].t, 4, 41, types[i].K, DP_PRO_GLU, 0, 0);
        gemv_case(o, cfg, types[i].t, 2, 70, types[i].K, DP_PRO_NONE, 0, 1);
      } else if (c == 4 && i == 1) { /* Q6_K by word loads, 17 blocks a row (blocks at every even offset mod 16) */
        gemv_case(o, cfg, types[i].t, 3, 51, 4352, DP_PRO_RMSNORM, 1, 0);
        gemv_case(o, cfg, types[i].t, 1, 19, 768, DP_PRO_NONE, 0, 1);
      } else if (c == 4 && i == 2) { /* Q8_0 by word loads: 19 block pairs a row (every word offset mod 16) */
        gemv_case(o, cfg, types[i].t, 2, 37, 1216, DP_PRO_NONE, 1, 0);
      } else if (c == 5 && i < 2) {
        gemv_case(o, cfg, types[i].t, 2, 45, 4608, DP_PRO_GLU, 0, 1);
      } else if (c < 4 && i == c - 1) { /* R = 2..4 and WG 64: one type each (pipelines take seconds to compile on lavapipe) */
        gemv_case(o, cfg, types[i].t, (int)c + 1, 75 + 55 * (int)c, types[i].K, (int)c % 3, c != 2, c == 3);
        if (c == 1) gemv_case(o, cfg, types[i].t, 2, 33, 2560, DP_PRO_RMSNORM, 0, 0); /* 80 blocks, WG 64: two passes */
      }
    }
    char vn[48];
    snprintf(vn, sizeof vn, "matmul_gemv_i8_%s", dp_dtype_name(types[c == 0 || c == 5 ? 0 : c == 4 ? 1 : c - 1].t));
    long e = dp_kernel_variant_find(vn);
    CHECK(e >= 0 && dp_ops_variant_runs(o, (size_t)e) > 0, "%s: %s never ran", cfg, vn);
    dp_ops_free(o);
  }
  unsetenv("DOPPLER_GEMV_I8_R");
  unsetenv("DOPPLER_GEMV_WG");
  unsetenv("DOPPLER_GEMV_I8_SPR");
  unsetenv("DOPPLER_GEMV_I8_U");
  unsetenv("DOPPLER_GEMV_I8_WIDE");
  kt_close();
  return dp_test_summary("gpu_kernels_gemv_i8");
}
