/* hparams.h -- architecture hyper-parameters, normalised from HF config.json (both the
 * rope_theta/rope_scaling and the rope_parameters forms), GGUF metadata or an RDRR manifest.
 * This struct is the contract between the format layer (which fills it) and the model layer
 * (which turns it into a layer plan). Every field has one meaning whatever the source. */
#ifndef DP_FORMAT_HPARAMS_H
#define DP_FORMAT_HPARAMS_H
#include <stdint.h>
#include "doppler_status.h"

#define DP_MAX_LAYERS 512
#define DP_MAX_EOS 8

typedef enum dp_arch { DP_ARCH_LLAMA, DP_ARCH_MISTRAL, DP_ARCH_QWEN3, DP_ARCH_GEMMA3, DP_ARCH_MIXTRAL, DP_ARCH_GPTOSS } dp_arch;
typedef enum dp_rope_type { DP_ROPE_DEFAULT, DP_ROPE_LINEAR, DP_ROPE_LLAMA3, DP_ROPE_YARN } dp_rope_type;
typedef enum dp_act { DP_ACT_SILU, DP_ACT_GELU_TANH } dp_act;

typedef struct dp_rope {
  dp_rope_type type;
  double theta;                 /* base */
  double factor;                /* linear / llama3 / yarn scaling factor (1 = none) */
  double low_freq_factor, high_freq_factor; /* llama3 */
  double original_max_pos;      /* llama3 / yarn original_max_position_embeddings */
  double beta_fast, beta_slow;  /* yarn (defaults 32, 1) */
  double attention_factor;      /* yarn mscale applied to cos/sin; 0 = derive (0.1 ln f + 1) */
  int truncate;                 /* yarn: round the correction range to integers (default 1) */
  int rotary_dim;               /* dims rotated per head (partial rotary); = head_dim normally */
  int interleaved;              /* 1: rotate pairs (2i, 2i+1) (GGUF-permuted q/k); 0: rotate-half (HF) */
} dp_rope;

typedef struct dp_hparams {
  dp_arch arch;
  char model_type[32];          /* "llama", "mistral", "qwen3", "gemma3_text", "mixtral", "gpt_oss" */
  int n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size, max_pos;
  double norm_eps;
  int tie_embeddings;
  dp_act act;
  dp_rope rope;                 /* global (full-attention) layers */
  dp_rope rope_local;           /* sliding-window layers (gemma3: base 10k, no scaling) */
  int sliding_window;           /* 0 = none */
  uint8_t layer_sliding[DP_MAX_LAYERS]; /* 1 if layer i uses the sliding window */
  /* attention */
  double attn_scale;            /* multiplier on q.k (1/sqrt(head_dim), or gemma's query_pre_attn_scalar^-0.5) */
  double attn_softcap;          /* 0 = none */
  double final_softcap;         /* 0 = none */
  int qk_norm;                  /* qwen3/gemma3: RMSNorm on q and k per head */
  int attn_bias, o_bias;        /* q/k/v biases, o_proj bias (gpt-oss) */
  int attn_sinks;               /* gpt-oss: per-head sink logits */
  /* gemma3 */
  int norm_plus_one;            /* RMSNorm weight used as (1+w) (HF form; GGUF stores w+1) */
  int sandwich_norm;            /* post-attention and post-ffn norms */
  int embed_scale_sqrt_d;       /* multiply embeddings by sqrt(d_model) */
  /* MoE */
  int n_experts, n_experts_per_tok, moe_d_ff;
  int router_bias;
  double swiglu_limit;          /* gpt-oss clamp (0 = none); alpha 1.702 and (up+1) follow */
  /* special tokens */
  int bos_id, pad_id;           /* -1 if none */
  int eos_ids[DP_MAX_EOS];
  int n_eos;
} dp_hparams;

struct dp_json;
/* Fill hp from a parsed HF config.json. `what` names the file in errors. */
dp_status dp_hparams_from_hf_config(const struct dp_json *cfg, const char *what, dp_hparams *hp);
const char *dp_arch_name(dp_arch a);
int dp_arch_from_name(const char *name, dp_arch *a); /* 0 ok, -1 unknown (names of dp_arch_name) */
/* Lossless round trip through JSON (the RDRR manifest's "hparams" object): every field,
 * doubles printed with 17 significant digits. to_json appends one JSON object to b. */
struct dp_buf;
void dp_hparams_to_json(const dp_hparams *hp, struct dp_buf *b);
dp_status dp_hparams_from_json(const struct dp_json *o, const char *what, dp_hparams *hp);
/* llama.cpp's `rope_freqs.weight` for llama3 RoPE scaling: for each frequency i < dim/2
 * (theta^(-2i/dim)), the divisor llama.cpp applies to it: 1 where kept, r->factor where
 * scaled, 1/((1-s)/factor + s) in the blend. */
void dp_rope_llama3_factors(const dp_rope *r, int dim, float *out);
/* The inverse, for GGUF files without doppler.hparams: sets r->type (DEFAULT if every factor
 * is 1, else LLAMA3), factor, low/high_freq_factor and original_max_pos (orig, or llama.cpp's
 * 8192 when orig <= 0: only the ratios to it are determined by the factors). Returns 0 when
 * the result reproduces every factor (relative 1e-4), -1 otherwise (best fit kept). */
int dp_rope_llama3_from_factors(dp_rope *r, int dim, const float *f, double orig);
/* Range checks every source must pass (docs/formats.md "Hyper-parameter ranges"): sizes within
 * bounds and their products too, heads dividing, eps/theta/scales/softcaps finite and in range,
 * token ids inside the vocabulary. The error names the field as `src` spells it and the range. */
typedef enum dp_hparams_src { DP_HP_HF, DP_HP_GGUF, DP_HP_JSON } dp_hparams_src;
dp_status dp_hparams_validate(const dp_hparams *hp, dp_hparams_src src, const char *what);
#endif
