/* gpu_kernels_moe.c -- the mixture-of-experts ops (ops.h dp_op_moe_route, dp_op_moe_matmul,
 * dp_op_moe_combine, dp_op_glu_clamp) against their CPU references (src/ref/kernels_ref.h) on
 * random inputs with NaN-poisoned outputs, in both kernel families (gpu: moe_gemv, cpu:
 * moe_rows) and both reduction paths:
 *   route: odd expert counts, top-k 1..4, ties (the lower index first), ids exact, weights 1e-5;
 *   matmul: every weight type, odd N, K of an odd number of blocks (MXFP4: 3 and 5 groups of
 *     32), experts in permuted slots over several buffers, biases, and experts not resident
 *     (map 0xffffffff) whose pairs must stay unwritten (poison intact); 1e-5;
 *   combine (accumulate and overwrite) 1e-5; glu_clamp with values past the limit 1e-5;
 *   MXFP4 dequantisation: the gptoss golden checkpoint's packed experts (HF *_blocks/_scales,
 *     presented per expert by format/model_file) through moe_matmul with one-hot inputs give
 *     experts_dequant.safetensors (transformers' own dequantisation) exactly, every value (in
 *     the adapter's own kernel family: both decode with lib_wdecode's wl_mxfp4).
  * ~1 s on lavapipe, ~3 s on SwiftShader (2-core machine). */
#include <stdio.h>
#include "format/model_file.h"
#include "format/safetensors.h"
#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

#define NOT_RESIDENT 0xffffffffu

static const char *fam(void) { return dp_ops_cpu_kernels(O) ? "cpu" : "gpu"; }

static void test_route(int T, int E, int k) {
  float *l = kt_randn((size_t)T * E, 2), *rw = kt_alloc((size_t)T * k * 4), *w = kt_alloc((size_t)T * k * 4);
  uint32_t *rid = kt_alloc((size_t)T * k * 4), *id = kt_alloc((size_t)T * k * 4);
  for (int t = 0; t < T; t += 2) l[(size_t)t * E + E - 1] = l[(size_t)t * E]; /* ties */
  dp_ref_moe_route(rid, rw, l, T, E, k);
  dp_gpu_buffer *bl = kt_upload(l, (size_t)T * E * 4), *bi = kt_buf((size_t)T * k * 4), *bw = kt_buf((size_t)T * k * 4);
  KT_OK(dp_op_moe_route(O, kv(bi), kv(bw), kv(bl), (uint32_t)T, (uint32_t)E, (uint32_t)k));
  kt_read(bi, id, (size_t)T * k * 4);
  kt_read(bw, w, (size_t)T * k * 4);
  int bad = 0;
  for (int i = 0; i < T * k; i++) bad += id[i] != rid[i];
  char what[96];
  snprintf(what, sizeof what, "moe_route %s T=%d E=%d k=%d (ids %d differ)", fam(), T, E, k, bad);
  CHECK(bad == 0, "%s", what);
  kt_check(what, w, rw, (size_t)T * k, 1e-5);
  dp_gpu_buffer_free(bl), dp_gpu_buffer_free(bi), dp_gpu_buffer_free(bw);
  free(l), free(rw), free(w), free(rid), free(id);
}

/* E experts W_e [N, K] of type t in permuted slots, per_buf slots a buffer; experts e with
 * e % 4 == 3 not resident when `holes` (their pairs stay poisoned). */
static void test_matmul(dp_dtype t, int N, int K, int E, int k, int T, int per_buf, int bias, int holes, int grouped) {
  int R = T * k;
  size_t rb = dp_dtype_row_bytes(t, K), stride = ((size_t)N * rb + 3) & ~(size_t)3;
  int n_slots = 0;
  uint32_t *map = kt_alloc((size_t)E * 4), *ids = kt_alloc((size_t)R * 4);
  for (int e = E - 1; e >= 0; e--) map[e] = holes && e % 4 == 3 ? NOT_RESIDENT : (uint32_t)n_slots++; /* reversed order */
  float *w = kt_randn((size_t)E * N * K, 0.5f), *wd = kt_alloc((size_t)E * N * K * 4), *x = kt_randn((size_t)T * K, 1);
  float *b = kt_randn((size_t)E * N, 1), *ref = kt_alloc((size_t)R * N * 4), *y = kt_alloc((size_t)R * N * 4);
  uint8_t *slots = calloc((size_t)n_slots + 1, stride), *q = kt_alloc(stride + 4);
  for (int e = 0; e < E; e++) {
    KT_OK(dp_quantize(t, w + (size_t)e * N * K, q, (uint64_t)N * K));
    KT_OK(dp_ref_dequant_rows(t, q, N, K, wd + (size_t)e * N * K));
    if (map[e] != NOT_RESIDENT) memcpy(slots + map[e] * stride, q, (size_t)N * rb);
  }
  for (int r = 0; r < R; r++) ids[r] = dp_test_rand_u32() % (uint32_t)E;
  dp_ref_moe_matmul(ref, x, ids, wd, bias ? b : NULL, R, N, K, k);
  int nb = (n_slots + per_buf - 1) / per_buf;
  dp_gpu_buffer *bufs[16];
  for (int i = 0; i < nb; i++) {
    int ns = n_slots - i * per_buf < per_buf ? n_slots - i * per_buf : per_buf;
    bufs[i] = kt_upload(slots + (size_t)i * per_buf * stride, (size_t)ns * stride);
  }
  dp_gpu_buffer *bm = kt_upload(map, (size_t)E * 4), *bb = kt_upload(b, (size_t)E * N * 4), *bi = kt_upload(ids, (size_t)R * 4);
  dp_gpu_buffer *bx = kt_upload(x, (size_t)T * K * 4), *by = kt_buf((size_t)R * N * 4);
  dp_moe_bank bank = {t, (uint32_t)N, (uint32_t)K, (uint32_t)E, (uint32_t)stride, (uint32_t)n_slots, (uint32_t)per_buf, bufs,
                      kv(bm), bias ? kv(bb) : dp_view_of(NULL, 0)};
  dp_gpu_buffer *bg = grouped ? kt_buf(((size_t)E + 1 + R) * 4) : NULL;
  if (grouped) KT_OK(dp_op_moe_group(O, kv(bg), kv(bi), (uint32_t)R, (uint32_t)E));
  KT_OK(dp_op_moe_matmul(O, kv(by), kv(bx), kv(bi), dp_view_of(bg, 0), &bank, (uint32_t)R, (uint32_t)k));
  kt_read(by, y, (size_t)R * N * 4);
  /* pairs of non-resident experts: poison intact; compare the rest */
  uint32_t *pz = kt_alloc((size_t)R * N * 4);
  kt_poison_host(pz, (size_t)R * N * 4);
  int kept = 1, rows = 0;
  for (int r = 0; r < R; r++) {
    if (map[ids[r]] != NOT_RESIDENT) {
      memcpy(ref + (size_t)rows * N, ref + (size_t)r * N, (size_t)N * 4);
      memcpy(y + (size_t)rows * N, y + (size_t)r * N, (size_t)N * 4);
      rows++;
    } else kept &= !memcmp(y + (size_t)r * N, pz + (size_t)r * N, (size_t)N * 4);
  }
  char what[128];
  snprintf(what, sizeof what, "moe_matmul %s%s %s N=%d K=%d E=%d k=%d T=%d, %d buffers%s%s", fam(),
           grouped && !dp_ops_cpu_kernels(O) ? " tiled" : "", dp_dtype_name(t), N, K, E, k, T, nb, bias ? ", bias" : "",
           holes ? ", holes" : "");
  CHECK(kept, "%s: a pair of a non-resident expert was written", what);
  kt_check(what, y, ref, (size_t)rows * N, 1e-5);
  for (int i = 0; i < nb; i++) dp_gpu_buffer_free(bufs[i]);
  dp_gpu_buffer_free(bg), dp_gpu_buffer_free(bm), dp_gpu_buffer_free(bb), dp_gpu_buffer_free(bi), dp_gpu_buffer_free(bx), dp_gpu_buffer_free(by);
  free(map), free(ids), free(w), free(wd), free(x), free(b), free(ref), free(y), free(slots), free(q), free(pz);
}

static void test_combine(int T, int D, int k, int accum) {
  float *y = kt_randn((size_t)T * k * D, 1), *w = kt_randn((size_t)T * k, 1), *x = kt_randn((size_t)T * D, 1);
  float *ref = kt_alloc((size_t)T * D * 4), *out = kt_alloc((size_t)T * D * 4);
  memcpy(ref, x, (size_t)T * D * 4);
  dp_ref_moe_combine(ref, y, w, T, D, k, accum);
  dp_gpu_buffer *by = kt_upload(y, (size_t)T * k * D * 4), *bw = kt_upload(w, (size_t)T * k * 4);
  dp_gpu_buffer *bx = accum ? kt_upload(x, (size_t)T * D * 4) : kt_buf((size_t)T * D * 4);
  KT_OK(dp_op_moe_combine(O, kv(bx), kv(by), kv(bw), (uint32_t)T, (uint32_t)D, (uint32_t)k, accum ? DP_MM_ACCUM : 0));
  kt_read(bx, out, (size_t)T * D * 4);
  char what[96];
  snprintf(what, sizeof what, "moe_combine %s T=%d D=%d k=%d%s", fam(), T, D, k, accum ? " accum" : "");
  kt_check(what, out, ref, (size_t)T * D, 1e-5);
  dp_gpu_buffer_free(by), dp_gpu_buffer_free(bw), dp_gpu_buffer_free(bx);
  free(y), free(w), free(x), free(ref), free(out);
}

static void test_glu_clamp(int n, int inplace) {
  float *g = kt_randn((size_t)n, 6), *u = kt_randn((size_t)n, 6), *ref = kt_alloc((size_t)n * 4), *out = kt_alloc((size_t)n * 4);
  dp_ref_glu_clamp(ref, g, u, n, 1.702, 7.0);
  dp_gpu_buffer *bg = kt_upload(g, (size_t)n * 4), *bu = kt_upload(u, (size_t)n * 4), *by = inplace ? bg : kt_buf((size_t)n * 4);
  KT_OK(dp_op_glu_clamp(O, kv(by), kv(bg), kv(bu), (uint32_t)n, 1.702f, 7.0f));
  kt_read(by, out, (size_t)n * 4);
  char what[64];
  snprintf(what, sizeof what, "glu_clamp n=%d%s (|gate|, |up| up to ~20)", n, inplace ? " in place" : "");
  kt_check(what, out, ref, (size_t)n, 1e-5);
  if (!inplace) dp_gpu_buffer_free(by);
  dp_gpu_buffer_free(bg), dp_gpu_buffer_free(bu);
  free(g), free(u), free(ref), free(out);
}

/* The gptoss fixture's MXFP4 experts decoded by moe_matmul (one-hot x: y[r, n] = W_e[n, r])
 * against experts_dequant.safetensors, exactly. */
static void test_dequant_fixture(void) {
  char mp[1024], dq[1100];
  snprintf(mp, sizeof mp, "%s", dp_test_shared("fixtures/golden/gptoss"));
  snprintf(dq, sizeof dq, "%s/experts_dequant.safetensors", mp);
  dp_model_file *mf = NULL;
  dp_safetensors *st = NULL;
  dp_status s = dp_model_file_open(mp, &mf);
  if (!s) s = dp_safetensors_open(dq, &st);
  CHECK(!s, "open the gptoss fixture: %s", dp_error_message());
  if (s) { dp_model_file_close(mf); return; }
  long checked = 0, bad = 0;
  for (int layer = 0; layer < 2; layer++)
    for (int m = 0; m < 3; m++) { /* gate, up, down */
      static const char *mat[3] = {"gate_proj", "up_proj", "down_proj"};
      char name[160], dn[160];
      snprintf(dn, sizeof dn, "model.layers.%d.mlp.experts.%s", layer, m == 2 ? "down_proj" : "gate_up_proj");
      const dp_st_tensor *d = dp_safetensors_find(st, dn);
      CHECK(d != NULL, "%s missing", dn);
      if (!d) continue;
      const float *dv = (const float *)(st->map.data + d->offset); /* [E, in, out] */
      int E = (int)d->shape[0], K = (int)d->shape[1], OUT = (int)d->shape[2], N = m == 2 ? OUT : OUT / 2;
      size_t rb = dp_dtype_row_bytes(DP_MXFP4, K), stride = ((size_t)N * rb + 3) & ~(size_t)3;
      uint8_t *slots = calloc((size_t)E, stride);
      uint32_t *map = kt_alloc((size_t)E * 4), *ids = kt_alloc((size_t)K * 4);
      for (int e = 0; e < E; e++) {
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.%s.weight", layer, e, mat[m]);
        const dp_tensor_info *t = dp_model_file_find(mf, name);
        CHECK(t && t->dtype == DP_MXFP4 && t->shape[0] == (uint64_t)N && t->shape[1] == (uint64_t)K, "%s: MXFP4 [%d, %d]", name, N, K);
        if (t) KT_OK(dp_model_file_read(mf, t, 0, slots + (size_t)e * stride, (uint64_t)N * rb));
        map[e] = (uint32_t)e;
      }
      float *x = calloc((size_t)K * K, 4), *y = kt_alloc((size_t)K * N * 4);
      for (int r = 0; r < K; r++) x[(size_t)r * K + r] = 1;
      dp_gpu_buffer *bw = kt_upload(slots, (size_t)E * stride), *bm = kt_upload(map, (size_t)E * 4);
      dp_gpu_buffer *bx = kt_upload(x, (size_t)K * K * 4), *by = kt_buf((size_t)K * N * 4), *bi = kt_buf((size_t)K * 4);
      dp_moe_bank bank = {DP_MXFP4, (uint32_t)N, (uint32_t)K, (uint32_t)E, (uint32_t)stride, (uint32_t)E, (uint32_t)E, &bw, kv(bm),
                          {NULL, 0}};
      for (int e = 0; e < E; e++) {
        for (int r = 0; r < K; r++) ids[r] = (uint32_t)e;
        dp_gpu_buffer_write(G, bi, 0, ids, (size_t)K * 4);
        KT_OK(dp_op_moe_matmul(O, kv(by), kv(bx), kv(bi), dp_view_of(NULL, 0), &bank, (uint32_t)K, 1));
        kt_read(by, y, (size_t)K * N * 4);
        for (int k = 0; k < K; k++)
          for (int n = 0; n < N; n++) {
            int col = m == 2 ? n : 2 * n + (m == 1); /* gate = even columns, up = odd */
            float want = dv[((size_t)e * K + k) * OUT + col], got = y[(size_t)k * N + n];
            bad += memcmp(&want, &got, 4) != 0 && !(want == 0 && got == 0);
            checked++;
          }
      }
      dp_gpu_buffer_free(bw), dp_gpu_buffer_free(bm), dp_gpu_buffer_free(bx), dp_gpu_buffer_free(by), dp_gpu_buffer_free(bi);
      free(slots), free(map), free(ids), free(x), free(y);
    }
  printf("  mxfp4 dequant (%s): %ld values of experts_dequant.safetensors, %ld differ\n", fam(), checked, bad);
  CHECK(checked == 2L * 8 * 128 * (128 + 256) && bad == 0, "GPU MXFP4 dequantisation: %ld of %ld values differ", bad, checked);
  dp_safetensors_free(st);
  dp_model_file_close(mf);
}

int main(void) {
  printf("seed %llu\n", (unsigned long long)dp_test_seed());
  if (kt_open()) return dp_test_summary("gpu_kernels_moe");
  int native = dp_ops_cpu_kernels(O); /* the adapter's own family decodes the fixture (the same lib_wdecode) */
  for (int cpu = 0; cpu < 2; cpu++)
    for (int mode = 0; mode < kt_n_modes(); mode++) {
      dp_ops_set_cpu_kernels(O, cpu);
      kt_mode(mode);
      printf("family %s, subgroups %d\n", fam(), mode);
      test_route(7, 5, 1), test_route(9, 11, 2), test_route(4, 31, 4), test_route(3, 3, 3);
      for (dp_dtype t = DP_F32; t <= DP_MXFP4; t++) {
        int K = t == DP_Q4_K || t == DP_Q6_K ? 256 : t == DP_Q8_0 || t == DP_MXFP4 ? 96 : 75;
        test_matmul(t, 37, K, 7, 2, 3, 3, 1, 1, 0);
        test_matmul(t, 37, K, 7, 2, 23, 3, 1, 1, 1); /* prefill: grouped, tiles partly filled */
      }
      test_matmul(DP_MXFP4, 75, 160, 9, 3, 5, 2, 1, 0, 0); /* 5 MXFP4 groups per row, 5 buffers */
      test_matmul(DP_MXFP4, 75, 160, 9, 3, 40, 2, 1, 0, 1);
      test_matmul(DP_F16, 33, 64, 5, 4, 2, 5, 0, 0, 0);
      test_matmul(DP_Q8_0, 70, 64, 3, 1, 70, 2, 0, 0, 1); /* > 32 pairs of one expert: several row tiles */
      test_combine(5, 75, 3, 1), test_combine(2, 40, 1, 0);
      if (cpu == 0 && mode == 0) test_glu_clamp(1000, 0), test_glu_clamp(333, 1);
      if (mode == 0 && cpu == native) test_dequant_fixture();
    }
  kt_close();
  return dp_test_summary("gpu_kernels_moe");
}
