/* gpu_kernels_variants.c -- every entry of the ops' variant table (dp_kernel_variant_get, as
 * `doppler bench kernels --list` prints it) that can run on this adapter
 * (dp_ops_variant_available) is run on a small problem chosen to make its op pick it, checked
 * to be the variant that ran (dp_ops_variant_runs went up) and compared with the CPU reference
 * (src/ref) by ||out - ref|| / ||ref||. The per-op tests (gpu_kernels_*.c) cover the edge
 * shapes; this one guarantees that no variant of the table goes untested, including ones added
 * later: an entry whose op this file does not know fails. */
#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }
static dp_view none(void) { return dp_view_of(NULL, 0); }

/* weight type from a typed entry's suffix ("matmul_gemv_q4_k" -> Q4_K), F16 otherwise */
static dp_dtype entry_type(const char *name) {
  for (int t = DP_MXFP4; t >= DP_F32; t--) {
    const char *tn = dp_dtype_name((dp_dtype)t);
    size_t n = strlen(name), k = strlen(tn);
    if (n > k && name[n - k - 1] == '_' && !strcmp(name + n - k, tn)) return (dp_dtype)t;
  }
  return DP_F16;
}

/* y = x . W^T + bias, W of type t, through dp_op_matmul or (tex) dp_op_matmul_tex */
static void run_matmul(const char *name, dp_dtype t, int M, int K, int tex) {
  int N = 37;
  size_t rb = dp_dtype_row_bytes(t, K);
  float *w = kt_randn((size_t)N * K, 0.5f), *wd = kt_alloc((size_t)N * K * 4), *x = kt_randn((size_t)M * K, 1);
  float *b = kt_randn(N, 1), *ref = kt_alloc((size_t)M * N * 4), *out = kt_alloc((size_t)M * N * 4);
  void *wq = kt_alloc(rb * N);
  KT_OK(dp_quantize(t, w, wq, (uint64_t)N * K));
  KT_OK(dp_ref_dequant_rows(t, wq, N, K, wd));
  dp_ref_matmul(ref, x, wd, b, M, N, K, 0);
  dp_gpu_buffer *bw = kt_upload(wq, rb * N), *bb = kt_upload(b, N * 4), *bx = kt_upload(x, (size_t)M * K * 4);
  dp_gpu_buffer *by = kt_buf((size_t)M * N * 4);
  if (tex) {
    dp_wtex *wt = NULL;
    KT_OK(dp_wtex_create(O, t, N, K, "test", &wt));
    CHECK(wt != NULL, "%s: no weight texture", name);
    if (wt) {
      KT_OK(dp_wtex_write(O, wt, 0, N, wq));
      KT_OK(dp_op_matmul_tex(O, kv(by), kv(bx), wt, 0, N, kv(bb), M, NULL, 0));
      kt_read(by, out, (size_t)M * N * 4);
    }
    dp_wtex_free(wt);
  } else {
    KT_OK(dp_op_matmul(O, kv(by), kv(bx), kv(bw), t, kv(bb), M, N, K, 0));
    kt_read(by, out, (size_t)M * N * 4);
  }
  char what[96];
  snprintf(what, sizeof what, "%s M=%d N=%d K=%d", name, M, N, K);
  kt_check(what, out, ref, (size_t)M * N, 1e-5);
  dp_gpu_buffer_free(bw); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(bx); dp_gpu_buffer_free(by);
  free(w); free(wd); free(x); free(b); free(ref); free(out); free(wq);
}

static void run_embed(const char *name, dp_dtype t) {
  int V = 40, D = t >= DP_Q4_K && t <= DP_Q6_K ? 256 : 64, T = 5;
  size_t rb = dp_dtype_row_bytes(t, D);
  float *tab = kt_randn((size_t)V * D, 1), *td = kt_alloc((size_t)V * D * 4);
  float *ref = kt_alloc((size_t)T * D * 4), *out = kt_alloc((size_t)T * D * 4);
  void *tq = kt_alloc(rb * V);
  uint32_t ids[5] = {3, 0, 39, 17, 3};
  KT_OK(dp_quantize(t, tab, tq, (uint64_t)V * D));
  KT_OK(dp_ref_dequant_rows(t, tq, V, D, td));
  dp_ref_embed(ref, ids, td, T, D, 1.5f);
  dp_weight *w = NULL;
  KT_OK(dp_weight_create(O, t, V, D, 0, "test.embed", &w));
  dp_gpu_buffer *bi = kt_upload(ids, sizeof ids), *by = kt_buf((size_t)T * D * 4);
  if (w) {
    KT_OK(dp_weight_write(O, w, 0, V, tq));
    KT_OK(dp_op_embed(O, kv(by), kv(bi), w, T, 1.5f));
    kt_read(by, out, (size_t)T * D * 4);
    kt_check(name, out, ref, (size_t)T * D, 1e-6);
  }
  dp_weight_free(w);
  dp_gpu_buffer_free(bi); dp_gpu_buffer_free(by);
  free(tab); free(td); free(ref); free(out); free(tq);
}

/* rmsnorm, softmax, glu, add, argmax: one row op or elementwise op, in place or not */
static void run_rowop(const char *name, const char *op, int inplace) {
  int rows = 3, n = 300;
  size_t e = (size_t)rows * n;
  float *a = kt_randn(e, 1), *b = kt_randn(e, 1), *ref = kt_alloc(e * 4), *out = kt_alloc(e * 4);
  dp_gpu_buffer *ba = kt_upload(a, e * 4), *bb = kt_upload(b, e * 4), *by = kt_buf(e * 4);
  dp_view y = inplace ? kv(ba) : kv(by);
  size_t n_out = e;
  if (!strcmp(op, "rmsnorm")) {
    dp_ref_rmsnorm(ref, a, b, rows, n, 1e-5f, 0);
    KT_OK(dp_op_rmsnorm(O, y, kv(ba), kv(bb), rows, n, 1e-5f, 0));
  } else if (!strcmp(op, "softmax")) {
    dp_ref_softmax(ref, a, rows, n);
    KT_OK(dp_op_softmax(O, y, kv(ba), rows, n));
  } else if (!strcmp(op, "glu")) {
    dp_ref_glu(ref, a, b, (int)e, DP_GLU_SILU);
    KT_OK(dp_op_glu(O, y, kv(ba), kv(bb), (uint32_t)e, DP_GLU_SILU));
  } else if (!strcmp(op, "add")) {
    dp_ref_add(ref, a, b, (int)e);
    KT_OK(dp_op_add(O, y, kv(ba), kv(bb), (uint32_t)e));
  } else { /* argmax: ids compared exactly */
    uint32_t ids[3], rid[3];
    dp_ref_argmax(rid, a, rows, n);
    KT_OK(dp_op_argmax(O, kv(by), kv(ba), rows, n));
    kt_read(by, ids, sizeof ids);
    for (int r = 0; r < rows; r++) CHECK(ids[r] == rid[r], "%s: row %d: %u, reference %u", name, r, ids[r], rid[r]);
    printf("  %-58s ids equal\n", name);
    n_out = 0;
  }
  if (n_out) {
    kt_read(y.buf, out, e * 4);
    kt_check(name, out, ref, e, 1e-5);
  }
  dp_gpu_buffer_free(ba); dp_gpu_buffer_free(bb); dp_gpu_buffer_free(by);
  free(a); free(b); free(ref); free(out);
}

/* rope, kv_write, rope_kv: q [T, H, hd], k, v [T, KVH, hd] at pos0 into caches of cap slots */
static void run_rope(const char *name, const char *op) {
  int T = 3, H = 4, KVH = 2, hd = 32, rot = 32, pos0 = 5, cap = 16;
  size_t nq = (size_t)T * H * hd, nk = (size_t)T * KVH * hd, nc = (size_t)cap * KVH * hd;
  float *q = kt_randn(nq, 1), *k = kt_randn(nk, 1), *v = kt_randn(nk, 1), *fr = kt_alloc(rot / 2 * 4);
  for (int i = 0; i < rot / 2; i++) fr[i] = powf(10000.0f, -2.0f * i / rot);
  float *out = kt_alloc(nc * 4), *rq = kt_alloc(nq * 4), *rk = kt_alloc(nk * 4);
  memcpy(rq, q, nq * 4), memcpy(rk, k, nk * 4);
  dp_ref_rope(rq, fr, T, H, hd, rot, pos0, DP_ROPE_HALF, 1.0f);
  dp_ref_rope(rk, fr, T, KVH, hd, rot, pos0, DP_ROPE_HALF, 1.0f);
  dp_gpu_buffer *bq = kt_upload(q, nq * 4), *bk = kt_upload(k, nk * 4), *bv = kt_upload(v, nk * 4), *bf = kt_upload(fr, rot / 2 * 4);
  dp_gpu_buffer *kc = kt_buf(nc * 4), *vc = kt_buf(nc * 4);
  size_t row = (size_t)KVH * hd, at = (size_t)pos0 * row;
  if (!strcmp(op, "rope")) {
    KT_OK(dp_op_rope(O, kv(bq), kv(bf), T, H, hd, rot, pos0, DP_ROPE_HALF, 1.0f));
    kt_read(bq, out, nq * 4);
    kt_check(name, out, rq, nq, 1e-5);
  } else {
    if (!strcmp(op, "kv_write")) {
      memcpy(rk, k, nk * 4);
      KT_OK(dp_op_kv_write(O, kv(kc), kv(vc), kv(bk), kv(bv), T, KVH, hd, pos0, cap));
    } else {
      KT_OK(dp_op_rope_kv(O, kv(bq), kv(bk), kv(bv), kv(kc), kv(vc), kv(bf), T, H, KVH, hd, rot, pos0, DP_ROPE_HALF, 1.0f, cap));
      kt_read(bq, out, nq * 4);
      kt_check(name, out, rq, nq, 1e-5);
    }
    kt_read(kc, out, nc * 4);
    kt_check(name, out + at, rk, nk, 1e-6);
    kt_read(vc, out, nc * 4);
    kt_check(name, out + at, v, nk, 0);
  }
  dp_gpu_buffer_free(bq); dp_gpu_buffer_free(bk); dp_gpu_buffer_free(bv); dp_gpu_buffer_free(bf);
  dp_gpu_buffer_free(kc); dp_gpu_buffer_free(vc);
  free(q); free(k); free(v); free(fr); free(out); free(rq); free(rk);
}

static void run_attention(const char *name, int hd) {
  int T = 3, H = 4, KVH = 2, keys = 9, pos0 = keys - T;
  size_t nq = (size_t)T * H * hd, nc = (size_t)keys * KVH * hd;
  float *q = kt_randn(nq, 1), *k = kt_randn(nc, 1), *v = kt_randn(nc, 1), *ref = kt_alloc(nq * 4), *out = kt_alloc(nq * 4);
  float scale = 1.0f / sqrtf((float)hd);
  dp_ref_attention(ref, q, k, v, T, H, KVH, hd, pos0, 0, scale, 0, NULL);
  dp_gpu_buffer *bq = kt_upload(q, nq * 4), *bk = kt_upload(k, nc * 4), *bv = kt_upload(v, nc * 4), *bo = kt_buf(nq * 4);
  dp_attn_desc d = {(uint32_t)T, (uint32_t)H, (uint32_t)KVH, (uint32_t)hd, (uint32_t)pos0, (uint32_t)keys, 0, scale, 0};
  KT_OK(dp_op_attention(O, &d, kv(bo), kv(bq), kv(bk), kv(bv), none()));
  kt_read(bo, out, nq * 4);
  kt_check(name, out, ref, nq, 1e-5);
  dp_gpu_buffer_free(bq); dp_gpu_buffer_free(bk); dp_gpu_buffer_free(bv); dp_gpu_buffer_free(bo);
  free(q); free(k); free(v); free(ref); free(out);
}

/* Run entry e (name, op) with the settings that make its op pick it; 0 when this file does not
 * know the entry. */
static int run_entry(const dp_kernel_variant *e) {
  const char *n = e->name;
  dp_dtype t = entry_type(n);
  /* K: a multiple of the block; for F32/F16/BF16 not of 8 except where 16-byte loads are wanted */
  int K = t == DP_Q4_K || t == DP_Q6_K ? 256 : t == DP_Q8_0 || t == DP_MXFP4 ? 64 : 36;
  dp_ops_set_cpu_kernels(O, starts(n, "matmul_rows") || starts(n, "matmul_v4") || starts(n, "matmul_tex") ||
                                starts(n, "attention_sg8"));
  dp_ops_set_subgroups(O, !starts(n, "matmul_rows_mm_") || starts(n, "matmul_rows_mm_sg"));
  if (starts(n, "matmul_gemv_") || starts(n, "matmul_rows_mv_")) run_matmul(n, t, 2, K, 0);
  else if (starts(n, "matmul_tiled_") || starts(n, "matmul_rows_mm_")) run_matmul(n, t, 9, K, 0);
  else if (!strcmp(n, "matmul_v4_mv8") || !strcmp(n, "matmul_tex_mv8") || !strcmp(n, "matmul_v4_mm4_sg") ||
           !strcmp(n, "matmul_tex_mm4_sg")) {
    int tex = starts(n, "matmul_tex"), M = strstr(n, "mm4") ? 9 : 1;
    for (dp_dtype w = DP_F32; w <= DP_BF16; w++) run_matmul(n, w, M, 64, tex);
  } else if (starts(n, "embed_")) run_embed(n, t);
  else if (!strcmp(e->op, "rmsnorm") || !strcmp(e->op, "softmax") || !strcmp(e->op, "glu") || !strcmp(e->op, "add") ||
           !strcmp(e->op, "argmax"))
    run_rowop(n, e->op, strstr(n, "_inplace") != NULL);
  else if (!strcmp(e->op, "rope") || !strcmp(e->op, "kv_write") || !strcmp(e->op, "rope_kv")) run_rope(n, e->op);
  else if (!strcmp(n, "attention")) run_attention(n, 80);
  else if (!strcmp(n, "attention_sg8")) run_attention(n, 64);
  else return 0;
  return 1;
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_variants");
  size_t n = dp_kernel_variant_count(), ran = 0;
  int cpu_adapter = !strcmp(dp_gpu_get_info(G)->adapter_type, "cpu");
  for (size_t i = 0; i < n; i++) {
    dp_kernel_variant e;
    KT_OK(dp_kernel_variant_get(i, &e));
    dp_ops_set_subgroups(O, 1);
    dp_ops_set_cpu_kernels(O, cpu_adapter);
    if (!dp_ops_variant_available(O, i)) { printf("  %-58s not on this adapter (%s)\n", e.name, e.condition); continue; }
    uint64_t before = dp_ops_variant_runs(O, i);
    CHECK(run_entry(&e), "%s (op %s): no test for this variant in gpu_kernels_variants.c", e.name, e.op);
    CHECK(dp_ops_variant_runs(O, i) > before, "%s: the op picked another variant (condition: %s)", e.name, e.condition);
    ran++;
  }
  printf("%zu of %zu variants run\n", ran, n);
  CHECK(ran > 0, "no variant ran");
  kt_close();
  return dp_test_summary("gpu_kernels_variants");
}
