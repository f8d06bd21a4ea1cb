/* plan.h -- the layer plan: what one forward pass of a model does, layer by layer.
 *
 * dp_plan_build() turns the normalised hyper-parameters (format/hparams.h) into this plan;
 * the CPU reference (src/ref/forward.c) and the GPU runtime (src/runtime/) both execute it and
 * never look at the architecture enum again: every quirk (Gemma's (1+w) norms, sandwich norms,
 * sqrt(d) embedding scale, sliding windows, per-layer RoPE, softcaps, sinks, MoE routing,
 * gpt-oss's clamped SwiGLU) is a field here. Tensor names are HF names as presented by
 * format/model_file.h; an empty name ("") means "this layer has no such tensor".
 *
 * One layer, in order (x is the residual stream [T, d_model]):
 *   h = norm(x, attn_norm)                         rmsnorm; weight w or (1+w) per norm_plus_one
 *   q = h q^T (+q_bias)  k = h k^T (+k_bias)  v = h v^T (+v_bias)    [T, n_heads|n_kv_heads, head_dim]
 *   q = norm(q, q_norm) per head; k = norm(k, k_norm) per head       (if names set)
 *   q, k = rope(q, k, pos; layer.rope)                               rotate-half (HF) unless rope.interleaved
 *   s = attn_scale * q.k  -> softcap(s, attn_softcap) -> causal mask, keys j with
 *       j > i - sliding_window when sliding_window > 0 (window counts the query itself)
 *   p = softmax over keys [and the per-head sink logit, whose column is then dropped]
 *   a = (p v) o^T (+o_bias)                                          GQA: head h uses kv head h / (n_heads/n_kv_heads)
 *   a = norm(a, attn_post_norm)                                      (gemma3 sandwich)
 *   x = x + a
 *   h = norm(x, ffn_norm)
 *   dense: f = down( act(gate h) * (up h) )
 *   moe:   r = h router^T (+router_bias); top n_experts_per_tok of r; weights = softmax of the
 *          selected logits (equals mixtral's softmax-then-renormalise); f = sum_e w_e expert_e(h)
 *   f = norm(f, ffn_post_norm)                                       (gemma3 sandwich)
 *   x = x + f
 * Model: x = embed[ids] * embed_scale; layers; x = norm(x, final_norm);
 *        logits = x output^T; logits = softcap(logits, final_softcap).
 * softcap(s, c) = c * tanh(s / c) when c > 0.
 */
#ifndef DP_MODEL_PLAN_H
#define DP_MODEL_PLAN_H
#include "format/hparams.h"

#define DP_PLAN_NAME_MAX 96

typedef char dp_plan_name[DP_PLAN_NAME_MAX];

/* Gated activation: out = act(gate) * up, or gpt-oss's clamped form:
 *   g = min(gate, limit); u = clamp(up, -limit, limit); out = (u + 1) * g * sigmoid(alpha * g) */
typedef enum dp_plan_glu {   /* values 0, 1 equal kernels/ops.h DP_GLU_* */
  DP_PLAN_GLU_SILU = 0,         /* silu(g) * u */
  DP_PLAN_GLU_GELU_TANH = 1,    /* gelu_tanh(g) * u (gemma3: gelu_pytorch_tanh) */
  DP_PLAN_GLU_SWIGLU_CLAMP = 2  /* gpt-oss, see above */
} dp_plan_glu;

typedef enum dp_ffn_kind { DP_FFN_DENSE, DP_FFN_MOE } dp_ffn_kind;

/* Which matrix of one expert (dp_plan_expert). Every expert is its own set of tensors (the
 * format layer presents gpt-oss's packed, interleaved experts per expert, de-interleaved). */
typedef enum dp_expert_mat {
  DP_EXPERT_GATE,       /* [moe_d_ff, d_model]  mixtral w1, gpt-oss gate_proj */
  DP_EXPERT_UP,         /* [moe_d_ff, d_model]  mixtral w3, gpt-oss up_proj */
  DP_EXPERT_DOWN,       /* [d_model, moe_d_ff]  mixtral w2, gpt-oss down_proj */
  DP_EXPERT_GATE_BIAS,  /* [moe_d_ff]  gpt-oss only */
  DP_EXPERT_UP_BIAS,    /* [moe_d_ff]  gpt-oss only */
  DP_EXPERT_DOWN_BIAS   /* [d_model]   gpt-oss only */
} dp_expert_mat;

typedef struct dp_layer_plan {
  /* attention */
  int sliding_window;           /* 0 = full causal attention; W > 0: keys j in (i-W, i] */
  dp_rope rope;                 /* RoPE for this layer (gemma3: local base for sliding layers) */
  double attn_scale;            /* multiplier on q.k */
  dp_plan_name attn_norm;       /* [d_model] before attention (input_layernorm) */
  dp_plan_name q, k, v, o;      /* [n_heads*head_dim, d], [n_kv*head_dim, d] x2, [d, n_heads*head_dim] */
  dp_plan_name q_bias, k_bias, v_bias, o_bias; /* [rows of q/k/v/o] or "" */
  dp_plan_name q_norm, k_norm;  /* [head_dim] per-head RMSNorm (qwen3, gemma3) or "" */
  dp_plan_name sinks;           /* [n_heads] attention sink logits (gpt-oss) or "" */
  dp_plan_name attn_post_norm;  /* [d_model] on the attention output before the residual, or "" */
  /* feed-forward */
  dp_plan_name ffn_norm;        /* [d_model] before the FFN */
  dp_plan_name ffn_post_norm;   /* [d_model] on the FFN output before the residual, or "" */
  dp_ffn_kind ffn;
  dp_plan_name gate, up, down;  /* dense: [d_ff, d], [d_ff, d], [d, d_ff] */
  dp_plan_name router;          /* moe: [n_experts, d_model] */
  dp_plan_name router_bias;     /* moe: [n_experts] or "" */
  /* moe experts: name them with dp_plan_expert(); this holds the naming scheme */
  int expert_biases;            /* 1: experts have gate/up/down biases (gpt-oss) */
  dp_plan_name expert_prefix;   /* e.g. "model.layers.3.block_sparse_moe.experts" */
} dp_layer_plan;

typedef struct dp_plan {
  dp_arch arch;
  /* sizes (copied from hparams) */
  int n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size, max_pos;
  int n_experts, n_experts_per_tok, moe_d_ff;
  double norm_eps;              /* every RMSNorm, incl. q/k norms */
  int norm_plus_one;            /* 1: every norm weight is applied as (1 + w) (gemma3) */
  /* activation */
  dp_plan_glu glu;
  double swiglu_alpha, swiglu_limit; /* DP_PLAN_GLU_SWIGLU_CLAMP only (1.702, 7.0) */
  /* embeddings / output */
  dp_plan_name embed;           /* [vocab, d_model] */
  double embed_scale;           /* 1, or sqrt(d_model) for gemma3 (applied to the lookup only) */
  dp_plan_name final_norm;      /* [d_model] */
  dp_plan_name output;          /* [vocab, d_model]: "lm_head.weight" or the embedding if tied */
  int tied;                     /* output == embed */
  double attn_softcap;          /* 0 = none */
  double final_softcap;         /* 0 = none */
  int max_window;               /* largest sliding_window over layers (0 if none) */
  int bos_id;                   /* -1 if none */
  int eos_ids[DP_MAX_EOS];
  int n_eos;
  dp_layer_plan *layers;        /* [n_layers] */
} dp_plan;

/* Build the plan for hp. Fails with DP_ERR_UNSUPPORTED for inconsistent sizes. */
dp_status dp_plan_build(const dp_hparams *hp, dp_plan **out);
void dp_plan_free(dp_plan *p);

/* HF name of one expert's matrix in MoE layer `layer` into out (DP_PLAN_NAME_MAX bytes):
 * mixtral "model.layers.L.block_sparse_moe.experts.E.w1.weight" (w1 gate, w3 up, w2 down),
 * gpt-oss "model.layers.L.mlp.experts.E.gate_proj.weight" / ".bias" (up_proj, down_proj).
 * Returns DP_ERR_NOT_FOUND when this model has no such matrix (biases for mixtral). */
dp_status dp_plan_expert(const dp_plan *p, int layer, int expert, dp_expert_mat m, dp_plan_name out);

struct dp_model_file;
/* Check that every tensor the plan names exists in mf with the expected shape; the error
 * names the first missing/mis-shaped tensor. */
dp_status dp_plan_check(const dp_plan *p, struct dp_model_file *mf);

/* Human-readable one-line-per-layer summary (for `doppler info` and debugging). */
void dp_plan_print(const dp_plan *p, void (*emit)(const char *line, void *ctx), void *ctx);
#endif
