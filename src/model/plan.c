/* plan.c -- builds the layer plan (plan.h) from normalised hyper-parameters.
 *
 * This is the one place that knows how llama, mistral, qwen3, gemma3, mixtral and gpt-oss
 * differ: tensor names per layer, which norms exist and in which order, which RoPE a layer
 * uses, window sizes, activation and MoE layout. Called by the CPU reference (src/ref/) and
 * the GPU runtime after the format layer has produced a dp_hparams; dp_plan_check() validates
 * names and shapes against a dp_model_file. Depends on core (alloc, error) and format. */
#include "model/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "format/model_file.h"

static void setname(dp_plan_name dst, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, DP_PLAN_NAME_MAX, fmt, ap);
  va_end(ap);
}

/* Attention part, identical for every architecture (HF LlamaAttention naming). */
static void plan_attention(const dp_hparams *hp, int i, dp_layer_plan *L) {
  const char *p = "model.layers";
  setname(L->attn_norm, "%s.%d.input_layernorm.weight", p, i);
  setname(L->q, "%s.%d.self_attn.q_proj.weight", p, i);
  setname(L->k, "%s.%d.self_attn.k_proj.weight", p, i);
  setname(L->v, "%s.%d.self_attn.v_proj.weight", p, i);
  setname(L->o, "%s.%d.self_attn.o_proj.weight", p, i);
  if (hp->attn_bias) {
    setname(L->q_bias, "%s.%d.self_attn.q_proj.bias", p, i);
    setname(L->k_bias, "%s.%d.self_attn.k_proj.bias", p, i);
    setname(L->v_bias, "%s.%d.self_attn.v_proj.bias", p, i);
  }
  if (hp->o_bias) setname(L->o_bias, "%s.%d.self_attn.o_proj.bias", p, i);
  if (hp->qk_norm) {
    setname(L->q_norm, "%s.%d.self_attn.q_norm.weight", p, i);
    setname(L->k_norm, "%s.%d.self_attn.k_norm.weight", p, i);
  }
  if (hp->attn_sinks) setname(L->sinks, "%s.%d.self_attn.sinks", p, i);
}

/* Which layers slide. layer_sliding wins; mistral/mixtral configs have no layer_types and
 * slide on every layer whenever sliding_window is set. */
static int layer_window(const dp_hparams *hp, int i, int any_marked) {
  if (hp->sliding_window <= 0) return 0;
  if (any_marked) return hp->layer_sliding[i] ? hp->sliding_window : 0;
  if (hp->arch == DP_ARCH_MISTRAL || hp->arch == DP_ARCH_MIXTRAL) return hp->sliding_window;
  return 0;
}

dp_status dp_plan_build(const dp_hparams *hp, dp_plan **out) {
  *out = NULL;
  if (hp->n_layers <= 0 || hp->n_layers > DP_MAX_LAYERS || hp->d_model <= 0 || hp->n_heads <= 0 ||
      hp->n_kv_heads <= 0 || hp->head_dim <= 0 || hp->vocab_size <= 0)
    return dp_error(DP_ERR_UNSUPPORTED, "plan: %s: bad sizes (layers %d, d %d, heads %d/%d, head_dim %d, vocab %d)",
                    dp_arch_name(hp->arch), hp->n_layers, hp->d_model, hp->n_heads, hp->n_kv_heads,
                    hp->head_dim, hp->vocab_size);
  if (hp->n_heads % hp->n_kv_heads)
    return dp_error(DP_ERR_UNSUPPORTED, "plan: n_heads %d not a multiple of n_kv_heads %d", hp->n_heads, hp->n_kv_heads);
  int moe = hp->arch == DP_ARCH_MIXTRAL || hp->arch == DP_ARCH_GPTOSS;
  if (moe && (hp->n_experts <= 0 || hp->n_experts_per_tok <= 0 || hp->n_experts_per_tok > hp->n_experts))
    return dp_error(DP_ERR_UNSUPPORTED, "plan: %s: bad expert counts (%d experts, top %d)",
                    dp_arch_name(hp->arch), hp->n_experts, hp->n_experts_per_tok);
  if (!moe && hp->d_ff <= 0) return dp_error(DP_ERR_UNSUPPORTED, "plan: bad intermediate size %d", hp->d_ff);

  dp_plan *p = dp_calloc(1, sizeof *p);
  if (!p) return DP_ERR_NOMEM;
  p->layers = dp_calloc((size_t)hp->n_layers, sizeof *p->layers);
  if (!p->layers) {
    dp_free(p);
    return DP_ERR_NOMEM;
  }
  p->arch = hp->arch;
  p->n_layers = hp->n_layers;
  p->d_model = hp->d_model;
  p->n_heads = hp->n_heads;
  p->n_kv_heads = hp->n_kv_heads;
  p->head_dim = hp->head_dim;
  p->d_ff = hp->d_ff;
  p->vocab_size = hp->vocab_size;
  p->max_pos = hp->max_pos;
  p->norm_eps = hp->norm_eps;
  p->norm_plus_one = hp->norm_plus_one;
  p->attn_softcap = hp->attn_softcap;
  p->final_softcap = hp->final_softcap;
  p->bos_id = hp->bos_id;
  p->n_eos = hp->n_eos < DP_MAX_EOS ? hp->n_eos : DP_MAX_EOS;
  memcpy(p->eos_ids, hp->eos_ids, sizeof p->eos_ids);
  if (moe) {
    p->n_experts = hp->n_experts;
    p->n_experts_per_tok = hp->n_experts_per_tok;
    p->moe_d_ff = hp->moe_d_ff > 0 ? hp->moe_d_ff : hp->d_ff;
  }

  if (hp->arch == DP_ARCH_GPTOSS) {
    p->glu = DP_PLAN_GLU_SWIGLU_CLAMP;
    p->swiglu_alpha = 1.702;
    p->swiglu_limit = hp->swiglu_limit > 0 ? hp->swiglu_limit : 7.0;
  } else {
    p->glu = hp->act == DP_ACT_GELU_TANH ? DP_PLAN_GLU_GELU_TANH : DP_PLAN_GLU_SILU;
  }

  setname(p->embed, "model.embed_tokens.weight");
  setname(p->final_norm, "model.norm.weight");
  p->tied = hp->tie_embeddings;
  setname(p->output, "%s", p->tied ? "model.embed_tokens.weight" : "lm_head.weight");
  p->embed_scale = hp->embed_scale_sqrt_d ? sqrt((double)hp->d_model) : 1.0;

  int any_marked = 0;
  for (int i = 0; i < hp->n_layers; i++) any_marked |= hp->layer_sliding[i];
  double scale = hp->attn_scale > 0 ? hp->attn_scale : 1.0 / sqrt((double)hp->head_dim);

  for (int i = 0; i < hp->n_layers; i++) {
    dp_layer_plan *L = &p->layers[i];
    plan_attention(hp, i, L);
    L->sliding_window = layer_window(hp, i, any_marked);
    if (L->sliding_window > p->max_window) p->max_window = L->sliding_window;
    /* Gemma 3 alone has a separate RoPE for its local (sliding) layers. */
    L->rope = (hp->arch == DP_ARCH_GEMMA3 && L->sliding_window) ? hp->rope_local : hp->rope;
    if (L->rope.rotary_dim <= 0) L->rope.rotary_dim = hp->head_dim;
    L->attn_scale = scale;

    if (hp->sandwich_norm) {
      setname(L->attn_post_norm, "model.layers.%d.post_attention_layernorm.weight", i);
      setname(L->ffn_norm, "model.layers.%d.pre_feedforward_layernorm.weight", i);
      setname(L->ffn_post_norm, "model.layers.%d.post_feedforward_layernorm.weight", i);
    } else {
      setname(L->ffn_norm, "model.layers.%d.post_attention_layernorm.weight", i);
    }

    if (hp->arch == DP_ARCH_MIXTRAL) {
      L->ffn = DP_FFN_MOE;
      setname(L->router, "model.layers.%d.block_sparse_moe.gate.weight", i);
      setname(L->expert_prefix, "model.layers.%d.block_sparse_moe.experts", i);
    } else if (hp->arch == DP_ARCH_GPTOSS) {
      L->ffn = DP_FFN_MOE;
      setname(L->router, "model.layers.%d.mlp.router.weight", i);
      setname(L->router_bias, "model.layers.%d.mlp.router.bias", i);
      L->expert_biases = 1;
      setname(L->expert_prefix, "model.layers.%d.mlp.experts", i);
    } else {
      L->ffn = DP_FFN_DENSE;
      setname(L->gate, "model.layers.%d.mlp.gate_proj.weight", i);
      setname(L->up, "model.layers.%d.mlp.up_proj.weight", i);
      setname(L->down, "model.layers.%d.mlp.down_proj.weight", i);
    }
  }
  *out = p;
  return DP_OK;
}

void dp_plan_free(dp_plan *p) {
  if (!p) return;
  dp_free(p->layers);
  dp_free(p);
}

dp_status dp_plan_expert(const dp_plan *p, int layer, int expert, dp_expert_mat m, dp_plan_name out) {
  out[0] = 0;
  if (layer < 0 || layer >= p->n_layers || p->layers[layer].ffn != DP_FFN_MOE || expert < 0 ||
      expert >= p->n_experts)
    return dp_error(DP_ERR_NOT_FOUND, "plan: no expert %d in layer %d", expert, layer);
  const dp_layer_plan *L = &p->layers[layer];
  int bias = m == DP_EXPERT_GATE_BIAS || m == DP_EXPERT_UP_BIAS || m == DP_EXPERT_DOWN_BIAS;
  if (bias && !L->expert_biases) return dp_error(DP_ERR_NOT_FOUND, "plan: layer %d: experts have no biases", layer);
  static const char *mixtral[] = {"w1", "w3", "w2"};
  static const char *gptoss[] = {"gate_proj", "up_proj", "down_proj"};
  int k = bias ? (int)m - DP_EXPERT_GATE_BIAS : (int)m;
  if (p->arch == DP_ARCH_MIXTRAL) setname(out, "%s.%d.%s.weight", L->expert_prefix, expert, mixtral[k]);
  else setname(out, "%s.%d.%s.%s", L->expert_prefix, expert, gptoss[k], bias ? "bias" : "weight");
  return DP_OK;
}

/* ---- validation against a model file ---- */

static dp_status check_shape(struct dp_model_file *mf, const char *name, int n_dims, uint64_t d0, uint64_t d1,
                             uint64_t d2) {
  if (!name[0]) return DP_OK;
  const dp_tensor_info *t = dp_model_file_find(mf, name);
  if (!t) return dp_error(DP_ERR_NOT_FOUND, "%s: tensor %s: missing", dp_model_file_path(mf), name);
  uint64_t want[3] = {d0, d1, d2};
  int ok = t->n_dims == n_dims;
  for (int i = 0; ok && i < n_dims; i++) ok = t->shape[i] == want[i];
  if (!ok) {
    char got[96] = "", exp[96] = "";
    for (int i = 0; i < t->n_dims && i < 4; i++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? "," : "", (unsigned long long)t->shape[i]);
    for (int i = 0; i < n_dims; i++)
      snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%llu", i ? "," : "", (unsigned long long)want[i]);
    return dp_error(DP_ERR_FORMAT, "%s: tensor %s: shape [%s], expected [%s]", dp_model_file_path(mf), name, got, exp);
  }
  return DP_OK;
}

#define CHK(...)                                 \
  do {                                           \
    dp_status s_ = check_shape(mf, __VA_ARGS__); \
    if (s_) return s_;                           \
  } while (0)

dp_status dp_plan_check(const dp_plan *p, struct dp_model_file *mf) {
  uint64_t d = p->d_model, V = p->vocab_size, hd = p->head_dim;
  uint64_t qd = (uint64_t)p->n_heads * hd, kd = (uint64_t)p->n_kv_heads * hd;
  CHK(p->embed, 2, V, d, 0);
  CHK(p->output, 2, V, d, 0);
  CHK(p->final_norm, 1, d, 0, 0);
  for (int i = 0; i < p->n_layers; i++) {
    const dp_layer_plan *L = &p->layers[i];
    CHK(L->attn_norm, 1, d, 0, 0);
    CHK(L->q, 2, qd, d, 0);
    CHK(L->k, 2, kd, d, 0);
    CHK(L->v, 2, kd, d, 0);
    CHK(L->o, 2, d, qd, 0);
    CHK(L->q_bias, 1, qd, 0, 0);
    CHK(L->k_bias, 1, kd, 0, 0);
    CHK(L->v_bias, 1, kd, 0, 0);
    CHK(L->o_bias, 1, d, 0, 0);
    CHK(L->q_norm, 1, hd, 0, 0);
    CHK(L->k_norm, 1, hd, 0, 0);
    CHK(L->sinks, 1, (uint64_t)p->n_heads, 0, 0);
    CHK(L->attn_post_norm, 1, d, 0, 0);
    CHK(L->ffn_norm, 1, d, 0, 0);
    CHK(L->ffn_post_norm, 1, d, 0, 0);
    if (L->ffn == DP_FFN_DENSE) {
      CHK(L->gate, 2, (uint64_t)p->d_ff, d, 0);
      CHK(L->up, 2, (uint64_t)p->d_ff, d, 0);
      CHK(L->down, 2, d, (uint64_t)p->d_ff, 0);
      continue;
    }
    uint64_t E = p->n_experts, F = p->moe_d_ff;
    CHK(L->router, 2, E, d, 0);
    CHK(L->router_bias, 1, E, 0, 0);
    dp_plan_name r;
    for (int e = 0; e < p->n_experts; e++) {
      dp_plan_expert(p, i, e, DP_EXPERT_GATE, r);
      CHK(r, 2, F, d, 0);
      dp_plan_expert(p, i, e, DP_EXPERT_UP, r);
      CHK(r, 2, F, d, 0);
      dp_plan_expert(p, i, e, DP_EXPERT_DOWN, r);
      CHK(r, 2, d, F, 0);
      if (!L->expert_biases) continue;
      dp_plan_expert(p, i, e, DP_EXPERT_GATE_BIAS, r);
      CHK(r, 1, F, 0, 0);
      dp_plan_expert(p, i, e, DP_EXPERT_UP_BIAS, r);
      CHK(r, 1, F, 0, 0);
      dp_plan_expert(p, i, e, DP_EXPERT_DOWN_BIAS, r);
      CHK(r, 1, d, 0, 0);
    }
  }
  return DP_OK;
}

static const char *rope_name(dp_rope_type t) {
  switch (t) {
    case DP_ROPE_DEFAULT: return "default";
    case DP_ROPE_LINEAR: return "linear";
    case DP_ROPE_LLAMA3: return "llama3";
    case DP_ROPE_YARN: return "yarn";
  }
  return "?";
}

void dp_plan_print(const dp_plan *p, void (*emit)(const char *line, void *ctx), void *ctx) {
  static const char *glu[] = {"silu", "gelu_tanh", "swiglu_clamp"};
  char line[256];
  snprintf(line, sizeof line,
           "%s: %d layers, d %d, heads %d/%d x %d, ffn %d, vocab %d, %s norms%s, %s, embed x%.4g%s%s",
           dp_arch_name(p->arch), p->n_layers, p->d_model, p->n_heads, p->n_kv_heads, p->head_dim,
           p->n_experts ? p->moe_d_ff : p->d_ff, p->vocab_size, p->norm_plus_one ? "(1+w)" : "w",
           p->layers[0].attn_post_norm[0] ? " sandwich" : "", glu[p->glu], p->embed_scale,
           p->tied ? ", tied output" : "", p->final_softcap > 0 ? ", final softcap" : "");
  emit(line, ctx);
  for (int i = 0; i < p->n_layers; i++) {
    const dp_layer_plan *L = &p->layers[i];
    snprintf(line, sizeof line, "  layer %d: %s%.0d, rope %s base %g x%g, scale %.6g%s%s%s%s", i,
             L->sliding_window ? "sliding " : "full", L->sliding_window, rope_name(L->rope.type),
             L->rope.theta, L->rope.factor, L->attn_scale, L->q_norm[0] ? ", qk-norm" : "",
             L->sinks[0] ? ", sinks" : "", L->q_bias[0] ? ", biases" : "",
             L->ffn == DP_FFN_MOE ? ", moe" : "");
    emit(line, ctx);
  }
}
