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
 * their bind groups are made at the first decode step and reused by every later one. */
#include <math.h>

#include "core/error.h"
#include "runtime/runtime.h"

static dp_view V(dp_gpu_buffer *b) { return dp_view_of(b, 0); }
static dp_view W(const dp_rt_weight *w) { return dp_view_of(w->buf, 0); }

/* y = x . w^T (+ bias), rows M; flags DP_MM_ACCUM adds into y. dp_op_linear runs it over the
 * weight's parts and reads their texture copies where the device can use them for M rows. */
static dp_status linear(dp_ops *o, dp_view y, dp_view x, const dp_rt_weight *w, const dp_rt_weight *bias,
                        uint32_t M, uint32_t flags) {
  return dp_op_linear(o, y, x, w->mat, w->row0, (uint32_t)w->rows, dp_view_of(bias ? bias->buf : NULL, 0), M, NULL, flags);
}

/* decode GEMV through w's texture copies with an input prologue: y (+)= pro(x) . w^T */
static dp_status linear_pro(dp_ops *o, dp_view y, dp_view x, const dp_rt_weight *w, const dp_gemv_pro *pro,
                            uint32_t flags) {
  return dp_op_linear(o, y, x, w->mat, w->row0, (uint32_t)w->rows, dp_view_of(NULL, 0), 1, pro, flags);
}

static uint32_t norm_flags(const dp_plan *p) { return p->norm_plus_one ? DP_NORM_PLUS_ONE : 0; }

/* x += norm(branch) when there is a post-norm; the branch output is in s->tmp. */
static dp_status post_norm_add(dp_rt_session *s, const dp_rt_weight *post, uint32_t T) {
  const dp_plan *p = s->m->plan;
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model;
  dp_status st = dp_op_rmsnorm(o, V(s->tmp), V(s->tmp), W(post), T, d, (float)p->norm_eps, norm_flags(p));
  if (!st) st = dp_op_add(o, V(s->x), V(s->x), V(s->tmp), T * d);
  return st;
}

static dp_status attention_block(dp_rt_session *s, int li, uint32_t T, uint32_t pos0) {
  const dp_plan *p = s->m->plan;
  const dp_layer_plan *P = &p->layers[li];
  const dp_rt_layer *L = &s->m->layers[li];
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model, nh = (uint32_t)p->n_heads, nkv = (uint32_t)p->n_kv_heads, hd = (uint32_t)p->head_dim;
  float eps = (float)p->norm_eps;
  dp_status st;
  dp_view q = V(s->q), k = V(s->k), v = V(s->v);
  int fused = T == 1 && L->qkv.mat && !L->q_bias.buf && !L->k_bias.buf && !L->v_bias.buf;
  if (fused && L->qkv.mat->tex) { /* decode: RMSNorm + q|k|v in one texture GEMV */
    dp_gemv_pro pro = {DP_PRO_RMSNORM, W(&L->attn_norm), eps, norm_flags(p), 0};
    if ((st = linear_pro(o, V(s->qkv1), V(s->x), &L->qkv, &pro, 0))) return st;
  } else {
    if ((st = dp_op_rmsnorm(o, V(s->h), V(s->x), W(&L->attn_norm), T, d, eps, norm_flags(p)))) return st;
    if (fused) { /* decode: one matmul for q | k | v (rows stacked at upload, outputs 256-aligned) */
      if ((st = linear(o, V(s->qkv1), V(s->h), &L->qkv, NULL, 1, 0))) return st;
    } else {
      if ((st = linear(o, q, V(s->h), &L->q, &L->q_bias, T, 0))) return st;
      if ((st = linear(o, k, V(s->h), &L->k, &L->k_bias, T, 0))) return st;
      if ((st = linear(o, v, V(s->h), &L->v, &L->v_bias, T, 0))) return st;
    }
  }
  if (fused) {
    q = dp_view_of(s->qkv1, 0);
    k = dp_view_of(s->qkv1, (uint64_t)nh * hd * 4);
    v = dp_view_of(s->qkv1, (uint64_t)(nh + nkv) * hd * 4);
  }
  if (L->q_norm.buf && (st = dp_op_rmsnorm(o, q, q, W(&L->q_norm), T * nh, hd, eps, norm_flags(p)))) return st;
  if (L->k_norm.buf && (st = dp_op_rmsnorm(o, k, k, W(&L->k_norm), T * nkv, hd, eps, norm_flags(p)))) return st;
  /* RoPE on q and k and the K/V cache write: one fused dispatch */
  if ((st = dp_op_rope_kv(o, q, k, v, V(s->kc[li]), V(s->vc[li]), V(L->inv_freq), T, nh, nkv, hd, (uint32_t)L->rot_dim,
                          pos0, L->rope_style, L->rope_attn_factor, s->cap[li]))) return st;
  dp_attn_desc a = {T, nh, nkv, hd, pos0, s->cap[li], (uint32_t)P->sliding_window, (float)P->attn_scale, (float)p->attn_softcap};
  if ((st = dp_op_attention(o, &a, V(s->att), q, V(s->kc[li]), V(s->vc[li]), W(&L->sinks)))) return st;
  if (!L->attn_post_norm.buf) return linear(o, V(s->x), V(s->att), &L->o, &L->o_bias, T, DP_MM_ACCUM);
  if ((st = linear(o, V(s->tmp), V(s->att), &L->o, &L->o_bias, T, 0))) return st;
  return post_norm_add(s, &L->attn_post_norm, T);
}

static dp_status ffn_block(dp_rt_session *s, int li, uint32_t T) {
  const dp_plan *p = s->m->plan;
  const dp_rt_layer *L = &s->m->layers[li];
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model, ff = (uint32_t)p->d_ff;
  dp_status st;
  if (p->glu != DP_PLAN_GLU_SILU && p->glu != DP_PLAN_GLU_GELU_TANH)
    return dp_error(DP_ERR_UNSUPPORTED, "layer %d: activation %d is not implemented in the GPU runtime", li, (int)p->glu);
  if (T == 1 && L->gate_up.mat && L->gate_up.mat->tex && L->down.mat->tex) { /* decode: RMSNorm + gate|up, then GLU + down */
    dp_gemv_pro pn = {DP_PRO_RMSNORM, W(&L->ffn_norm), (float)p->norm_eps, norm_flags(p), 0};
    dp_gemv_pro pg = {DP_PRO_GLU, {NULL, 0}, 0, 0, p->glu == DP_PLAN_GLU_SILU ? DP_GLU_SILU : DP_GLU_GELU_TANH};
    if ((st = linear_pro(o, V(s->gu1), V(s->x), &L->gate_up, &pn, 0))) return st;
    if (!L->ffn_post_norm.buf) return linear_pro(o, V(s->x), V(s->gu1), &L->down, &pg, DP_MM_ACCUM);
    if ((st = linear_pro(o, V(s->tmp), V(s->gu1), &L->down, &pg, 0))) return st;
    return post_norm_add(s, &L->ffn_post_norm, T);
  }
  if ((st = dp_op_rmsnorm(o, V(s->h), V(s->x), W(&L->ffn_norm), T, d, (float)p->norm_eps, norm_flags(p)))) return st;
  dp_view gate = V(s->gate), up = V(s->up);
  if (T == 1 && L->gate_up.mat) { /* decode: one matmul for gate | up */
    if ((st = linear(o, V(s->gu1), V(s->h), &L->gate_up, NULL, 1, 0))) return st;
    gate = dp_view_of(s->gu1, 0), up = dp_view_of(s->gu1, (uint64_t)ff * 4);
  } else {
    if ((st = linear(o, gate, V(s->h), &L->gate, NULL, T, 0))) return st;
    if ((st = linear(o, up, V(s->h), &L->up, NULL, T, 0))) return st;
  }
  if ((st = dp_op_glu(o, gate, gate, up, T * ff, (int)p->glu))) return st;
  if (!L->ffn_post_norm.buf) return linear(o, V(s->x), gate, &L->down, NULL, T, DP_MM_ACCUM);
  if ((st = linear(o, V(s->tmp), gate, &L->down, NULL, T, 0))) return st;
  return post_norm_add(s, &L->ffn_post_norm, T);
}

dp_status dp_rt_record_body(dp_rt_session *s, dp_view ids, uint32_t T, uint32_t pos0) {
  const dp_plan *p = s->m->plan;
  dp_rt_model *m = s->m;
  if (T == 0 || T > (uint32_t)s->chunk) return dp_error(DP_ERR_INTERNAL, "forward pass of %u tokens (chunk %d)", T, s->chunk);
  if (pos0 + T > (uint32_t)s->ctx)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded (%u + %u tokens)", s->ctx, pos0, T);
  if (T == 1) dp_ops_sites_begin(m->ops, s->sites[DP_RT_SITES_BODY]); /* decode: bind groups made once */
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
  if (row0 == 0 && n == 1) dp_ops_sites_begin(m->ops, s->sites[DP_RT_SITES_HEAD]); /* decode */
  dp_status st = linear(m->ops, V(s->logits), x, &m->output, NULL, n, 0);
  if (!st && p->final_softcap > 0) st = dp_rt_record_softcap(s, n, (float)p->final_softcap);
  dp_ops_sites_end(m->ops);
  return st;
}
