/* forward.c -- records one forward pass of a model on the GPU: the prefill graph (T > 1
 * tokens in one pass of tiled kernels) and the decode graph (T == 1) are the same code.
 *
 * Follows the layer plan (model/plan.h) literally, one dp_op_* (kernels/ops.h) per line of
 * the plan's pseudo-code, so it reads like the math. Nothing is submitted here: session.c and
 * generate.c record several passes (and samplers) and submit them together. Activation
 * buffers come from the session (runtime.h); residual adds are fused into the o_proj/down
 * matmuls (DP_MM_ACCUM) unless a sandwich post-norm sits in between. Where the weights have
 * texture copies (CPU adapters, weights.c), the matmuls read those, and decode folds the
 * RMSNorm before q|k|v and gate|up and the GLU before down into the GEMV: 6 dispatches a layer.
 * A 1-token pass and the 1-row LM head record through the session's dispatch sites (ops.h):
 * their bind groups are made at the first decode step and reused by every later one (a
 * batch's pass through the batch's sites: runtime/batch.c).
 *
 * Decode is batch-invariant: a session's decode token (T == 1) and the rows of a batch
 * (s->rows, runtime/batch.c: row i a decode token of session s->rows[i]) run the same
 * kernels row by row -- every matrix product with DP_MM_ROWS (the GEMV for any number of
 * rows, each row reduced as alone), norms, GLU and adds per row, and q/k norm, RoPE + K/V
 * write and attention per row against the row's own session (its cache, its position) -- so
 * a session's logits, hence its ids, are bit for bit the same alone or in any batch. */
#include <math.h>

#include "core/error.h"
#include "runtime/runtime.h"

static dp_view V(dp_gpu_buffer *b) { return dp_view_of(b, 0); }
static dp_view at(dp_gpu_buffer *b, uint64_t off) { return dp_view_of(b, off); }

/* A decode pass (one token, or a batch's rows): every matrix product runs with DP_MM_ROWS. */
static int decode(const dp_rt_session *s, uint32_t T) { return T == 1 || s->rows; }
static uint32_t rows_flag(const dp_rt_session *s, uint32_t T) { return decode(s, T) ? DP_MM_ROWS : 0; }
static dp_view W(const dp_rt_weight *w) { return dp_view_of(w->buf, 0); }

/* y = x . w^T (+ bias), rows M; flags DP_MM_ACCUM adds into y. dp_op_linear runs it over the
 * weight's parts and reads their texture copies where the device can use them for M rows. */
static dp_status linear(dp_ops *o, dp_view y, dp_view x, const dp_rt_weight *w, const dp_rt_weight *bias,
                        uint32_t M, uint32_t flags) {
  return dp_op_linear(o, y, x, w->mat, w->row0, (uint32_t)w->rows, dp_view_of(bias ? bias->buf : NULL, 0), M, NULL, flags);
}

/* decode GEMV (M rows, batch-invariant) with an input prologue, through w's texture copies or
 * matmul_gemv_sg (dp_ops_linear_pro): y (+)= pro(x) . w^T */
static dp_status linear_pro(dp_ops *o, dp_view y, dp_view x, const dp_rt_weight *w, const dp_gemv_pro *pro, uint32_t M,
                            uint32_t flags) {
  return dp_op_linear(o, y, x, w->mat, w->row0, (uint32_t)w->rows, dp_view_of(NULL, 0), M, pro, flags | DP_MM_ROWS);
}

/* the same with a bias (or none): y = pro(x) . w^T + bias */
static dp_status linear_pro_b(dp_ops *o, dp_view y, dp_view x, const dp_rt_weight *w, const dp_rt_weight *bias,
                              const dp_gemv_pro *pro, uint32_t M) {
  return dp_op_linear(o, y, x, w->mat, w->row0, (uint32_t)w->rows, dp_view_of(bias ? bias->buf : NULL, 0), M, pro, DP_MM_ROWS);
}

static uint32_t norm_flags(const dp_plan *p) { return p->norm_plus_one ? DP_NORM_PLUS_ONE : 0; }

/* ---- matvec input q8 (ops.h dp_op_quantize_x): decode on GPUs with dot4I8Packed quantizes a
 * product's input to int8 blocks of 32 (with the RMSNorm or GLU before it folded in), inside
 * each product where it can (matmul_gemv_i8_fused), else once into s->xq for the products
 * reading that input (quantize_x, matmul_gemv_i8): q, k, v (or q|k|v),
 * o, gate|up (or gate, up), down and the LM head. Only where every weight reading the input takes
 * it (dp_ops_linear_q8: Q4_K, Q6_K, Q8_0); otherwise the f32-input path below is unchanged. */
static int q8_ok(dp_ops *o, const dp_rt_session *s, uint32_t T, const dp_rt_weight *w) {
  return decode(s, T) && s->xq && w->mat && dp_ops_linear_q8(o, w->mat, 1);
}
/* The input of the following linear_q8 calls: x (rows of K, pro applied first). Quantized by
 * the products themselves where they can (matmul_gemv_i8_fused: no dispatch here), else once by
 * quantize_x into s->xq when the first product that cannot asks for it. x stays unchanged until
 * the last of these products (each writes elsewhere). */
static void quantize(dp_rt_session *s, dp_view x, uint32_t K, const dp_gemv_pro *pro) {
  s->q8in.x = x, s->q8in.K = K, s->q8in.done = 0;
  s->q8in.pro = pro ? *pro : (dp_gemv_pro){DP_PRO_NONE, {NULL, 0}, 0, 0, 0, 0, 0};
}
/* y (+)= quantize(pro(x)) . w^T (+ bias): decode rows, batch-invariant */
static dp_status linear_q8(dp_rt_session *s, dp_view y, const dp_rt_weight *w, const dp_rt_weight *bias, uint32_t T,
                           uint32_t flags) {
  dp_ops *o = s->m->ops;
  dp_view b = dp_view_of(bias && bias->buf ? bias->buf : NULL, 0);
  if (dp_ops_linear_q8_fused(o, w->mat, 1)) {
    dp_gemv_pro f = s->q8in.pro;
    f.q8 = 1;
    return dp_op_linear(o, y, s->q8in.x, w->mat, w->row0, (uint32_t)w->rows, b, T, &f, flags | DP_MM_ROWS);
  }
  if (!s->q8in.done) {
    dp_status st = dp_op_quantize_x(o, V(s->xq), s->q8in.x, T, s->q8in.K, &s->q8in.pro);
    if (st) return st;
    s->q8in.done = 1;
  }
  dp_gemv_pro q = {DP_PRO_Q8, {NULL, 0}, 0, 0, 0, 0, 0};
  return dp_op_linear(o, y, V(s->xq), w->mat, w->row0, (uint32_t)w->rows, b, T, &q, flags | DP_MM_ROWS);
}

/* x += norm(branch) when there is a post-norm; the branch output is in s->tmp. */
static dp_status post_norm_add(dp_rt_session *s, const dp_rt_weight *post, uint32_t T) {
  const dp_plan *p = s->m->plan;
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model;
  dp_status st = dp_op_rmsnorm(o, V(s->tmp), V(s->tmp), W(post), T, d, (float)p->norm_eps, norm_flags(p));
  if (!st) st = dp_op_add(o, V(s->x), V(s->x), V(s->tmp), T * d);
  return st;
}

/* q/k norm, RoPE + K/V write and attention of T query rows of session c (its cache) at
 * positions pos0..: q, k, v [T rows] in, out [T, n_heads * head_dim]. */
static dp_status attend(dp_rt_session *c, int li, dp_view q, dp_view k, dp_view v, dp_view out, uint32_t T, uint32_t pos0) {
  const dp_plan *p = c->m->plan;
  const dp_layer_plan *P = &p->layers[li];
  const dp_rt_layer *L = &c->m->layers[li];
  dp_ops *o = c->m->ops;
  uint32_t nh = (uint32_t)p->n_heads, nkv = (uint32_t)p->n_kv_heads, hd = (uint32_t)p->head_dim;
  float eps = (float)p->norm_eps;
  dp_status st;
  /* q/k norm (qwen3, gemma3), RoPE on q and k and the K/V cache write: one fused dispatch on
   * the GPU kernel family (the CPU family norms first) */
  if ((st = dp_op_rope_kv_norm(o, q, k, v, V(c->kc[li]), V(c->vc[li]), V(L->inv_freq), W(&L->q_norm), W(&L->k_norm), eps,
                               norm_flags(p), T, nh, nkv, hd, (uint32_t)L->rot_dim, pos0, L->rope_style, L->rope_attn_factor,
                               c->cap[li]))) return st;
  dp_attn_desc a = {T, nh, nkv, hd, pos0, c->cap[li], (uint32_t)P->sliding_window, (float)P->attn_scale, (float)p->attn_softcap};
  return dp_op_attention(o, &a, out, q, V(c->kc[li]), V(c->vc[li]), W(&L->sinks));
}

/* A batch's rows: attend() per row with the row's session and position. q, k, v: row 0 of
 * each, rows qs / ks bytes apart. A row whose views are not 256-aligned goes through the row
 * session's own (aligned) q, k, v and att buffers by copies. */
static dp_status attend_rows(dp_rt_session *s, int li, uint32_t T, dp_view q, dp_view k, dp_view v, uint64_t qs, uint64_t ks) {
  const dp_plan *p = s->m->plan;
  dp_gpu *g = s->m->gpu;
  uint64_t qb = (uint64_t)p->n_heads * p->head_dim * 4, kb = (uint64_t)p->n_kv_heads * p->head_dim * 4;
  dp_status st = DP_OK;
  for (uint32_t i = 0; i < T && !st; i++) {
    dp_rt_session *c = s->rows[i];
    if (c->pos >= c->ctx) return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded (batch row %u)", c->ctx, i);
    dp_view qi = at(q.buf, q.offset + i * qs), ki = at(k.buf, k.offset + i * ks), vi = at(v.buf, v.offset + i * ks);
    dp_view oi = at(s->att, i * qb);
    if (!((qi.offset | ki.offset | vi.offset | oi.offset) % 256)) {
      st = attend(c, li, qi, ki, vi, oi, 1, (uint32_t)c->pos);
      continue;
    }
    if (!st) st = dp_gpu_copy(g, qi.buf, qi.offset, c->q, 0, qb);
    if (!st) st = dp_gpu_copy(g, ki.buf, ki.offset, c->k, 0, kb);
    if (!st) st = dp_gpu_copy(g, vi.buf, vi.offset, c->v, 0, kb);
    if (!st) st = attend(c, li, V(c->q), V(c->k), V(c->v), V(c->att), 1, (uint32_t)c->pos);
    if (!st) st = dp_gpu_copy(g, c->att, 0, s->att, oi.offset, qb);
  }
  return st;
}

static dp_status attention_block(dp_rt_session *s, int li, uint32_t T, uint32_t pos0) {
  const dp_plan *p = s->m->plan;
  const dp_rt_layer *L = &s->m->layers[li];
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model, nh = (uint32_t)p->n_heads, nkv = (uint32_t)p->n_kv_heads, hd = (uint32_t)p->head_dim;
  float eps = (float)p->norm_eps;
  uint32_t rf = rows_flag(s, T);
  dp_status st;
  dp_view q = V(s->q), k = V(s->k), v = V(s->v);
  uint64_t qs = (uint64_t)nh * hd * 4, ks = (uint64_t)nkv * hd * 4; /* bytes from row to row */
  int fused = decode(s, T) && L->qkv.mat && !L->q_bias.buf && !L->k_bias.buf && !L->v_bias.buf;
  /* q|k stacked, v apart: one token (outputs in qkv1's layout: q | k | v) */
  uint64_t vo = (uint64_t)(nh + nkv) * hd * 4;
  int qk = !fused && T == 1 && !s->rows && L->qk.mat && !L->q_bias.buf && !L->k_bias.buf && !L->v_bias.buf && vo % 256 == 0;
  dp_gemv_pro norm = {DP_PRO_RMSNORM, W(&L->attn_norm), eps, norm_flags(p), 0, 0, 0};
  if (fused ? q8_ok(o, s, T, &L->qkv) : q8_ok(o, s, T, &L->q) && q8_ok(o, s, T, &L->k) && q8_ok(o, s, T, &L->v)) {
    /* decode, matvec input q8: RMSNorm + quantize once, then q|k|v (or q|k and v, or q, k, v) over it */
    quantize(s, V(s->x), d, &norm);
    if (fused) {
      st = linear_q8(s, V(s->qkv1), &L->qkv, NULL, T, 0);
    } else if (qk) {
      if (!(st = linear_q8(s, V(s->qkv1), &L->qk, NULL, T, 0))) st = linear_q8(s, at(s->qkv1, vo), &L->v, NULL, T, 0);
      fused = 1;
    } else if (!(st = linear_q8(s, q, &L->q, &L->q_bias, T, 0)) && !(st = linear_q8(s, k, &L->k, &L->k_bias, T, 0)))
      st = linear_q8(s, v, &L->v, &L->v_bias, T, 0);
    if (st) return st;
  } else if (fused && (L->qkv.mat->tex || dp_ops_linear_pro(o, L->qkv.mat, 1))) {
    /* decode: RMSNorm + q|k|v in one GEMV (texture, or matmul_gemv_sg on GPUs) */
    dp_gemv_pro pro = {DP_PRO_RMSNORM, W(&L->attn_norm), eps, norm_flags(p), 0, 0, 0};
    if ((st = linear_pro(o, V(s->qkv1), V(s->x), &L->qkv, &pro, T, 0))) return st;
  } else if (!fused && decode(s, T) && !L->q.mat->tex && dp_ops_linear_pro(o, L->q.mat, 1) && dp_ops_linear_pro(o, L->k.mat, 1) &&
             dp_ops_linear_pro(o, L->v.mat, 1)) {
    /* decode, q, k, v not stacked (weights of different types, e.g. q4_k_m's Q4_K q/k and Q6_K
     * v): each GEMV normalizes x in its prologue, 3 dispatches instead of rmsnorm + 3 */
    dp_gemv_pro pro = {DP_PRO_RMSNORM, W(&L->attn_norm), eps, norm_flags(p), 0, 0, 0};
    if (qk) { /* q|k stacked: 2 dispatches */
      if ((st = linear_pro(o, V(s->qkv1), V(s->x), &L->qk, &pro, T, 0))) return st;
      if ((st = linear_pro(o, at(s->qkv1, vo), V(s->x), &L->v, &pro, T, 0))) return st;
      fused = 1;
    } else {
      if ((st = linear_pro_b(o, q, V(s->x), &L->q, &L->q_bias, &pro, T))) return st;
      if ((st = linear_pro_b(o, k, V(s->x), &L->k, &L->k_bias, &pro, T))) return st;
      if ((st = linear_pro_b(o, v, V(s->x), &L->v, &L->v_bias, &pro, T))) return st;
    }
  } else {
    if ((st = dp_op_rmsnorm(o, V(s->h), V(s->x), W(&L->attn_norm), T, d, eps, norm_flags(p)))) return st;
    if (fused) { /* decode: one matmul for q | k | v (rows stacked at upload, outputs 256-aligned) */
      if ((st = linear(o, V(s->qkv1), V(s->h), &L->qkv, NULL, T, rf))) return st;
    } else {
      if ((st = linear(o, q, V(s->h), &L->q, &L->q_bias, T, rf))) return st;
      if ((st = linear(o, k, V(s->h), &L->k, &L->k_bias, T, rf))) return st;
      if ((st = linear(o, v, V(s->h), &L->v, &L->v_bias, T, rf))) return st;
    }
  }
  if (fused) {
    q = dp_view_of(s->qkv1, 0);
    k = dp_view_of(s->qkv1, (uint64_t)nh * hd * 4);
    v = dp_view_of(s->qkv1, (uint64_t)(nh + nkv) * hd * 4);
    qs = ks = (uint64_t)(nh + 2 * nkv) * hd * 4;
  }
  if (s->rows) { /* the rows' sessions come and go: their dispatches bind their own bind groups */
    dp_op_sites *sites = dp_ops_sites_pause(o);
    st = attend_rows(s, li, T, q, k, v, qs, ks);
    dp_ops_sites_resume(o, sites);
  } else {
    st = attend(s, li, q, k, v, V(s->att), T, pos0);
  }
  if (st) return st;
  if (q8_ok(o, s, T, &L->o)) { /* the attention output quantized, then o */
    quantize(s, V(s->att), nh * hd, NULL);
    if (!L->attn_post_norm.buf) return linear_q8(s, V(s->x), &L->o, &L->o_bias, T, DP_MM_ACCUM);
    if ((st = linear_q8(s, V(s->tmp), &L->o, &L->o_bias, T, 0))) return st;
    return post_norm_add(s, &L->attn_post_norm, T);
  }
  if (!L->attn_post_norm.buf) return linear(o, V(s->x), V(s->att), &L->o, &L->o_bias, T, DP_MM_ACCUM | rf);
  if ((st = linear(o, V(s->tmp), V(s->att), &L->o, &L->o_bias, T, rf))) return st;
  return post_norm_add(s, &L->attn_post_norm, T);
}

static dp_status ffn_block(dp_rt_session *s, int li, uint32_t T) {
  const dp_plan *p = s->m->plan;
  const dp_rt_layer *L = &s->m->layers[li];
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model, ff = (uint32_t)p->d_ff;
  dp_status st;
  if (L->moe) return dp_rt_record_moe(s, li, T); /* experts.c */
  if (p->glu != DP_PLAN_GLU_SILU && p->glu != DP_PLAN_GLU_GELU_TANH)
    return dp_error(DP_ERR_UNSUPPORTED, "layer %d: activation %d is not implemented in the GPU runtime", li, (int)p->glu);
  uint32_t rf = rows_flag(s, T);
  int act = p->glu == DP_PLAN_GLU_SILU ? DP_GLU_SILU : DP_GLU_GELU_TANH;
  int gu = L->gate_up.mat != NULL;
  if (q8_ok(o, s, T, &L->down) && (gu ? q8_ok(o, s, T, &L->gate_up) : q8_ok(o, s, T, &L->gate) && q8_ok(o, s, T, &L->up))) {
    /* decode, matvec input q8: RMSNorm + quantize, gate|up (or gate, up), GLU + quantize, down */
    dp_gemv_pro pn = {DP_PRO_RMSNORM, W(&L->ffn_norm), (float)p->norm_eps, norm_flags(p), 0, 0, 0};
    quantize(s, V(s->x), d, &pn);
    if (gu) { /* rows [gate | up] of 2 ff: the GLU prologue's layout */
      dp_gemv_pro pg = {DP_PRO_GLU, {NULL, 0}, 0, 0, act, 0, 0};
      if ((st = linear_q8(s, V(s->gu1), &L->gate_up, NULL, T, 0))) return st;
      quantize(s, V(s->gu1), ff, &pg);
    } else {
      if ((st = linear_q8(s, V(s->gate), &L->gate, NULL, T, 0)) || (st = linear_q8(s, V(s->up), &L->up, NULL, T, 0))) return st;
      if ((st = dp_op_glu(o, V(s->gate), V(s->gate), V(s->up), T * ff, act))) return st;
      quantize(s, V(s->gate), ff, NULL);
    }
    if (!L->ffn_post_norm.buf) return linear_q8(s, V(s->x), &L->down, NULL, T, DP_MM_ACCUM);
    if ((st = linear_q8(s, V(s->tmp), &L->down, NULL, T, 0))) return st;
    return post_norm_add(s, &L->ffn_post_norm, T);
  }
  if (decode(s, T) && L->gate_up.mat && !L->gate_up.mat->tex && L->gate_up.row0 == 0 &&
      (uint64_t)L->gate_up.rows == L->gate_up.mat->N && dp_ops_linear_glu_out(o, L->gate_up.mat, 1) &&
      dp_ops_linear_pro(o, L->gate_up.mat, 1)) {
    /* decode on GPUs: RMSNorm + gate|up with the GLU as its epilogue (matmul_gemv_sg: the
     * activation once per output, not once per weight as a prologue on down would), then down */
    dp_gemv_pro pn = {DP_PRO_RMSNORM, W(&L->ffn_norm), (float)p->norm_eps, norm_flags(p), 0, 1 + act, 0};
    if ((st = linear_pro(o, V(s->gate), V(s->x), &L->gate_up, &pn, T, 0))) return st;
    if (!L->ffn_post_norm.buf) return linear(o, V(s->x), V(s->gate), &L->down, NULL, T, DP_MM_ACCUM | rf);
    if ((st = linear(o, V(s->tmp), V(s->gate), &L->down, NULL, T, rf))) return st;
    return post_norm_add(s, &L->ffn_post_norm, T);
  }
  if (decode(s, T) && L->gate_up.mat && L->gate_up.mat->tex && L->down.mat->tex) { /* decode: RMSNorm + gate|up, then GLU + down */
    dp_gemv_pro pn = {DP_PRO_RMSNORM, W(&L->ffn_norm), (float)p->norm_eps, norm_flags(p), 0, 0, 0};
    dp_gemv_pro pg = {DP_PRO_GLU, {NULL, 0}, 0, 0, p->glu == DP_PLAN_GLU_SILU ? DP_GLU_SILU : DP_GLU_GELU_TANH, 0, 0};
    if ((st = linear_pro(o, V(s->gu1), V(s->x), &L->gate_up, &pn, T, 0))) return st;
    if (!L->ffn_post_norm.buf) return linear_pro(o, V(s->x), V(s->gu1), &L->down, &pg, T, DP_MM_ACCUM);
    if ((st = linear_pro(o, V(s->tmp), V(s->gu1), &L->down, &pg, T, 0))) return st;
    return post_norm_add(s, &L->ffn_post_norm, T);
  }
  if ((st = dp_op_rmsnorm(o, V(s->h), V(s->x), W(&L->ffn_norm), T, d, (float)p->norm_eps, norm_flags(p)))) return st;
  dp_view gate = V(s->gate), up = V(s->up);
  if (T == 1 && L->gate_up.mat) { /* decode: one matmul for gate | up (a batch's rows: gate and up apart, below) */
    if ((st = linear(o, V(s->gu1), V(s->h), &L->gate_up, NULL, 1, rf))) return st;
    gate = dp_view_of(s->gu1, 0), up = dp_view_of(s->gu1, (uint64_t)ff * 4);
  } else {
    if ((st = linear(o, gate, V(s->h), &L->gate, NULL, T, rf))) return st;
    if ((st = linear(o, up, V(s->h), &L->up, NULL, T, rf))) return st;
  }
  if ((st = dp_op_glu(o, gate, gate, up, T * ff, (int)p->glu))) return st;
  if (!L->ffn_post_norm.buf) return linear(o, V(s->x), gate, &L->down, NULL, T, DP_MM_ACCUM | rf);
  if ((st = linear(o, V(s->tmp), gate, &L->down, NULL, T, rf))) return st;
  return post_norm_add(s, &L->ffn_post_norm, T);
}

dp_status dp_rt_record_body(dp_rt_session *s, dp_view ids, uint32_t T, uint32_t pos0) {
  const dp_plan *p = s->m->plan;
  dp_rt_model *m = s->m;
  if (T == 0 || T > (uint32_t)s->chunk) return dp_error(DP_ERR_INTERNAL, "forward pass of %u tokens (chunk %d)", T, s->chunk);
  if (!s->rows && pos0 + T > (uint32_t)s->ctx)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded (%u + %u tokens)", s->ctx, pos0, T);
  if (decode(s, T)) dp_ops_sites_begin(m->ops, s->sites[DP_RT_SITES_BODY]); /* decode: bind groups made once */
  dp_status st = dp_op_embed(m->ops, V(s->x), ids, m->embed.mat, T, (float)p->embed_scale);
  for (int li = 0; !st && li < p->n_layers; li++) {
    st = attention_block(s, li, T, pos0);
    if (!st) st = ffn_block(s, li, T);
  }
  if (!st) st = dp_op_rmsnorm(m->ops, V(s->h), V(s->x), W(&m->final_norm), T, (uint32_t)p->d_model, (float)p->norm_eps, norm_flags(p));
  dp_ops_sites_end(m->ops);
  return st;
}

dp_status dp_rt_record_head(dp_rt_session *s, uint32_t row0, uint32_t n) {
  const dp_plan *p = s->m->plan;
  dp_rt_model *m = s->m;
  if (n == 0 || n > (uint32_t)s->lrows) return dp_error(DP_ERR_INTERNAL, "LM head over %u rows (max %d)", n, s->lrows);
  uint64_t rb = (uint64_t)p->d_model * 4, off = row0 * rb;
  dp_view x = dp_view_of(s->h, off);
  if (off % 256) { /* binding offsets must be 256-aligned: copy the rows to an aligned buffer */
    dp_status st = dp_gpu_copy(m->gpu, s->h, off, s->hrow, 0, n * rb);
    if (st) return st;
    x = V(s->hrow);
  }
  if (row0 == 0 && (n == 1 || s->rows)) dp_ops_sites_begin(m->ops, s->sites[DP_RT_SITES_HEAD]); /* decode */
  dp_status st;
  if ((n == 1 || s->rows) && s->xq && m->output.mat && dp_ops_linear_q8(m->ops, m->output.mat, 1) &&
      dp_xq_bytes(n, (uint32_t)p->d_model) <= dp_gpu_buffer_size(s->xq)) { /* matvec input q8 */
    quantize(s, x, (uint32_t)p->d_model, NULL);
    st = linear_q8(s, V(s->logits), &m->output, NULL, n, 0);
  } else {
    st = linear(m->ops, V(s->logits), x, &m->output, NULL, n, n == 1 || s->rows ? DP_MM_ROWS : 0);
  }
  if (!st && p->final_softcap > 0) st = dp_rt_record_softcap(s, n, (float)p->final_softcap);
  dp_ops_sites_end(m->ops);
  return st;
}
