/* cmd_convert.c -- `doppler convert SRC OUT [--quant TYPE] [--shard-size BYTES]`: thin CLI
 * over dp_convert (src/tools/convert.c). --quant is case-insensitive. Progress comes through
 * dp_convert_opts.progress: redrawn in place on stderr when it is a terminal (tensors, MB, MB/s,
 * ETA), and one summary line at the end either way; stdout stays empty.
 *
 * Interruption: SIGINT/SIGTERM set a flag that dp_convert polls between chunks; it then removes
 * its temporary output (the directory OUT.tmp-PID, for GGUF too) and returns DP_ERR_CANCELLED, and the command exits by the
 * same signal. A second signal (the converter stuck outside its loop) removes the temporary
 * output from inside the handler with async-signal-safe calls only (unlink/rmdir of the names
 * the converter writes, paths built by hand) and exits at once. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "doppler.h"
#include "tools/convert.h"

static volatile sig_atomic_t g_signal; /* first signal received, 0 if none */
static char g_tmp[4096];                /* OUT.tmp-PID: the converter's temporary output */
static size_t g_tmp_len;

static int cancelled(void *ctx) { (void)ctx; return g_signal != 0; }
static dp_status check_model(const char *path, void *ctx) { (void)ctx; return dp_model_check(path); }

/* Append s to buf at *n (buf has room for 4096), NUL-terminated; signal-safe. */
static void put_str(char *buf, size_t *n, const char *s) {
  while (*s && *n < 4095) buf[(*n)++] = *s++;
  buf[*n] = 0;
}

static void put_num(char *buf, size_t *n, unsigned long v, int width) {
  char d[24];
  int k = 0;
  do d[k++] = (char)('0' + v % 10), v /= 10; while (v || k < width);
  while (k && *n < 4095) buf[(*n)++] = d[--k];
  buf[*n] = 0;
}

/* Remove one file of the directory, and its own atomic-write temporary. */
static int unlink_in(const char *dir, const char *name, long pid) {
  char p[4096];
  size_t n = 0;
  put_str(p, &n, dir);
  put_str(p, &n, "/");
  put_str(p, &n, name);
  int r = unlink(p);
  put_str(p, &n, ".tmp-");
  put_num(p, &n, (unsigned long)pid, 1);
  unlink(p);
  return r;
}

void cli_remove_output_now(const char *dir) {
  long pid = (long)getpid();
  static const char *const names[] = {"manifest.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.gguf", "config.json",
                                      "model.safetensors", "model.gguf"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink_in(dir, names[i], pid);
  for (unsigned long k = 0; k < 100000; k++) { /* shards are created in order: stop at the first gap */
    char name[4096];
    size_t n = 0;
    put_str(name, &n, "shard_");
    put_num(name, &n, k, 5);
    put_str(name, &n, ".bin");
    if (unlink_in(dir, name, pid)) break;
  }
  unlink_in(dir, ".doppler-tmp", pid); /* the marker (rdrr_write.h DP_TMP_MARKER) goes last */
  rmdir(dir);
}

static void remove_tmp_now(void) {
  if (unlink(g_tmp) == 0) return; /* a .gguf output: one file */
  cli_remove_output_now(g_tmp);
}

static void on_signal(int sig) {
  if (!g_signal) { g_signal = sig; return; }
  int e = errno;
  if (g_tmp_len) remove_tmp_now();
  errno = e;
  signal(sig, SIG_DFL);
  raise(sig);
}

static void catch_signals(const char *out) {
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') n--; /* as dp_convert names it */
  g_tmp_len = 0;
  if (n + 40 < sizeof g_tmp) {
    memcpy(g_tmp, out, n);
    g_tmp[n] = 0;
    g_tmp_len = n;
    put_str(g_tmp, &g_tmp_len, ".tmp-");
    put_num(g_tmp, &g_tmp_len, (unsigned long)getpid(), 1);
  }
  cli_on_stop_signals(on_signal);
}

static void convert_usage(FILE *f) {
  fprintf(f, "usage: doppler convert SRC OUT [--quant f32|f16|bf16|q8_0|q4_k|q6_k|q4_k_m|mxfp4] [--shard-size BYTES]\n"
             "  SRC: HF directory, .gguf file or RDRR directory (or a file inside a model directory);\n"
             "  OUT: RDRR directory, or a .gguf file. --quant is case-insensitive (Q4_K_M = q4_k_m).\n"
             "  Without --quant, stored types are kept (MXFP4 always stays MXFP4, 1-D tensors become f32).\n"
             "  stderr: progress (tensors, MB, MB/s) on a terminal, one summary line at the end.\n");
}

/* --quant: one of the known types, any case; stored lower-case (the names dp_convert takes). */
int cli_parse_quant(const char *cmd, const char *flag, const char *v, void *dst) {
  static const char *const names[] = {"f32", "f16", "bf16", "q8_0", "q4_k", "q6_k", "q4_k_m", "mxfp4"};
  static char lower[8];
  size_t n = strlen(v);
  for (size_t i = 0; n < sizeof lower && i <= n; i++) lower[i] = (char)tolower((unsigned char)v[i]);
  for (size_t k = 0; n < sizeof lower && k < sizeof names / sizeof *names; k++)
    if (!strcmp(lower, names[k])) {
      *(const char **)dst = names[k];
      return 0;
    }
  return cli_usage_error(cmd, "%s: unknown type '%s' (f32, f16, bf16, q8_0, q4_k, q6_k, q4_k_m, mxfp4)", flag, v);
}

void cli_convert_progress(void *ctx, const dp_convert_progress *p) {
  cli_progress_state *ps = ctx;
  int tty = ps->tty;
  ps->drawn = tty && !p->final;
  double mbs = p->seconds > 0 ? p->bytes_done / 1e6 / p->seconds : 0;
  if (tty) {
    double eta = mbs > 0 ? (p->bytes - p->bytes_done) / 1e6 / mbs : 0;
    fprintf(stderr, "\rtensor %llu/%llu, %.1f/%.1f MB, %.1f MB/s, ETA %.0f s   ", (unsigned long long)p->tensors_done,
            (unsigned long long)p->tensors, p->bytes_done / 1e6, p->bytes / 1e6, mbs, eta);
    if (p->final) fputc('\n', stderr);
    fflush(stderr);
  }
  if (p->final)
    fprintf(stderr, "converted %llu tensors, %.1f MB in %.1f s (%.1f MB/s)\n", (unsigned long long)p->tensors, p->bytes / 1e6,
            p->seconds, mbs);
}

int cmd_convert(int argc, char **argv) {
  const char *pos[2] = {0};
  int np = 0;
  dp_convert_opts o = {0};
  const cli_opt opts[] = {
    {"--quant", NULL, CLI_CALL, &o.quant, 0, 0, 0, cli_parse_quant},
    {"--shard-size", NULL, CLI_U64, &o.shard_size, 1, 0, 0, NULL},
  };
  cli_spec sp = {"convert", opts, sizeof opts / sizeof *opts, NULL, 0, pos, 2, &np, convert_usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  if (np != 2) return cli_usage_error("convert", "SRC and OUT are required");
  cli_progress_state ps = {isatty(2), 0};
  o.progress = cli_convert_progress;
  o.progress_ctx = &ps;
  o.cancelled = cancelled;
  o.check = check_model;
  catch_signals(pos[1]);
  dp_status st = dp_convert(pos[0], pos[1], &o);
  if (ps.drawn) fputc('\n', stderr); /* close the progress line before a message */
  if (g_signal && st) { /* interrupted: dp_convert removed its temporary output; die by the signal */
    if (st == DP_ERR_CANCELLED) fprintf(stderr, "doppler convert: interrupted; no output written\n");
    int sig = g_signal;
    signal(sig, SIG_DFL);
    raise(sig);
    return 128 + sig;
  }
  if (st) return cli_fail("convert");
  return 0;
}
