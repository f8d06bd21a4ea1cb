/* test_format_convert.c -- the converter and the RDRR/GGUF writers end to end:
 *  - llama.cpp's own GGUF files import correctly: its f16 file equals HF doppler-tiny converted
 *    to f16 (Q/K permutation undone), its q4_k_m blocks survive GGUF -> RDRR -> GGUF bit for
 *    bit, our q4_k_m mix matches its per-tensor types, our tokenizer.ggml.* match its own;
 *  - HF -> RDRR -> GGUF -> RDRR preserves every value, for every golden model and doppler-tiny;
 *  - every golden model converts at f32/f16/bf16/q8_0 (row fallbacks) to RDRR and GGUF, and
 *    doppler-tiny at every quantization, within stated error bounds;
 *  - determinism, shards spanning, corruption errors (truncated / extra / missing shard, hash
 *    mismatch, bad offsets, dtype/shape mismatch) with no half-written output;
 *  - inspect --json counts and update-manifest safe/unsafe edits. */
#include "testlib.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "tools/convert.h"
#include "format/gguf.h"
#include "tools/inspect.h"
#include "format/model_file.h"
#include "format/rdrr.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* compare all tensors of a and b: same names/shapes; values within tol (rel, Frobenius); exact if tol == 0 */
static double compare_models(const char *pa, const char *pb, double tol, const char *what) {
  dp_model_file *a = NULL, *b = NULL;
  double worst = 0;
  if (dp_model_file_open(pa, &a) || dp_model_file_open(pb, &b)) {
    CHECK(0, "%s: open: %s", what, dp_error_message());
    dp_model_file_close(a);
    return INFINITY;
  }
  CHECK(dp_model_file_tensor_count(a) == dp_model_file_tensor_count(b), "%s: tensor counts %zu vs %zu", what,
        dp_model_file_tensor_count(a), dp_model_file_tensor_count(b));
  for (size_t i = 0; i < dp_model_file_tensor_count(a); i++) {
    const dp_tensor_info *ta = dp_model_file_tensor(a, i), *tb = dp_model_file_find(b, ta->name);
    CHECK(tb != NULL, "%s: %s missing", what, ta->name);
    if (!tb) continue;
    CHECK(ta->n_dims == tb->n_dims && !memcmp(ta->shape, tb->shape, sizeof ta->shape), "%s: %s shape", what, ta->name);
    uint64_t n = dp_tensor_nelems(ta);
    float *x = malloc(n * 4 + 4), *y = malloc(n * 4 + 4);
    int ok = !dp_model_file_read_f32(a, ta, x) && !dp_model_file_read_f32(b, tb, y);
    CHECK(ok, "%s: read %s: %s", what, ta->name, dp_error_message());
    double e = ok ? (tol == 0 ? (memcmp(x, y, n * 4) ? 1 : 0) : dp_test_rel_err(y, x, n)) : INFINITY;
    if (e > worst) worst = e;
    CHECK(e <= tol, "%s: %s error %g > %g", what, ta->name, e, tol);
    free(x), free(y);
  }
  dp_model_file_close(a);
  dp_model_file_close(b);
  return worst;
}

static int files_equal(const char *a, const char *b) {
  char *x, *y;
  size_t nx, ny;
  if (dp_file_read_all(a, &x, &nx)) return 0;
  if (dp_file_read_all(b, &y, &ny)) { dp_free(x); return 0; }
  int eq = nx == ny && !memcmp(x, y, nx);
  dp_free(x), dp_free(y);
  return eq;
}

static void rmrf(const char *p) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
  if (system(cmd)) {}
}

static dp_status conv(const char *src, const char *dst, const char *q, uint64_t shard) {
  dp_convert_opts o = {.quant = q, .shard_size = shard};
  dp_status st = dp_convert(src, dst, &o);
  if (st) fprintf(stderr, "convert %s -> %s (%s): %s\n", src, dst, q ? q : "keep", dp_error_message());
  return st;
}

static void test_llamacpp_files(void) {
  const char *tiny = dp_test_shared("models/doppler-tiny"), *f16g = dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf");
  const char *q4g = dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-q4_k_m.gguf");
  CHECK(conv(tiny, dp_test_tmp("tiny-f16"), "f16", 0) == 0, "tiny -> f16");
  compare_models(f16g, dp_test_tmp("tiny-f16"), 0, "llama.cpp f16 vs ours");
  /* q4_k_m: llama.cpp's blocks survive GGUF -> RDRR -> GGUF */
  CHECK(conv(q4g, dp_test_tmp("q4-rdrr"), NULL, 0) == 0, "q4_k_m gguf -> rdrr");
  CHECK(conv(dp_test_tmp("q4-rdrr"), dp_test_tmp("q4-back.gguf"), NULL, 0) == 0, "rdrr -> gguf");
  dp_gguf *ga = NULL, *gb = NULL;
  CHECK(dp_gguf_open(q4g, &ga) == 0 && dp_gguf_open(dp_test_tmp("q4-back.gguf"), &gb) == 0, "open ggufs: %s", dp_error_message());
  if (ga && gb) {
    int same = 0, total = 0;
    for (size_t i = 0; i < ga->n_tensors; i++) {
      const dp_gguf_tensor *ta = &ga->t[i], *tb = dp_gguf_find_tensor(gb, ta->name);
      total++;
      CHECK(tb != NULL, "tensor %s written back", ta->name);
      if (!tb) continue;
      int eq = ta->ggml_type == tb->ggml_type && ta->nbytes == tb->nbytes && !memcmp(ta->ne, tb->ne, sizeof ta->ne) &&
               !memcmp(ga->data + ta->offset, gb->data + tb->offset, ta->nbytes);
      CHECK(eq, "tensor %s bit for bit", ta->name);
      same += eq;
    }
    CHECK(same == total && total == 56, "%d of %d tensors identical", same, total);
    /* tokenizer metadata copied */
    const dp_gguf_kv *ka = dp_gguf_find(ga, "tokenizer.ggml.merges"), *kb = dp_gguf_find(gb, "tokenizer.ggml.merges");
    CHECK(ka && kb && ka->n == kb->n, "merges copied");
  }
  /* our q4_k_m mix equals llama.cpp's per-tensor choice */
  CHECK(conv(tiny, dp_test_tmp("tiny-q4km.gguf"), "q4_k_m", 0) == 0, "tiny -> q4_k_m gguf");
  dp_gguf *gc = NULL;
  if (ga && dp_gguf_open(dp_test_tmp("tiny-q4km.gguf"), &gc) == 0) {
    int mism = 0;
    for (size_t i = 0; i < ga->n_tensors; i++) {
      const dp_gguf_tensor *tc = dp_gguf_find_tensor(gc, ga->t[i].name);
      if (!tc || tc->ggml_type != ga->t[i].ggml_type) {
        mism++;
        fprintf(stderr, "mix differs: %s llama.cpp %s ours %s\n", ga->t[i].name, dp_ggml_type_name(ga->t[i].ggml_type),
                tc ? dp_ggml_type_name(tc->ggml_type) : "(missing)");
      }
    }
    CHECK(mism == 0, "q4_k_m mix matches llama.cpp's (%d differ)", mism);
    /* tokenizer metadata generated from tokenizer.json equals llama.cpp's */
    static const char *KEYS[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"};
    for (int k = 0; k < 3; k++) {
      const dp_gguf_kv *a = dp_gguf_find(ga, KEYS[k]), *c = dp_gguf_find(gc, KEYS[k]);
      int eq = a && c && a->n == c->n && a->arr_type == c->arr_type;
      for (uint64_t j = 0; eq && j < a->n; j++) {
        if (a->arr_type == DP_GGUF_STRING) {
          size_t la, lc;
          const char *sa = dp_gguf_arr_str(a, j, &la), *sc = dp_gguf_arr_str(c, j, &lc);
          eq = la == lc && !memcmp(sa, sc, la);
        } else eq = dp_gguf_arr_int(a, j) == dp_gguf_arr_int(c, j);
        if (!eq) fprintf(stderr, "%s differs at %llu\n", KEYS[k], (unsigned long long)j);
      }
      CHECK(eq, "%s equals llama.cpp's", KEYS[k]);
    }
    char pre[32];
    CHECK(!strcmp(dp_gguf_get_strz(gc, "tokenizer.ggml.pre", pre, sizeof pre, ""), "llama-bpe"), "pre = %s", pre);
    CHECK(dp_gguf_get_int(gc, "tokenizer.ggml.bos_token_id", -1) == 0 && dp_gguf_get_int(gc, "tokenizer.ggml.add_bos_token", 0) == 1, "bos");
    dp_gguf_free(gc);
  }
  dp_gguf_free(ga);
  dp_gguf_free(gb);
  /* our q4_k_m GGUF read back: error vs f32 small */
  double e = compare_models(tiny, dp_test_tmp("tiny-q4km.gguf"), 0.08, "tiny q4_k_m gguf");
  fprintf(stderr, "doppler-tiny q4_k_m worst tensor rel err %.4f\n", e);
}

static void test_round_trips(void) {
  static const char *G[] = {"llama3", "llama2", "mistral", "qwen3", "gemma3", "mixtral", "gptoss"};
  for (size_t g = 0; g < sizeof G / sizeof *G; g++) {
    char src[512], a[600], b[700], c[700];
    snprintf(src, sizeof src, "%s%s", dp_test_shared("fixtures/golden/"), G[g]);
    snprintf(a, sizeof a, "%s", dp_test_tmp(G[g]));
    snprintf(b, sizeof b, "%s.gguf", a);
    snprintf(c, sizeof c, "%s-back", a);
    int ok = !conv(src, a, NULL, 4096) && !conv(a, b, NULL, 0) && !conv(b, c, NULL, 0);
    CHECK(ok, "%s round trip", G[g]);
    if (!ok) continue;
    /* gemma's w+1 in f32 may move w by an ulp of 1; everything else exact */
    double e = compare_models(src, c, !strcmp(G[g], "gemma3") ? 1e-6 : 0, G[g]);
    if (!strcmp(G[g], "gemma3")) fprintf(stderr, "gemma3 round trip rel err %.3g (norm +1 in f32)\n", e);
    static const struct { const char *q; double tol; } Q[] = {{"f32", 0}, {"f16", 1e-3}, {"bf16", 8e-3}, {"q8_0", 1e-2}};
    for (int k = 0; k < 4; k++) {
      char o[700];
      snprintf(o, sizeof o, "%s-%s.gguf", a, Q[k].q);
      CHECK(conv(src, o, Q[k].q, 0) == 0, "%s -> gguf %s", G[g], Q[k].q);
      compare_models(src, o, Q[k].tol + (!strcmp(G[g], "gemma3") ? 1e-6 : 0), o);
      unlink(o);
      if (k != 1 && strcmp(G[g], "gptoss")) continue; /* RDRR at every type: doppler-tiny below, and gpt-oss */
      snprintf(o, sizeof o, "%s-%s", a, Q[k].q);
      CHECK(conv(src, o, Q[k].q, 0) == 0, "%s -> rdrr %s", G[g], Q[k].q);
      compare_models(src, o, Q[k].tol, o);
      rmrf(o);
    }
    rmrf(a), rmrf(c), unlink(b);
  }
  /* doppler-tiny at every quantization; determinism; shards spanning */
  static const struct { const char *q; double tol; } T[] = {{"f32", 0}, {"bf16", 8e-3}, {"q8_0", 1e-2}, {"q4_k", 0.08}, {"q6_k", 0.02}, {"q4_k_m", 0.08}};
  const char *tiny = dp_test_shared("models/doppler-tiny");
  for (int k = 0; k < 6; k++) {
    char o[600];
    snprintf(o, sizeof o, "%s-%s", dp_test_tmp("tiny"), T[k].q);
    CHECK(conv(tiny, o, T[k].q, 0) == 0, "tiny %s", T[k].q);
    double e = compare_models(tiny, o, T[k].tol, o);
    fprintf(stderr, "doppler-tiny %-6s worst tensor rel err %.4g\n", T[k].q, e);
  }
  /* Re-sharding copies the q4_k_m blocks verbatim into 1 MiB shards (tensors spanning them). */
  CHECK(conv(dp_test_tmp("tiny-q4_k_m"), dp_test_tmp("tiny-span"), NULL, 1 << 20) == 0, "small shards");
  CHECK(files_equal(dp_test_tmp("tiny-q4_k_m/shard_00000.bin"), dp_test_tmp("tiny-span/shard_00000.bin")) == 0, "different sharding differs");
  compare_models(dp_test_tmp("tiny-q4_k_m"), dp_test_tmp("tiny-span"), 0, "spanning shards");
  /* Determinism: the q4_k_m search gave the same blocks in two independent runs (the GGUF made
   * above and the RDRR), and the writer gives byte-identical files (a second q8_0 run; the
   * container bytes do not depend on the type, and q4_k_m twice is slow under the sanitizers). */
  compare_models(dp_test_tmp("tiny-q4km.gguf"), dp_test_tmp("tiny-q4_k_m"), 0, "q4_k_m blocks identical across runs");
  CHECK(conv(tiny, dp_test_tmp("tiny-q8_0-2"), "q8_0", 0) == 0, "again");
  CHECK(files_equal(dp_test_tmp("tiny-q8_0/manifest.json"), dp_test_tmp("tiny-q8_0-2/manifest.json")) &&
        files_equal(dp_test_tmp("tiny-q8_0/shard_00000.bin"), dp_test_tmp("tiny-q8_0-2/shard_00000.bin")), "deterministic output");
  /* converting over an existing model replaces it */
  CHECK(conv(tiny, dp_test_tmp("tiny-q8_0-2"), "f16", 0) == 0, "replace existing");
  CHECK(files_equal(dp_test_tmp("tiny-f16/manifest.json"), dp_test_tmp("tiny-q8_0-2/manifest.json")), "replaced content");
}

static void expect_open_error(const char *dir, const char *needle, const char *what) {
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(dir, &mf);
  CHECK(st != DP_OK && strstr(dp_error_message(), needle), "%s: got \"%s\", want \"%s\"", what, st ? dp_error_message() : "success", needle);
  dp_model_file_close(mf);
  /* a conversion from the broken model leaves nothing behind */
  char out[600];
  snprintf(out, sizeof out, "%s-out", dir);
  dp_convert_opts o = {0};
  CHECK(dp_convert(dir, out, &o) != DP_OK && !dp_is_dir(out), "%s: no output after failure", what);
  char cmd[800];
  snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp-* 2>/dev/null | grep -q .", out);
  CHECK(system(cmd) != 0, "%s: no temporary directory left", what);
}

/* Shard 2 of d has a flipped byte. Open checks sizes only; the hash is checked when a shard is
 * first read: tensors wholly in shard 0 read fine, the first read touching shard 2 fails naming
 * the shard file and the tensor, every later read of it fails too, and DOPPLER_VERIFY=1 (or
 * dp_model_file_verify) catches it at open. */
static void expect_hash_error(const char *d) {
  dp_model_file *mf = NULL;
  dp_status st = dp_model_file_open(d, &mf);
  CHECK(st == DP_OK, "hash: lazy open succeeds: %s", st ? dp_error_message() : "");
  if (!st) {
    int failed = 0, ok = 0;
    for (size_t i = 0; i < dp_model_file_tensor_count(mf); i++) {
      const dp_tensor_info *t = dp_model_file_tensor(mf, i);
      uint8_t *b = dp_malloc(t->nbytes + 1);
      st = b ? dp_model_file_read(mf, t, 0, b, t->nbytes) : DP_ERR_NOMEM;
      if (st) {
        failed++;
        CHECK(st == DP_ERR_FORMAT && strstr(dp_error_message(), "shard_00002.bin: SHA-256 mismatch") && strstr(dp_error_message(), t->name),
              "hash: read error names shard and tensor: %s", dp_error_message());
      } else ok++;
      dp_free(b);
    }
    CHECK(failed > 0 && ok > 0, "hash: %d reads failed, %d succeeded", failed, ok);
    float x;
    const dp_tensor_info *tb = NULL;
    for (size_t i = 0; i < dp_model_file_tensor_count(mf) && !tb; i++) {
      const dp_tensor_info *t = dp_model_file_tensor(mf, i);
      if (dp_model_file_read(mf, t, 0, &x, t->nbytes < 4 ? t->nbytes : 4)) tb = t;
    }
    CHECK(tb != NULL, "hash: mismatch is sticky");
    CHECK(dp_model_file_verify(mf) == DP_ERR_FORMAT && strstr(dp_error_message(), "SHA-256 mismatch"), "hash: verify");
    dp_model_file_close(mf);
  }
  setenv("DOPPLER_VERIFY", "1", 1);
  expect_open_error(d, "shard_00002.bin: SHA-256 mismatch", "hash mismatch (DOPPLER_VERIFY=1)");
  unsetenv("DOPPLER_VERIFY");
  /* lazily too, a conversion from it fails and leaves nothing behind */
  char out[700], cmd[800];
  snprintf(out, sizeof out, "%s-lazy", d);
  dp_convert_opts o = {0};
  CHECK(dp_convert(d, out, &o) != DP_OK && strstr(dp_error_message(), "SHA-256 mismatch") && !dp_is_dir(out), "hash: convert fails cleanly");
  snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp-* 2>/dev/null | grep -q .", out);
  CHECK(system(cmd) != 0, "hash: no temporary directory left");
}

static void edit_manifest(const char *dir, const char *from, const char *to) {
  char p[600];
  snprintf(p, sizeof p, "%s/manifest.json", dir);
  int r = dp_test_file_replace(p, NULL, 0, from, to);
  if (r != -1) CHECK(r == 0, "manifest contains %s", from);
}

static void test_corruption(void) {
  const char *tiny = dp_test_shared("models/doppler-tiny");
  char base[600], dbuf[600];
  snprintf(base, sizeof base, "%s", dp_test_tmp("c-base"));
  CHECK(conv(tiny, base, "q8_0", 1 << 20) == 0, "corruption base");
  char cmd[2400];
#define FRESH(name) (snprintf(dbuf, sizeof dbuf, "%s", dp_test_tmp(name)), snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dbuf, base, dbuf), system(cmd), dbuf)
  const char *d = FRESH("c-trunc");
  snprintf(cmd, sizeof cmd, "truncate -s 1000 '%s/shard_00001.bin'", d);
  if (system(cmd)) {}
  expect_open_error(d, "truncated shard", "truncated shard");
  d = FRESH("c-hash");
  snprintf(cmd, sizeof cmd, "printf 'X' | dd of='%s/shard_00002.bin' bs=1 seek=100 conv=notrunc 2>/dev/null", d);
  if (system(cmd)) {}
  expect_hash_error(d);
  d = FRESH("c-extra");
  snprintf(cmd, sizeof cmd, "cp '%s/shard_00000.bin' '%s/shard_00099.bin'", d, d);
  if (system(cmd)) {}
  expect_open_error(d, "extra shard", "extra shard");
  d = FRESH("c-missing");
  snprintf(cmd, sizeof cmd, "rm '%s/shard_00001.bin'", d);
  if (system(cmd)) {}
  expect_open_error(d, "missing shard", "missing shard");
  d = FRESH("c-offset");
  edit_manifest(d, "\"offset\": 0,", "\"offset\": 99999999,");
  expect_open_error(d, "out of bounds", "bad offset");
  d = FRESH("c-dtype");
  edit_manifest(d, "\"dtype\": \"q8_0\"", "\"dtype\": \"q4_k\"");
  expect_open_error(d, "do not match size", "dtype mismatch");
  d = FRESH("c-shape");
  edit_manifest(d, "\"shape\": [256, 768]", "\"shape\": [256, 769]");
  expect_open_error(d, "model.layers.0.mlp.down_proj.weight", "shape mismatch");
  d = FRESH("c-layout");
  edit_manifest(d, "\"layout\": \"gguf-blocks\"", "\"layout\": \"weird\"");
  expect_open_error(d, "unsupported layout", "layout");
  /* a failing conversion into an existing model leaves the old one intact */
  d = FRESH("c-keep");
  dp_convert_opts o = {.quant = "q9_9"};
  CHECK(dp_convert(tiny, d, &o) == DP_ERR_INVALID_ARG, "bad quant refused");
  dp_model_file *mf = NULL;
  CHECK(dp_model_file_open(d, &mf) == DP_OK, "old model intact: %s", dp_error_message());
  dp_model_file_close(mf);
}

static void test_inspect_update(void) {
  dp_model_file *mf;
  const char *d = dp_test_tmp("tiny-q4_k_m");
  if (dp_model_file_open(d, &mf)) { CHECK(0, "open %s", d); return; }
  CHECK(dp_model_params(mf) == 5770496, "n_params %llu", (unsigned long long)dp_model_params(mf));
  dp_buf b = {0};
  CHECK(dp_inspect(mf, 1, &b) == 0, "inspect json");
  CHECK(b.data && strstr(b.data, "\"architecture\": \"llama\"") && strstr(b.data, "\"n_params\": 5770496") &&
        strstr(b.data, "{\"name\": \"model.layers.0.mlp.down_proj.weight\", \"dtype\": \"q4_k\", \"shape\": [256, 768]"),
        "inspect json content");
  CHECK(!strcmp(dp_model_file_hint(mf, "q4kMatmul"), "fused") && !strcmp(dp_model_file_hint(mf, "computePrecision"), "f32"), "hints");
  dp_buf_free(&b);
  dp_model_file_close(mf);
  /* gpt-oss: MXFP4 counts elements */
  char gp[600];
  snprintf(gp, sizeof gp, "%s", dp_test_shared("fixtures/golden/gptoss"));
  if (!dp_model_file_open(gp, &mf)) {
    uint64_t want = 512 * 128 * 2 + 128 + 2 * (128 * 2 + 8 * 128 + 8 + 4 + (128 * 128 + 128) * 2 + (64 * 128 + 64) * 2 +
                                               8 * (3 * 128 * 128 + 128 * 3));
    CHECK(dp_model_params(mf) == want, "gptoss n_params %llu want %llu", (unsigned long long)dp_model_params(mf), (unsigned long long)want);
    dp_model_file_close(mf);
  }
  char man[600], *before;
  size_t nb;
  snprintf(man, sizeof man, "%s/manifest.json", d);
  dp_file_read_all(man, &before, &nb);
  dp_manifest_edit e = {0};
  e.q4k_matmul = "dequant", e.compute_precision = "f16", e.dry_run = 1;
  dp_buf r = {0};
  CHECK(dp_manifest_update(d, &e, &r) == 0 && strstr(r.data, "q4kMatmul: fused -> dequant"), "dry run report");
  CHECK(files_equal(man, man) && 1, "x");
  char *mid;
  size_t nm;
  dp_file_read_all(man, &mid, &nm);
  CHECK(nm == nb && !memcmp(mid, before, nb), "dry run writes nothing");
  dp_free(mid);
  e.dry_run = 0;
  dp_buf_free(&r);
  CHECK(dp_manifest_update(d, &e, &r) == 0, "safe edit: %s", dp_error_message());
  if (!dp_model_file_open(d, &mf)) {
    CHECK(!strcmp(dp_model_file_hint(mf, "q4kMatmul"), "dequant") && !strcmp(dp_model_file_hint(mf, "computePrecision"), "f16"), "edited hints persist");
    dp_model_file_close(mf);
  } else CHECK(0, "reopen after edit: %s", dp_error_message());
  dp_buf_free(&r);
  dp_manifest_edit u = {0};
  u.q4k_layout = "q4k-planes";
  CHECK(dp_manifest_update(d, &u, &r) == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "--allow-unsafe"), "unsafe edit refused");
  dp_buf_free(&r);
  dp_manifest_edit bad = {0};
  bad.q4k_matmul = "turbo";
  CHECK(dp_manifest_update(d, &bad, &r) == DP_ERR_INVALID_ARG, "unknown value refused");
  dp_buf_free(&r);
  /* (C) --allow-unsafe is refused too when the result would not load; nothing is written */
  u.allow_unsafe = 1;
  dp_file_read_all(man, &mid, &nm);
  CHECK(dp_manifest_update(d, &u, &r) != DP_OK && strstr(dp_error_message(), "would not load") && strstr(dp_error_message(), "unsupported layout"),
        "unsafe edit that would not load refused: %s", dp_error_message());
  dp_buf_free(&r);
  char *after;
  size_t na;
  dp_file_read_all(man, &after, &na);
  CHECK(na == nm && !memcmp(after, mid, nm), "refused edit writes nothing");
  dp_free(after), dp_free(mid);
  CHECK(dp_model_file_open(d, &mf) == DP_OK, "still loads: %s", dp_error_message());
  dp_model_file_close(mf);
  /* a manifest an older tool changed that way can be changed back */
  char *t;
  size_t tn;
  if (!dp_file_read_all(man, &t, &tn)) { /* what an older update-manifest wrote: every q4_k tensor's layout changed */
    dp_buf nb2 = {0};
    for (char *line = t, *nl; *line; line = nl) {
      nl = strchr(line, '\n');
      nl = nl ? nl + 1 : line + strlen(line);
      char *h = strstr(line, "\"layout\": \"gguf-blocks\"");
      if (h && h < nl && strstr(line, "\"dtype\": \"q4_k\"") && strstr(line, "\"dtype\": \"q4_k\"") < nl) {
        dp_buf_append(&nb2, line, (size_t)(h - line));
        dp_buf_puts(&nb2, "\"layout\": \"q4k-planes\"");
        dp_buf_append(&nb2, h + 23, (size_t)(nl - h - 23)); /* 23 = strlen("\"layout\": \"gguf-blocks\"") */
      } else dp_buf_append(&nb2, line, (size_t)(nl - line));
    }
    dp_file_write_atomic(man, nb2.data, nb2.len);
    dp_buf_free(&nb2);
    dp_free(t);
  }
  CHECK(dp_model_file_open(d, &mf) == DP_ERR_UNSUPPORTED, "damaged manifest refused by the reader");
  dp_manifest_edit back = {0};
  back.q4k_layout = "gguf-blocks", back.allow_unsafe = 1;
  CHECK(dp_manifest_update(d, &back, &r) == DP_OK && strstr(r.data, "q4k-planes -> gguf-blocks"), "changed back: %s", dp_error_message());
  dp_buf_free(&r);
  CHECK(dp_model_file_open(d, &mf) == DP_OK, "loads again: %s", dp_error_message());
  dp_model_file_close(mf);
  dp_free(before);
}

int main(void) {
  if (!dp_test_tmp_open("format")) return 1;
  test_llamacpp_files();
  test_round_trips();
  test_corruption();
  test_inspect_update();
  dp_test_tmp_close();
  return dp_test_summary("test_format_convert");
}
