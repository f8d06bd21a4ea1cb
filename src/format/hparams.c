/* hparams.c -- HF config.json -> dp_hparams (llama, mistral, qwen3, gemma3, mixtral, gpt_oss),
 * and the lossless JSON form stored in RDRR manifests. Called by model_file.c (HF dirs),
 * rdrr.c and gguf_meta.c; depends on core/json and core/buf.
 *
 * Config traps handled here (see ../shared/fixtures/README.md):
 *  - rope: transformers-5 `rope_parameters` (flat, or for Gemma 3 nested per layer type
 *    `full_attention`/`sliding_attention`) or the older `rope_theta` + `rope_scaling`
 *    (+ Gemma 3's `rope_local_base_freq`); rope type under "rope_type" or legacy "type";
 *  - sliding layers: `layer_types` wins; else Gemma 3's `sliding_window_pattern` (layer i is
 *    global iff (i+1) % pattern == 0), gpt-oss's default alternation, qwen3's
 *    use_sliding_window/max_window_layers; private keys like `_sliding_window_pattern` ignored;
 *  - gpt-oss configs may lack `architectures` (model_type decides); YaRN `truncate`;
 *  - head_dim absent or null -> d_model / n_heads; gemma's query_pre_attn_scalar; softcaps;
 *  - tie_word_embeddings default per architecture; eos_token_id int or list;
 *  - Gemma3ForConditionalGeneration: the text model's config is `text_config`; absent Gemma 3
 *    keys take Gemma3TextConfig's defaults (vocab 262208, 8 heads, 4 kv heads, head_dim 256, ...).
 * Whatever the source, dp_hparams_validate (below) range-checks every field before anything
 * uses it: model_file_gguf.c and the JSON reader end with it too (docs/formats.md lists the
 * ranges); a NaN or negative epsilon, a zero theta, an id past the vocabulary never load. */
#include "format/hparams.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "format/gguf_names.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const char *ARCH_NAMES[] = {"llama", "mistral", "qwen3", "gemma3", "mixtral", "gpt_oss"};

const char *dp_arch_name(dp_arch a) { return (unsigned)a < 6 ? ARCH_NAMES[a] : "?"; }
int dp_arch_from_name(const char *name, dp_arch *a) {
  for (int i = 0; i < 6; i++)
    if (!strcmp(ARCH_NAMES[i], name)) { *a = (dp_arch)i; return 0; }
  return -1;
}

static int is_null_or_absent(const dp_json *o, const char *k) {
  const dp_json *v = dp_json_get(o, k);
  return !v || v->type == DP_JSON_NULL;
}

/* A rope description object (rope_parameters entry or rope_scaling) onto r. theta_key is
 * "rope_theta" inside rope_parameters; legacy rope_scaling has no theta. */
static dp_status parse_rope(const dp_json *o, const char *what, dp_rope *r) {
  if (!o || o->type == DP_JSON_NULL) return DP_OK;
  if (!dp_json_is(o, DP_JSON_OBJECT)) return dp_error(DP_ERR_FORMAT, "%s: rope parameters are not an object", what);
  r->theta = dp_json_get_num(o, "rope_theta", r->theta);
  const char *type = dp_json_get_str(o, "rope_type", dp_json_get_str(o, "type", "default"));
  if (!strcmp(type, "default")) r->type = DP_ROPE_DEFAULT;
  else if (!strcmp(type, "linear")) r->type = DP_ROPE_LINEAR;
  else if (!strcmp(type, "llama3")) r->type = DP_ROPE_LLAMA3;
  else if (!strcmp(type, "yarn")) r->type = DP_ROPE_YARN;
  else return dp_error(DP_ERR_UNSUPPORTED, "%s: field rope_type: unsupported rope type \"%s\"", what, type);
  if (r->type != DP_ROPE_DEFAULT) r->factor = dp_json_get_num(o, "factor", 1.0);
  r->low_freq_factor = dp_json_get_num(o, "low_freq_factor", r->low_freq_factor);
  r->high_freq_factor = dp_json_get_num(o, "high_freq_factor", r->high_freq_factor);
  r->original_max_pos = dp_json_get_num(o, "original_max_position_embeddings", r->original_max_pos);
  r->beta_fast = dp_json_get_num(o, "beta_fast", r->beta_fast);
  r->beta_slow = dp_json_get_num(o, "beta_slow", r->beta_slow);
  r->attention_factor = dp_json_get_num(o, "attention_factor", r->attention_factor);
  r->truncate = dp_json_get_bool(o, "truncate", r->truncate);
  if (r->type == DP_ROPE_LLAMA3 && !dp_json_get(o, "original_max_position_embeddings"))
    return dp_error(DP_ERR_FORMAT, "%s: llama3 rope needs original_max_position_embeddings", what);
  return DP_OK;
}

static void rope_defaults(dp_rope *r, double theta, int head_dim, double max_pos) {
  memset(r, 0, sizeof *r);
  r->type = DP_ROPE_DEFAULT;
  r->theta = theta;
  r->factor = 1;
  r->low_freq_factor = 1;
  r->high_freq_factor = 4;
  r->original_max_pos = max_pos;
  r->beta_fast = 32;
  r->beta_slow = 1;
  r->truncate = 1;
  r->rotary_dim = head_dim;
}

static dp_status get_int(const dp_json *c, const char *k, int dflt, int required, const char *what, int *out) {
  const dp_json *v = dp_json_get(c, k);
  if (!v || v->type == DP_JSON_NULL) {
    if (required) return dp_error(DP_ERR_FORMAT, "%s: field %s: missing", what, k);
    *out = dflt;
    return DP_OK;
  }
  double x = dp_json_num(v, NAN);
  if (!dp_json_is(v, DP_JSON_NUMBER) || x != floor(x) || x < -1 || x > 1e9)
    return dp_error(DP_ERR_FORMAT, "%s: field %s: not a valid integer", what, k);
  *out = (int)x;
  return DP_OK;
}

static dp_status arch_of(const dp_json *root, const char *what, dp_arch *a, const dp_json **cfg) {
  const dp_json *archs = dp_json_get(root, "architectures");
  const char *an = dp_json_str(dp_json_at(archs, 0), NULL);
  const char *mt = dp_json_get_str(root, "model_type", "");
  *cfg = root;
  static const struct { const char *cls, *mt; dp_arch a; } M[] = {
    {"LlamaForCausalLM", "llama", DP_ARCH_LLAMA},     {"MistralForCausalLM", "mistral", DP_ARCH_MISTRAL},
    {"Qwen3ForCausalLM", "qwen3", DP_ARCH_QWEN3},     {"Gemma3ForCausalLM", "gemma3_text", DP_ARCH_GEMMA3},
    {"MixtralForCausalLM", "mixtral", DP_ARCH_MIXTRAL}, {"GptOssForCausalLM", "gpt_oss", DP_ARCH_GPTOSS},
  };
  if (an && !strcmp(an, "Gemma3ForConditionalGeneration")) goto gemma_mm;
  for (size_t i = 0; i < sizeof M / sizeof *M; i++)
    if ((an && !strcmp(an, M[i].cls)) || (!an && !strcmp(mt, M[i].mt))) { *a = M[i].a; return DP_OK; }
  if (!an && !strcmp(mt, "gemma3")) goto gemma_mm;
  return dp_error(DP_ERR_UNSUPPORTED, "%s: unsupported architecture %s (model_type \"%s\")", what, an ? an : "(none)", mt);
gemma_mm:
  *cfg = dp_json_get(root, "text_config");
  if (!dp_json_is(*cfg, DP_JSON_OBJECT)) return dp_error(DP_ERR_FORMAT, "%s: Gemma3ForConditionalGeneration without text_config", what);
  *a = DP_ARCH_GEMMA3;
  return DP_OK;
}

/* An id as int (absent or null: -1); a non-integer or a value outside int becomes INT_MIN,
 * which dp_hparams_validate refuses naming the field. */
static int id_of(const dp_json *v) {
  int64_t x = dp_json_int(v, v && v->type != DP_JSON_NULL ? INT64_MIN : -1);
  return x > INT_MIN && x <= INT_MAX ? (int)x : INT_MIN;
}

static dp_status token_ids(const dp_json *c, const dp_json *root, const char *what, dp_hparams *hp) {
  const dp_json *bos = dp_json_get(c, "bos_token_id"), *eos = dp_json_get(c, "eos_token_id"), *pad = dp_json_get(c, "pad_token_id");
  if (!bos) bos = dp_json_get(root, "bos_token_id");
  if (!eos) eos = dp_json_get(root, "eos_token_id");
  if (!pad) pad = dp_json_get(root, "pad_token_id");
  int g = hp->arch == DP_ARCH_GEMMA3; /* Gemma3TextConfig's defaults: bos 2, eos 1, pad 0 */
  hp->bos_id = g && !bos ? 2 : id_of(bos);
  hp->pad_id = g && !pad ? 0 : id_of(pad);
  hp->n_eos = 0;
  if (g && !eos) hp->eos_ids[hp->n_eos++] = 1;
  if (dp_json_is(eos, DP_JSON_ARRAY)) {
    if (eos->n > DP_MAX_EOS) return dp_error(DP_ERR_FORMAT, "%s: field eos_token_id: %u ids (at most %d)", what, eos->n, DP_MAX_EOS);
    for (uint32_t i = 0; i < eos->n; i++) hp->eos_ids[hp->n_eos++] = id_of(dp_json_at(eos, i));
  } else if (dp_json_is(eos, DP_JSON_NUMBER)) {
    hp->eos_ids[hp->n_eos++] = id_of(eos);
  }
  return DP_OK;
}

dp_status dp_hparams_from_hf_config(const dp_json *root, const char *what, dp_hparams *hp) {
  memset(hp, 0, sizeof *hp);
  if (!dp_json_is(root, DP_JSON_OBJECT)) return dp_error(DP_ERR_FORMAT, "%s: not a JSON object", what);
  const dp_json *c;
  dp_status st = arch_of(root, what, &hp->arch, &c);
  if (st) return st;
  dp_arch a = hp->arch;
  static const char *MT[] = {"llama", "mistral", "qwen3", "gemma3_text", "mixtral", "gpt_oss"};
  snprintf(hp->model_type, sizeof hp->model_type, "%s", MT[a]);
  /* Gemma 3: absent keys take Gemma3TextConfig's defaults, as transformers applies them (the
   * multimodal checkpoints' text_config lists only the keys that differ from them) */
  int g = a == DP_ARCH_GEMMA3;
  if ((st = get_int(c, "num_hidden_layers", 26, !g, what, &hp->n_layers)) || (st = get_int(c, "hidden_size", 2304, !g, what, &hp->d_model)) ||
      (st = get_int(c, "num_attention_heads", 8, !g, what, &hp->n_heads)) ||
      (st = get_int(c, "num_key_value_heads", g ? 4 : hp->n_heads, 0, what, &hp->n_kv_heads)) ||
      (st = get_int(c, "intermediate_size", 9216, !g, what, &hp->d_ff)) || (st = get_int(c, "vocab_size", 262208, !g, what, &hp->vocab_size)) ||
      (st = get_int(c, "max_position_embeddings", g ? 131072 : 2048, 0, what, &hp->max_pos)))
    return st;
  if (hp->n_heads <= 0) return dp_error(DP_ERR_FORMAT, "%s: field num_attention_heads: %d out of range 1..%d", what, hp->n_heads, 1 << 14);
  if ((st = get_int(c, "head_dim", g ? 256 : hp->d_model / hp->n_heads, 0, what, &hp->head_dim))) return st;
  hp->norm_eps = dp_json_get_num(c, "rms_norm_eps", a == DP_ARCH_GEMMA3 ? 1e-6 : 1e-5);
  const dp_json *tie = dp_json_get(c, "tie_word_embeddings");
  if (!tie || tie->type == DP_JSON_NULL) tie = dp_json_get(root, "tie_word_embeddings");
  hp->tie_embeddings = dp_json_bool(tie, a == DP_ARCH_GEMMA3);
  hp->act = a == DP_ARCH_GEMMA3 ? DP_ACT_GELU_TANH : DP_ACT_SILU;
  if (a == DP_ARCH_GEMMA3) {
    const char *act = dp_json_get_str(c, "hidden_activation", dp_json_get_str(c, "hidden_act", "gelu_pytorch_tanh"));
    if (strcmp(act, "gelu_pytorch_tanh") && strcmp(act, "gelu_tanh") && strcmp(act, "gelu"))
      return dp_error(DP_ERR_UNSUPPORTED, "%s: field hidden_activation: unsupported \"%s\"", what, act);
  } else {
    const char *act = dp_json_get_str(c, "hidden_act", "silu");
    if (strcmp(act, "silu") && strcmp(act, "swish")) return dp_error(DP_ERR_UNSUPPORTED, "%s: field hidden_act: unsupported \"%s\"", what, act);
  }

  /* rope */
  double theta_default = a == DP_ARCH_GEMMA3 ? 1e6 : a == DP_ARCH_GPTOSS ? 150000 : 10000;
  rope_defaults(&hp->rope, dp_json_get_num(c, "rope_theta", theta_default), hp->head_dim, hp->max_pos);
  double prf = dp_json_get_num(c, "partial_rotary_factor", 1.0);
  if (!(prf > 0 && prf <= 1)) return dp_error(DP_ERR_FORMAT, "%s: field partial_rotary_factor: %g out of range (0, 1]", what, prf);
  hp->rope.rotary_dim = (int)(hp->head_dim * prf);
  const dp_json *rp = dp_json_get(c, "rope_parameters");
  if (a == DP_ARCH_GEMMA3) {
    rope_defaults(&hp->rope_local, dp_json_get_num(c, "rope_local_base_freq", 10000), hp->head_dim, hp->max_pos);
    if (dp_json_get(rp, "full_attention") || dp_json_get(rp, "sliding_attention")) {
      if ((st = parse_rope(dp_json_get(rp, "full_attention"), what, &hp->rope))) return st;
      if ((st = parse_rope(dp_json_get(rp, "sliding_attention"), what, &hp->rope_local))) return st;
    } else if (rp && rp->type != DP_JSON_NULL) {
      if ((st = parse_rope(rp, what, &hp->rope))) return st;
    } else if ((st = parse_rope(dp_json_get(c, "rope_scaling"), what, &hp->rope))) return st;
  } else {
    if (rp && rp->type != DP_JSON_NULL) st = parse_rope(rp, what, &hp->rope);
    else st = parse_rope(dp_json_get(c, "rope_scaling"), what, &hp->rope);
    if (st) return st;
    hp->rope_local = hp->rope;
  }
  hp->rope_local.rotary_dim = hp->rope.rotary_dim;

  /* sliding window and per-layer attention type */
  int sw = 0;
  if ((st = get_int(c, "sliding_window", a == DP_ARCH_GEMMA3 ? 4096 : a == DP_ARCH_GPTOSS ? 128 : 0, 0, what, &sw))) return st;
  if (a == DP_ARCH_QWEN3 && !dp_json_get_bool(c, "use_sliding_window", 0)) sw = 0;
  if (a == DP_ARCH_MIXTRAL && is_null_or_absent(c, "sliding_window")) sw = 0;
  hp->sliding_window = sw > 0 ? sw : 0;
  if (hp->n_layers <= 0 || hp->n_layers > DP_MAX_LAYERS)
    return dp_error(DP_ERR_FORMAT, "%s: field num_hidden_layers: %d out of range 1..%d", what, hp->n_layers, DP_MAX_LAYERS);
  const dp_json *lt = dp_json_get(c, "layer_types");
  if (dp_json_is(lt, DP_JSON_ARRAY)) {
    if ((int)lt->n != hp->n_layers) return dp_error(DP_ERR_FORMAT, "%s: field layer_types: %u entries for %d layers", what, lt->n, hp->n_layers);
    for (int i = 0; i < hp->n_layers; i++) {
      const char *t = dp_json_str(dp_json_at(lt, i), "");
      if (!strcmp(t, "sliding_attention")) hp->layer_sliding[i] = 1;
      else if (strcmp(t, "full_attention")) return dp_error(DP_ERR_UNSUPPORTED, "%s: field layer_types[%d]: unsupported \"%s\"", what, i, t);
    }
  } else {
    for (int i = 0; i < hp->n_layers; i++) {
      int s = 0;
      if (a == DP_ARCH_GEMMA3) {
        int pat = (int)dp_json_get_int(c, "sliding_window_pattern", 6);
        s = pat > 0 ? (i + 1) % pat != 0 : 1;
      } else if (a == DP_ARCH_GPTOSS) s = (i + 1) % 2;
      else if (a == DP_ARCH_QWEN3) s = i >= dp_json_get_int(c, "max_window_layers", 28);
      else s = 1;
      hp->layer_sliding[i] = (uint8_t)s;
    }
  }
  if (!hp->sliding_window) memset(hp->layer_sliding, 0, sizeof hp->layer_sliding);

  /* attention details */
  hp->attn_scale = 1.0 / sqrt((double)hp->head_dim);
  if (a == DP_ARCH_GEMMA3) {
    double q = dp_json_get_num(c, "query_pre_attn_scalar", 256);
    if (!(q >= 1e-6 && q <= 1e12)) return dp_error(DP_ERR_FORMAT, "%s: field query_pre_attn_scalar: %g out of range [1e-06, 1e+12]", what, q);
    hp->attn_scale = 1.0 / sqrt(q);
  }
  hp->attn_softcap = dp_json_get_num(c, "attn_logit_softcapping", 0);
  hp->final_softcap = dp_json_get_num(c, "final_logit_softcapping", 0);
  hp->qk_norm = a == DP_ARCH_QWEN3 || a == DP_ARCH_GEMMA3;
  hp->attn_bias = dp_json_get_bool(c, "attention_bias", a == DP_ARCH_GPTOSS);
  hp->o_bias = hp->attn_bias;
  hp->attn_sinks = a == DP_ARCH_GPTOSS;
  if (a == DP_ARCH_GEMMA3) hp->norm_plus_one = hp->sandwich_norm = hp->embed_scale_sqrt_d = 1;
  if (a == DP_ARCH_MIXTRAL || a == DP_ARCH_GPTOSS) {
    if ((st = get_int(c, "num_local_experts", 8, 0, what, &hp->n_experts)) ||
        (st = get_int(c, "num_experts_per_tok", a == DP_ARCH_GPTOSS ? 4 : 2, 0, what, &hp->n_experts_per_tok)))
      return st;
    hp->moe_d_ff = hp->d_ff;
    hp->router_bias = a == DP_ARCH_GPTOSS;
    if (a == DP_ARCH_GPTOSS) hp->swiglu_limit = dp_json_get_num(c, "swiglu_limit", 7.0);
  }
  if ((st = token_ids(c, root, what, hp))) return st;
  return dp_hparams_validate(hp, DP_HP_HF, what);
}

/* ---- range checks ----
 * Every field is checked against the range a real model can have, and the error names the
 * field as the source spells it (config.json key, GGUF key, or the manifest's hparams field)
 * with the allowed range. Products that size buffers are bounded too (no overflow later). */

typedef struct fname { const char *hf, *gguf, *json; } fname; /* gguf: "." + suffix after "<arch>" */

static const char *field(const dp_hparams *hp, dp_hparams_src src, const fname *f, char *buf, size_t cap) {
  if (src == DP_HP_HF) snprintf(buf, cap, "field %s", f->hf);
  else if (src == DP_HP_JSON) snprintf(buf, cap, "field hparams.%s", f->json);
  else if (f->gguf[0] == '.') snprintf(buf, cap, "key %s%s", dp_gguf_arch_name(hp->arch), f->gguf);
  else snprintf(buf, cap, "key %s", f->gguf);
  return buf;
}

/* lo < x <= hi (lo_open) or lo <= x <= hi, and finite */
static dp_status check_num(const dp_hparams *hp, dp_hparams_src src, const char *what, const fname *f, double x, double lo, int lo_open, double hi) {
  if (isfinite(x) && (lo_open ? x > lo : x >= lo) && x <= hi) return DP_OK;
  char b[128];
  return dp_error(DP_ERR_FORMAT, "%s: %s: %g out of range %s%g, %g]", what, field(hp, src, f, b, sizeof b), x, lo_open ? "(" : "[", lo, hi);
}

static dp_status check_int(const dp_hparams *hp, dp_hparams_src src, const char *what, const fname *f, int64_t x, int64_t lo, int64_t hi) {
  if (x >= lo && x <= hi) return DP_OK;
  char b[128];
  return dp_error(DP_ERR_FORMAT, "%s: %s: %lld out of range %lld..%lld", what, field(hp, src, f, b, sizeof b), (long long)x, (long long)lo, (long long)hi);
}

static dp_status check_rope(const dp_hparams *hp, dp_hparams_src src, const char *what, const dp_rope *r, int local) {
  static const fname THETA[2] = {{"rope_theta", ".rope.freq_base", "rope.theta"}, {"rope_local_base_freq", ".rope.freq_base", "rope_local.theta"}};
  static const fname FACTOR[2] = {{"rope_scaling.factor", ".rope.scaling.factor", "rope.factor"}, {"rope_parameters.sliding_attention.factor", ".rope.scaling.factor", "rope_local.factor"}};
  static const fname LOW = {"rope_scaling.low_freq_factor", ".rope.scaling.low_freq_factor", "rope.low_freq_factor"};
  static const fname HIGH = {"rope_scaling.high_freq_factor", ".rope.scaling.high_freq_factor", "rope.high_freq_factor"};
  static const fname ORIG = {"rope_scaling.original_max_position_embeddings", ".rope.scaling.original_context_length", "rope.original_max_pos"};
  static const fname BETA_F = {"rope_scaling.beta_fast", ".rope.scaling.yarn_beta_fast", "rope.beta_fast"};
  static const fname BETA_S = {"rope_scaling.beta_slow", ".rope.scaling.yarn_beta_slow", "rope.beta_slow"};
  static const fname ATTN_F = {"rope_scaling.attention_factor", ".rope.scaling.attn_factor", "rope.attention_factor"};
  static const fname ROT = {"partial_rotary_factor", ".rope.dimension_count", "rope.rotary_dim"};
  dp_status st;
  if ((st = check_num(hp, src, what, &THETA[local], r->theta, 0, 1, 1e12)) || (st = check_num(hp, src, what, &FACTOR[local], r->factor, 0, 1, 1e6)) ||
      (st = check_int(hp, src, what, &ROT, r->rotary_dim, 2, hp->head_dim)))
    return st;
  if (r->rotary_dim % 2) return dp_error(DP_ERR_FORMAT, "%s: rotary dimensions %d: must be even (head_dim %d)", what, r->rotary_dim, hp->head_dim);
  if (r->type == DP_ROPE_LLAMA3 || r->type == DP_ROPE_YARN) {
    if ((st = check_num(hp, src, what, &ORIG, r->original_max_pos, 0, 1, 1e9))) return st;
  }
  if (r->type == DP_ROPE_LLAMA3) {
    if ((st = check_num(hp, src, what, &LOW, r->low_freq_factor, 0, 1, 1e6)) || (st = check_num(hp, src, what, &HIGH, r->high_freq_factor, r->low_freq_factor, 1, 1e6)))
      return st;
  }
  if (r->type == DP_ROPE_YARN) {
    if ((st = check_num(hp, src, what, &BETA_F, r->beta_fast, 0, 1, 1e6)) || (st = check_num(hp, src, what, &BETA_S, r->beta_slow, 0, 1, r->beta_fast)) ||
        (st = check_num(hp, src, what, &ATTN_F, r->attention_factor, 0, 0, 1e3)))
      return st;
  }
  return DP_OK;
}

dp_status dp_hparams_validate(const dp_hparams *hp, dp_hparams_src src, const char *what) {
  static const fname LAYERS = {"num_hidden_layers", ".block_count", "n_layers"}, DMODEL = {"hidden_size", ".embedding_length", "d_model"},
                     HEADS = {"num_attention_heads", ".attention.head_count", "n_heads"}, KV = {"num_key_value_heads", ".attention.head_count_kv", "n_kv_heads"},
                     HEAD_DIM = {"head_dim", ".attention.key_length", "head_dim"}, DFF = {"intermediate_size", ".feed_forward_length", "d_ff"},
                     VOCAB = {"vocab_size", ".vocab_size", "vocab_size"}, MAXPOS = {"max_position_embeddings", ".context_length", "max_pos"},
                     EPS = {"rms_norm_eps", ".attention.layer_norm_rms_epsilon", "norm_eps"},
                     SW = {"sliding_window", ".attention.sliding_window", "sliding_window"}, SCALE = {"query_pre_attn_scalar", ".attention.scale", "attn_scale"},
                     ACAP = {"attn_logit_softcapping", ".attn_logit_softcapping", "attn_softcap"},
                     FCAP = {"final_logit_softcapping", ".final_logit_softcapping", "final_softcap"},
                     SWIGLU = {"swiglu_limit", ".swiglu_limit", "swiglu_limit"}, NEXP = {"num_local_experts", ".expert_count", "n_experts"},
                     NUSED = {"num_experts_per_tok", ".expert_used_count", "n_experts_per_tok"}, MOEFF = {"intermediate_size", ".expert_feed_forward_length", "moe_d_ff"},
                     BOS = {"bos_token_id", "tokenizer.ggml.bos_token_id", "bos_id"}, PAD = {"pad_token_id", "tokenizer.ggml.padding_token_id", "pad_id"},
                     EOS = {"eos_token_id", "tokenizer.ggml.eos_token_id", "eos_ids"};
  dp_status st;
  if ((st = check_int(hp, src, what, &LAYERS, hp->n_layers, 1, DP_MAX_LAYERS)) || (st = check_int(hp, src, what, &DMODEL, hp->d_model, 1, 1 << 20)) ||
      (st = check_int(hp, src, what, &HEADS, hp->n_heads, 1, 1 << 14)) || (st = check_int(hp, src, what, &KV, hp->n_kv_heads, 1, hp->n_heads)) ||
      (st = check_int(hp, src, what, &HEAD_DIM, hp->head_dim, 1, 1 << 14)) || (st = check_int(hp, src, what, &DFF, hp->d_ff, 1, 1 << 22)) ||
      (st = check_int(hp, src, what, &VOCAB, hp->vocab_size, 1, 1 << 24)) || (st = check_int(hp, src, what, &MAXPOS, hp->max_pos, 1, 1 << 30)))
    return st;
  if (hp->n_heads % hp->n_kv_heads) return dp_error(DP_ERR_FORMAT, "%s: %d attention heads not divisible by %d kv heads", what, hp->n_heads, hp->n_kv_heads);
  /* the largest matrices must stay addressable: q rows, embedding, ffn */
  if ((int64_t)hp->n_heads * hp->head_dim > (1 << 20) || (int64_t)hp->vocab_size * hp->d_model > (1ll << 36) || (int64_t)hp->d_ff * hp->d_model > (1ll << 36))
    return dp_error(DP_ERR_FORMAT, "%s: sizes too large (heads %d x head_dim %d, vocab %d x d_model %d, d_ff %d x d_model %d)", what, hp->n_heads, hp->head_dim,
                    hp->vocab_size, hp->d_model, hp->d_ff, hp->d_model);
  if ((st = check_num(hp, src, what, &EPS, hp->norm_eps, 0, 1, 1)) || (st = check_rope(hp, src, what, &hp->rope, 0)) ||
      (st = check_rope(hp, src, what, &hp->rope_local, 1)) || (st = check_int(hp, src, what, &SW, hp->sliding_window, 0, 1 << 30)) ||
      (st = check_num(hp, src, what, &SCALE, hp->attn_scale, 0, 1, 1e3)) || (st = check_num(hp, src, what, &ACAP, hp->attn_softcap, 0, 0, 1e6)) ||
      (st = check_num(hp, src, what, &FCAP, hp->final_softcap, 0, 0, 1e6)) || (st = check_num(hp, src, what, &SWIGLU, hp->swiglu_limit, 0, 0, 1e6)))
    return st;
  if (hp->arch == DP_ARCH_MIXTRAL || hp->arch == DP_ARCH_GPTOSS) {
    if ((st = check_int(hp, src, what, &NEXP, hp->n_experts, 1, 4096)) || (st = check_int(hp, src, what, &NUSED, hp->n_experts_per_tok, 1, hp->n_experts)) ||
        (st = check_int(hp, src, what, &MOEFF, hp->moe_d_ff, 1, 1 << 22)))
      return st;
  }
  if ((st = check_int(hp, src, what, &BOS, hp->bos_id, -1, hp->vocab_size - 1)) || (st = check_int(hp, src, what, &PAD, hp->pad_id, -1, hp->vocab_size - 1)))
    return st;
  if (hp->n_eos < 0 || hp->n_eos > DP_MAX_EOS) return dp_error(DP_ERR_FORMAT, "%s: %d eos ids (at most %d)", what, hp->n_eos, DP_MAX_EOS);
  for (int i = 0; i < hp->n_eos; i++)
    if ((st = check_int(hp, src, what, &EOS, hp->eos_ids[i], 0, hp->vocab_size - 1))) return st;
  return DP_OK;
}

/* ---- JSON form ---- */

static void put_rope(dp_buf *b, const char *key, const dp_rope *r) {
  static const char *T[] = {"default", "linear", "llama3", "yarn"};
  dp_buf_printf(b,
                "\"%s\": {\"type\": \"%s\", \"theta\": %.17g, \"factor\": %.17g, \"low_freq_factor\": %.17g, "
                "\"high_freq_factor\": %.17g, \"original_max_pos\": %.17g, \"beta_fast\": %.17g, \"beta_slow\": %.17g, "
                "\"attention_factor\": %.17g, \"truncate\": %d, \"rotary_dim\": %d, \"interleaved\": %d}",
                key, T[r->type], r->theta, r->factor, r->low_freq_factor, r->high_freq_factor, r->original_max_pos,
                r->beta_fast, r->beta_slow, r->attention_factor, r->truncate, r->rotary_dim, r->interleaved);
}

#define INT_FIELDS(X) X(n_layers) X(d_model) X(n_heads) X(n_kv_heads) X(head_dim) X(d_ff) X(vocab_size) X(max_pos) \
  X(tie_embeddings) X(sliding_window) X(qk_norm) X(attn_bias) X(o_bias) X(attn_sinks) X(norm_plus_one) X(sandwich_norm) \
  X(embed_scale_sqrt_d) X(n_experts) X(n_experts_per_tok) X(moe_d_ff) X(router_bias) X(bos_id) X(pad_id)
#define DBL_FIELDS(X) X(norm_eps) X(attn_scale) X(attn_softcap) X(final_softcap) X(swiglu_limit)

void dp_hparams_to_json(const dp_hparams *hp, dp_buf *b) {
  dp_buf_printf(b, "{\"arch\": \"%s\", \"model_type\": ", dp_arch_name(hp->arch));
  dp_buf_json_string(b, hp->model_type, strlen(hp->model_type));
  dp_buf_printf(b, ", \"act\": \"%s\"", hp->act == DP_ACT_GELU_TANH ? "gelu_tanh" : "silu");
#define PI(f) dp_buf_printf(b, ", \"" #f "\": %d", hp->f);
#define PD(f) dp_buf_printf(b, ", \"" #f "\": %.17g", hp->f);
  INT_FIELDS(PI) DBL_FIELDS(PD)
  dp_buf_puts(b, ", ");
  put_rope(b, "rope", &hp->rope);
  dp_buf_puts(b, ", ");
  put_rope(b, "rope_local", &hp->rope_local);
  dp_buf_puts(b, ", \"layer_sliding\": [");
  for (int i = 0; i < hp->n_layers; i++) dp_buf_printf(b, "%s%d", i ? ", " : "", hp->layer_sliding[i]);
  dp_buf_puts(b, "], \"eos_ids\": [");
  for (int i = 0; i < hp->n_eos; i++) dp_buf_printf(b, "%s%d", i ? ", " : "", hp->eos_ids[i]);
  dp_buf_puts(b, "]}");
}

static dp_status get_rope(const dp_json *o, const char *what, dp_rope *r) {
  if (!dp_json_is(o, DP_JSON_OBJECT)) return dp_error(DP_ERR_FORMAT, "%s: hparams: missing rope", what);
  const char *t = dp_json_get_str(o, "type", "");
  static const char *T[] = {"default", "linear", "llama3", "yarn"};
  int k = -1;
  for (int i = 0; i < 4; i++) if (!strcmp(T[i], t)) k = i;
  if (k < 0) return dp_error(DP_ERR_FORMAT, "%s: hparams: unknown rope type \"%s\"", what, t);
  r->type = (dp_rope_type)k;
  r->theta = dp_json_get_num(o, "theta", 10000);
  r->factor = dp_json_get_num(o, "factor", 1);
  r->low_freq_factor = dp_json_get_num(o, "low_freq_factor", 1);
  r->high_freq_factor = dp_json_get_num(o, "high_freq_factor", 4);
  r->original_max_pos = dp_json_get_num(o, "original_max_pos", 0);
  r->beta_fast = dp_json_get_num(o, "beta_fast", 32);
  r->beta_slow = dp_json_get_num(o, "beta_slow", 1);
  r->attention_factor = dp_json_get_num(o, "attention_factor", 0);
  r->truncate = (int)dp_json_get_int(o, "truncate", 1);
  r->rotary_dim = (int)dp_json_get_int(o, "rotary_dim", 0);
  r->interleaved = (int)dp_json_get_int(o, "interleaved", 0);
  return DP_OK;
}

dp_status dp_hparams_from_json(const dp_json *o, const char *what, dp_hparams *hp) {
  memset(hp, 0, sizeof *hp);
  if (!dp_json_is(o, DP_JSON_OBJECT)) return dp_error(DP_ERR_FORMAT, "%s: field hparams: missing", what);
  if (dp_arch_from_name(dp_json_get_str(o, "arch", ""), &hp->arch))
    return dp_error(DP_ERR_UNSUPPORTED, "%s: hparams: unsupported arch \"%s\"", what, dp_json_get_str(o, "arch", ""));
  snprintf(hp->model_type, sizeof hp->model_type, "%s", dp_json_get_str(o, "model_type", ""));
  hp->act = !strcmp(dp_json_get_str(o, "act", "silu"), "gelu_tanh") ? DP_ACT_GELU_TANH : DP_ACT_SILU;
  dp_status st;
#define GI(f) if ((st = get_int(o, #f, 0, 1, what, &hp->f))) return st;
#define GD(f) hp->f = dp_json_get_num(o, #f, 0);
  INT_FIELDS(GI) DBL_FIELDS(GD)
  if ((st = get_rope(dp_json_get(o, "rope"), what, &hp->rope)) || (st = get_rope(dp_json_get(o, "rope_local"), what, &hp->rope_local))) return st;
  const dp_json *ls = dp_json_get(o, "layer_sliding"), *eos = dp_json_get(o, "eos_ids");
  if (hp->n_layers <= 0 || hp->n_layers > DP_MAX_LAYERS || !dp_json_is(ls, DP_JSON_ARRAY) || (int)ls->n != hp->n_layers)
    return dp_error(DP_ERR_FORMAT, "%s: hparams: layer_sliding does not match n_layers", what);
  for (int i = 0; i < hp->n_layers; i++) hp->layer_sliding[i] = dp_json_int(dp_json_at(ls, i), 0) != 0;
  if (!dp_json_is(eos, DP_JSON_ARRAY) || eos->n > DP_MAX_EOS) return dp_error(DP_ERR_FORMAT, "%s: hparams: bad eos_ids", what);
  hp->n_eos = (int)eos->n;
  for (int i = 0; i < hp->n_eos; i++) hp->eos_ids[i] = (int)dp_json_int(dp_json_at(eos, i), -1);
  return dp_hparams_validate(hp, DP_HP_JSON, what);
}

/* ---------------------------------------------------------------- llama3 rope factors */

static double l3_wavelen(const dp_rope *r, int dim, int i) { return 2 * M_PI * pow(r->theta, (2.0 * i) / dim); }

void dp_rope_llama3_factors(const dp_rope *r, int dim, float *out) {
  double orig = r->original_max_pos, lf = r->low_freq_factor, hf = r->high_freq_factor, f = r->factor;
  for (int i = 0; i < dim / 2; i++) {
    double w = l3_wavelen(r, dim, i), v;
    if (w < orig / hf) v = 1;
    else if (w > orig / lf) v = f;
    else {
      double s = (orig / w - lf) / (hf - lf);
      v = 1 / ((1 - s) / f + s);
    }
    out[i] = (float)v;
  }
}

static int l3_matches(const dp_rope *r, int dim, const float *f) {
  float g[512];
  if (dim / 2 > 512) return 0;
  dp_rope_llama3_factors(r, dim, g);
  for (int i = 0; i < dim / 2; i++)
    if (fabs((double)g[i] - f[i]) > 1e-4 * fabs((double)f[i])) return 0;
  return 1;
}

/* With u_i = 1/wavelen_i (decreasing in i), a = low/orig and b = high/orig: factor i is 1 where
 * u_i > b, `factor` where u_i < a, and in between u_i = a + s_i (b - a) with
 * s_i = (1/f_i - 1/factor) / (1 - 1/factor). Two blended points fix a and b exactly; with one
 * or none, llama.cpp's default ratio high/low = 4 is tried, then thresholds inside the gaps. */
int dp_rope_llama3_from_factors(dp_rope *r, int dim, const float *f, double orig) {
  int m = dim / 2;
  if (m < 1 || m > 512) return -1;
  double fmax = 1;
  for (int i = 0; i < m; i++) fmax = f[i] > fmax ? f[i] : fmax;
  if (fmax <= 1 + 1e-6) {
    for (int i = 0; i < m; i++)
      if (fabs(f[i] - 1.0) > 1e-4) return -1;
    r->type = DP_ROPE_DEFAULT, r->factor = 1;
    return 0;
  }
  r->type = DP_ROPE_LLAMA3;
  r->factor = fmax;
  r->original_max_pos = orig > 0 ? orig : 8192;
  double u[512], s[512];
  int first = -1, last = -1, last_one = -1, first_full = -1;
  for (int i = 0; i < m; i++) {
    u[i] = 1 / l3_wavelen(r, dim, i);
    s[i] = (1 / (double)f[i] - 1 / fmax) / (1 - 1 / fmax);
    int one = fabs(f[i] - 1.0) <= 1e-5, full = fabs(f[i] - fmax) <= 1e-5 * fmax;
    if (one) last_one = i;
    else if (full) { if (first_full < 0) first_full = i; }
    else { if (first < 0) first = i; last = i; }
  }
  double a, b, O = r->original_max_pos;
#define TRY(A, B)                                                                     \
  do {                                                                                \
    a = (A), b = (B);                                                                 \
    if (a > 0 && b > a) {                                                             \
      r->low_freq_factor = a * O, r->high_freq_factor = b * O;                        \
      if (l3_matches(r, dim, f)) return 0;                                            \
    }                                                                                 \
  } while (0)
  if (first >= 0 && last > first) { /* exact: two blended points */
    double slope = (u[last] - u[first]) / (s[last] - s[first]);
    TRY(u[first] - s[first] * slope, u[first] - s[first] * slope + slope);
  }
  if (first >= 0) { /* one blended point: high = 4 low through it, else b just under the kept side */
    double sk = s[first], uk = u[first];
    TRY(uk / (1 + 3 * sk), 4 * uk / (1 + 3 * sk));
    double bb = last_one >= 0 ? (u[last_one] + uk) / 2 : uk * 2;
    if (sk < 1) TRY((uk - sk * bb) / (1 - sk), bb);
  } else {
    double hi = last_one >= 0 ? u[last_one] : u[0] * 2, lo = first_full >= 0 ? u[first_full] : u[m - 1] / 2;
    TRY(lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3);
  }
#undef TRY
  r->low_freq_factor = 1, r->high_freq_factor = 4; /* best guess: llama.cpp's defaults */
  return l3_matches(r, dim, f) ? 0 : -1;
}
