/* synth.c -- synthetic HF checkpoints (see synth.h): config.json in either HF form and a
 * model.safetensors of random weights, written into a temporary directory renamed at the end.
 * Called by cli/cmd_synth.c and the tests (tests/test_format_synth.c, tests/gpu_synth.c);
 * depends on core (buf, file, error, alloc) and quant (f32 -> f16/bf16 rounding).
 *
 * Tensor names and shapes are those src/model/plan.c asks for (HF names, [out, in]); the
 * safetensors header lists them sorted by name, as HF writes them, with data in that order.
 * Each tensor's values come from its own generator stream (seed and name hashed), generated
 * and converted CHUNK elements at a time, so memory stays bounded for any size. */
#include "format/synth.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "format/hparams.h"
#include "quant/quant.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 4096         /* elements generated per step */

enum { A_LLAMA, A_LLAMA2, A_MISTRAL, A_QWEN3, A_GEMMA3 };
static const char *const ARCHS[] = {"llama", "llama2", "mistral", "qwen3", "gemma3"};

static int arch_index(const char *a) {
  for (int i = 0; a && i < 5; i++)
    if (!strcmp(a, ARCHS[i])) return i;
  return -1;
}

dp_status dp_synth_defaults(dp_synth_opts *o) {
  int a = arch_index(o->arch);
  if (a < 0) return dp_error(DP_ERR_INVALID_ARG, "synth: --arch: unknown architecture \"%s\" (llama, llama2, mistral, qwen3, gemma3)",
                             o->arch ? o->arch : "");
  if (!o->vocab) o->vocab = 512;
  if (!o->d_model) o->d_model = 128;
  if (!o->n_heads) o->n_heads = 4;
  if (!o->head_dim && o->n_heads > 0) o->head_dim = o->d_model / o->n_heads;
  if (!o->d_ff) o->d_ff = 344;
  if (!o->n_layers) o->n_layers = 2;
  if (!o->n_kv_heads) {
    int half = o->n_heads % 2 ? o->n_heads : o->n_heads / 2;
    o->n_kv_heads = a == A_LLAMA2 ? o->n_heads : (a == A_MISTRAL || a == A_GEMMA3) ? 1 : half;
  }
  if (o->window < 0) o->window = a == A_MISTRAL ? 16 : a == A_GEMMA3 ? 8 : 0;
  return DP_OK;
}

dp_status dp_synth_check(const dp_synth_opts *o) {
  int a = arch_index(o->arch);
  if (a < 0) return dp_error(DP_ERR_INVALID_ARG, "synth: --arch: unknown architecture \"%s\"", o->arch ? o->arch : "");
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
  if (o->window && a != A_MISTRAL && a != A_GEMMA3)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --window applies to mistral and gemma3 only");
  if (a == A_GEMMA3 && !o->window) return dp_error(DP_ERR_INVALID_ARG, "synth: gemma3 needs --window >= 1");
  if (o->dtype != DP_F32 && o->dtype != DP_F16 && o->dtype != DP_BF16)
    return dp_error(DP_ERR_INVALID_ARG, "synth: --dtype must be f32, f16 or bf16");
  return DP_OK;
}

/* ---------------------------------------------------------------- config.json */

static const char *torch_dtype(dp_dtype t) { return t == DP_F16 ? "float16" : t == DP_BF16 ? "bfloat16" : "float32"; }

static int gemma_pattern(const dp_synth_opts *o) { return o->n_layers < 6 ? o->n_layers : 6; }

static void put_config(const dp_synth_opts *o, dp_buf *b) {
  int a = arch_index(o->arch), old = o->old_form;
  static const char *const CLS[] = {"LlamaForCausalLM", "LlamaForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM", "Gemma3ForCausalLM"};
  static const char *const MT[] = {"llama", "llama", "mistral", "qwen3", "gemma3_text"};
  int tied = a == A_LLAMA || a == A_QWEN3 || a == A_GEMMA3;
  dp_buf_printf(b, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", CLS[a], MT[a]);
  dp_buf_printf(b, "  \"_doppler_synth\": {\"arch\": \"%s\", \"seed\": %llu, \"config_form\": \"%s\"},\n", ARCHS[a],
                (unsigned long long)o->seed, old ? "old" : "new");
  dp_buf_printf(b, "  \"vocab_size\": %d,\n  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n", o->vocab, o->d_model, o->d_ff);
  dp_buf_printf(b, "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n", o->n_layers, o->n_heads);
  if (!old || o->n_kv_heads != o->n_heads) dp_buf_printf(b, "  \"num_key_value_heads\": %d,\n", o->n_kv_heads);
  if (!old || o->head_dim * o->n_heads != o->d_model) dp_buf_printf(b, "  \"head_dim\": %d,\n", o->head_dim);
  dp_buf_printf(b, "  \"max_position_embeddings\": 4096,\n  \"rms_norm_eps\": %s,\n", a == A_LLAMA || a == A_MISTRAL ? "1e-05" : "1e-06");
  dp_buf_printf(b, "  \"tie_word_embeddings\": %s,\n  \"attention_bias\": false,\n", tied ? "true" : "false");
  if (a == A_GEMMA3)
    dp_buf_puts(b, "  \"bos_token_id\": 2,\n  \"eos_token_id\": 1,\n  \"pad_token_id\": 0,\n  \"hidden_activation\": \"gelu_pytorch_tanh\",\n");
  else
    dp_buf_puts(b, "  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n  \"pad_token_id\": null,\n  \"hidden_act\": \"silu\",\n");
  dp_buf_printf(b, "  \"%s\": \"%s\",\n", old ? "torch_dtype" : "dtype", torch_dtype(o->dtype));
  switch (a) {
  case A_LLAMA:
    if (old)
      dp_buf_puts(b, "  \"rope_theta\": 500000.0,\n  \"rope_scaling\": {\"type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0, "
                     "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64},\n");
    else
      dp_buf_puts(b, "  \"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 32.0, \"low_freq_factor\": 1.0, "
                     "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64},\n");
    break;
  case A_LLAMA2:
    if (old) dp_buf_puts(b, "  \"rope_theta\": 10000.0,\n  \"rope_scaling\": null,\n");
    else dp_buf_puts(b, "  \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0},\n");
    break;
  case A_MISTRAL:
    if (old) dp_buf_puts(b, "  \"rope_theta\": 1000000.0,\n");
    else dp_buf_puts(b, "  \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0},\n");
    if (o->window) dp_buf_printf(b, "  \"sliding_window\": %d,\n", o->window);
    else dp_buf_puts(b, "  \"sliding_window\": null,\n");
    break;
  case A_QWEN3:
    if (old) dp_buf_puts(b, "  \"rope_theta\": 1000000.0,\n  \"rope_scaling\": null,\n");
    else {
      dp_buf_puts(b, "  \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0},\n  \"layer_types\": [");
      for (int i = 0; i < o->n_layers; i++) dp_buf_printf(b, "%s\"full_attention\"", i ? ", " : "");
      dp_buf_puts(b, "],\n");
    }
    dp_buf_puts(b, "  \"sliding_window\": null,\n  \"use_sliding_window\": false,\n  \"max_window_layers\": 28,\n");
    break;
  case A_GEMMA3: {
    int pat = gemma_pattern(o);
    dp_buf_printf(b, "  \"query_pre_attn_scalar\": %d,\n  \"sliding_window\": %d,\n", o->d_model / o->n_heads > 0 ? o->d_model / o->n_heads : 1,
                  o->window);
    dp_buf_puts(b, "  \"attn_logit_softcapping\": null,\n  \"final_logit_softcapping\": null,\n");
    if (old) {
      dp_buf_printf(b, "  \"rope_theta\": 1000000.0,\n  \"rope_local_base_freq\": 10000.0,\n  \"rope_scaling\": {\"rope_type\": \"linear\", "
                       "\"factor\": 8.0},\n  \"sliding_window_pattern\": %d,\n", pat);
    } else { /* the private _sliding_window_pattern is a trap real configs carry: layer_types wins */
      dp_buf_puts(b, "  \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"linear\", \"rope_theta\": 1000000.0, \"factor\": 8.0}, "
                     "\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}},\n  \"_sliding_window_pattern\": 6,\n"
                     "  \"layer_types\": [");
      for (int i = 0; i < o->n_layers; i++)
        dp_buf_printf(b, "%s\"%s\"", i ? ", " : "", (i + 1) % pat ? "sliding_attention" : "full_attention");
      dp_buf_puts(b, "],\n");
    }
    break;
  }
  }
  dp_buf_printf(b, "  \"transformers_version\": \"%s\"\n}\n", old ? "4.50.0" : "5.17.0");
}

/* ---------------------------------------------------------------- tensors */

typedef enum { K_MAT, K_NORM, K_NORM_PLUS_ONE } tkind;
typedef struct tspec {
  char name[80];
  uint64_t rows, cols; /* 1-D: rows = 0 */
  tkind kind;
  double std;          /* K_MAT */
} tspec;

typedef struct tlist { tspec *t; int n; } tlist;

static void add(tlist *l, tkind k, uint64_t rows, uint64_t cols, double std, const char *fmt, int layer) {
  tspec *t = &l->t[l->n++];
  snprintf(t->name, sizeof t->name, fmt, layer);
  t->rows = rows, t->cols = cols, t->kind = k, t->std = std;
}

static int by_name(const void *a, const void *b) { return strcmp(((const tspec *)a)->name, ((const tspec *)b)->name); }

static void list_tensors(const dp_synth_opts *o, tlist *l) {
  int a = arch_index(o->arch);
  uint64_t d = (uint64_t)o->d_model, ff = (uint64_t)o->d_ff, V = (uint64_t)o->vocab;
  uint64_t qd = (uint64_t)o->n_heads * o->head_dim, kd = (uint64_t)o->n_kv_heads * o->head_dim;
  tkind nk = a == A_GEMMA3 ? K_NORM_PLUS_ONE : K_NORM;
  double sd = 1 / sqrt((double)d), sqd = 1 / sqrt((double)qd), sff = 1 / sqrt((double)ff), se = 2 / sqrt((double)d);
  add(l, K_MAT, V, d, se, "model.embed_tokens.weight", 0);
  add(l, nk, 0, d, 0, "model.norm.weight", 0);
  if (a == A_LLAMA2 || a == A_MISTRAL) add(l, K_MAT, V, d, se, "lm_head.weight", 0);
  for (int i = 0; i < o->n_layers; i++) {
    add(l, nk, 0, d, 0, "model.layers.%d.input_layernorm.weight", i);
    add(l, K_MAT, qd, d, sd, "model.layers.%d.self_attn.q_proj.weight", i);
    add(l, K_MAT, kd, d, sd, "model.layers.%d.self_attn.k_proj.weight", i);
    add(l, K_MAT, kd, d, sd, "model.layers.%d.self_attn.v_proj.weight", i);
    add(l, K_MAT, d, qd, sqd, "model.layers.%d.self_attn.o_proj.weight", i);
    if (a == A_QWEN3 || a == A_GEMMA3) {
      add(l, nk, 0, (uint64_t)o->head_dim, 0, "model.layers.%d.self_attn.q_norm.weight", i);
      add(l, nk, 0, (uint64_t)o->head_dim, 0, "model.layers.%d.self_attn.k_norm.weight", i);
    }
    add(l, nk, 0, d, 0, "model.layers.%d.post_attention_layernorm.weight", i);
    if (a == A_GEMMA3) {
      add(l, nk, 0, d, 0, "model.layers.%d.pre_feedforward_layernorm.weight", i);
      add(l, nk, 0, d, 0, "model.layers.%d.post_feedforward_layernorm.weight", i);
    }
    add(l, K_MAT, ff, d, sd, "model.layers.%d.mlp.gate_proj.weight", i);
    add(l, K_MAT, ff, d, sd, "model.layers.%d.mlp.up_proj.weight", i);
    add(l, K_MAT, d, ff, sff, "model.layers.%d.mlp.down_proj.weight", i);
  }
  qsort(l->t, (size_t)l->n, sizeof *l->t, by_name);
}

static uint64_t nelems(const tspec *t) { return t->rows ? t->rows * t->cols : t->cols; }

/* splitmix64: one stream per tensor, seeded from the seed and the FNV-1a hash of its name */
typedef struct rng { uint64_t s; } rng;
static uint64_t next64(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static rng rng_for(uint64_t seed, const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
  rng r = {seed ^ h};
  next64(&r);
  return r;
}
/* ~N(0, 1): four uniforms on [0, 1) summed (Irwin-Hall, variance 4/12), centred and scaled */
static double normal(rng *r) {
  double s = 0;
  for (int i = 0; i < 4; i++) s += (double)(next64(r) >> 11) * 0x1p-53;
  return (s - 2.0) * 1.7320508075688772;
}

static dp_status write_tensor(dp_atomic_file *af, const dp_synth_opts *o, const tspec *t, float *f, uint8_t *out) {
  rng r = rng_for(o->seed, t->name);
  uint64_t n = nelems(t);
  for (uint64_t done = 0; done < n;) {
    size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
    for (size_t i = 0; i < k; i++) {
      double z = normal(&r);
      f[i] = (float)(t->kind == K_MAT ? z * t->std : t->kind == K_NORM ? 1 + 0.1 * z : 0.1 * z);
    }
    dp_status st = dp_quantize(o->dtype, f, out, k);
    if (!st) st = dp_atomic_write(af, out, k * dp_dtype_block_bytes(o->dtype));
    if (st) return st;
    done += k;
  }
  return DP_OK;
}

static dp_status write_safetensors(const dp_synth_opts *o, const char *path) {
  tlist l = {dp_malloc(sizeof(tspec) * (size_t)(3 + 13 * o->n_layers)), 0};
  float *f = dp_malloc(CHUNK * sizeof *f);
  uint8_t *out = dp_malloc(CHUNK * 4);
  dp_buf h = {0};
  dp_status st = l.t && f && out ? DP_OK : DP_ERR_NOMEM;
  if (!st) {
    list_tensors(o, &l);
    const char *dt = o->dtype == DP_F16 ? "F16" : o->dtype == DP_BF16 ? "BF16" : "F32";
    uint64_t off = 0, eb = dp_dtype_block_bytes(o->dtype);
    dp_buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < l.n; i++) {
      const tspec *t = &l.t[i];
      uint64_t bytes = nelems(t) * eb;
      if (t->rows) dp_buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu]", t->name, dt, (unsigned long long)t->rows, (unsigned long long)t->cols);
      else dp_buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu]", t->name, dt, (unsigned long long)t->cols);
      dp_buf_printf(&h, ",\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
      off += bytes;
    }
    dp_buf_puts(&h, "}");
    while (h.len % 8 && !h.failed) dp_buf_puts(&h, " ");
    if (h.failed) st = DP_ERR_NOMEM;
  }
  dp_atomic_file af;
  if (!st && !(st = dp_atomic_open(&af, path))) {
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    st = dp_atomic_write(&af, len8, 8);
    if (!st) st = dp_atomic_write(&af, h.data, h.len);
    for (int i = 0; !st && i < l.n; i++) st = write_tensor(&af, o, &l.t[i], f, out);
    if (st) dp_atomic_abort(&af);
    else st = dp_atomic_commit(&af);
  }
  dp_buf_free(&h);
  dp_free(l.t);
  dp_free(f);
  dp_free(out);
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

/* 0: dir absent or empty; 1: holds exactly a synthetic model's files (never a real checkpoint:
 * its config.json must carry our marker); -1: anything else. */
static int dir_state(const char *dir) {
  if (!dp_is_dir(dir)) return dp_file_exists(dir) ? -1 : 0;
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0, other = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    other |= strcmp(e->d_name, "config.json") && strcmp(e->d_name, "model.safetensors");
  }
  closedir(d);
  return other ? -1 : !n ? 0 : is_synth_config(dir) ? 1 : -1;
}

/* Remove a directory this module wrote (its two files and their temporaries), then the dir. */
static void remove_synth_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strncmp(e->d_name, "config.json", 11) && strncmp(e->d_name, "model.safetensors", 17)) continue;
      char p[4096]; /* no allocation: this runs on the out-of-memory path too */
      if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p) unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

dp_status dp_synth_write(const dp_synth_opts *opts, const char *dir) {
  dp_synth_opts o = *opts;
  dp_status st = dp_synth_defaults(&o);
  if (!st) st = dp_synth_check(&o);
  if (st) return st;
  int state = dir_state(dir);
  if (state < 0) return dp_error(DP_ERR_INVALID_ARG, "%s: exists and is not a synthetic model directory; not overwriting it", dir);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  char *tmp = dp_malloc(n + 32), *old = dp_malloc(n + 32), *cfg = NULL, *wts = NULL;
  dp_buf c = {0};
  if (!tmp || !old) st = DP_ERR_NOMEM;
  if (!st) {
    snprintf(tmp, n + 32, "%.*s.tmp-%ld", (int)n, dir, proc_id());
    snprintf(old, n + 32, "%.*s.old-%ld", (int)n, dir, proc_id());
    remove_synth_dir(tmp);
    if (mkdir(tmp, 0755)) st = dp_error(DP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  }
  if (!st) {
    cfg = dp_path_join(tmp, "config.json");
    wts = dp_path_join(tmp, "model.safetensors");
    put_config(&o, &c);
    if (!cfg || !wts || c.failed) st = DP_ERR_NOMEM;
    if (!st) st = dp_file_write_atomic(cfg, c.data, c.len);
    if (!st) st = write_safetensors(&o, wts);
    if (!st && state == 1 && rename(dir, old)) st = dp_error(DP_ERR_IO, "%s: cannot move aside: %s", dir, strerror(errno));
    if (!st && rename(tmp, dir)) { /* an empty dir is replaced by rename(2) itself */
      st = dp_error(DP_ERR_IO, "%s: rename failed: %s", dir, strerror(errno));
      if (state == 1) rename(old, dir);
    }
    if (st) remove_synth_dir(tmp);
    else if (state == 1) remove_synth_dir(old);
  }
  dp_buf_free(&c);
  dp_free(cfg);
  dp_free(wts);
  dp_free(tmp);
  dp_free(old);
  return st;
}
