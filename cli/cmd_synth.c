/* cmd_synth.c -- `doppler synth --arch A --out DIR [sizes] [--seed S] [--dtype T] [--config-form F]`:
 * writes a random-weight HF checkpoint of any shape (src/format/synth.h), e.g. to check the GPU
 * path against the CPU reference on shapes no real model has:
 *   doppler synth --arch gemma3 --vocab 777 --head-dim 48 --config-form old --out /tmp/g
 *   doppler logits /tmp/g --ids 1,2,3 --decode 16 --out gpu.safetensors
 *   doppler logits /tmp/g --ids 1,2,3 --decode 16 --out cpu.safetensors --cpu
 * Bad or missing flags: a message and exit 2; a failed write: exit 1 and no output.
 * SIGINT/SIGTERM remove the temporary directory (OUT.tmp-PID, see synth.h) from the handler
 * (unlink/rmdir of paths built beforehand: async-signal-safe) and exit by the signal. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "core/error.h"
#include "format/synth.h"

static void usage(FILE *f) {
  fprintf(f, "usage: doppler synth --arch llama|llama2|mistral|qwen3|gemma3 --out DIR\n"
             "         [--vocab V] [--d-model D] [--heads H] [--kv-heads KV] [--head-dim HD] [--ff F]\n"
             "         [--layers L] [--window W] [--seed S] [--dtype f32|f16|bf16] [--config-form new|old]\n"
             "Writes DIR/config.json (HF form: transformers-5 `new` or the older `old`) and\n"
             "DIR/model.safetensors with random weights, deterministic from the seed.\n"
             "Defaults: vocab 512, d-model 128, heads 4, head-dim d-model/heads, ff 344, layers 2, seed 1,\n"
             "f32, new; kv-heads llama heads/2, llama2 heads, mistral 1, qwen3 heads/2, gemma3 1;\n"
             "window (mistral, gemma3 only) 16 / 8. llama = Llama 3 (GQA, tied, llama3 RoPE scaling).\n");
}

static char g_dir[4096];     /* OUT.tmp-PID */
static char g_files[4][4200]; /* the files dp_synth_write may have created in it */

static void on_signal(int sig) {
  for (int i = 0; i < 4; i++) unlink(g_files[i]);
  rmdir(g_dir);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void catch_signals(const char *out) {
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') n--; /* as dp_synth_write names it */
  long pid = (long)getpid();
  if (n > 4000) return;
  snprintf(g_dir, sizeof g_dir, "%.*s.tmp-%ld", (int)n, out, pid);
  snprintf(g_files[0], sizeof g_files[0], "%s/config.json", g_dir);
  snprintf(g_files[1], sizeof g_files[1], "%s/config.json.tmp-%ld", g_dir, pid);
  snprintf(g_files[2], sizeof g_files[2], "%s/model.safetensors", g_dir);
  snprintf(g_files[3], sizeof g_files[3], "%s/model.safetensors.tmp-%ld", g_dir, pid);
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

int cmd_synth(int argc, char **argv) {
  dp_synth_opts o = {0};
  o.window = -1, o.seed = 1, o.dtype = DP_F32;
  const char *out = NULL;
  struct { const char *flag; int *dst; } ints[] = {
    {"--vocab", &o.vocab}, {"--d-model", &o.d_model}, {"--heads", &o.n_heads}, {"--kv-heads", &o.n_kv_heads},
    {"--head-dim", &o.head_dim}, {"--ff", &o.d_ff}, {"--layers", &o.n_layers}, {"--window", &o.window},
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
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
      if (!strcmp(v, "f32")) o.dtype = DP_F32;
      else if (!strcmp(v, "f16")) o.dtype = DP_F16;
      else if (!strcmp(v, "bf16")) o.dtype = DP_BF16;
      else { fprintf(stderr, "doppler synth: --dtype: expected f32, f16 or bf16, got '%s'\n", v); return 2; }
    } else if (!strcmp(a, "--config-form")) {
      if (!strcmp(v, "new") || !strcmp(v, "old")) o.old_form = !strcmp(v, "old");
      else { fprintf(stderr, "doppler synth: --config-form: expected new or old, got '%s'\n", v); return 2; }
    } else {
      fprintf(stderr, "doppler synth: unknown flag '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!o.arch || !out) {
    fprintf(stderr, "doppler synth: %s is required\n", !o.arch ? "--arch" : "--out");
    usage(stderr);
    return 2;
  }
  if (dp_synth_defaults(&o) || dp_synth_check(&o)) {
    fprintf(stderr, "doppler %s\n", dp_error_message());
    return 2;
  }
  catch_signals(out);
  if (dp_synth_write(&o, out)) {
    fprintf(stderr, "doppler synth: %s\n", dp_error_message());
    return 1;
  }
  fprintf(stderr, "wrote %s: %s, vocab %d, d_model %d, %d heads (%d kv) x %d, ff %d, %d layers%s%.0d, %s, seed %llu, %s config\n", out,
          o.arch, o.vocab, o.d_model, o.n_heads, o.n_kv_heads, o.head_dim, o.d_ff, o.n_layers, o.window ? ", window " : "",
          o.window, o.dtype == DP_F16 ? "f16" : o.dtype == DP_BF16 ? "bf16" : "f32", (unsigned long long)o.seed,
          o.old_form ? "old" : "new");
  return 0;
}
