/* test_format_alloc.c -- allocation-failure injection for the format parsers: a safetensors
 * file, a GGUF (metadata with tokenizer arrays and tensors), an RDRR manifest, dp_model_file
 * over an HF directory, a GGUF and an RDRR directory, and inspect, each opened with the Nth
 * allocation failing (dp_alloc_fail_after) for N = 0, 1, ... until the open succeeds. Every
 * failing open must return DP_ERR_NOMEM with the "out of memory" message: no crash, no other
 * error code, and (under the sanitizer build, which runs with leak detection) no leak.
 * Exhaustive for the first 600 allocations of each open, then every 37th (big tokenizer
 * vocabularies have thousands of allocations; the path through them repeats). */
#include "testlib.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "tools/convert.h"
#include "format/gguf.h"
#include "tools/inspect.h"
#include "core/buf.h"
#include "format/model_file.h"
#include "format/rdrr.h"
#include "format/safetensors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef dp_status (*open_fn)(const char *path);

static dp_status open_st(const char *p) {
  dp_safetensors *s = NULL;
  dp_status st = dp_safetensors_open(p, &s);
  dp_safetensors_free(s);
  return st;
}

static dp_status open_gguf(const char *p) {
  dp_gguf *g = NULL;
  dp_status st = dp_gguf_open(p, &g);
  if (!st) dp_gguf_free(g);
  return st;
}

static dp_status open_mf(const char *p) {
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(p, &mf);
  if (!st) { /* reads allocate too (transformed views, RDRR hash check) */
    for (size_t i = 0; i < dp_model_file_tensor_count(mf) && !st; i += 7) {
      const dp_tensor_info *t = dp_model_file_tensor(mf, i);
      uint8_t b[64];
      st = dp_model_file_read(mf, t, 0, b, t->nbytes < sizeof b ? t->nbytes : sizeof b);
    }
    dp_model_file_close(mf);
  }
  return st;
}

/* open + inspect (text and JSON) */
static dp_status open_inspect(const char *p) {
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(p, &mf);
  for (int json = 0; json < 2 && !st; json++) {
    dp_buf b = {0};
    st = dp_inspect(mf, json, &b);
    if (!st && b.failed) st = DP_ERR_NOMEM, dp_error(DP_ERR_NOMEM, "out of memory (buffer)");
    dp_buf_free(&b);
  }
  dp_model_file_close(mf);
  return st;
}

static char *g_text; /* manifest.json text for the manifest check */
static dp_status check_manifest_text(const char *unused) {
  (void)unused;
  return dp_rdrr_manifest_check(g_text, strlen(g_text), "manifest.json");
}

/* Run open(path) with allocation N failing, N = 0.. until it succeeds. */
static void sweep(const char *what, open_fn fn, const char *path) {
  dp_alloc_fail_after(-1, 0);
  dp_status clean = fn(path);
  CHECK(clean == DP_OK, "%s: opens without injection: %s", what, clean ? dp_error_message() : "");
  if (clean) return;
  long n = 0, fails = 0;
  int all_good = 1;
  for (;; n += n < 600 ? 1 : 37) {
    dp_error_clear();
    dp_alloc_fail_after(n, 0);
    dp_status st = fn(path);
    dp_alloc_fail_after(-1, 0);
    if (st == DP_OK) break;
    fails++;
    int good = st == DP_ERR_NOMEM && strstr(dp_error_message(), "out of memory");
    CHECK(good, "%s: allocation %ld failing: status %d \"%s\"", what, n, (int)st, dp_error_message());
    if (!good) { all_good = 0; break; }
    if (n > 2000000) { CHECK(0, "%s: never succeeds", what); break; }
  }
  if (all_good) printf("%s: %ld injected failures, all DP_ERR_NOMEM (succeeds from allocation %ld on)\n", what, fails, n);
}

int main(void) {
  char tmp[256], rdrr[300], gguf[300], man[320];
  snprintf(tmp, sizeof tmp, "/tmp/dp_test_format_alloc_%ld", (long)getpid());
  snprintf(rdrr, sizeof rdrr, "%s/llama3", tmp);
  snprintf(gguf, sizeof gguf, "%s/llama3.gguf", tmp);
  snprintf(man, sizeof man, "%s/manifest.json", rdrr);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmp, tmp);
  if (system(cmd)) {}
  char golden[512], st_file[600], tiny_gguf[512];
  snprintf(golden, sizeof golden, "%s", dp_test_shared("fixtures/golden/llama3"));
  snprintf(st_file, sizeof st_file, "%s/model.safetensors", golden);
  snprintf(tiny_gguf, sizeof tiny_gguf, "%s", dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-q4_k_m.gguf"));
  dp_convert_opts o = {0};
  CHECK(dp_convert(golden, rdrr, &o) == DP_OK, "convert to rdrr: %s", dp_error_message());
  CHECK(dp_convert(golden, gguf, &o) == DP_OK, "convert to gguf: %s", dp_error_message());
  char rdrr_tok[320];
  snprintf(rdrr_tok, sizeof rdrr_tok, "%s/tiny-from-gguf", tmp); /* with tokenizer.gguf (4096 tokens) */
  CHECK(dp_convert(tiny_gguf, rdrr_tok, &o) == DP_OK, "convert llama.cpp gguf to rdrr: %s", dp_error_message());

  sweep("safetensors open", open_st, st_file);
  sweep("gguf open (ours)", open_gguf, gguf);
  sweep("gguf open (llama.cpp, 4096-token vocabulary)", open_gguf, tiny_gguf);
  size_t n;
  if (!dp_file_read_all(man, &g_text, &n)) {
    sweep("rdrr manifest check", check_manifest_text, "manifest.json");
    dp_free(g_text);
  } else CHECK(0, "read %s", man);
  sweep("model_file open (HF dir)", open_mf, golden);
  sweep("model_file open (GGUF)", open_mf, gguf);
  sweep("model_file open (RDRR)", open_mf, rdrr);
  sweep("model_file open (RDRR with tokenizer.gguf)", open_mf, rdrr_tok);
  sweep("inspect (RDRR)", open_inspect, rdrr);
  sweep("inspect (GGUF)", open_inspect, gguf);
  if (system(cmd)) {}
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd)) {}
  return dp_test_summary("test_format_alloc");
}
