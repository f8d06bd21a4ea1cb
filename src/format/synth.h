/* synth.h -- synthetic Hugging Face checkpoints (`doppler synth`): a config.json and a
 * model.safetensors with random weights, for any shape, in the HF conventions of the golden
 * fixtures (../shared/fixtures/golden). They stand in for held-back models of the supported
 * dense architectures: odd vocabularies, head dimensions and widths, window sizes, and the
 * older config forms, checked GPU-against-CPU-reference (tests/gpu_synth.c).
 *
 * Architectures (HF class; what each exercises):
 *   llama    LlamaForCausalLM, Llama 3 style: GQA, tied embeddings, llama3 RoPE scaling
 *   llama2   LlamaForCausalLM, Llama 2 style: MHA, untied, default RoPE
 *   mistral  MistralForCausalLM: sliding window on every layer, untied
 *   qwen3    Qwen3ForCausalLM: q/k RMSNorm, tied
 *   gemma3   Gemma3ForCausalLM: (1+w) norms, sandwich norms, sqrt(d) embedding scale, GeGLU,
 *            query_pre_attn_scalar = d_model / n_heads (not head_dim), local layers (window,
 *            RoPE base 10k) and global layers (RoPE base 1e6, linear x8); the last layer of every
 *            group of min(6, layers) is global (sliding_window_pattern)
 * Config forms: "new" = transformers 5 (`rope_parameters`, Gemma's nested per layer type,
 * `layer_types`, `dtype`); "old" = the earlier form (`rope_theta` + `rope_scaling`, Llama 3
 * scaling under the legacy key "type", Gemma's `rope_local_base_freq` + `sliding_window_pattern`,
 * `torch_dtype`, no `num_key_value_heads` when it equals the head count, no `head_dim` when it
 * equals hidden_size / heads). Both forms of the same options give identical dp_hparams.
 *
 * Weights (deterministic from the seed, per tensor name, independent of the dtype, so the f16
 * model of a seed is the f32 model rounded): projections ~N(0, 1/fan_in) (unit-scale
 * activations, attention that is far from uniform), embeddings and lm_head ~N(0, 4/d_model)
 * (logits of standard deviation ~2, so greedy top-2 margins are rarely tiny), norm weights
 * 1 + N(0, 0.01) (Gemma: w ~ N(0, 0.01), applied as 1 + w). Normal deviates are sums of four
 * uniforms (exact arithmetic, so the bytes do not depend on the C library).
 * Output: DIR is written as DIR.tmp-PID and renamed at the end; nothing is left on failure.
 * An existing DIR is replaced only when empty or holding just config.json + model.safetensors
 * written by this module (config.json carries a "_doppler_synth" object: seed, arch, form). */
#ifndef DP_FORMAT_SYNTH_H
#define DP_FORMAT_SYNTH_H
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"

typedef struct dp_synth_opts {
  const char *arch;   /* "llama", "llama2", "mistral", "qwen3", "gemma3" */
  /* sizes; 0 = the architecture's default (dp_synth_defaults fills them) */
  int vocab, d_model, n_heads, n_kv_heads, head_dim, d_ff, n_layers;
  int window;         /* mistral, gemma3 only (mistral: 0 = none); -1 = the default */
  uint64_t seed;
  dp_dtype dtype;     /* DP_F32, DP_F16 or DP_BF16 */
  int old_form;       /* 1: the older HF config form (above) */
} dp_synth_opts;

/* Replace every 0 size (and window -1) by arch's default: vocab 512, d_model 128, 4 heads,
 * head_dim d_model / n_heads, d_ff 344, 2 layers; kv heads: llama n_heads/2 (if even),
 * llama2 n_heads, mistral/gemma3 1, qwen3 n_heads/2 (if even); window: mistral 16, gemma3 8.
 * DP_ERR_INVALID_ARG for an unknown arch. */
dp_status dp_synth_defaults(dp_synth_opts *o);
/* Check filled-in options; DP_ERR_INVALID_ARG with a message naming the option. */
dp_status dp_synth_check(const dp_synth_opts *o);
/* Fill defaults, check, and write dir/config.json + dir/model.safetensors atomically. */
dp_status dp_synth_write(const dp_synth_opts *o, const char *dir);
#endif
