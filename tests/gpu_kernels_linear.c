/* gpu_kernels_linear.c -- matrices split into parts of whole rows (kernels/ops.h dp_weight)
 * through dp_op_linear and dp_op_embed, against the CPU reference (dp_ref_matmul /
 * dp_ref_rmsnorm / dp_ref_embed over the dequantised rows), on a device whose storage bindings
 * and buffers are capped at 64 KiB (DOPPLER_MAX_BINDING_BYTES), so that small matrices of every
 * weight type split into 3-5 parts. Row ranges [row0, row0 + N) that start and end inside
 * parts (256-aligned in bytes for the buffer kernels, anywhere for the texture ones), bias,
 * accumulate, M = 1 and 3 (GEMV), 9 and 40 (prefill), through the CPU kernel family with and
 * without weight textures (the texture GEMV with its RMSNorm prologue per part) and through the
 * GPU family (gemv / tiled); gathers of ids at the first and last row of every part; the
 * parts' sizes against the cap; outputs poisoned with NaN; tolerance 1e-5 (f32 compute), 1e-6
 * for gathers. Then the errors: a matrix no part of which fits, unaligned buffer row ranges,
 * prologues without textures, rows past the weight. */
#include <stdio.h>

#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

#define CAP (64u << 10)

/* W[NT, K] of type t, random, in a dp_weight written in chunks of 8 rows; *wd: its rows as f32 */
static dp_weight *make_weight(dp_dtype t, int NT, int K, int tex, float **wd) {
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = kt_randn((size_t)NT * K, 0.5f);
  void *wq = kt_alloc(rb * NT);
  *wd = kt_alloc((size_t)NT * K * 4);
  KT_OK(dp_quantize(t, w, wq, (uint64_t)NT * K));
  KT_OK(dp_ref_dequant_rows(t, wq, NT, K, *wd));
  free(w);
  dp_weight *W = NULL;
  dp_ops_set_weight_textures(O, tex);
  KT_OK(dp_weight_create(O, t, NT, K, tex, "test.w", &W));
  dp_ops_set_weight_textures(O, 1);
  for (int r = 0; W && r < NT; r += 8) KT_OK(dp_weight_write(O, W, r, NT - r < 8 ? NT - r : 8, (uint8_t *)wq + r * rb));
  free(wq);
  if (W) {
    CHECK(W->n_parts >= 3 && (uint64_t)W->part_rows * rb <= CAP, "%s [%d, %d]: %u parts of %u rows", dp_dtype_name(t), NT, K,
          W->n_parts, W->part_rows);
    CHECK(W->tex == tex, "%s [%d, %d]: textures %d, asked %d", dp_dtype_name(t), NT, K, W->tex, tex);
  }
  return W;
}

/* y[M, N] (+)= pro(x) . W[row0 .. row0 + N)^T (+ bias) with cpu = the kernel family */
static void linear_case(dp_dtype t, int NT, int K, int row0, int N, int M, int tex, int cpu, int norm, int bias, int accum) {
  dp_ops_set_cpu_kernels(O, cpu);
  float *wd, *x = kt_randn((size_t)M * K, 1), *xin = kt_alloc((size_t)M * K * 4), *nw = kt_randn(K, 0.5f);
  float *b = kt_randn(N, 1), *ref = kt_randn((size_t)M * N, 1), *out = kt_alloc((size_t)M * N * 4);
  dp_weight *W = make_weight(t, NT, K, tex, &wd);
  if (!W) goto done;
  if (norm) dp_ref_rmsnorm(xin, x, nw, M, K, 1e-5f, 0);
  else memcpy(xin, x, (size_t)M * K * 4);
  dp_gpu_buffer *bx = kt_upload(x, (size_t)M * K * 4), *bb = kt_upload(b, (size_t)N * 4), *by = kt_buf((size_t)M * N * 4);
  dp_gpu_buffer *bn = kt_upload(nw, (size_t)K * 4);
  if (accum) dp_gpu_buffer_write(G, by, 0, ref, (size_t)M * N * 4);
  dp_ref_matmul(ref, xin, wd + (size_t)row0 * K, bias ? b : NULL, M, N, K, accum);
  dp_gemv_pro p = {DP_PRO_RMSNORM, kv(bn), 1e-5f, 0, 0, 0, 0};
  KT_OK(dp_op_linear(O, kv(by), kv(bx), W, (uint32_t)row0, (uint32_t)N, bias ? kv(bb) : dp_view_of(NULL, 0), (uint32_t)M,
                     norm ? &p : NULL, accum ? DP_MM_ACCUM : 0));
  kt_read(by, out, (size_t)M * N * 4);
  char what[160];
  snprintf(what, sizeof what, "linear %-4s rows [%d, +%d) of %d (%u parts) K=%d M=%d %s%s%s%s%s", dp_dtype_name(t), row0, N, NT,
           W->n_parts, K, M, cpu ? "cpu" : "gpu", tex ? " tex" : "", norm ? " rmsnorm" : "", bias ? " bias" : "",
           accum ? " acc" : "");
  kt_check(what, out, ref, (size_t)M * N, 1e-5);
  dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(by); dp_gpu_buffer_free(bn);
  dp_weight_free(W);
done:
  dp_ops_set_cpu_kernels(O, 1);
  free(wd); free(x); free(xin); free(nw); free(b); free(ref); free(out);
}

/* embed from a table of V rows in parts: the first and last id of every part, then random */
static void embed_case(dp_dtype t, int V, int D) {
  float *wd;
  dp_weight *W = make_weight(t, V, D, 0, &wd);
  if (!W) { free(wd); return; }
  int T = 0;
  uint32_t ids[48];
  for (uint32_t i = 0; i < W->n_parts && T + 2 <= 48; i++) {
    uint32_t r0 = i * W->part_rows, r1 = r0 + W->part_rows < W->N ? r0 + W->part_rows : W->N;
    ids[T++] = r0, ids[T++] = r1 - 1;
  }
  while (T < 48) ids[T++] = dp_test_rand_u32() % (uint32_t)V;
  float *ref = kt_alloc((size_t)T * D * 4), *out = kt_alloc((size_t)T * D * 4);
  dp_ref_embed(ref, ids, wd, T, D, 1.5f);
  dp_gpu_buffer *bi = kt_upload(ids, (size_t)T * 4), *by = kt_buf((size_t)T * D * 4);
  KT_OK(dp_op_embed(O, kv(by), kv(bi), W, (uint32_t)T, 1.5f));
  kt_read(by, out, (size_t)T * D * 4);
  char what[128];
  snprintf(what, sizeof what, "embed %-4s vocab %d (%u parts) D=%d T=%d", dp_dtype_name(t), V, W->n_parts, D, T);
  kt_check(what, out, ref, (size_t)T * D, 1e-6);
  dp_gpu_buffer_free(bi); dp_gpu_buffer_free(by);
  dp_weight_free(W);
  free(wd); free(ref); free(out);
}

static void expect_err(const char *what, dp_status s, dp_status want, const char *needle) {
  CHECK(s == want && strstr(dp_error_message(), needle), "%s: status %d, message '%s' (want %d, '%s')", what, s,
        dp_error_message(), want, needle);
}

static void errors(void) {
  dp_weight *W = NULL;
  /* one f32 row of 20000 (80000 bytes) cannot fit 64 KiB: refused at creation, named */
  expect_err("row past the cap", dp_weight_create(O, DP_F32, 10, 20000, 0, "big.row", &W), DP_ERR_UNSUPPORTED, "big.row");
  CHECK(W == NULL && strstr(dp_error_message(), "storage binding limit 65280"), "row past the cap: %s", dp_error_message()); /* 64 KiB less 256: the 16 bytes of slack, rounded */
  /* Q6_K rows of 210 bytes: parts start on 256-byte boundaries every 128 rows (26880 bytes), so
   * 256 rows (53760 bytes) per part */
  KT_OK(dp_weight_create(O, DP_Q6_K, 1000, 256, 0, "q6k", &W));
  CHECK(W && W->part_rows == 256 && W->n_parts == 4, "q6_k: %u rows per part, %u parts", W ? W->part_rows : 0,
        W ? W->n_parts : 0);
  dp_weight_free(W);
  W = NULL;
  float *wd;
  dp_weight *w = make_weight(DP_F32, 1000, 40, 0, &wd); /* rows of 160 bytes: 256-aligned every 8 rows */
  dp_gpu_buffer *b = kt_buf(300 * 40 * 4);
  if (w) {
    expect_err("unaligned rows", dp_op_linear(O, kv(b), kv(b), w, 3, 10, dp_view_of(NULL, 0), 1, NULL, 0), DP_ERR_INVALID_ARG,
               "not a multiple of 256");
    dp_gemv_pro p = {DP_PRO_RMSNORM, kv(b), 1e-5f, 0, 0, 0, 0};
    dp_ops_set_subgroups(O, 0); /* else the GPU family's matmul_gemv_sg takes prologues on buffers */
    expect_err("prologue without texture", dp_op_linear(O, kv(b), kv(b), w, 0, 8, dp_view_of(NULL, 0), 1, &p, 0),
               DP_ERR_UNSUPPORTED, "texture");
    dp_ops_set_subgroups(O, 1);
    expect_err("rows past the weight", dp_op_linear(O, kv(b), kv(b), w, 996, 8, dp_view_of(NULL, 0), 1, NULL, 0),
               DP_ERR_INVALID_ARG, "rows [996, +8)");
    expect_err("write past the weight", dp_weight_write(O, w, 999, 2, wd), DP_ERR_INVALID_ARG, "rows");
  }
  dp_gpu_buffer_free(b);
  dp_weight_free(w);
  free(wd);
}

int main(void) {
  char cap[16];
  snprintf(cap, sizeof cap, "%u", CAP);
  setenv("DOPPLER_MAX_BINDING_BYTES", cap, 1);
  int bad = kt_open();
  unsetenv("DOPPLER_MAX_BINDING_BYTES");
  if (bad) return dp_test_summary("gpu_kernels_linear");
  const dp_gpu_info *gi = dp_gpu_get_info(G);
  CHECK(gi->max_storage_binding == CAP && gi->max_buffer == CAP, "cap: bindings %llu, buffers %llu",
        (unsigned long long)gi->max_storage_binding, (unsigned long long)gi->max_buffer);
  dp_ops_set_cpu_kernels(O, 1);
  int pre = dp_ops_tex_prefill(O);
  /* rows per part: F32 K=256 64, F16 K=256 128, Q8_0 240, Q4_K 448, Q6_K 256 (x and y stay
   * within the cap too: M x N, M x K <= 16384 floats); ranges across parts */
  for (int cpu = 1; cpu >= 0; cpu--) {
    linear_case(DP_F32, 300, 256, 0, 300, 1, 0, cpu, 0, 1, 0);
    linear_case(DP_F32, 300, 256, 37, 200, 3, 0, cpu, 0, 0, 1);
    linear_case(DP_F32, 300, 256, 0, 300, 40, 0, cpu, 0, 1, 1);
    linear_case(DP_F16, 500, 256, 100, 350, 9, 0, cpu, 0, 1, 1);
    linear_case(DP_Q8_0, 700, 256, 32, 400, 40, 0, cpu, 0, 1, 0);
    linear_case(DP_Q4_K, 1000, 256, 16, 983, 2, 0, cpu, 0, 0, 0);
    linear_case(DP_Q6_K, 700, 256, 128, 572, 9, 0, cpu, 0, 1, 1);
  }
  /* texture copies per part: the GEMV with and without its RMSNorm prologue, any row0; prefill
   * over textures where the device has subgroups of 8 (else dp_op_linear reads the buffers) */
  linear_case(DP_F32, 1000, 40, 3, 990, 1, 1, 1, 1, 0, 0);
  linear_case(DP_F16, 2000, 40, 405, 1500, 4, 1, 1, 0, 1, 1);
  linear_case(DP_F16, 2000, 40, 0, 2000, 2, 1, 1, 1, 1, 0);
  linear_case(DP_F32, 1000, 40, 8, 990, 9, 1, 1, 0, 1, 1);
  printf("prefill over textures: %s\n", pre ? "yes" : "no (buffers)");
  embed_case(DP_F32, 1000, 40);
  embed_case(DP_F16, 2000, 40);
  embed_case(DP_Q8_0, 2000, 64);
  embed_case(DP_MXFP4, 5000, 64);
  embed_case(DP_Q4_K, 1000, 256);
  embed_case(DP_Q6_K, 700, 256);
  errors();
  kt_close();
  return dp_test_summary("gpu_kernels_linear");
}
