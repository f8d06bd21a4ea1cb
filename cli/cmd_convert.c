/* cmd_convert.c -- `doppler convert SRC OUT [--quant TYPE] [--shard-size BYTES]`: thin CLI
 * over dp_convert (src/format/convert.c). The progress bar is drawn only on a terminal.
 *
 * Interruption: SIGINT/SIGTERM set a flag that dp_convert polls between chunks; it then removes
 * its temporary output (OUT.tmp-PID) and returns DP_ERR_CANCELLED, and the command exits by the
 * same signal. A second signal (the converter stuck outside its loop) removes the temporary
 * output from inside the handler with async-signal-safe calls only (unlink/rmdir of the names
 * the converter writes, paths built by hand) and exits at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "doppler_status.h"
#include "format/convert.h"

static volatile sig_atomic_t g_signal; /* first signal received, 0 if none */
static char g_tmp[4096];                /* OUT.tmp-PID: the converter's temporary output */
static size_t g_tmp_len;

static int cancelled(void *ctx) { (void)ctx; return g_signal != 0; }

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
                                      "model.safetensors"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink_in(dir, names[i], pid);
  for (unsigned long k = 0; k < 100000; k++) { /* shards are created in order: stop at the first gap */
    char name[4096];
    size_t n = 0;
    put_str(name, &n, "shard_");
    put_num(name, &n, k, 5);
    put_str(name, &n, ".bin");
    if (unlink_in(dir, name, pid)) break;
  }
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
  fprintf(f, "usage: doppler convert SRC OUT [--quant f32|f16|bf16|q8_0|q4_k|q6_k|q4_k_m] [--shard-size BYTES]\n"
             "  SRC: HF directory, .gguf file or RDRR directory; OUT: RDRR directory, or a .gguf file\n"
             "  without --quant, stored types are kept (MXFP4 always stays MXFP4, 1-D tensors become f32)\n");
}

int cmd_convert(int argc, char **argv) {
  const char *pos[2] = {0};
  int np = 0;
  dp_convert_opts o = {0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { convert_usage(stdout); return 0; }
    if (!strcmp(argv[i], "--quant") && i + 1 < argc) o.quant = argv[++i];
    else if (!strcmp(argv[i], "--shard-size") && i + 1 < argc) {
      char *end;
      o.shard_size = strtoull(argv[++i], &end, 10);
      if (*end || !o.shard_size) { fprintf(stderr, "doppler convert: bad --shard-size %s\n", argv[i]); return 2; }
    } else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "doppler convert: unknown flag %s\n", argv[i]); convert_usage(stderr); return 2; }
    else if (np < 2) pos[np++] = argv[i];
    else { convert_usage(stderr); return 2; }
  }
  if (np != 2) { convert_usage(stderr); return 2; }
  o.progress = isatty(2);
  o.cancelled = cancelled;
  catch_signals(pos[1]);
  dp_status st = dp_convert(pos[0], pos[1], &o);
  if (g_signal && st) { /* interrupted: dp_convert removed its temporary output; die by the signal */
    if (st == DP_ERR_CANCELLED) fprintf(stderr, "doppler convert: interrupted; no output written\n");
    int sig = g_signal;
    signal(sig, SIG_DFL);
    raise(sig);
    return 128 + sig;
  }
  if (st) { fprintf(stderr, "doppler convert: %s\n", dp_error_message()); return 1; }
  return 0;
}
