/* gpu_kernels_attn.c -- the attention block's kernels against their CPU references: rope
 * (rotate-half and pairs, partial rotary dim, frequency tables of every rule, YaRN's
 * attn_factor, large positions), the fused rope_kv, kv_write + attention (decode and prefill, causal, GQA,
 * sliding window over a ring-buffer cache, sinks, soft-cap, custom scale; both reduction
 * paths) and the embedding gather for every table type (incl. a grid past 65535 workgroups
 * and Gemma's scale). Random inputs, outputs poisoned with NaN patterns. */
#include "gpu_kernels_util.h"
#include "quant/quant.h"
#include "ref/kernels_ref.h"

static void test_rope(void) {
  dp_rope r = {0};
  r.theta = 10000;
  r.factor = 8;
  r.low_freq_factor = 1;
  r.high_freq_factor = 4;
  r.original_max_pos = 64;
  r.beta_fast = 32;
  r.beta_slow = 1;
  const struct { dp_rope_type type; int T, H, hd, rot, pos0, style; } cs[] = {
    {DP_ROPE_DEFAULT, 1, 1, 2, 2, 0, 0},     {DP_ROPE_DEFAULT, 7, 3, 64, 64, 5, 0},
    {DP_ROPE_LINEAR, 5, 2, 64, 32, 100, 0},  {DP_ROPE_LLAMA3, 9, 4, 128, 128, 3000, 0},
    {DP_ROPE_YARN, 6, 2, 64, 64, 17, 1},     {DP_ROPE_DEFAULT, 3, 5, 80, 48, 20000, 1},
    {DP_ROPE_DEFAULT, 2, 1, 128, 128, 130000, 0},
  };
  for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
    r.type = cs[c].type;
    r.rotary_dim = cs[c].rot;
    r.truncate = c % 2;
    int T = cs[c].T, H = cs[c].H, hd = cs[c].hd, rot = cs[c].rot;
    size_t n = (size_t)T * H * hd;
    float inv[256], af;
    KT_OK(dp_rope_freqs(&r, hd, inv, &af));
    float *x = kt_randn(n, 1), *ref = kt_alloc(n * 4), *out = kt_alloc(n * 4);
    memcpy(ref, x, n * 4);
    dp_ref_rope(ref, inv, T, H, hd, rot, cs[c].pos0, cs[c].style, af);
    dp_gpu_buffer *bx = kt_upload(x, n * 4), *bf = kt_upload(inv, rot / 2 * 4);
    KT_OK(dp_op_rope(O, kv(bx), kv(bf), T, H, hd, rot, cs[c].pos0, cs[c].style, af));
    kt_read(bx, out, n * 4);
    char what[96];
    snprintf(what, sizeof what, "rope type=%d T=%d H=%d hd=%d rot=%d pos0=%d style=%d af=%.3f", r.type, T, H, hd, rot,
             cs[c].pos0, cs[c].style, af);
    kt_check(what, out, ref, n, cs[c].pos0 > 10000 ? 1e-5 : 2e-6);
    dp_gpu_buffer_free(bx); dp_gpu_buffer_free(bf);
    free(x); free(ref); free(out);
  }
}

/* Fused rope + kv_write (dp_op_rope_kv) against the composition of the references: q and k
 * rotated by dp_ref_rope, the cache slots of pos0 .. pos0+T-1 (mod capacity: ring wrap) hold
 * the rotated k and v, and every other slot keeps its (random) contents. */
/* norm: the q/k RMSNorm first (dp_op_rope_kv_norm; reference dp_ref_rmsnorm), weights of
 * either, both or neither head kind, (1 + w) in odd cases; run on both kernel families */
static void test_rope_kv(int norm) {
  const struct { int T, H, KVH, hd, rot, pos0, style, cap; } cs[] = {
    {1, 4, 2, 64, 64, 300, 0, 512}, {5, 3, 1, 80, 48, 7, 1, 8}, {3, 1, 1, 7, 4, 2, 0, 6},
    {1, 1, 1, 2, 2, 0, 1, 1}, {257, 4, 2, 64, 64, 0, 0, 300}, {4, 2, 1, 128, 128, 20000, 1, 4100},
  };
  for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
    int T = cs[c].T, H = cs[c].H, KVH = cs[c].KVH, hd = cs[c].hd, rot = cs[c].rot, cap = cs[c].cap;
    dp_rope r = {0};
    r.type = DP_ROPE_DEFAULT;
    r.theta = 10000;
    r.rotary_dim = rot;
    float inv[256], af;
    KT_OK(dp_rope_freqs(&r, hd, inv, &af));
    size_t nq = (size_t)T * H * hd, nk = (size_t)T * KVH * hd, nc = (size_t)cap * KVH * hd, row = (size_t)KVH * hd;
    float *q = kt_randn(nq, 1), *k = kt_randn(nk, 1), *v = kt_randn(nk, 1);
    float *kc = kt_randn(nc, 1), *vc = kt_randn(nc, 1);
    float *rq = kt_alloc(nq * 4), *rk = kt_alloc(nk * 4), *rkc = kt_alloc(nc * 4), *rvc = kt_alloc(nc * 4);
    memcpy(rq, q, nq * 4); memcpy(rk, k, nk * 4); memcpy(rkc, kc, nc * 4); memcpy(rvc, vc, nc * 4);
    float *qw = kt_randn(hd, 0.5f), *kw = kt_randn(hd, 0.5f);
    int hq = norm && c % 3 != 1, hk = norm && c % 3 != 2; /* which norms the case has */
    uint32_t nf = c % 2 ? DP_NORM_PLUS_ONE : 0;
    if (hq) dp_ref_rmsnorm(rq, rq, qw, T * H, hd, 1e-6f, nf);
    if (hk) dp_ref_rmsnorm(rk, rk, kw, T * KVH, hd, 1e-6f, nf);
    dp_ref_rope(rq, inv, T, H, hd, rot, cs[c].pos0, cs[c].style, af);
    dp_ref_rope(rk, inv, T, KVH, hd, rot, cs[c].pos0, cs[c].style, af);
    for (int t = 0; t < T; t++) {
      size_t slot = (size_t)((cs[c].pos0 + t) % cap);
      memcpy(rkc + slot * row, rk + t * row, row * 4);
      memcpy(rvc + slot * row, v + t * row, row * 4);
    }
    dp_gpu_buffer *bq = kt_upload(q, nq * 4), *bk = kt_upload(k, nk * 4), *bv = kt_upload(v, nk * 4);
    dp_gpu_buffer *bkc = kt_upload(kc, nc * 4), *bvc = kt_upload(vc, nc * 4), *bf = kt_upload(inv, rot / 2 * 4);
    dp_gpu_buffer *bqw = kt_upload(qw, hd * 4), *bkw = kt_upload(kw, hd * 4);
    if (norm)
      KT_OK(dp_op_rope_kv_norm(O, kv(bq), kv(bk), kv(bv), kv(bkc), kv(bvc), kv(bf), hq ? kv(bqw) : dp_view_of(NULL, 0),
                               hk ? kv(bkw) : dp_view_of(NULL, 0), 1e-6f, nf, T, H, KVH, hd, rot, cs[c].pos0, cs[c].style, af,
                               cap));
    else
      KT_OK(dp_op_rope_kv(O, kv(bq), kv(bk), kv(bv), kv(bkc), kv(bvc), kv(bf), T, H, KVH, hd, rot, cs[c].pos0,
                          cs[c].style, af, cap));
    float *oq = kt_alloc(nq * 4), *ok = kt_alloc(nk * 4), *okc = kt_alloc(nc * 4), *ovc = kt_alloc(nc * 4);
    kt_read(bq, oq, nq * 4); kt_read(bk, ok, nk * 4); kt_read(bkc, okc, nc * 4); kt_read(bvc, ovc, nc * 4);
    double tol = cs[c].pos0 > 10000 ? 1e-5 : 2e-6;
    char what[112];
    const char *part[4] = {"q", "k", "kcache", "vcache"};
    const float *outs[4] = {oq, ok, okc, ovc}, *refs[4] = {rq, rk, rkc, rvc};
    size_t ns[4] = {nq, nk, nc, nc};
    for (int i = 0; i < 4; i++) {
      snprintf(what, sizeof what, "rope_kv%s T=%d H=%d/%d hd=%d rot=%d pos0=%d style=%d cap=%d: %s",
               norm ? (hq && hk ? "_norm q,k" : hq ? "_norm q" : "_norm k") : "", T, H, KVH, hd, rot, cs[c].pos0, cs[c].style,
               cap, part[i]);
      kt_check(what, outs[i], refs[i], ns[i], i == 3 ? 0 : tol);
    }
    dp_gpu_buffer_free(bq); dp_gpu_buffer_free(bk); dp_gpu_buffer_free(bv);
    dp_gpu_buffer_free(bkc); dp_gpu_buffer_free(bvc); dp_gpu_buffer_free(bf);
    dp_gpu_buffer_free(bqw); dp_gpu_buffer_free(bkw); free(qw); free(kw);
    free(q); free(k); free(v); free(kc); free(vc); free(rq); free(rk); free(rkc); free(rvc);
    free(oq); free(ok); free(okc); free(ovc);
  }
}

/* Attention: the history is written through kv_write in `chunks` steps (a prefill of T0
 * tokens then single-token decodes...), each step's queries checked against the reference. */
/* long: the steps of more than one token only write the history (their attention is not run):
 * the decode steps after them are the point */
typedef struct { int H, KVH, hd, window, cap, sinks; float softcap, scale; int steps[4], long_ctx; } attn_case;

static void test_attention(const attn_case *ac, int mode) {
  int H = ac->H, KVH = ac->KVH, hd = ac->hd, total = 0, row = KVH * hd;
  for (int s = 0; s < 4; s++) total += ac->steps[s];
  float *k = kt_randn((size_t)total * row, 1), *v = kt_randn((size_t)total * row, 1);
  float *q = kt_randn((size_t)total * H * hd, 1), *sinks = kt_randn(H, 1);
  if (H * hd == 1) {
    /* One output per query: a softmax-weighted mean of signed values can nearly cancel, and
     * then f32 rounding is large relative to |ref| however right the kernel is. Same-sign
     * values keep ||out-ref||/||ref|| a test of the kernel at size 1. */
    for (size_t i = 0; i < (size_t)total * row; i++) v[i] = fabsf(v[i]);
  }
  dp_gpu_buffer *bk = kt_buf((size_t)ac->cap * row * 4), *bv = kt_buf((size_t)ac->cap * row * 4);
  dp_gpu_buffer *bs = kt_upload(sinks, H * 4);
  int pos = 0;
  for (int s = 0; s < 4 && ac->steps[s]; s++) {
    int T = ac->steps[s];
    size_t nq = (size_t)T * H * hd;
    dp_gpu_buffer *bkn = kt_upload(k + (size_t)pos * row, (size_t)T * row * 4);
    dp_gpu_buffer *bvn = kt_upload(v + (size_t)pos * row, (size_t)T * row * 4);
    dp_gpu_buffer *bq = kt_upload(q + (size_t)pos * H * hd, nq * 4), *bo = kt_buf(nq * 4);
    KT_OK(dp_op_kv_write(O, kv(bk), kv(bv), kv(bkn), kv(bvn), T, KVH, hd, pos, ac->cap));
    if (ac->long_ctx && T > 1) {
      KT_OK(dp_gpu_finish(G)); /* the write ran before its sources are freed */
      dp_gpu_buffer_free(bkn); dp_gpu_buffer_free(bvn); dp_gpu_buffer_free(bq); dp_gpu_buffer_free(bo);
      pos += T;
      continue;
    }
    dp_attn_desc d = {T, H, KVH, hd, pos, ac->cap, ac->window, ac->scale, ac->softcap};
    size_t fa = (size_t)dp_kernel_variant_find("attention_fa");
    uint64_t fa0 = dp_ops_variant_runs(O, fa);
    KT_OK(dp_op_attention(O, &d, kv(bo), kv(bq), kv(bk), kv(bv), ac->sinks ? kv(bs) : dp_view_of(NULL, 0)));
    int want_fa = mode < 2 && T >= 16 && hd % 4 == 0 && hd <= 128; /* GPU family prefill */
    CHECK((dp_ops_variant_runs(O, fa) > fa0) == want_fa, "attention T=%d hd=%d mode %d: attention_fa %s", T, hd, mode,
          want_fa ? "did not run" : "ran");
    float *ref = kt_alloc(nq * 4), *out = kt_alloc(nq * 4);
    dp_ref_attention(ref, q + (size_t)pos * H * hd, k, v, T, H, KVH, hd, pos, ac->window, ac->scale, ac->softcap,
                     ac->sinks ? sinks : NULL);
    kt_read(bo, out, nq * 4);
    char what[128];
    snprintf(what, sizeof what, "attention H=%d/%d hd=%d win=%d cap=%d sinks=%d cap=%.0f pos=%d T=%d sg=%d", H, KVH, hd,
             ac->window, ac->cap, ac->sinks, ac->softcap, pos, T, mode);
    kt_check(what, out, ref, nq, 1e-5);
    free(ref); free(out);
    dp_gpu_buffer_free(bkn); dp_gpu_buffer_free(bvn); dp_gpu_buffer_free(bq); dp_gpu_buffer_free(bo);
    pos += T;
  }
  dp_gpu_buffer_free(bk); dp_gpu_buffer_free(bv); dp_gpu_buffer_free(bs);
  free(k); free(v); free(q); free(sinks);
}

static void test_embed(void) {
  const struct { dp_dtype t; int D, vocab, T; float scale; } cs[] = {
    {DP_F32, 1, 3, 1, 1}, {DP_F32, 13, 50, 9, 1}, {DP_F16, 7, 40, 11, 3.5f}, {DP_BF16, 66, 30, 5, 1},
    {DP_Q8_0, 96, 40, 7, 1}, {DP_Q4_K, 256, 20, 6, 16}, {DP_Q6_K, 512, 20, 5, 1}, {DP_MXFP4, 64, 30, 8, 1},
    {DP_Q8_0, 8 * 4, 100, 5, 1},
    {DP_F32, 8, 1000, 65535 * 32 + 100, 1}, /* one group of 8 per row: past 65535 workgroups of 32 */
  };
  for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
    dp_dtype t = cs[c].t;
    int D = cs[c].D, V = cs[c].vocab, T = cs[c].T;
    size_t rb = dp_dtype_row_bytes(t, D);
    float *tab = kt_randn((size_t)V * D, 1), *tabd = kt_alloc((size_t)V * D * 4);
    void *tq = kt_alloc(rb * V);
    KT_OK(dp_quantize(t, tab, tq, (uint64_t)V * D));
    KT_OK(dp_ref_dequant_rows(t, tq, V, D, tabd));
    uint32_t *ids = kt_alloc((size_t)T * 4);
    for (int i = 0; i < T; i++) ids[i] = dp_test_rand_u32() % V;
    ids[T - 1] = V - 1; /* the last row of the table */
    float *ref = kt_alloc((size_t)T * D * 4), *out = kt_alloc((size_t)T * D * 4);
    dp_ref_embed(ref, ids, tabd, T, D, cs[c].scale);
    dp_weight *wt = NULL;
    KT_OK(dp_weight_create(O, t, V, D, 0, "test.embed", &wt));
    if (wt) KT_OK(dp_weight_write(O, wt, 0, V, tq));
    dp_gpu_buffer *bi = kt_upload(ids, (size_t)T * 4), *by = kt_buf((size_t)T * D * 4);
    KT_OK(dp_op_embed(O, kv(by), kv(bi), wt, T, cs[c].scale));
    kt_read(by, out, (size_t)T * D * 4);
    char what[96];
    snprintf(what, sizeof what, "embed %s D=%d vocab=%d T=%d scale=%g", dp_dtype_name(t), D, V, T, cs[c].scale);
    kt_check(what, out, ref, (size_t)T * D, 1e-6);
    dp_weight_free(wt); dp_gpu_buffer_free(bi); dp_gpu_buffer_free(by);
    free(tab); free(tabd); free(tq); free(ids); free(ref); free(out);
  }
}

int main(void) {
  if (kt_open()) return dp_test_summary("gpu_kernels_attn");
  test_rope();
  test_rope_kv(0);
  for (int f = 0; f < 2; f++) { /* rope_kv_norm: the GPU family's one dispatch, the CPU family's three */
    dp_ops_set_cpu_kernels(O, f);
    for (int m = 0; m < kt_n_modes(); m++) {
      kt_mode(m);
      test_rope_kv(1);
    }
  }
  dp_ops_set_cpu_kernels(O, !strcmp(dp_gpu_get_info(G)->adapter_type, "cpu"));
  kt_mode(1);
  test_embed();
  const attn_case cases[] = {
    /* H KVH hd window cap sinks softcap scale steps */
    {1, 1, 1, 0, 4, 0, 0, 1.0f, {1, 1, 1, 0}, 0},                    /* size 1 */
    {4, 2, 64, 0, 80, 0, 0, 0.125f, {37, 1, 1, 0}, 0},               /* GQA, prefill then decode */
    {6, 1, 80, 16, 24, 0, 0, 0.1f, {20, 1, 1, 5}, 0},                /* window 16, ring of 24 */
    {4, 4, 32, 0, 200, 1, 0, 0.2f, {70, 1, 0, 0}, 0},                /* sinks, > one key chunk */
    {2, 1, 256, 8, 12, 1, 30.0f, 0.3f, {5, 1, 1, 1}, 0},             /* softcap + window + sinks, hd 256 */
    {3, 1, 44, 10, 20, 1, 20.0f, 0.15f, {11, 1, 9, 0}, 0},           /* the same at hd 44 (CPU sg8 kernel) */
    /* prefill chunks of >= 16 queries: the GPU family's attention_fa (query blocks of 32, key
     * tiles of 16): whole and partial blocks, chunks at pos0 > 0, hd 128 with GQA 4, a window
     * over a ring with softcap and sinks, hd 48 (chunks of 4 floats not a multiple of 4) */
    {8, 2, 128, 0, 160, 0, 0, 0.09f, {64, 33, 16, 1}, 0},
    {4, 1, 48, 24, 60, 1, 25.0f, 0.14f, {50, 17, 1, 0}, 0},
    /* decode over long contexts: the GPU family's attention_split (every T = 1 step of the GPU
     * family runs it; here several splits of 64-key tiles, the last partial), GQA groups of 4,
     * 8 and 3, sinks + softcap, a window over a ring that wraps */
    {8, 2, 64, 0, 700, 0, 0, 0.125f, {600, 1, 1, 0}, 1},
    {16, 2, 128, 0, 720, 1, 30.0f, 0.1f, {700, 1, 0, 0}, 1},
    {6, 2, 80, 0, 520, 0, 0, 0.1f, {513, 1, 0, 0}, 1},
    {4, 4, 32, 520, 560, 0, 0, 0.2f, {530, 30, 1, 1}, 1},
    /* depth 1..3 and 9000-9001 (29 splits of 320 keys per KV head of Llama-3.2-1B's 32/8 heads), a
     * 4096-key window over a 4200-slot ring at depth 9000 (MQA: 64 splits of 64 keys) */
    {8, 2, 64, 0, 16, 1, 0, 0.125f, {1, 1, 1, 0}, 0},
    {32, 8, 64, 0, 9010, 0, 0, 0.125f, {4500, 4499, 1, 1}, 1},
    {8, 1, 128, 4096, 4200, 1, 0, 0.09f, {4000, 4000, 1000, 1}, 1},
    /* attention_split's steps of 4 keys per key group (32 keys a step at LK = 16): one split
     * at 192 keys, four splits of 64 at 193 (the last of one key); a window of 900 over a
     * 1000-slot ring at depth 2516 (the wrap at key 2000 inside a split and inside a step);
     * Llama-3.1-8B's heads (32/8, hd 128: two vec4s per invocation) at depth 1037 */
    {8, 2, 64, 0, 200, 0, 0, 0.125f, {191, 1, 1, 0}, 1},
    {8, 2, 64, 900, 1000, 1, 0, 0.125f, {900, 900, 716, 1}, 1},
    {32, 8, 128, 0, 1100, 0, 0, 0.088f, {1000, 37, 1, 0}, 1},
    /* head_dim 16 and 4: several keys per subgroup in attention_split_sg (h4 = 4, 1) */
    {8, 2, 16, 0, 700, 0, 0, 0.25f, {600, 1, 1, 0}, 1},
    {4, 1, 4, 0, 100, 1, 0, 0.5f, {70, 1, 1, 0}, 1},
  };
  /* kernel families: GPU (WG 64), CPU (WG = head_dim / 4, >= 8; with subgroups of 8 and
   * head_dim <= 64: attention_sg8, 8 queries per workgroup); GPU family prefill of T >= 16 with
   * head_dim <= 128: attention_fa */
  for (int f = 0; f < 2; f++) {
    dp_ops_set_cpu_kernels(O, f);
    for (int m = 0; m < kt_n_modes(); m++) {
      kt_mode(m);
      for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        if (!cases[c].long_ctx || f == 0) test_attention(&cases[c], m + 2 * f); /* long: the GPU family's split */
    }
  }
  kt_close();
  return dp_test_summary("gpu_kernels_attn");
}
