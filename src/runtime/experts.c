/* experts.c -- mixture-of-experts layers in the GPU runtime: their weights (the router and
 * the expert banks, ops.h dp_moe_bank) and their forward pass.
 *
 * Weights: per MoE layer the router [E, d] in its stored type with its bias (f32), and per
 * matrix kind (gate, up, down) a bank: every expert's matrix in its stored type (MXFP4 stays
 * MXFP4: the moe_matmul kernels decode it) in a slot of estride bytes (the expert's rows,
 * rounded up to 4 bytes), slots packed into buffers of at most one storage binding each; the
 * biases (gpt-oss) as [E, N] f32; map [E] u32, expert -> slot (the identity when every
 * expert is resident). Every upload is a dp_rt_copy (runtime.h: bytes of a tensor into a
 * buffer at an offset) handed to the loader's function (weights.c runs it at once; a
 * resumable loader lists it as a job); expert matrices are read by expert_read(), the one
 * function that reads expert bytes from the model source, at load and when paging.
 * Residency (--expert-budget, docs/runtime.md): at most `slots` experts per layer, the rest
 * paged in on demand (record_paged: ids read back once per layer, waves, LRU, prefetch).
 *
 * Forward (T tokens, k experts each, R = T k pairs), nothing read back:
 *   h = norm(x);  logits = h router^T (+ b);  ids, w = moe_route(logits)
 *   (prefill, GPU kernel family: grp = moe_group(ids), the pairs grouped by expert)
 *   g = moe_matmul(h, gate)  u = moe_matmul(h, up)   (the expert of each pair, by ids)
 *   g = act(g, u)  (SiLU GLU, or gpt-oss's clamped SwiGLU)
 *   y = moe_matmul(g, down);  x += moe_combine(y, w) */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/runtime.h"

#define TRY(x) do { dp_status s_ = (x); if (s_) return s_; } while (0)
#define NOT_RESIDENT 0xffffffffu

static const dp_expert_mat MATS[3] = {DP_EXPERT_GATE, DP_EXPERT_UP, DP_EXPERT_DOWN};
static const dp_expert_mat BIASES[3] = {DP_EXPERT_GATE_BIAS, DP_EXPERT_UP_BIAS, DP_EXPERT_DOWN_BIAS};

typedef struct loader {
  dp_rt_model *m;
  dp_model_file *mf;
  dp_rt_copy_fn copy;    /* the loader's: run now, or list for the resumable upload */
  void *ctx;
} loader;

static dp_status find(loader *u, const char *name, const dp_tensor_info **t) {
  if (!(*t = dp_model_file_find(u->mf, name)))
    return dp_error(DP_ERR_NOT_FOUND, "%s: tensor %s missing", dp_model_file_path(u->mf), name);
  return DP_OK;
}

/* The one place expert bytes are read from the model source (at load, and when paging): bytes
 * [off, off + n) of tensor t. Natively the model file through format/model_file.h; a source
 * answering read(name, offset, length) requests (the browser's HTTP / OPFS) plugs in here. */
static dp_status expert_read(dp_model_file *mf, const dp_tensor_info *t, uint64_t off, void *dst, uint64_t n) {
  return dp_model_file_read(mf, t, off, dst, n);
}

dp_status dp_rt_copy_run(dp_rt_model *m, dp_model_file *mf, const dp_rt_copy *c, uint8_t *staging) {
  uint64_t n = c->f32 ? dp_tensor_nelems(c->t) * 4 : c->n, padded = (n + 3) & ~3ull;
  if (padded > DP_RT_EXPERT_STAGING || c->dst % 4)
    return dp_error(DP_ERR_INTERNAL, "%s: a copy of %llu bytes to offset %llu", c->t->name, (unsigned long long)n, (unsigned long long)c->dst);
  TRY(c->f32 ? dp_model_file_read_f32(mf, c->t, (float *)staging) : expert_read(mf, c->t, c->off, staging, n));
  memset(staging + n, 0, (size_t)(padded - n));
  return dp_gpu_buffer_write(m->gpu, c->buf, c->dst, staging, (size_t)padded);
}

/* rows [0, rows) of tensor t (rb bytes each) into buf from byte `base` (4-aligned): copies of
 * whole rows within the staging buffer, each starting 4-byte aligned */
static dp_status copy_rows(dp_rt_copy_fn fn, void *ctx, const dp_tensor_info *t, uint64_t rb, uint64_t rows, dp_gpu_buffer *buf,
                           uint64_t base) {
  uint64_t a4 = rb % 4 == 0 ? 1 : rb % 2 == 0 ? 2 : 4; /* rows per multiple of 4 bytes */
  uint64_t per = (DP_RT_EXPERT_STAGING - 4) / rb / a4 * a4;
  if (per == 0) return dp_error(DP_ERR_UNSUPPORTED, "%s: rows of %llu bytes exceed the staging buffer", t->name, (unsigned long long)rb);
  for (uint64_t r = 0; r < rows; r += per) {
    uint64_t k = rows - r < per ? rows - r : per;
    dp_rt_copy c = {t, r * rb, k * rb, 0, buf, base + r * rb};
    TRY(fn(ctx, &c));
  }
  return DP_OK;
}

static dp_status run_now(void *ctx, const dp_rt_copy *c) {
  dp_rt_model *m = ctx;
  return dp_rt_copy_run(m, m->ex->src, c, m->ex->staging);
}

/* Expert e's matrix (tensor t) into slot `slot` of bank k. */
static dp_status expert_fetch(dp_rt_copy_fn fn, void *ctx, const dp_tensor_info *t, const dp_moe_bank *k, uint32_t slot) {
  return copy_rows(fn, ctx, t, dp_dtype_row_bytes(k->type, k->K), k->N, k->buf[slot / k->per_buf],
                   (uint64_t)(slot % k->per_buf) * k->estride);
}

/* a 1-D f32 GPU buffer from tensors names[0..n) of `len` elements each, back to back */
static dp_status upload_f32(loader *u, dp_plan_name *names, int n, uint64_t len, const char *label, dp_gpu_buffer **out) {
  if (len * 4 > DP_RT_EXPERT_STAGING) return dp_error(DP_ERR_UNSUPPORTED, "%s: %llu elements", names[0], (unsigned long long)len);
  TRY(dp_gpu_buffer_create(u->m->gpu, n * len * 4, label, out));
  for (int i = 0; i < n; i++) {
    const dp_tensor_info *t;
    TRY(find(u, names[i], &t));
    if (dp_tensor_nelems(t) != len)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: %llu elements, expected %llu", dp_model_file_path(u->mf), names[i],
                      (unsigned long long)dp_tensor_nelems(t), (unsigned long long)len);
    dp_rt_copy c = {t, 0, len * 4, 1, *out, (uint64_t)i * len * 4};
    TRY(u->copy(u->ctx, &c));
  }
  u->m->weight_bytes += n * len * 4;
  return DP_OK;
}

static int kernel_type_ok(dp_dtype t, uint64_t K) {
  switch (t) {
  case DP_F32: case DP_F16: case DP_BF16: return 1;
  case DP_Q8_0: case DP_MXFP4: return K % 32 == 0;
  case DP_Q4_K: case DP_Q6_K: return K % 256 == 0;
  default: return 0;
  }
}

/* Bank kind i of layer li: check every expert's tensor, size the slots and buffers, fill them. */
static dp_status load_bank(loader *u, int li, int i, dp_rt_moe *x) {
  const dp_plan *p = u->m->plan;
  uint32_t E = (uint32_t)p->n_experts, F = (uint32_t)p->moe_d_ff, d = (uint32_t)p->d_model;
  dp_moe_bank *k = &x->bank[i];
  k->N = i == 2 ? d : F, k->K = i == 2 ? F : d, k->E = E;
  dp_plan_name nm;
  const dp_tensor_info *t;
  for (uint32_t e = 0; e < E; e++) {
    TRY(dp_plan_expert(p, li, (int)e, MATS[i], nm));
    TRY(find(u, nm, &t));
    if (t->n_dims != 2 || t->shape[0] != k->N || t->shape[1] != k->K)
      return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape [%u, %u] expected", dp_model_file_path(u->mf), nm, k->N, k->K);
    if (e == 0) k->type = t->dtype;
    if (t->dtype != k->type)
      return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: %s, but expert 0 is %s (the experts of a layer share a type)",
                      dp_model_file_path(u->mf), nm, dp_dtype_name(t->dtype), dp_dtype_name(k->type));
    if (!kernel_type_ok(t->dtype, k->K))
      return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s with row length %u is not supported by the GPU kernels",
                      dp_model_file_path(u->mf), nm, dp_dtype_name(t->dtype), k->K);
  }
  const dp_gpu_info *gi = dp_gpu_get_info(u->m->gpu);
  uint64_t lim = (gi->max_storage_binding < gi->max_buffer ? gi->max_storage_binding : gi->max_buffer) & ~255ull;
  uint64_t stride = ((uint64_t)k->N * dp_dtype_row_bytes(k->type, k->K) + 3) & ~3ull;
  if (stride > lim || stride > UINT32_MAX)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: layer %d: one expert's %s matrix (%llu bytes) exceeds the storage binding limit %llu",
                    dp_model_file_path(u->mf), li, i == 0 ? "gate" : i == 1 ? "up" : "down", (unsigned long long)stride,
                    (unsigned long long)lim);
  k->estride = (uint32_t)stride;
  k->n_slots = u->m->ex ? u->m->ex->slots : E;
  uint64_t per = lim / stride;
  if (per > UINT32_MAX / stride) per = UINT32_MAX / stride;
  k->per_buf = (uint32_t)(per < k->n_slots ? per : k->n_slots);
  uint32_t nb = (k->n_slots + k->per_buf - 1) / k->per_buf;
  if (!(k->buf = dp_calloc(nb, sizeof *k->buf))) return DP_ERR_NOMEM;
  for (uint32_t b = 0; b < nb; b++) {
    uint32_t ns = k->n_slots - b * k->per_buf < k->per_buf ? k->n_slots - b * k->per_buf : k->per_buf;
    TRY(dp_gpu_buffer_create(u->m->gpu, (uint64_t)ns * stride, "experts", &k->buf[b]));
  }
  for (uint32_t e = 0; e < E; e++) { /* slot e holds expert e; paged: none yet, they come on demand */
    TRY(dp_plan_expert(p, li, (int)e, MATS[i], nm));
    TRY(find(u, nm, &t));
    if (x->src) x->src[(size_t)i * E + e] = t;
    if (u->m->ex && u->m->ex->paged) continue;
    TRY(expert_fetch(u->copy, u->ctx, t, k, e));
    u->m->weight_bytes += t->nbytes;
  }
  k->map = dp_view_of(x->map, 0);
  if (p->layers[li].expert_biases) {
    dp_plan_name *names = dp_malloc((size_t)E * sizeof *names);
    if (!names) return DP_ERR_NOMEM;
    dp_status st = DP_OK;
    for (uint32_t e = 0; !st && e < E; e++) st = dp_plan_expert(p, li, (int)e, BIASES[i], names[e]);
    if (!st) st = upload_f32(u, names, (int)E, k->N, "expert-bias", &x->bias[i]);
    dp_free(names);
    TRY(st);
    k->bias = dp_view_of(x->bias[i], 0);
  }
  return DP_OK;
}

dp_status dp_rt_moe_load(dp_rt_model *m, dp_model_file *mf, int li, dp_rt_copy_fn copy, void *ctx) {
  const dp_plan *p = m->plan;
  const dp_layer_plan *P = &p->layers[li];
  dp_rt_layer *L = &m->layers[li];
  loader u = {m, mf, copy, ctx};
  uint32_t E = (uint32_t)p->n_experts, d = (uint32_t)p->d_model;
  if (E > DP_MOE_MAX_EXPERTS || p->n_experts_per_tok < 1 || p->n_experts_per_tok > p->n_experts)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: top-%d of %d experts: the GPU runtime takes 1 <= top-k <= experts <= %d",
                    dp_model_file_path(mf), p->n_experts_per_tok, p->n_experts, DP_MOE_MAX_EXPERTS);
  dp_rt_moe *x = L->moe = dp_calloc(1, sizeof *x);
  if (!x) return DP_ERR_NOMEM;
  const dp_tensor_info *t;
  TRY(find(&u, P->router, &t));
  if (t->n_dims != 2 || t->shape[0] != E || t->shape[1] != d)
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape [%u, %u] expected", dp_model_file_path(mf), P->router, E, d);
  if (!kernel_type_ok(t->dtype, d))
    return dp_error(DP_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s with row length %u is not supported by the GPU kernels",
                    dp_model_file_path(mf), P->router, dp_dtype_name(t->dtype), d);
  x->router_type = t->dtype;
  TRY(dp_gpu_buffer_create(m->gpu, (t->nbytes + 3) & ~3ull, "router", &x->router));
  TRY(copy_rows(copy, ctx, t, dp_dtype_row_bytes(t->dtype, d), E, x->router, 0));
  m->weight_bytes += t->nbytes;
  if (P->router_bias[0]) {
    dp_plan_name nb;
    memcpy(nb, P->router_bias, sizeof nb);
    TRY(upload_f32(&u, &nb, 1, E, "router-bias", &x->router_bias));
  }
  uint32_t S = m->ex ? m->ex->slots : E;
  if (!(x->slot_of = dp_malloc((size_t)E * 4))) return DP_ERR_NOMEM;
  for (uint32_t e = 0; e < E; e++) x->slot_of[e] = S == E ? e : NOT_RESIDENT;
  if (S < E) { /* paged: which expert each slot holds, LRU clock, the experts' tensors */
    if (!(x->in_slot = dp_malloc((size_t)S * sizeof *x->in_slot)) || !(x->used = dp_calloc(S, sizeof *x->used)) ||
        !(x->src = dp_calloc((size_t)3 * E, sizeof *x->src)))
      return DP_ERR_NOMEM;
    for (uint32_t sl = 0; sl < S; sl++) x->in_slot[sl] = -1;
  }
  TRY(dp_gpu_buffer_create(m->gpu, (uint64_t)E * 4, "expert-map", &x->map));
  TRY(dp_gpu_buffer_write(m->gpu, x->map, 0, x->slot_of, (size_t)E * 4));
  for (int i = 0; i < 3; i++) TRY(load_bank(&u, li, i, x));
  return DP_OK;
}

void dp_rt_moe_free(dp_rt_moe *x) {
  if (!x) return;
  for (int i = 0; i < 3; i++) {
    dp_moe_bank *k = &x->bank[i];
    if (k->buf && k->per_buf)
      for (uint32_t b = 0; b < (k->n_slots + k->per_buf - 1) / k->per_buf; b++) dp_gpu_buffer_free(k->buf[b]);
    dp_free(k->buf);
    dp_gpu_buffer_free(x->bias[i]);
  }
  dp_gpu_buffer_free(x->router);
  dp_gpu_buffer_free(x->router_bias);
  dp_gpu_buffer_free(x->map);
  dp_free(x->slot_of);
  dp_free(x->in_slot);
  dp_free(x->used);
  dp_free(x->src);
  dp_free(x);
}

/* ---- forward ---- */
static dp_view V(dp_gpu_buffer *b) { return dp_view_of(b, 0); }

static dp_status record_paged(dp_rt_session *s, dp_rt_moe *x, uint32_t T, uint32_t R, dp_view grp);

/* The experts' products of R pairs: g, u = gate, up (h); g = act(g, u); y = down(g). */
static dp_status products(dp_rt_session *s, const dp_rt_moe *x, uint32_t R, dp_view grp) {
  const dp_plan *p = s->m->plan;
  dp_ops *o = s->m->ops;
  uint32_t k = (uint32_t)p->n_experts_per_tok, F = (uint32_t)p->moe_d_ff;
  TRY(dp_op_moe_matmul(o, V(s->moe_g), V(s->h), V(s->moe_ids), grp, &x->bank[0], R, k));
  TRY(dp_op_moe_matmul(o, V(s->moe_u), V(s->h), V(s->moe_ids), grp, &x->bank[1], R, k));
  if (p->glu == DP_PLAN_GLU_SWIGLU_CLAMP)
    TRY(dp_op_glu_clamp(o, V(s->moe_g), V(s->moe_g), V(s->moe_u), R * F, (float)p->swiglu_alpha, (float)p->swiglu_limit));
  else TRY(dp_op_glu(o, V(s->moe_g), V(s->moe_g), V(s->moe_u), R * F, (int)p->glu));
  return dp_op_moe_matmul(o, V(s->moe_y), V(s->moe_g), V(s->moe_ids), grp, &x->bank[2], R, 1);
}

dp_status dp_rt_record_moe(dp_rt_session *s, int li, uint32_t T) {
  const dp_plan *p = s->m->plan;
  const dp_rt_layer *L = &s->m->layers[li];
  const dp_rt_moe *x = L->moe;
  dp_ops *o = s->m->ops;
  uint32_t d = (uint32_t)p->d_model, E = (uint32_t)p->n_experts, k = (uint32_t)p->n_experts_per_tok;
  uint32_t R = T * k, nf = p->norm_plus_one ? DP_NORM_PLUS_ONE : 0;
  float eps = (float)p->norm_eps;
  TRY(dp_op_rmsnorm(o, V(s->h), V(s->x), V(L->ffn_norm.buf), T, d, eps, nf));
  TRY(dp_op_matmul(o, V(s->moe_logits), V(s->h), V(x->router), x->router_type, V(x->router_bias), T, E, d, 0));
  TRY(dp_op_moe_route(o, V(s->moe_ids), V(s->moe_w), V(s->moe_logits), T, E, k));
  /* prefill on the GPU kernel family: pairs grouped by expert, tiled products over them */
  dp_view grp = dp_view_of(T > 4 && !dp_ops_cpu_kernels(o) ? s->moe_grp : NULL, 0);
  if (grp.buf) TRY(dp_op_moe_group(o, grp, V(s->moe_ids), R, E));
  if (s->m->ex && s->m->ex->paged) TRY(record_paged(s, L->moe, T, R, grp));
  else TRY(products(s, x, R, grp));
  if (!L->ffn_post_norm.buf) return dp_op_moe_combine(o, V(s->x), V(s->moe_y), V(s->moe_w), T, d, k, DP_MM_ACCUM);
  TRY(dp_op_moe_combine(o, V(s->tmp), V(s->moe_y), V(s->moe_w), T, d, k, 0));
  TRY(dp_op_rmsnorm(o, V(s->tmp), V(s->tmp), V(L->ffn_post_norm.buf), T, d, eps, nf));
  return dp_op_add(o, V(s->x), V(s->x), V(s->tmp), T * d);
}

dp_status dp_rt_moe_session(dp_rt_session *s) {
  const dp_plan *p = s->m->plan;
  uint64_t C = (uint64_t)s->chunk, k = (uint64_t)p->n_experts_per_tok;
  dp_gpu *g = s->m->gpu;
  TRY(dp_gpu_buffer_create(g, C * p->n_experts * 4, "moe-logits", &s->moe_logits));
  TRY(dp_gpu_buffer_create(g, C * k * 4, "moe-ids", &s->moe_ids));
  TRY(dp_gpu_buffer_create(g, C * k * 4, "moe-weights", &s->moe_w));
  TRY(dp_gpu_buffer_create(g, (C * k + p->n_experts + 1) * 4, "moe-groups", &s->moe_grp));
  TRY(dp_gpu_buffer_create(g, C * k * p->moe_d_ff * 4, "moe-gate", &s->moe_g));
  TRY(dp_gpu_buffer_create(g, C * k * p->moe_d_ff * 4, "moe-up", &s->moe_u));
  return dp_gpu_buffer_create(g, C * k * p->d_model * 4, "moe-down", &s->moe_y);
}

/* ---- residency ---- */
static int is_moe(const dp_plan *p) {
  for (int i = 0; i < p->n_layers; i++)
    if (p->layers[i].ffn == DP_FFN_MOE) return 1;
  return 0;
}

dp_status dp_rt_experts_init(dp_rt_model *m, dp_model_file *mf, const dp_rt_load_opts *o) {
  const dp_plan *p = m->plan;
  int n = o ? o->expert_slots : 0;
  uint64_t bytes = o ? o->expert_bytes : 0;
  if (n < 0) return dp_error(DP_ERR_INVALID_ARG, "expert budget: %d experts", n);
  if (!is_moe(p)) return DP_OK;
  uint32_t E = (uint32_t)p->n_experts, K = (uint32_t)p->n_experts_per_tok, S = E;
  if (n > 0 || bytes > 0) {
    int li = 0, n_moe = 0;
    for (int i = p->n_layers - 1; i >= 0; i--)
      if (p->layers[i].ffn == DP_FFN_MOE) li = i, n_moe++;
    uint64_t per = 0; /* one expert's three matrices as stored (slots of 4-byte multiples) */
    for (int i = 0; i < 3; i++) {
      dp_plan_name nm;
      TRY(dp_plan_expert(p, li, 0, MATS[i], nm));
      const dp_tensor_info *t = dp_model_file_find(mf, nm);
      if (!t) return dp_error(DP_ERR_NOT_FOUND, "%s: tensor %s missing", dp_model_file_path(mf), nm);
      per += (t->nbytes + 3) & ~3ull;
    }
    if (n > 0) S = (uint32_t)n < E ? (uint32_t)n : E;
    else {
      uint64_t s = bytes / (per * (uint64_t)n_moe);
      S = s < E ? (uint32_t)s : E;
    }
    if (S < K) {
      if (n > 0) return dp_error(DP_ERR_INVALID_ARG, "--expert-budget %d: fewer experts per layer than the model's top-k (%u)", n, K);
      return dp_error(DP_ERR_INVALID_ARG, "--expert-budget of %llu bytes holds %u expert(s) per MoE layer (%llu bytes each over %d layers), fewer "
                      "than the model's top-k (%u): at least %llu bytes", (unsigned long long)bytes, S, (unsigned long long)per, n_moe, K,
                      (unsigned long long)(per * K * (uint64_t)n_moe));
    }
  }
  dp_rt_experts *ex = m->ex = dp_calloc(1, sizeof *ex);
  if (!ex) return DP_ERR_NOMEM;
  ex->slots = S, ex->budget_bytes = n > 0 ? 0 : bytes, ex->paged = S < E;
  if (ex->paged) {
    ex->src = mf;
    if (!(ex->staging = dp_malloc(DP_RT_EXPERT_STAGING))) return DP_ERR_NOMEM;
  }
  return DP_OK;
}

int dp_rt_experts_owns_source(dp_rt_model *m) {
  if (!m->ex || !m->ex->paged) return 0;
  return m->ex->owns_src = 1;
}

void dp_rt_experts_free(dp_rt_experts *ex) {
  if (!ex) return;
  if (ex->owns_src) dp_model_file_close(ex->src);
  dp_free(ex->staging);
  dp_free(ex);
}

/* Page expert e into a slot of layer x: a free one, else the least recently used whose expert
 * is not in keep[] (the experts this pass still needs). */
static dp_status page_in(dp_rt_model *m, dp_rt_moe *x, uint32_t E, uint32_t e, const uint8_t *keep) {
  dp_rt_experts *ex = m->ex;
  uint32_t S = ex->slots, v = NOT_RESIDENT;
  for (uint32_t sl = 0; sl < S && v == NOT_RESIDENT; sl++)
    if (x->in_slot[sl] < 0) v = sl;
  for (uint32_t sl = 0; sl < S && v == NOT_RESIDENT; sl++) /* LRU among the evictable */
    if (!keep[x->in_slot[sl]]) v = sl;
  for (uint32_t sl = v + 1; v != NOT_RESIDENT && x->in_slot[v] >= 0 && sl < S; sl++)
    if (!keep[x->in_slot[sl]] && x->used[sl] < x->used[v]) v = sl;
  if (v == NOT_RESIDENT) return dp_error(DP_ERR_INTERNAL, "expert residency: no slot to evict");
  if (x->in_slot[v] >= 0) x->slot_of[x->in_slot[v]] = NOT_RESIDENT;
  for (int i = 0; i < 3; i++) {
    TRY(expert_fetch(run_now, m, x->src[(size_t)i * E + e], &x->bank[i], v));
    ex->paged_bytes += x->src[(size_t)i * E + e]->nbytes;
  }
  x->in_slot[v] = (int32_t)e, x->slot_of[e] = v, x->used[v] = ++ex->clock;
  return DP_OK;
}

/* The experts of R pairs through a layer whose experts are paged: the chosen ids read back
 * (this submits the layer so far and waits), then in waves of at most `slots` distinct experts
 * (resident ones first): page the wave's misses in (LRU), update the map, record the experts'
 * products (pairs of experts outside the wave are left to their wave), submit before the next
 * wave changes the slots. Decode then prefetches into free slots the router's next-ranked
 * experts. */
static dp_status record_paged(dp_rt_session *s, dp_rt_moe *x, uint32_t T, uint32_t R, dp_view grp) {
  dp_rt_model *m = s->m;
  dp_rt_experts *ex = m->ex;
  const dp_plan *p = m->plan;
  uint32_t E = (uint32_t)p->n_experts, S = ex->slots, k = (uint32_t)p->n_experts_per_tok;
  uint32_t *ids = dp_malloc((size_t)R * 4), *need = dp_malloc((size_t)E * 4);
  uint8_t *keep = dp_calloc(E, 1);
  float *lg = dp_malloc((size_t)E * 4);
  dp_status st = !ids || !need || !keep || !lg ? DP_ERR_NOMEM : DP_OK;
  if (!st) st = dp_gpu_buffer_read(m->gpu, s->moe_ids, 0, ids, (size_t)R * 4);
  if (!st && T == 1) st = dp_gpu_buffer_read(m->gpu, s->moe_logits, 0, lg, (size_t)E * 4);
  uint32_t n_need = 0;
  for (int pass = 0; !st && pass < 2; pass++) /* distinct experts: resident first, then the others */
    for (uint32_t r = 0; r < R; r++) {
      uint32_t e = ids[r];
      if (e >= E) { st = dp_error(DP_ERR_GPU, "expert id %u of %u read back", e, E); break; }
      if (!keep[e] && (x->slot_of[e] != NOT_RESIDENT) == !pass) keep[e] = 1, need[n_need++] = e;
    }
  for (uint32_t at = 0; !st && at < n_need;) {
    uint32_t w = n_need - at < S ? n_need - at : S;
    memset(keep, 0, E);
    for (uint32_t j = 0; j < w; j++) keep[need[at + j]] = 1;
    for (uint32_t j = 0; !st && j < w; j++) {
      uint32_t e = need[at + j];
      if (x->slot_of[e] != NOT_RESIDENT) ex->hits++, x->used[x->slot_of[e]] = ++ex->clock;
      else ex->misses++, st = page_in(m, x, E, e, keep);
    }
    if (!st) st = dp_gpu_buffer_write(m->gpu, x->map, 0, x->slot_of, (size_t)E * 4);
    if (!st) st = products(s, x, R, grp);
    at += w;
    if (!st && at < n_need) st = dp_gpu_submit(m->gpu);
  }
  if (!st && T == 1) { /* prefetch: free slots get the next-ranked experts of this token */
    memset(keep, 0, E);
    for (uint32_t j = 0; j < k; j++) keep[ids[j]] = 1;
    for (;;) {
      uint32_t free_slot = NOT_RESIDENT, best = NOT_RESIDENT;
      for (uint32_t sl = 0; sl < S && free_slot == NOT_RESIDENT; sl++)
        if (x->in_slot[sl] < 0) free_slot = sl;
      for (uint32_t e = 0; e < E; e++)
        if (!keep[e] && x->slot_of[e] == NOT_RESIDENT && (best == NOT_RESIDENT || lg[e] > lg[best])) best = e;
      if (free_slot == NOT_RESIDENT || best == NOT_RESIDENT) break;
      keep[best] = 1;
      if ((st = page_in(m, x, E, best, keep))) break;
    }
    if (!st) st = dp_gpu_buffer_write(m->gpu, x->map, 0, x->slot_of, (size_t)E * 4);
  }
  dp_free(ids), dp_free(need), dp_free(keep), dp_free(lg);
  return st;
}
