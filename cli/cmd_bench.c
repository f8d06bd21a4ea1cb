/* cmd_bench.c -- `doppler bench`: llama-bench's tests and table for this engine, plus how close
 * each figure is to the adapter's ceilings; and `doppler bench kernels`, the matrix products
 * of every weight type at real shapes. docs/bench.md describes the tests, the formulas and
 * the JSON records. Everything measured lives in the library (src/api/bench.c,
 * src/api/bench_kernels.c, through include/doppler.h); this file parses flags and prints.
 * Bad flags: a one-line message and exit 2; a failure while running: exit 1. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "doppler.h"
#include "tools/synth.h"

#define MAX_LIST 16

static void usage(FILE *f) {
  fprintf(f, "usage: doppler bench (MODEL | --preset NAME [--quant Q] [--layers N]) [flags]\n"
             "       doppler bench kernels [--json] [--shape N,K] [-m M,...] [--types T,...] [--matvec-input q8|f32] [--adapter A]\n"
             "       doppler bench kernels --list | --dump NAME [--adapter A]\n"
             "Times prefill (pp) and decode (tg) like llama-bench; lists are comma-separated.\n"
             "  -p, --n-prompt P,...   prefill tests of P tokens (default 512; 0 = none)\n"
             "  -n, --n-gen N,...      decode tests of N tokens (default 128; 0 = none)\n"
             "  -d, --n-depth D,...    also decode tests after D prefilled tokens (tgN@dD)\n"
             "  -r, --repetitions R    timed runs per test (default 5; 1..%d)\n"
             "  --steps S,...          decode steps per GPU submit (default 8); several: one tg test each\n"
             "  --ceilings GBPS,TFLOPS memory bandwidth and FP32 ceilings (default: a short probe)\n"
             "  --profile              GPU time per kernel (timestamp queries) for each test\n"
             "  --json                 a JSON array of records on stdout, nothing else\n"
             "  --adapter NAME         lavapipe | swiftshader | default | ICD.json (or $DOPPLER_ADAPTER)\n"
             "  --preset NAME          a random-weight model at a real shape instead of MODEL\n"
             "  --kernel NAME=FILE     replace kernel variant NAME (--list) by the WGSL module in FILE\n"
             "  --q4k-matmul M         fused or dequant (Q4_K expanded once at load); default: the manifest's hint, else fused\n"
             "  --compute-precision P  f32 or f16 (dequant expands Q4_K to P; needs shader-f16); default: hint, else f32\n"
             "  --matvec-input I       q8 (decode products on GPUs over int8-quantized input) or f32 (exact); default q8 where supported\n"
             "  --verbose              the Q4_K matmul and compute precision in force, and why, on stderr\n"
             "bench kernels: y[m, n] = x[m, k] . W[n, k]^T per weight type (default n,k = 4096,14336;\n"
             "m = 1,8,512; types f16,bf16,q8_0,q4_k,q6_k,mxfp4): us, GB/s of weights, TFLOP/s; input f32, and for\n"
             "m <= 4 on GPUs with dot4I8Packed also q8 (quantize_x + matmul_gemv_i8 timed together).\n"
             "  --matvec-input I       only that input for m <= 4 (q8 where it applies)\n"
             "  --list                 the kernel variants, one a line: NAME<TAB>OP<TAB>CONDITION\n"
             "  --dump NAME            the complete WGSL module of variant NAME on the adapter\n",
          DP_BENCH_MAX_REPS);
}

/* ---- flag values ---- */

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "doppler bench: %s: expected an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* "a,b,c" -> ints in [lo, hi]; -1 with a message on a bad item. */
static int parse_list(const char *flag, const char *s, long lo, long hi, int *out, int *n) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", s);
  *n = 0;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == MAX_LIST) { fprintf(stderr, "doppler bench: %s: at most %d values\n", flag, MAX_LIST); return -1; }
    if (parse_int(flag, tok, lo, hi, &out[(*n)++])) return -1;
  }
  if (!*n) { fprintf(stderr, "doppler bench: %s: no value\n", flag); return -1; }
  return 0;
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* ---- --preset ---- */

/* Interrupts while a preset model exists: during synth the first SIGINT/SIGTERM/SIGHUP stops
 * the write (synth removes its own temporaries) and preset_model then dies by the signal; later
 * (or a second signal) the handler removes the finished model by its known file names
 * (async-signal-safe, cli_remove_output_now) and the temporary directory, then dies by it. */
static volatile sig_atomic_t g_sig;
static volatile sig_atomic_t g_in_synth;
static char g_model_dir[4200], g_base[3100];

static int bench_cancelled(void *ctx) { (void)ctx; return g_sig != 0; }

static void on_stop(int sig) {
  if (g_in_synth && !g_sig) { g_sig = sig; return; }
  int e = errno;
  if (g_model_dir[0]) cli_remove_output_now(g_model_dir);
  if (g_base[0]) rmdir(g_base);
  errno = e;
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Write the preset's random-weight model (tools/synth.h, as `synth --preset`: bf16 unless --quant,
 * no tokenizer: the bench runs on ids) to `dir` (cap bytes) = the "model" entry of a new
 * directory under $TMPDIR (default /tmp); remove_model_dir removes both after the run, a signal
 * handler on an interrupt. 0, 2 (bad preset or cut) or 1. */
static int preset_model(const char *name, const char *quant, int layers, char *dir, size_t cap) {
  const char *td = getenv("TMPDIR");
  if (!td || !*td) td = "/tmp";
  if (strlen(td) > 3000) td = "/tmp";
  snprintf(g_base, sizeof g_base, "%s/doppler-bench-XXXXXX", td);
  if (!mkdtemp(g_base)) {
    fprintf(stderr, "doppler bench: --preset: cannot create a temporary directory in %s: %s\n", td, strerror(errno));
    g_base[0] = 0;
    return 1;
  }
  snprintf(dir, cap, "%s/model", g_base);
  snprintf(g_model_dir, sizeof g_model_dir, "%s", dir);
  dp_synth_opts o = {0};
  o.preset = name, o.n_layers = layers, o.quant = quant, o.window = -1, o.seed = 1, o.dtype = DP_BF16, o.old_form = 1;
  o.no_tokenizer = 1;
  o.cancelled = bench_cancelled;
  cli_progress_state ps = {isatty(2), 0};
  o.progress = cli_convert_progress, o.progress_ctx = &ps;
  g_in_synth = 1;
  cli_on_stop_signals(on_stop);
  int rc = dp_synth_defaults(&o) || dp_synth_check(&o) ? 2 : dp_synth_write(&o, dir) ? 1 : 0;
  g_in_synth = 0;
  if (g_sig) { /* interrupted during the write: synth left nothing; remove our directory, die by it */
    rmdir(g_base);
    fprintf(stderr, "doppler bench: interrupted; temporary model removed\n");
    signal(g_sig, SIG_DFL);
    raise(g_sig);
    return 128 + g_sig;
  }
  if (rc) {
    fprintf(stderr, "doppler bench: --preset %s: %s\n", name, dp_error_message());
    rmdir(g_base);
    g_base[0] = g_model_dir[0] = 0;
  }
  return rc;
}

/* Remove the model directory preset_model wrote (its files: an HF checkpoint or an RDRR
 * directory) and the temporary directory holding it. */
static void remove_model_dir(const char *dir) {
  char p[4400];
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
  snprintf(p, sizeof p, "%s", dir);
  char *slash = strrchr(p, '/');
  if (rmdir(dir) || !slash || (*slash = 0, rmdir(p))) fprintf(stderr, "doppler bench: could not remove %s\n", dir);
}

/* ---- the model tests ---- */

typedef struct row {
  dp_bench_test t;
  dp_bench_result r;
  char name[48];
} row;

static void size_str(char *b, size_t n, double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) snprintf(b, n, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else snprintf(b, n, "%.2f MiB", bytes / (1024.0 * 1024));
}
/* "1.24 B" / "5.77 M" (sep " "), or "5.77M" in model_type (sep "") */
static void params_str(char *b, size_t n, double p, const char *sep) {
  if (p >= 1e9) snprintf(b, n, "%.2f%sB", p * 1e-9, sep);
  else snprintf(b, n, "%.2f%sM", p * 1e-6, sep);
}
static void frac_str(char *b, size_t n, double f) {
  if (f < 0) snprintf(b, n, "-");
  else snprintf(b, n, "%.1f%%", f * 100);
}

static void print_table(const char *model_type, const dp_bench_model *bm, const dp_model_info *mi, const row *rows,
                        int nrows, const dp_bench_ceilings *c, int probed) {
  enum { COLS = 11 };
  static const char *head[COLS] = {"model", "quant", "size", "params", "backend", "adapter", "test", "t/s", "bw", "flops", "disp/tok"};
  static const int right[COLS] = {0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1};
  static char cell[64][COLS][160];
  int w[COLS];
  if (nrows > 64) nrows = 64;
  for (int i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    snprintf(cell[i][0], 160, "%s", model_type);
    snprintf(cell[i][1], 160, "%s", bm->quant);
    size_str(cell[i][2], 160, (double)bm->size_bytes);
    params_str(cell[i][3], 160, (double)bm->n_params, " ");
    snprintf(cell[i][4], 160, "WebGPU/%s", bm->backend);
    snprintf(cell[i][5], 160, "%s", mi->adapter);
    snprintf(cell[i][6], 160, "%s", r->name);
    snprintf(cell[i][7], 160, "%.2f ± %.2f", r->r.avg_ts, r->r.stddev_ts);
    frac_str(cell[i][8], 160, r->r.bw_fraction);
    frac_str(cell[i][9], 160, r->r.flops_fraction);
    snprintf(cell[i][10], 160, "%.1f", r->r.dispatches_per_token);
  }
  for (int j = 0; j < COLS; j++) {
    w[j] = (int)strlen(head[j]);
    for (int i = 0; i < nrows; i++) {
      int l = (int)strlen(cell[i][j]) - (j == 7 ? 1 : 0); /* "±" is 2 bytes, 1 column */
      if (l > w[j]) w[j] = l;
    }
  }
  for (int j = 0; j < COLS; j++) printf("| %*s ", right[j] ? w[j] : -w[j], head[j]);
  printf("|\n");
  for (int j = 0; j < COLS; j++) {
    printf("| ");
    for (int k = 0; k < w[j] - right[j]; k++) putchar('-');
    printf("%s ", right[j] ? ":" : "");
  }
  printf("|\n");
  for (int i = 0; i < nrows; i++) {
    for (int j = 0; j < COLS; j++) printf("| %*s ", right[j] ? w[j] + (j == 7) : -w[j], cell[i][j]);
    printf("|\n");
  }
  printf("\nceilings (%s): %.1f GB/s memory read, %.3f TFLOP/s FP32; bw = weights + K/V bytes per token x t/s, "
         "flops = 2 x matmul params x tokens + attention (docs/bench.md)\n",
         probed ? "probe" : "--ceilings", c->gbps, c->tflops);
  for (int i = 0; i < nrows; i++)
    if (rows[i].r.host_us_per_token >= 0)
      printf("host %s: %.1f us a token recording and submitting decode batches (docs/bench.md)\n", rows[i].name,
             rows[i].r.host_us_per_token);
  for (int i = 0; i < nrows; i++) {
    const dp_bench_result *r = &rows[i].r;
    if (r->n_profile <= 0) continue;
    int tokens = rows[i].t.n_gen ? rows[i].t.n_gen : rows[i].t.n_prompt;
    double total = 0;
    for (int k = 0; k < r->n_profile; k++) total += r->profile[k].us;
    printf("\nprofile %s (one run, GPU timestamps %s; %.1f us per token):\n", rows[i].name,
           r->profile_inpass ? "inside one pass, as timed" : "of a pass per dispatch", total / tokens);
    printf("| %-40s | %8s | %12s | %10s | %6s |\n", "kernel", "calls", "us", "us/token", "share");
    printf("| %-40s | -------: | -----------: | ---------: | -----: |\n", "----------------------------------------");
    for (int k = 0; k < r->n_profile; k++)
      printf("| %-40s | %8llu | %12.1f | %10.2f | %5.1f%% |\n", r->profile[k].kernel, (unsigned long long)r->profile[k].calls,
             r->profile[k].us, r->profile[k].us / tokens, total > 0 ? 100 * r->profile[k].us / total : 0);
  }
}

static void json_num_or_null(const char *key, double v) {
  if (v < 0) printf(", \"%s\": null", key);
  else printf(", \"%s\": %.6g", key, v);
}

static void print_json(const char *path, const char *model_type, const dp_bench_model *bm, const dp_model_info *mi,
                       const row *rows, int nrows, const dp_bench_ceilings *c) {
  printf("[");
  for (int i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    printf("%s\n  {\"model_filename\": ", i ? "," : "");
    json_str(path);
    printf(", \"model_type\": ");
    json_str(model_type);
    printf(", \"model_size\": %llu, \"model_n_params\": %llu, \"backends\": ", (unsigned long long)bm->size_bytes,
           (unsigned long long)bm->n_params);
    char be[32];
    snprintf(be, sizeof be, "WebGPU/%s", bm->backend);
    json_str(be);
    printf(", \"quant\": ");
    json_str(bm->quant);
    printf(", \"adapter\": ");
    json_str(mi->adapter);
    printf(", \"n_prompt\": %d, \"n_gen\": %d, \"n_depth\": %d, \"steps\": %d, \"avg_ts\": %.6g, \"stddev_ts\": %.6g, \"samples_ts\": [",
           r->t.n_prompt, r->t.n_gen, r->t.n_depth, r->t.steps, r->r.avg_ts, r->r.stddev_ts);
    for (int k = 0; k < r->r.n_samples; k++) printf("%s%.6g", k ? ", " : "", r->r.samples_ts[k]);
    printf("]");
    json_num_or_null("bw_fraction", r->r.bw_fraction);
    json_num_or_null("flops_fraction", r->r.flops_fraction);
    printf(", \"dispatches_per_token\": %.6g, \"bytes_per_token\": %.6g, \"flops_per_token\": %.6g", r->r.dispatches_per_token,
           r->r.bytes_per_token, r->r.flops_per_token);
    json_num_or_null("host_us_per_token", r->r.host_us_per_token);
    printf(", \"ceiling_gbps\": %.6g, \"ceiling_tflops\": %.6g", c->gbps, c->tflops);
    if (r->t.profile && r->r.n_profile >= 0) {
      printf(", \"profile_inpass\": %s, \"profile\": [", r->r.profile_inpass ? "true" : "false");
      for (int k = 0; k < r->r.n_profile; k++) {
        printf("%s{\"kernel\": ", k ? ", " : "");
        json_str(r->r.profile[k].kernel);
        printf(", \"calls\": %llu, \"us\": %.6g}", (unsigned long long)r->r.profile[k].calls, r->r.profile[k].us);
      }
      printf("]");
    }
    printf("}");
  }
  printf("%s]\n", nrows ? "\n" : "");
}

/* ---- bench kernels ---- */

typedef struct kctx { int json, n; } kctx;

static int on_kernel(void *user, const dp_bench_kernel *r) {
  kctx *k = user;
  if (r->skipped) {
    fprintf(stderr, "doppler bench kernels: %s m=%d n=%d k=%d skipped: %s\n", r->type, r->m, r->n, r->k, r->skipped);
    return 0;
  }
  if (k->json) {
    printf("%s\n  {\"adapter\": ", k->n ? "," : "["); /* the array opens with the first record */
    json_str(r->adapter);
    printf(", \"type\": \"%s\", \"input\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"us\": %.6g, \"gbps\": %.6g, \"tflops\": %.6g, "
           "\"reps\": %d}", r->type, r->input, r->m, r->n, r->k, r->us, r->gbps, r->tflops, r->reps);
  } else {
    if (!k->n) {
      printf("adapter: %s\n| %-5s | %-8s | %5s | %6s | %6s | %12s | %9s | %8s | %5s |\n", r->adapter, "type", "input", "m", "n", "k",
             "us", "GB/s", "TFLOP/s", "reps");
      printf("| ----- | -------- | ----: | -----: | -----: | -----------: | --------: | -------: | ----: |\n");
    }
    printf("| %-5s | %-8s | %5d | %6d | %6d | %12.2f | %9.1f | %8.3f | %5d |\n", r->type, r->input, r->m, r->n, r->k, r->us, r->gbps,
           r->tflops, r->reps);
  }
  fflush(stdout);
  k->n++;
  return 0;
}

static int on_variant(void *user, const char *name, const char *op, const char *condition) {
  (void)user;
  printf("%s\t%s\t%s\n", name, op, condition);
  return 0;
}

static int cmd_bench_kernels(int argc, char **argv) {
  dp_bench_kernels_options o;
  memset(&o, 0, sizeof o);
  kctx k = {0, 0};
  int ms[MAX_LIST], nk[MAX_LIST], n_nk = 0;
  char types_buf[256];
  const char *types[MAX_LIST], *dump = NULL;
  int list = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    if (!strcmp(a, "--json")) { k.json = 1; continue; }
    if (!strcmp(a, "--list")) { list = 1; continue; }
    if (strcmp(a, "--adapter") && strcmp(a, "-m") && strcmp(a, "--shape") && strcmp(a, "--types") && strcmp(a, "--dump") &&
        strcmp(a, "--matvec-input")) {
      fprintf(stderr, "doppler bench kernels: unknown argument '%s' (see `doppler bench --help`)\n", a);
      return 2;
    }
    if (i + 1 >= argc) { fprintf(stderr, "doppler bench kernels: %s needs a value\n", a); return 2; }
    const char *v = argv[++i];
    if (!strcmp(a, "--adapter")) o.adapter = v;
    else if (!strcmp(a, "--dump")) dump = v;
    else if (!strcmp(a, "--matvec-input")) {
      if (dp_parse_matvec_input(v, &o.matvec_input)) { fprintf(stderr, "doppler bench kernels: %s: %s\n", a, dp_error_message()); return 2; }
    }
    else if (!strcmp(a, "-m")) { if (parse_list(a, v, 1, 65536, ms, &o.n_ms)) return 2; o.ms = ms; }
    else if (!strcmp(a, "--shape")) {
      if (parse_list(a, v, 1, 1 << 20, nk, &n_nk)) return 2;
      if (n_nk != 2) { fprintf(stderr, "doppler bench kernels: --shape: expected N,K\n"); return 2; }
      o.n = nk[0], o.k = nk[1];
    } else { /* --types */
      snprintf(types_buf, sizeof types_buf, "%s", v);
      char *save = NULL;
      for (char *t = strtok_r(types_buf, ",", &save); t && o.n_types < MAX_LIST; t = strtok_r(NULL, ",", &save)) types[o.n_types++] = t;
      o.types = types;
    }
  }
  o.adapter = cli_adapter(o.adapter);
  if (list && dump) { fprintf(stderr, "doppler bench kernels: --list and --dump exclude each other\n"); return 2; }
  if (list) return dp_kernel_list(on_variant, NULL) ? 1 : 0;
  if (dump) {
    char *wgsl = NULL;
    dp_status ds = dp_kernel_dump(o.adapter, dump, &wgsl);
    if (ds) {
      fprintf(stderr, "doppler bench kernels: %s\n", dp_error_message());
      return ds == DP_ERR_NOT_FOUND ? 2 : 1;
    }
    fputs(wgsl, stdout);
    dp_string_free(wgsl);
    return 0;
  }
  dp_status st = dp_bench_kernels(&o, on_kernel, &k);
  if (k.json && (k.n || !st)) printf("%s]\n", k.n ? "\n" : "["); /* what was printed stays an array */
  if (st) {
    fprintf(stderr, "doppler bench kernels: %s\n", dp_error_message());
    return st == DP_ERR_INVALID_ARG ? 2 : 1;
  }
  return 0;
}

/* ---- doppler bench MODEL ---- */

int cmd_bench(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "kernels")) return cmd_bench_kernels(argc, argv);
  const char *model = NULL, *preset = NULL, *quant = NULL;
  int pp[MAX_LIST] = {512}, tg[MAX_LIST] = {128}, dd[MAX_LIST], steps[MAX_LIST] = {8};
  int n_pp = 1, n_tg = 1, n_dd = 0, n_steps = 1, reps = 5, layers = 0, json = 0, profile = 0, have_ceil = 0;
  dp_bench_ceilings ceil = {0, 0};
  cli_load ld = {0}; /* --adapter, --kernel, --q4k-matmul, --compute-precision */
  int rc = 0, verbose = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    if (!strcmp(a, "--json")) { json = 1; continue; }
    if (!strcmp(a, "--profile")) { profile = 1; continue; }
    if (!strcmp(a, "--verbose")) { verbose = 1; continue; }
    if (a[0] != '-') {
      if (model) { fprintf(stderr, "doppler bench: a second MODEL '%s'\n", a); return 2; }
      model = a;
      continue;
    }
    static const char *const with_value[] = {"-p", "--n-prompt", "-n", "--n-gen", "-d", "--n-depth", "--steps", "-r",
                                             "--repetitions", "--layers", "--adapter", "--preset", "--quant", "--ceilings",
                                             "--kernel", "--q4k-matmul", "--compute-precision", "--matvec-input"};
    size_t f = 0;
    while (f < sizeof with_value / sizeof *with_value && strcmp(a, with_value[f])) f++;
    if (f == sizeof with_value / sizeof *with_value) {
      fprintf(stderr, "doppler bench: unknown flag '%s' (see `doppler bench --help`)\n", a);
      return 2;
    }
    if (i + 1 >= argc) { fprintf(stderr, "doppler bench: %s needs a value\n", a); return 2; }
    const char *v = argv[++i];
    int bad = 0;
    if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) bad = parse_list(a, v, 0, 1 << 20, pp, &n_pp);
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) bad = parse_list(a, v, 0, 1 << 20, tg, &n_tg);
    else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) bad = parse_list(a, v, 0, 1 << 24, dd, &n_dd);
    else if (!strcmp(a, "--steps")) bad = parse_list(a, v, 1, 256, steps, &n_steps);
    else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) bad = parse_int(a, v, 1, DP_BENCH_MAX_REPS, &reps);
    else if (!strcmp(a, "--layers")) bad = parse_int(a, v, 1, 1 << 16, &layers);
    else if (!strcmp(a, "--adapter")) ld.adapter = v;
    else if (!strcmp(a, "--kernel")) { if ((rc = cli_kernel_opt("bench", a, v, &ld.kern))) return rc; }
    else if (!strcmp(a, "--q4k-matmul")) { if ((rc = cli_q4k_opt("bench", a, v, &ld.ov))) return rc; }
    else if (!strcmp(a, "--compute-precision")) { if ((rc = cli_precision_opt("bench", a, v, &ld.ov))) return rc; }
    else if (!strcmp(a, "--matvec-input")) { if ((rc = cli_matvec_opt("bench", a, v, &ld.ov))) return rc; }
    else if (!strcmp(a, "--preset")) preset = v;
    else if (!strcmp(a, "--quant")) bad = cli_parse_quant("bench", a, v, &quant) != 0;
    else if (!strcmp(a, "--ceilings")) {
      char *end;
      ceil.gbps = strtod(v, &end);
      if (*end == ',') ceil.tflops = strtod(end + 1, &end);
      if (*end || !(ceil.gbps > 0) || !(ceil.tflops > 0)) {
        fprintf(stderr, "doppler bench: --ceilings: expected GBPS,TFLOPS (two positive numbers), got '%s'\n", v);
        return 2;
      }
      have_ceil = 1;
    }
    if (bad) return 2;
  }
  if (!model == !preset) {
    fprintf(stderr, "doppler bench: give either MODEL or --preset NAME (see `doppler bench --help`)\n");
    return 2;
  }
  if ((quant || layers) && !preset) { fprintf(stderr, "doppler bench: --quant and --layers go with --preset\n"); return 2; }
  /* the tests, in llama-bench's order: pp, tg, then tg at each depth; one tg per steps value */
  static row rows[64];
  int nrows = 0;
  for (int i = 0; i < n_pp; i++)
    if (pp[i] > 0 && nrows < 64) {
      rows[nrows].t = (dp_bench_test){pp[i], 0, 0, reps, steps[0], profile};
      snprintf(rows[nrows++].name, sizeof rows->name, "pp%d", pp[i]);
    }
  for (int di = -1; di < n_dd; di++)
    for (int i = 0; i < n_tg; i++)
      for (int s = 0; s < n_steps; s++) {
        int d = di < 0 ? 0 : dd[di];
        if (tg[i] <= 0 || (di >= 0 && d == 0) || nrows >= 64) continue;
        row *r = &rows[nrows++];
        r->t = (dp_bench_test){0, tg[i], d, reps, steps[s], profile};
        int l = snprintf(r->name, sizeof r->name, "tg%d", tg[i]);
        if (d) l += snprintf(r->name + l, sizeof r->name - (size_t)l, "@d%d", d);
        if (n_steps > 1) snprintf(r->name + l, sizeof r->name - (size_t)l, " s%d", steps[s]);
      }
  if (!nrows) { fprintf(stderr, "doppler bench: no tests (-p and -n are both 0)\n"); return 2; }

  char dir[4096] = "";
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (preset) {
    if ((rc = preset_model(preset, quant, layers, dir, sizeof dir))) return rc;
    model = dir;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "doppler bench: --preset %s (%s): written in %.1f s\n", preset, quant ? quant : "bf16",
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    t0 = t1;
  }
  dp_model *m = NULL;
  dp_model_info mi;
  dp_bench_model bm;
  if ((rc = cli_load_model("bench", &ld, model, &m))) goto out;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (preset) /* the load of a large preset is part of what a device call spends */
    fprintf(stderr, "doppler bench: --preset %s: loaded in %.1f s\n", preset,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  if (verbose) cli_print_overrides("bench", m);
  dp_status st = dp_model_get_info(m, &mi);
  if (!st) st = dp_bench_model_info(m, &bm);
  if (!st && !have_ceil) st = dp_bench_probe(m, &ceil);
  int warned = 0, progress = !json && isatty(2);
  for (int i = 0; !st && i < nrows; i++) {
    if (progress) fprintf(stderr, "doppler bench: %s ...\r", rows[i].name);
    st = dp_bench_run(m, &rows[i].t, &ceil, &rows[i].r);
    if (!st && profile && rows[i].r.n_profile < 0 && !warned++)
      fprintf(stderr, "doppler bench: --profile: the adapter has no timestamp-query; no per-kernel times\n");
  }
  if (progress) fprintf(stderr, "%40s\r", "");
  if (!st) {
    char model_type[128], ps[32];
    params_str(ps, sizeof ps, (double)bm.n_params, "");
    snprintf(model_type, sizeof model_type, "%s %s %s", mi.arch, ps, bm.quant); /* llama-bench: "llama 1B Q4_K - Medium" */
    if (json) print_json(preset ? preset : model, model_type, &bm, &mi, rows, nrows, &ceil);
    else {
      model_type[strlen(mi.arch) + 1 + strlen(ps)] = 0; /* the table has a quant column */
      print_table(model_type, &bm, &mi, rows, nrows, &ceil, !have_ceil);
    }
  } else {
    fprintf(stderr, "doppler bench: %s\n", dp_error_message());
    rc = 1;
  }
out:
  dp_model_free(m);
  if (preset) {
    g_model_dir[0] = g_base[0] = 0; /* removed below: the handler no longer needs them */
    remove_model_dir(dir);
  }
  cli_load_free(&ld);
  return rc;
}
