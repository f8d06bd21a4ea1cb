/* forward.c -- CPU reference forward pass: executes a layer plan (model/plan.h) on f32 weights.
 *
 * The oracle the GPU runtime is compared with, and what the golden tests check against the
 * Hugging Face float64 dumps. Written to be read top to bottom: weights (load/free), state
 * (KV cache), the blocks (attention, dense FFN, MoE), forward(), then greedy decoding and
 * perplexity. Every op is a CPU reference op from kernels_ref.h (f32 storage, double
 * accumulation); only the final softcap, gpt-oss's clamped SwiGLU and the MoE routing live
 * here, as small static helpers (kernels_ref.h has no op for them). Depends on core (alloc, error), format (model_file), model (plan) and
 * ref/kernels_ref. Called by tests/test_ref_golden.c and by CPU paths of the CLI. */
#include "ref/forward.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/model_file.h"
#include "ref/kernels_ref.h"

/* ================================ weights ================================ */

typedef struct ref_expert {
  float *gate, *up, *down;                /* [F, d], [F, d], [d, F] */
  float *gate_bias, *up_bias, *down_bias; /* [F], [F], [d] or NULL */
} ref_expert;

typedef struct ref_layer {
  float *attn_norm;                       /* [d] */
  float *q, *k, *v, *o;                   /* [nh*hd, d], [nkv*hd, d], [nkv*hd, d], [d, nh*hd] */
  float *q_bias, *k_bias, *v_bias, *o_bias; /* [nh*hd], [nkv*hd], [nkv*hd], [d] or NULL */
  float *q_norm, *k_norm;                 /* [hd] or NULL */
  float *sinks;                           /* [nh] or NULL */
  float *attn_post_norm;                  /* [d] or NULL */
  float *ffn_norm, *ffn_post_norm;        /* [d], [d] or NULL */
  float *gate, *up, *down;                /* dense: [F, d], [F, d], [d, F] */
  float *router, *router_bias;            /* moe: [E, d], [E] or NULL */
  ref_expert *experts;                    /* moe: [E] */
  float *inv_freq;                        /* [rotary_dim / 2] */
  float rope_factor;                      /* YaRN mscale on cos/sin, else 1 */
} ref_layer;

struct dp_ref_model {
  dp_plan *plan;
  float *embed;        /* [V, d] */
  float *output;       /* [V, d] (== embed when tied) */
  float *final_norm;   /* [d] */
  ref_layer *layers;   /* [n_layers] */
  void **owned;        /* every allocation above, freed together */
  size_t n_owned, cap_owned;
};

static void *own(dp_ref_model *m, void *p) {
  if (!p) return NULL;
  if (m->n_owned == m->cap_owned) {
    size_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
    void **o = dp_realloc(m->owned, cap * sizeof *o);
    if (!o) {
      dp_free(p);
      return NULL;
    }
    m->owned = o;
    m->cap_owned = cap;
  }
  m->owned[m->n_owned++] = p;
  return p;
}

/* Read tensor `name` as f32; "" gives NULL with DP_OK. */
static dp_status load(dp_ref_model *m, dp_model_file *mf, const char *name, float **dst) {
  *dst = NULL;
  if (!name[0]) return DP_OK;
  const dp_tensor_info *t = dp_model_file_find(mf, name);
  if (!t) return dp_error(DP_ERR_NOT_FOUND, "%s: tensor %s: missing", dp_model_file_path(mf), name);
  float *p = own(m, dp_malloc(dp_tensor_nelems(t) * sizeof(float)));
  if (!p) return DP_ERR_NOMEM;
  dp_status st = dp_model_file_read_f32(mf, t, p);
  if (st) return st;
  *dst = p;
  return DP_OK;
}

#define TRY(x)                  \
  do {                          \
    dp_status st_ = (x);        \
    if (st_) return st_;        \
  } while (0)

/* Every expert's matrices (mixtral w1/w3/w2; gpt-oss gate/up/down with biases). */
static dp_status load_experts(dp_ref_model *m, dp_model_file *mf, int l) {
  ref_layer *L = &m->layers[l];
  int biases = m->plan->layers[l].expert_biases;
  dp_plan_name r;
  for (int e = 0; e < m->plan->n_experts; e++) {
    ref_expert *x = &L->experts[e];
    TRY(dp_plan_expert(m->plan, l, e, DP_EXPERT_GATE, r));
    TRY(load(m, mf, r, &x->gate));
    TRY(dp_plan_expert(m->plan, l, e, DP_EXPERT_UP, r));
    TRY(load(m, mf, r, &x->up));
    TRY(dp_plan_expert(m->plan, l, e, DP_EXPERT_DOWN, r));
    TRY(load(m, mf, r, &x->down));
    if (!biases) continue;
    TRY(dp_plan_expert(m->plan, l, e, DP_EXPERT_GATE_BIAS, r));
    TRY(load(m, mf, r, &x->gate_bias));
    TRY(dp_plan_expert(m->plan, l, e, DP_EXPERT_UP_BIAS, r));
    TRY(load(m, mf, r, &x->up_bias));
    TRY(dp_plan_expert(m->plan, l, e, DP_EXPERT_DOWN_BIAS, r));
    TRY(load(m, mf, r, &x->down_bias));
  }
  return DP_OK;
}

static dp_status load_all(dp_ref_model *m, dp_model_file *mf) {
  const dp_plan *p = m->plan;
  TRY(load(m, mf, p->embed, &m->embed));
  if (p->tied) m->output = m->embed;
  else TRY(load(m, mf, p->output, &m->output));
  TRY(load(m, mf, p->final_norm, &m->final_norm));
  m->layers = own(m, dp_calloc((size_t)p->n_layers, sizeof *m->layers));
  if (!m->layers) return DP_ERR_NOMEM;
  for (int l = 0; l < p->n_layers; l++) {
    const dp_layer_plan *P = &p->layers[l];
    ref_layer *L = &m->layers[l];
    TRY(load(m, mf, P->attn_norm, &L->attn_norm));
    TRY(load(m, mf, P->q, &L->q));
    TRY(load(m, mf, P->k, &L->k));
    TRY(load(m, mf, P->v, &L->v));
    TRY(load(m, mf, P->o, &L->o));
    TRY(load(m, mf, P->q_bias, &L->q_bias));
    TRY(load(m, mf, P->k_bias, &L->k_bias));
    TRY(load(m, mf, P->v_bias, &L->v_bias));
    TRY(load(m, mf, P->o_bias, &L->o_bias));
    TRY(load(m, mf, P->q_norm, &L->q_norm));
    TRY(load(m, mf, P->k_norm, &L->k_norm));
    TRY(load(m, mf, P->sinks, &L->sinks));
    TRY(load(m, mf, P->attn_post_norm, &L->attn_post_norm));
    TRY(load(m, mf, P->ffn_norm, &L->ffn_norm));
    TRY(load(m, mf, P->ffn_post_norm, &L->ffn_post_norm));
    if (P->ffn == DP_FFN_DENSE) {
      TRY(load(m, mf, P->gate, &L->gate));
      TRY(load(m, mf, P->up, &L->up));
      TRY(load(m, mf, P->down, &L->down));
    } else {
      TRY(load(m, mf, P->router, &L->router));
      TRY(load(m, mf, P->router_bias, &L->router_bias));
      L->experts = own(m, dp_calloc((size_t)p->n_experts, sizeof *L->experts));
      if (!L->experts) return DP_ERR_NOMEM;
      TRY(load_experts(m, mf, l));
    }
    int rot = P->rope.rotary_dim > 0 ? P->rope.rotary_dim : p->head_dim;
    L->inv_freq = own(m, dp_malloc((size_t)(rot / 2 + 1) * sizeof(float)));
    if (!L->inv_freq) return DP_ERR_NOMEM;
    TRY(dp_rope_freqs(&P->rope, p->head_dim, L->inv_freq, &L->rope_factor));
  }
  return DP_OK;
}

dp_status dp_ref_model_load(dp_model_file *mf, dp_ref_model **out) {
  *out = NULL;
  dp_ref_model *m = dp_calloc(1, sizeof *m);
  if (!m) return DP_ERR_NOMEM;
  dp_status st = dp_plan_build(dp_model_file_hparams(mf), &m->plan);
  if (!st) st = dp_plan_check(m->plan, mf);
  if (!st) st = load_all(m, mf);
  if (st) {
    dp_ref_model_free(m);
    return st;
  }
  *out = m;
  return DP_OK;
}

void dp_ref_model_free(dp_ref_model *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n_owned; i++) dp_free(m->owned[i]);
  dp_free(m->owned);
  dp_plan_free(m->plan);
  dp_free(m);
}

const dp_plan *dp_ref_model_plan(const dp_ref_model *m) { return m->plan; }

/* ================================ state ================================ */

struct dp_ref_state {
  int n_layers, max_tokens, pos;
  size_t kv_dim;            /* n_kv_heads * head_dim */
  float **kcache, **vcache; /* [n_layers] of [max_tokens, n_kv_heads, head_dim] (slot = position) */
};

dp_status dp_ref_state_new(const dp_ref_model *m, int max_tokens, dp_ref_state **out) {
  const dp_plan *p = m->plan;
  *out = NULL;
  if (max_tokens <= 0) return dp_error(DP_ERR_INVALID_ARG, "ref state: max_tokens %d", max_tokens);
  dp_ref_state *s = dp_calloc(1, sizeof *s);
  if (!s) return DP_ERR_NOMEM;
  s->max_tokens = max_tokens;
  s->kv_dim = (size_t)p->n_kv_heads * p->head_dim;
  s->kcache = dp_calloc((size_t)p->n_layers, sizeof *s->kcache);
  s->vcache = dp_calloc((size_t)p->n_layers, sizeof *s->vcache);
  if (s->kcache && s->vcache) s->n_layers = p->n_layers;
  for (int l = 0; l < s->n_layers; l++) {
    s->kcache[l] = dp_malloc((size_t)max_tokens * s->kv_dim * sizeof(float));
    s->vcache[l] = dp_malloc((size_t)max_tokens * s->kv_dim * sizeof(float));
    if (!s->kcache[l] || !s->vcache[l]) break;
  }
  if (!s->n_layers || !s->kcache[s->n_layers - 1] || !s->vcache[s->n_layers - 1]) {
    dp_ref_state_free(s);
    return DP_ERR_NOMEM;
  }
  *out = s;
  return DP_OK;
}

void dp_ref_state_free(dp_ref_state *s) {
  if (!s) return;
  for (int l = 0; l < s->n_layers; l++) {
    dp_free(s->kcache[l]);
    dp_free(s->vcache[l]);
  }
  dp_free(s->kcache);
  dp_free(s->vcache);
  dp_free(s);
}

void dp_ref_state_reset(dp_ref_state *s) { s->pos = 0; }
int dp_ref_state_pos(const dp_ref_state *s) { return s->pos; }

/* ================================ blocks ================================ */

/* Activations of one forward call of T tokens. */
typedef struct ref_scratch {
  float *x;      /* [T, d] residual stream */
  float *h;      /* [T, d] normed input of a block */
  float *q;      /* [T, nh*hd] */
  float *att;    /* [T, nh*hd] attention output before o_proj */
  float *y;      /* [T, d] block output */
  float *gate;   /* [T, F] (F = max(d_ff, moe_d_ff)) */
  float *up;     /* [T, F] */
  float *router; /* [E] */
} ref_scratch;

static void softcap(float *x, size_t n, double c) {
  if (c <= 0) return;
  for (size_t i = 0; i < n; i++) x[i] = (float)(c * tanh(x[i] / c));
}

static void norm(const dp_plan *p, float *y, const float *x, const float *w, int rows, int D) {
  dp_ref_rmsnorm(y, x, w, rows, D, (float)p->norm_eps, p->norm_plus_one);
}

/* y[T, d] = attention block of layer l on h[T, d]; appends K/V at positions pos..pos+T-1. */
static void attention(const dp_ref_model *m, dp_ref_state *s, int l, ref_scratch *w, int T) {
  const dp_plan *p = m->plan;
  const dp_layer_plan *P = &p->layers[l];
  const ref_layer *L = &m->layers[l];
  int nh = p->n_heads, nkv = p->n_kv_heads, hd = p->head_dim, d = p->d_model;
  float *k = s->kcache[l] + (size_t)s->pos * s->kv_dim; /* [T, nkv, hd] new keys, in place */
  float *v = s->vcache[l] + (size_t)s->pos * s->kv_dim;

  dp_ref_matmul(w->q, w->h, L->q, L->q_bias, T, nh * hd, d, 0);
  dp_ref_matmul(k, w->h, L->k, L->k_bias, T, nkv * hd, d, 0);
  dp_ref_matmul(v, w->h, L->v, L->v_bias, T, nkv * hd, d, 0);
  if (L->q_norm) norm(p, w->q, w->q, L->q_norm, T * nh, hd);
  if (L->k_norm) norm(p, k, k, L->k_norm, T * nkv, hd);
  int rot = P->rope.rotary_dim > 0 ? P->rope.rotary_dim : hd;
  dp_ref_rope(w->q, L->inv_freq, T, nh, hd, rot, s->pos, P->rope.interleaved, L->rope_factor);
  dp_ref_rope(k, L->inv_freq, T, nkv, hd, rot, s->pos, P->rope.interleaved, L->rope_factor);
  dp_ref_attention(w->att, w->q, s->kcache[l], s->vcache[l], T, nh, nkv, hd, s->pos, P->sliding_window,
                   (float)P->attn_scale, (float)p->attn_softcap, L->sinks);
  dp_ref_matmul(w->y, w->att, L->o, L->o_bias, T, d, nh * hd, 0);
}

/* One expert (or the dense FFN) on rows h[T, d]: y = down(act(gate h) * up h), biases if set. */
static void glu_ffn(const dp_plan *p, ref_scratch *w, const float *h, float *y, int T, int F, const float *gate,
                    const float *gate_b, const float *up, const float *up_b, const float *down,
                    const float *down_b) {
  int d = p->d_model;
  dp_ref_matmul(w->gate, h, gate, gate_b, T, F, d, 0);
  dp_ref_matmul(w->up, h, up, up_b, T, F, d, 0);
  if (p->glu == DP_PLAN_GLU_SWIGLU_CLAMP) dp_ref_glu_clamp(w->gate, w->gate, w->up, T * F, p->swiglu_alpha, p->swiglu_limit);
  else dp_ref_glu(w->gate, w->gate, w->up, T * F, (int)p->glu);
  dp_ref_matmul(y, w->gate, down, down_b, T, d, F, 0);
}

/* MoE, token by token: router logits (+bias), top-k, softmax over the selected logits
 * (the same weights as mixtral's softmax-then-renormalise), weighted sum of experts. */
static void moe(const dp_ref_model *m, int l, ref_scratch *w, int T) {
  const dp_plan *p = m->plan;
  const ref_layer *L = &m->layers[l];
  int d = p->d_model, E = p->n_experts, K = p->n_experts_per_tok, F = p->moe_d_ff;
  float *tmp = w->att; /* [d] one expert's output; att ([T, max(nh*hd, d)]) is free here */
  for (int t = 0; t < T; t++) {
    const float *h = w->h + (size_t)t * d;
    float *y = w->y + (size_t)t * d;
    dp_ref_matmul(w->router, h, L->router, L->router_bias, 1, E, d, 0);
    int sel[64];
    double wt[64], sum = 0;
    for (int k = 0; k < K; k++) { /* k-th largest, lowest index first on ties */
      int best = -1;
      for (int e = 0; e < E; e++) {
        int used = 0;
        for (int j = 0; j < k; j++) used |= sel[j] == e;
        if (!used && (best < 0 || w->router[e] > w->router[best])) best = e;
      }
      sel[k] = best;
    }
    for (int k = 0; k < K; k++) sum += wt[k] = exp((double)w->router[sel[k]] - w->router[sel[0]]);
    memset(y, 0, (size_t)d * sizeof(float));
    for (int k = 0; k < K; k++) {
      const ref_expert *x = &L->experts[sel[k]];
      glu_ffn(p, w, h, tmp, 1, F, x->gate, x->gate_bias, x->up, x->up_bias, x->down, x->down_bias);
      for (int i = 0; i < d; i++) y[i] += (float)(wt[k] / sum) * tmp[i];
    }
  }
}

/* ================================ forward ================================ */

dp_status dp_ref_forward(const dp_ref_model *m, dp_ref_state *s, const int32_t *ids, int T, float *logits,
                         float *const *hidden) {
  const dp_plan *p = m->plan;
  int d = p->d_model, V = p->vocab_size, qd = p->n_heads * p->head_dim;
  int F = p->d_ff > p->moe_d_ff ? p->d_ff : p->moe_d_ff;
  if (T <= 0) return dp_error(DP_ERR_INVALID_ARG, "ref forward: %d tokens", T);
  if (s->pos + T > s->max_tokens)
    return dp_error(DP_ERR_CONTEXT_FULL, "ref forward: %d + %d tokens exceed the cache of %d", s->pos, T, s->max_tokens);
  for (int t = 0; t < T; t++)
    if (ids[t] < 0 || ids[t] >= V) return dp_error(DP_ERR_INVALID_ARG, "ref forward: token id %d outside vocab %d", ids[t], V);
  if (p->n_experts_per_tok > 64) return dp_error(DP_ERR_UNSUPPORTED, "ref forward: top-%d routing", p->n_experts_per_tok);

  ref_scratch w = {0};
  w.x = dp_malloc((size_t)T * d * sizeof(float));
  w.h = dp_malloc((size_t)T * d * sizeof(float));
  w.y = dp_malloc((size_t)T * d * sizeof(float));
  w.q = dp_malloc((size_t)T * qd * sizeof(float));
  w.att = dp_malloc((size_t)T * (qd > d ? qd : d) * sizeof(float));
  w.gate = dp_malloc((size_t)T * F * sizeof(float));
  w.up = dp_malloc((size_t)T * F * sizeof(float));
  w.router = dp_malloc((size_t)(p->n_experts + 1) * sizeof(float));
  uint32_t *uids = dp_malloc((size_t)T * sizeof *uids);
  dp_status st = DP_OK;
  if (!w.x || !w.h || !w.y || !w.q || !w.att || !w.gate || !w.up || !w.router || !uids) {
    st = DP_ERR_NOMEM;
    goto done;
  }
  for (int t = 0; t < T; t++) uids[t] = (uint32_t)ids[t];

  dp_ref_embed(w.x, uids, m->embed, T, d, (float)p->embed_scale);
  if (hidden) memcpy(hidden[0], w.x, (size_t)T * d * sizeof(float));
  for (int l = 0; l < p->n_layers; l++) {
    const ref_layer *L = &m->layers[l];
    /* attention block */
    norm(p, w.h, w.x, L->attn_norm, T, d);
    attention(m, s, l, &w, T);
    if (L->attn_post_norm) norm(p, w.y, w.y, L->attn_post_norm, T, d);
    dp_ref_add(w.x, w.x, w.y, T * d);
    /* feed-forward block */
    norm(p, w.h, w.x, L->ffn_norm, T, d);
    if (p->layers[l].ffn == DP_FFN_MOE) moe(m, l, &w, T);
    else glu_ffn(p, &w, w.h, w.y, T, p->d_ff, L->gate, NULL, L->up, NULL, L->down, NULL);
    if (L->ffn_post_norm) norm(p, w.y, w.y, L->ffn_post_norm, T, d);
    dp_ref_add(w.x, w.x, w.y, T * d);
    if (hidden && l + 1 < p->n_layers) memcpy(hidden[l + 1], w.x, (size_t)T * d * sizeof(float));
  }
  norm(p, w.x, w.x, m->final_norm, T, d);
  if (hidden) memcpy(hidden[p->n_layers], w.x, (size_t)T * d * sizeof(float));
  if (logits) {
    dp_ref_matmul(logits, w.x, m->output, NULL, T, V, d, 0);
    softcap(logits, (size_t)T * V, p->final_softcap);
  }
  s->pos += T;
done:
  dp_free(w.x);
  dp_free(w.h);
  dp_free(w.y);
  dp_free(w.q);
  dp_free(w.att);
  dp_free(w.gate);
  dp_free(w.up);
  dp_free(w.router);
  dp_free(uids);
  return st;
}

/* ================================ greedy / perplexity ================================ */

static int is_eos(const dp_plan *p, int id) {
  for (int i = 0; i < p->n_eos; i++)
    if (p->eos_ids[i] == id) return 1;
  return 0;
}

/* First index of the row maximum, skipping EOS ids when no_eos. */
static int pick(const dp_plan *p, const float *row, int no_eos) {
  int best = -1;
  for (int i = 0; i < p->vocab_size; i++) {
    if (no_eos && is_eos(p, i)) continue;
    if (best < 0 || row[i] > row[best]) best = i;
  }
  return best;
}

dp_status dp_ref_greedy(const dp_ref_model *m, dp_ref_state *s, const int32_t *prompt, int T, int n_gen, int no_eos,
                        float *prompt_logits, int32_t *gen_ids, float *gen_logits) {
  const dp_plan *p = m->plan;
  size_t V = (size_t)p->vocab_size;
  float *all = dp_malloc((size_t)T * V * sizeof(float));
  float *row = dp_malloc(V * sizeof(float));
  dp_status st = all && row ? DP_OK : DP_ERR_NOMEM;
  dp_ref_state_reset(s);
  if (!st) st = dp_ref_forward(m, s, prompt, T, all, NULL);
  if (!st) {
    if (prompt_logits) memcpy(prompt_logits, all, (size_t)T * V * sizeof(float));
    memcpy(row, all + (size_t)(T - 1) * V, V * sizeof(float));
  }
  for (int i = 0; !st && i < n_gen; i++) {
    if (i > 0) st = dp_ref_forward(m, s, &gen_ids[i - 1], 1, row, NULL);
    if (st) break;
    if (gen_logits) memcpy(gen_logits + (size_t)i * V, row, V * sizeof(float));
    gen_ids[i] = pick(p, row, no_eos);
  }
  dp_free(all);
  dp_free(row);
  return st;
}

dp_status dp_ref_perplexity(const dp_ref_model *m, dp_ref_state *s, const int32_t *stream, size_t n, int ctx,
                            int max_windows, double *nll, size_t *count) {
  size_t V = (size_t)m->plan->vocab_size;
  if (ctx <= 0) return dp_error(DP_ERR_INVALID_ARG, "perplexity: ctx %d", ctx);
  float *logits = dp_malloc((size_t)(ctx + 1) * V * sizeof(float));
  if (!logits) return DP_ERR_NOMEM;
  dp_status st = DP_OK;
  for (size_t start = 0, w = 0; !st && start + 1 < n && (max_windows <= 0 || w < (size_t)max_windows);
       start += (size_t)ctx, w++) {
    int len = (int)(n - start < (size_t)ctx + 1 ? n - start : (size_t)ctx + 1);
    dp_ref_state_reset(s);
    st = dp_ref_forward(m, s, stream + start, len, logits, NULL);
    for (int t = 0; !st && t + 1 < len; t++) { /* log-softmax of row t at token t+1 */
      const float *r = logits + (size_t)t * V;
      double mx = r[0], z = 0;
      for (size_t i = 1; i < V; i++) mx = r[i] > mx ? r[i] : mx;
      for (size_t i = 0; i < V; i++) z += exp(r[i] - mx);
      *nll += mx + log(z) - r[stream[start + t + 1]];
      (*count)++;
    }
  }
  dp_free(logits);
  return st;
}
