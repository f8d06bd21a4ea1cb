/* test_format_safety.c -- the converter and the manifest editor never destroy what is not
 * theirs, and bad inputs are refused with an error naming the field or tensor (issue 9):
 *  (A) convert refuses an output it does not recognise as a model it wrote (a directory with a
 *      manifest.json and a stray file, a non-RDRR directory, a plain file, a non-GGUF .gguf),
 *      and never replaces its own source (OUT is SRC, or OUT holds SRC);
 *  (B) a symlink inside an RDRR directory stops the replacement, and removal by name never
 *      follows one;
 *  (C) update-manifest refuses edits whose result would not load (test_format_convert.c);
 *  (D) concurrent update-manifest runs editing different fields keep every edit;
 *  (E) a SIGKILLed convert's (or synth's) OUT.tmp-PID is removed by the next run to OUT, a live
 *      one's not; only directories carrying our marker with the dead PID are: a user's file or
 *      directory that merely looks like one is kept; synth never replaces what it did not write;
 *  range checks of hparams from config.json, GGUF metadata and an RDRR manifest; overlapping and
 *  misaligned tensor ranges in all three formats; convert of a source with a broken tokenizer,
 *  a missing tensor or a shape mismatch fails with nothing left at OUT. */
#include "testlib.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "doppler.h"
#include "tools/convert.h"
#include "format/gguf.h"
#include "tools/gguf_write.h"
#include "format/hparams.h"
#include "tools/inspect.h"
#include "format/model_file.h"
#include "tools/rdrr_write.h"
#include "tools/synth.h"
#include "format/safetensors.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void sh(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (system(cmd)) {}
}
static int exists(const char *p) { struct stat s; return lstat(p, &s) == 0; }
static void put(const char *path, const char *text) { dp_file_write_atomic(path, text, strlen(text)); }
static int has(const char *path, const char *text) {
  char *d;
  size_t n;
  if (dp_file_read_all(path, &d, &n)) return 0;
  int eq = n == strlen(text) && !memcmp(d, text, n);
  dp_free(d);
  return eq;
}
static int no_tmp_left(const char *out) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp-* '%s'.old-* 2>/dev/null | grep -q .", out, out);
  return system(cmd) != 0;
}
static dp_status check_hook(const char *path, void *ctx) { (void)ctx; return dp_model_check(path); }
static dp_status convert(const char *src, const char *dst) {
  dp_convert_opts o = {.check = check_hook};
  return dp_convert(src, dst, &o);
}
/* convert must fail with an error containing `needle` */
static void refused(const char *src, const char *dst, const char *needle, const char *what) {
  dp_status st = convert(src, dst);
  CHECK(st != DP_OK && strstr(dp_error_message(), needle), "%s: got \"%s\", want \"%s\"", what, st ? dp_error_message() : "success", needle);
  CHECK(no_tmp_left(dst), "%s: no temporary output left", what);
}
/* Replace the first occurrence of `from` after the n-th (1-based) occurrence of `anchor`. */
static void edit(const char *path, const char *anchor, int n, const char *from, const char *to) {
  int r = dp_test_file_replace(path, anchor, n, from, to);
  CHECK(r != -1, "read %s", path);
  if (r != -1) CHECK(r == 0, "%s holds %s", path, from);
}

static char LLAMA2[512], TINY[512], BASE[512], BASE_GGUF[512];

/* ---------------------------------------------------------------- (A) (B): what convert replaces */

static void test_outputs(void) {
  /* (A) a directory with a manifest.json (even a valid one) and a file beside it */
  const char *d = dp_test_tmp("a1");
  sh("mkdir -p '%s' && cp '%s/manifest.json' '%s/' && echo keep > '%s/notes.txt'", d, BASE, d, d);
  refused(LLAMA2, d, "holds notes.txt", "stray file beside a manifest");
  CHECK(has(dp_test_tmp("a1/notes.txt"), "keep\n") && exists(dp_test_tmp("a1/manifest.json")), "stray file and manifest untouched");
  d = dp_test_tmp("a2");
  sh("mkdir -p '%s' && echo '{}' > '%s/manifest.json' && echo keep > '%s/notes.txt'", d, d, d);
  refused(LLAMA2, d, "not an RDRR model", "junk manifest");
  CHECK(has(dp_test_tmp("a2/notes.txt"), "keep\n"), "junk manifest dir untouched");
  d = dp_test_tmp("a3");
  sh("mkdir -p '%s' && echo keep > '%s/notes.txt'", d, d);
  refused(LLAMA2, d, "notes.txt", "non-empty directory without manifest");
  /* (A) its own source: DIR/orig.gguf -> DIR, with or without a model beside it; a.gguf -> a.gguf */
  d = dp_test_tmp("a4");
  sh("mkdir -p '%s' && cp '%s' '%s/orig.gguf'", d, BASE_GGUF, d);
  char src[600];
  snprintf(src, sizeof src, "%s/orig.gguf", d);
  refused(src, d, "orig.gguf", "source inside the output directory");
  CHECK(exists(src), "source kept");
  d = dp_test_tmp("a5");
  sh("cp -r '%s' '%s' && cp '%s' '%s/orig.gguf'", BASE, d, BASE_GGUF, d);
  snprintf(src, sizeof src, "%s/orig.gguf", d);
  refused(src, d, "holds the source orig.gguf", "source inside an RDRR output");
  dp_model_file *mf = NULL;
  CHECK(exists(src) && dp_model_file_open(src, &mf) == DP_OK, "source still a model");
  dp_model_file_close(mf);
  sh("cp '%s' '%s'", BASE_GGUF, dp_test_tmp("self.gguf"));
  refused(dp_test_tmp("self.gguf"), dp_test_tmp("self.gguf"), "is the source", "gguf onto itself");
  sh("ln -s '%s' '%s'", BASE, dp_test_tmp("rdrr-link"));
  refused(dp_test_tmp("rdrr-link"), BASE, "is the source", "rdrr onto itself through a symlink");
  refused(BASE, dp_test_tmp("rdrr-link"), "symbolic link", "output is a symlink");
  /* plain files at OUT */
  put(dp_test_tmp("plain"), "keep\n");
  refused(LLAMA2, dp_test_tmp("plain"), "not a directory", "file at an RDRR output");
  CHECK(has(dp_test_tmp("plain"), "keep\n"), "file untouched");
  put(dp_test_tmp("text.gguf"), "keep\n");
  refused(LLAMA2, dp_test_tmp("text.gguf"), "not a GGUF file", "non-GGUF at a GGUF output");
  CHECK(has(dp_test_tmp("text.gguf"), "keep\n"), "non-GGUF untouched");
  /* fine: an empty directory, an existing GGUF, an existing RDRR */
  sh("mkdir -p '%s'", dp_test_tmp("empty"));
  CHECK(convert(LLAMA2, dp_test_tmp("empty")) == DP_OK && exists(dp_test_tmp("empty/manifest.json")), "empty directory: %s", dp_error_message());
  sh("cp '%s' '%s'", BASE_GGUF, dp_test_tmp("old.gguf"));
  CHECK(convert(LLAMA2, dp_test_tmp("old.gguf")) == DP_OK, "GGUF replaced: %s", dp_error_message());
  CHECK(convert(LLAMA2, dp_test_tmp("empty")) == DP_OK && no_tmp_left(dp_test_tmp("empty")), "RDRR replaced: %s", dp_error_message());

  /* (B) a symlinked directory inside an RDRR directory: refused, and what it points to stays */
  sh("mkdir -p '%s' && echo precious > '%s/victim.txt'", dp_test_tmp("outside"), dp_test_tmp("outside"));
  d = dp_test_tmp("b1");
  sh("cp -r '%s' '%s' && ln -s '%s' '%s/linked'", BASE, d, dp_test_tmp("outside"), d);
  refused(LLAMA2, d, "linked (a symbolic link)", "symlinked directory inside");
  d = dp_test_tmp("b2"); /* a symlink under a name the converter writes */
  sh("cp -r '%s' '%s' && ln -s '%s' '%s/tokenizer.json'", BASE, d, dp_test_tmp("outside"), d);
  refused(LLAMA2, d, "tokenizer.json (a symbolic link)", "symlink named like a converter file");
  CHECK(dp_rdrr_dir_remove(d) == DP_OK && !exists(d), "removal by name unlinks the link: %s", dp_error_message());
  d = dp_test_tmp("b3"); /* removal leaves what it does not know, and says so */
  sh("cp -r '%s' '%s' && mkdir '%s/sub' && echo keep > '%s/sub/x'", BASE, d, d, d);
  CHECK(dp_rdrr_dir_remove(d) != DP_OK && strstr(dp_error_message(), "sub") && has(dp_test_tmp("b3/sub/x"), "keep\n"), "unknown entries kept");
  CHECK(has(dp_test_tmp("outside/victim.txt"), "precious\n"), "symlink target untouched");
}

/* ---------------------------------------------------------------- (E) leftovers of killed converters */

static int kill_pipe[2];
static int stall(void *ctx) { /* first poll: tell the parent we are mid-way, then wait to be killed */
  (void)ctx;
  if (write(kill_pipe[1], "x", 1) != 1) _exit(3);
  for (;;) pause();
}

static void test_leftovers(void) {
  const char *out = dp_test_tmp("e-out");
  if (pipe(kill_pipe)) { CHECK(0, "pipe"); return; }
  pid_t pid = fork();
  if (pid == 0) {
    dp_convert_opts o = {.cancelled = stall};
    dp_convert(LLAMA2, out, &o);
    _exit(0);
  }
  char c;
  close(kill_pipe[1]); /* a child that fails before its first poll closes the pipe: read gives 0, no hang */
  kill_pipe[1] = -1;
  CHECK(read(kill_pipe[0], &c, 1) == 1, "child reached the first chunk");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(kill_pipe[0]);
  char dead[600], live[600];
  snprintf(dead, sizeof dead, "%s.tmp-%ld", out, (long)pid);
  CHECK(exists(dead), "SIGKILL left %s", dead);
  pid_t sleeper = fork();
  if (sleeper == 0) { for (;;) pause(); }
  snprintf(live, sizeof live, "%s.tmp-%ld", out, (long)sleeper);
  sh("mkdir -p '%s' && echo '{}' > '%s/manifest.json' && printf 'doppler convert %ld\\n' > '%s/.doppler-tmp'", live, live, (long)sleeper, live);
  CHECK(convert(LLAMA2, out) == DP_OK, "next convert: %s", dp_error_message());
  CHECK(!exists(dead), "leftover of the dead converter removed");
  CHECK(exists(live) && exists(dp_test_tmp("e-out/manifest.json")), "leftover of a live process kept");
  kill(sleeper, SIGKILL);
  waitpid(sleeper, NULL, 0);
  dp_convert_remove_stale(out);
  CHECK(!exists(live), "removed once its process is gone");
  /* a GGUF output's marked temporary directory of a dead process too */
  char gdead[600];
  snprintf(gdead, sizeof gdead, "%s.tmp-%ld", dp_test_tmp("e.gguf"), (long)pid);
  sh("mkdir '%s' && echo GGUF > '%s/model.gguf.tmp-%ld' && printf 'doppler convert %ld\\n' > '%s/.doppler-tmp'", gdead, gdead, (long)pid, (long)pid, gdead);
  CHECK(convert(LLAMA2, dp_test_tmp("e.gguf")) == DP_OK && !exists(gdead), "dead GGUF temporary removed: %s", dp_error_message());
  CHECK(no_tmp_left(dp_test_tmp("e.gguf")), "a GGUF conversion leaves no temporary");
}

/* A dead PID: a child that exited at once. */
static long dead_pid(void) {
  pid_t p = fork();
  if (p == 0) _exit(0);
  waitpid(p, NULL, 0);
  return (long)p;
}

/* Defect: files and directories of the user that merely look like a converter's temporaries
 * (OUT.tmp-PID, OUT.old-PID of a dead PID) are never removed: only a directory carrying our
 * marker with that PID is. */
static void test_foreign_leftovers(void) {
  long pid = dead_pid();
  char f[600], od[600], td[600], tf[600], wrong[600], lnk[600];
  snprintf(f, sizeof f, "%s.tmp-%ld", dp_test_tmp("k4.gguf"), pid);
  put(f, "my notes\n");
  CHECK(convert(LLAMA2, dp_test_tmp("k4.gguf")) == DP_OK && has(f, "my notes\n"), "a user's file OUT.tmp-PID beside a GGUF output kept: %s", dp_error_message());
  snprintf(od, sizeof od, "%s.old-%ld", dp_test_tmp("k5"), pid);
  snprintf(td, sizeof td, "%s.tmp-%ld", dp_test_tmp("k5"), pid + 1 == getpid() ? pid + 2 : pid + 1);
  snprintf(tf, sizeof tf, "%s.tmp-%ld", dp_test_tmp("k5"), pid);
  sh("mkdir '%s' && cp '%s/manifest.json' '%s/shard_00000.bin' '%s/' && echo notes > '%s/notes'", od, BASE, BASE, od, od);
  sh("mkdir '%s' && echo '{}' > '%s/manifest.json'", td, td);
  put(tf, "plain\n");
  /* a marker naming another PID, and a marked symlink, are not ours either */
  snprintf(wrong, sizeof wrong, "%s.old-%ld", dp_test_tmp("k5"), pid + 3);
  sh("mkdir '%s' && echo x > '%s/manifest.json' && printf 'doppler convert %ld\\n' > '%s/.doppler-tmp'", wrong, wrong, pid, wrong);
  snprintf(lnk, sizeof lnk, "%s.synth-%ld", dp_test_tmp("k5"), pid);
  sh("mkdir '%s' && printf 'doppler synth %ld\\n' > '%s/.doppler-tmp' && echo keep > '%s/manifest.json' && ln -s '%s' '%s'", dp_test_tmp("k5-real"),
     pid, dp_test_tmp("k5-real"), dp_test_tmp("k5-real"), dp_test_tmp("k5-real"), lnk);
  CHECK(convert(LLAMA2, dp_test_tmp("k5")) == DP_OK, "convert beside foreign look-alikes: %s", dp_error_message());
  char p[700];
  snprintf(p, sizeof p, "%s/manifest.json", od);
  CHECK(exists(p) && has(strcat(strcpy(p, od), "/notes"), "notes\n") && exists(strcat(strcpy(p, od), "/shard_00000.bin")),
        "a user's directory OUT.old-PID kept whole");
  CHECK(exists(strcat(strcpy(p, td), "/manifest.json")), "an unmarked OUT.tmp-PID directory kept");
  CHECK(has(tf, "plain\n"), "a plain file OUT.tmp-PID kept");
  CHECK(exists(strcat(strcpy(p, wrong), "/manifest.json")), "a marker naming another PID: kept");
  CHECK(exists(lnk) && has(dp_test_tmp("k5-real/manifest.json"), "keep\n"), "a symlink is never followed");
  /* our own marked leftover of that PID, with a stranger inside: ours removed, the stranger kept and named */
  char mine[600];
  snprintf(mine, sizeof mine, "%s.tmp-%ld", dp_test_tmp("k6"), pid);
  sh("mkdir '%s' && echo '{}' > '%s/manifest.json' && echo s > '%s/shard_00003.bin' && echo u > '%s/user.txt' && "
     "printf 'doppler convert %ld\\n' > '%s/.doppler-tmp'", mine, mine, mine, mine, pid, mine);
  dp_convert_remove_stale(dp_test_tmp("k6"));
  CHECK(!exists(strcat(strcpy(p, mine), "/manifest.json")) && !exists(strcat(strcpy(p, mine), "/shard_00003.bin")) &&
        has(strcat(strcpy(p, mine), "/user.txt"), "u\n") && exists(strcat(strcpy(p, mine), "/.doppler-tmp")),
        "a marked leftover: known names removed, an unknown one kept (and the marker with it)");
}

/* Defect: synth killed mid-write left OUT.tmp-PID for good; the next synth to OUT removes it.
 * And synth never replaces an OUT it does not recognise. */
static int synth_stall(void *ctx) { return stall(ctx); }
static void test_synth_leftovers(void) {
  const char *out = dp_test_tmp("sy2");
  dp_synth_opts o = {0};
  o.arch = "llama2", o.window = -1, o.seed = 7, o.dtype = DP_F32, o.no_tokenizer = 1;
  if (pipe(kill_pipe)) { CHECK(0, "pipe"); return; }
  pid_t pid = fork();
  if (pid == 0) {
    dp_synth_opts so = o;
    so.cancelled = synth_stall;
    dp_synth_write(&so, out);
    _exit(0);
  }
  char c;
  close(kill_pipe[1]);
  kill_pipe[1] = -1;
  CHECK(read(kill_pipe[0], &c, 1) == 1, "synth child reached the first chunk");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(kill_pipe[0]);
  char dead[600];
  snprintf(dead, sizeof dead, "%s.tmp-%ld", out, (long)pid);
  CHECK(exists(dead), "SIGKILL left %s", dead);
  CHECK(dp_synth_write(&o, out) == DP_OK, "next synth: %s", dp_error_message());
  CHECK(!exists(dead) && no_tmp_left(out), "the dead synth's temporary removed");
  CHECK(!exists(dp_test_tmp("sy2/.doppler-tmp")) && exists(dp_test_tmp("sy2/config.json")), "the output carries no marker");
  CHECK(dp_synth_write(&o, out) == DP_OK && no_tmp_left(out), "a synthetic model is replaced: %s", dp_error_message());
  /* never replaced: a plain file, a directory with a stranger, a checkpoint that is not ours, a symlink */
  put(dp_test_tmp("sy-file"), "user\n");
  CHECK(dp_synth_write(&o, dp_test_tmp("sy-file")) != DP_OK && has(dp_test_tmp("sy-file"), "user\n"), "a plain file is not replaced");
  sh("mkdir '%s' && echo u > '%s/notes'", dp_test_tmp("sy-dir"), dp_test_tmp("sy-dir"));
  CHECK(dp_synth_write(&o, dp_test_tmp("sy-dir")) != DP_OK && has(dp_test_tmp("sy-dir/notes"), "u\n"), "a directory with a stranger is not replaced");
  sh("mkdir '%s' && echo '{\"model_type\": \"llama\"}' > '%s/config.json'", dp_test_tmp("sy-hf"), dp_test_tmp("sy-hf"));
  CHECK(dp_synth_write(&o, dp_test_tmp("sy-hf")) != DP_OK && exists(dp_test_tmp("sy-hf/config.json")), "a real checkpoint is not replaced");
  sh("ln -s '%s' '%s'", out, dp_test_tmp("sy-link"));
  CHECK(dp_synth_write(&o, dp_test_tmp("sy-link")) != DP_OK && exists(dp_test_tmp("sy2/config.json")), "a symlink is not replaced");
  o.quant = "q8_0";
  CHECK(dp_synth_write(&o, dp_test_tmp("sy-dir")) != DP_OK && has(dp_test_tmp("sy-dir/notes"), "u\n"), "--quant: a directory with a stranger is not replaced");
  CHECK(dp_synth_write(&o, dp_test_tmp("sy-q")) == DP_OK && no_tmp_left(dp_test_tmp("sy-q")), "--quant: written, nothing left: %s", dp_error_message());
  char stage[600];
  snprintf(stage, sizeof stage, "%s.synth-%ld", dp_test_tmp("sy-q"), (long)getpid());
  CHECK(!exists(stage), "--quant: the stage removed");
}

/* ---------------------------------------------------------------- (D) concurrent update-manifest */

static void test_concurrent_edits(void) {
  const char *d = dp_test_tmp("d-model");
  sh("cp -r '%s' '%s'", BASE, d);
  int lost = 0;
  for (int trial = 0; trial < 8; trial++) {
    dp_manifest_edit reset = {.q4k_matmul = "dequant", .compute_precision = "f32"};
    dp_buf r = {0};
    dp_manifest_update(d, &reset, &r);
    dp_buf_free(&r);
    int gate[2];
    if (pipe(gate)) break;
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
      if ((kids[k] = fork()) == 0) {
        close(gate[1]);
        char g;
        if (read(gate[0], &g, 1)) {} /* EOF when the parent opens the gate: all start together */
        dp_manifest_edit e = {0};
        if (k % 2) e.compute_precision = "f16";
        else e.q4k_matmul = "fused";
        dp_buf rr = {0};
        dp_status st = dp_manifest_update(d, &e, &rr);
        _exit(st ? 1 : 0);
      }
    }
    close(gate[0]);
    close(gate[1]);
    int ok = 1;
    for (int k = 0; k < 4; k++) {
      int ws = 0;
      waitpid(kids[k], &ws, 0);
      ok &= WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    }
    CHECK(ok, "trial %d: every editor exits 0", trial);
    dp_model_file *mf = NULL;
    if (dp_model_file_open(d, &mf)) { CHECK(0, "reopen: %s", dp_error_message()); break; }
    lost += strcmp(dp_model_file_hint(mf, "q4kMatmul"), "fused") || strcmp(dp_model_file_hint(mf, "computePrecision"), "f16");
    dp_model_file_close(mf);
  }
  CHECK(lost == 0, "%d of 8 trials lost an edit", lost);
}

/* ---------------------------------------------------------------- hparams ranges */

static void hf_refused(const char *cfg, const char *needle) {
  dp_json_doc *d = dp_json_parse(cfg, strlen(cfg), "config.json");
  dp_hparams hp;
  dp_status st = d ? dp_hparams_from_hf_config(dp_json_root(d), "config.json", &hp) : DP_ERR_FORMAT;
  CHECK(st != DP_OK && strstr(dp_error_message(), needle), "config %s: got \"%s\", want \"%s\"", cfg, st ? dp_error_message() : "success", needle);
  if (d) dp_json_free(d);
}

static void test_ranges(void) {
#define LLAMA(extra) "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"intermediate_size\": 256, " extra "}"
#define SIZES "\"hidden_size\": 96, \"num_attention_heads\": 3, \"vocab_size\": 384"
  dp_hparams hp;
  dp_json_doc *ok = dp_json_parse(LLAMA(SIZES), strlen(LLAMA(SIZES)), "cfg");
  CHECK(ok && dp_hparams_from_hf_config(dp_json_root(ok), "cfg", &hp) == DP_OK, "valid config: %s", dp_error_message());
  if (ok) dp_json_free(ok);
  hf_refused(LLAMA(SIZES ", \"rms_norm_eps\": -1e-6"), "field rms_norm_eps: -1e-06 out of range (0, 1]");
  hf_refused(LLAMA(SIZES ", \"rms_norm_eps\": 0"), "field rms_norm_eps: 0 out of range (0, 1]");
  hf_refused(LLAMA(SIZES ", \"rms_norm_eps\": 1e999"), "field rms_norm_eps: inf out of range");
  hf_refused(LLAMA(SIZES ", \"rms_norm_eps\": 5"), "field rms_norm_eps: 5 out of range");
  hf_refused(LLAMA(SIZES ", \"rope_theta\": -10000"), "field rope_theta: -10000 out of range (0, 1e+12]");
  hf_refused(LLAMA(SIZES ", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 0}"), "field rope_theta: 0 out of range");
  hf_refused(LLAMA(SIZES ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": -2}"), "rope_scaling.factor: -2 out of range");
  hf_refused(LLAMA(SIZES ", \"partial_rotary_factor\": 1e999"), "field partial_rotary_factor: inf out of range (0, 1]");
  hf_refused(LLAMA("\"hidden_size\": 96, \"num_attention_heads\": 0, \"vocab_size\": 384"), "field num_attention_heads: 0 out of range 1..");
  hf_refused(LLAMA("\"hidden_size\": 1000000000, \"num_attention_heads\": 1, \"vocab_size\": 384"), "field hidden_size: 1000000000 out of range 1..1048576");
  hf_refused(LLAMA("\"hidden_size\": 96, \"num_attention_heads\": 3, \"vocab_size\": 0"), "field vocab_size: 0 out of range");
  hf_refused(LLAMA(SIZES ", \"num_key_value_heads\": 2"), "3 attention heads not divisible by 2 kv heads");
  hf_refused(LLAMA(SIZES ", \"num_key_value_heads\": 4"), "field num_key_value_heads: 4 out of range 1..3");
  hf_refused(LLAMA("\"hidden_size\": 16384, \"num_attention_heads\": 16384, \"head_dim\": 16384, \"vocab_size\": 384"), "sizes too large");
  hf_refused(LLAMA(SIZES ", \"max_position_embeddings\": 0"), "field max_position_embeddings: 0 out of range");
  hf_refused(LLAMA(SIZES ", \"bos_token_id\": 384"), "field bos_token_id: 384 out of range -1..383");
  hf_refused(LLAMA(SIZES ", \"eos_token_id\": [2, -5]"), "field eos_token_id: -5 out of range 0..383");
  hf_refused(LLAMA(SIZES ", \"pad_token_id\": 1e12"), "field pad_token_id");
  hf_refused("{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 0, \"intermediate_size\": 256, " SIZES "}",
             "field num_hidden_layers: 0 out of range 1..512");
#define GEMMA(extra) "{\"architectures\": [\"Gemma3ForCausalLM\"], \"num_hidden_layers\": 2, \"num_key_value_heads\": 1, \"intermediate_size\": 64, \"hidden_size\": 32, " \
                     "\"num_attention_heads\": 2, \"vocab_size\": 200, \"head_dim\": 16, " extra "}"
  hf_refused(GEMMA("\"final_logit_softcapping\": -30"), "field final_logit_softcapping: -30 out of range [0, 1e+06]");
  hf_refused(GEMMA("\"attn_logit_softcapping\": 1e999"), "field attn_logit_softcapping: inf");
  hf_refused(GEMMA("\"query_pre_attn_scalar\": -256"), "field query_pre_attn_scalar: -256 out of range");
  hf_refused(GEMMA("\"rope_local_base_freq\": -1"), "field rope_local_base_freq: -1 out of range");
  hf_refused("{\"model_type\": \"gpt_oss\", \"num_hidden_layers\": 2, \"intermediate_size\": 64, \"hidden_size\": 32, \"num_attention_heads\": 2, "
             "\"vocab_size\": 200, \"num_local_experts\": 4, \"num_experts_per_tok\": 5}", "field num_experts_per_tok: 5 out of range 1..4");

  /* GGUF metadata: the epsilon (F32) patched to NaN and to a negative value */
  static const float BAD[] = {NAN, -1e-5f, 0.0f};
  static const char *WANT[] = {"key llama.attention.layer_norm_rms_epsilon: nan out of range (0, 1]",
                               "key llama.attention.layer_norm_rms_epsilon: -1e-05 out of range", "layer_norm_rms_epsilon: 0 out of range"};
  for (int k = 0; k < 3; k++) {
    char *g;
    size_t n;
    if (dp_file_read_all(dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf"), &g, &n)) { CHECK(0, "read gguf fixture"); break; }
    const char *key = "llama.attention.layer_norm_rms_epsilon";
    char *h = NULL;
    for (size_t i = 0; !h && i + strlen(key) + 8 < n; i++)
      if (!memcmp(g + i, key, strlen(key))) h = g + i;
    CHECK(h && h[strlen(key)] == 6, "eps key is F32");
    if (h) memcpy(h + strlen(key) + 4, &BAD[k], 4);
    dp_file_write_atomic(dp_test_tmp("eps.gguf"), g, n);
    dp_free(g);
    dp_model_file *mf = NULL;
    dp_status st = dp_model_file_open(dp_test_tmp("eps.gguf"), &mf);
    CHECK(st != DP_OK && strstr(dp_error_message(), WANT[k]), "gguf eps: got \"%s\"", st ? dp_error_message() : "success");
    dp_model_file_close(mf);
  }
  /* RDRR manifest */
  const char *d = dp_test_tmp("r-eps");
  static const struct { const char *from, *to, *want; } R[] = {
      {"\"norm_eps\": ", "\"norm_eps\": -1e-05, \"x\": ", "field hparams.norm_eps: -1e-05 out of range (0, 1]"},
      {"\"norm_eps\": ", "\"norm_eps\": null, \"x\": ", "field hparams.norm_eps: 0 out of range"},
      {"\"theta\": ", "\"theta\": 1e999, \"x\": ", "field hparams.rope.theta: inf out of range"},
      {"\"bos_id\": ", "\"bos_id\": 99999, \"x\": ", "field hparams.bos_id: 99999 out of range -1..383"},
  };
  for (size_t k = 0; k < sizeof R / sizeof *R; k++) {
    sh("rm -rf '%s' && cp -r '%s' '%s'", d, BASE, d);
    edit(dp_test_tmp("r-eps/manifest.json"), "\"hparams\"", 1, R[k].from, R[k].to);
    dp_model_file *mf = NULL;
    dp_status st = dp_model_file_open(d, &mf);
    CHECK(st != DP_OK && strstr(dp_error_message(), R[k].want), "manifest %s: got \"%s\"", R[k].to, st ? dp_error_message() : "success");
    dp_model_file_close(mf);
  }
}

/* ---------------------------------------------------------------- overlapping / misaligned ranges */

static void test_overlaps(void) {
  /* safetensors */
  static const struct { const char *hdr, *want; } S[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", "overlap tensor a"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "overlap tensor a ["},
      {"{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[6,22]}}",
       "tensor b: data_offsets begin 6 is not a multiple of its 4-byte element"},
  };
  for (size_t k = 0; k < sizeof S / sizeof *S; k++) {
    uint8_t f[512] = {0};
    uint64_t hl = strlen(S[k].hdr);
    for (int i = 0; i < 8; i++) f[i] = (uint8_t)(hl >> (8 * i));
    memcpy(f + 8, S[k].hdr, hl);
    dp_safetensors st = {0};
    dp_status r = dp_safetensors_parse(f, 8 + hl + 32, "x.safetensors", &st);
    CHECK(r == DP_ERR_FORMAT && strstr(dp_error_message(), S[k].want), "safetensors %zu: got \"%s\"", k, r ? dp_error_message() : "success");
  }
  /* GGUF: two F32 [8] tensors at the same offset; then one at an unaligned offset */
  for (int k = 0; k < 2; k++) {
    dp_buf b = {0};
    dp_gguf_put_u32(&b, 0x46554747u), dp_gguf_put_u32(&b, 3), dp_gguf_put_u64(&b, 2), dp_gguf_put_u64(&b, 0);
    dp_gguf_put_str(&b, "a", 1), dp_gguf_put_u32(&b, 1), dp_gguf_put_u64(&b, 8), dp_gguf_put_u32(&b, 0), dp_gguf_put_u64(&b, 0);
    dp_gguf_put_str(&b, "b", 1), dp_gguf_put_u32(&b, 1), dp_gguf_put_u64(&b, 8), dp_gguf_put_u32(&b, 0), dp_gguf_put_u64(&b, k ? 36 : 0);
    static const uint8_t zero[160];
    dp_buf_append(&b, zero, (32 - b.len % 32) % 32 + 96);
    dp_gguf *g = NULL;
    dp_status r = dp_gguf_parse((const uint8_t *)b.data, b.len, "x.gguf", &g);
    const char *want = k ? "tensor b: offset 36 not aligned to 32" : "overlap tensor";
    CHECK(r == DP_ERR_FORMAT && strstr(dp_error_message(), want), "gguf %d: got \"%s\"", k,
          r ? dp_error_message() : "success");
    dp_gguf_free(g);
    dp_buf_free(&b);
  }
  /* RDRR: the second tensor moved onto the first; a tensor off the 256-byte grid; offsets out of range */
  const char *d = dp_test_tmp("r-ovl");
  static const struct { const char *from, *to, *want; } R[] = {{"\"offset\": ", "\"offset\": 0, \"x\": ", "overlap tensor"},
                                                                {"\"offset\": 0", "\"offset\": 16", "offset 16 of shard 0 is not a multiple of 256"},
                                                                {"\"offset\": 0", "\"offset\": 4611686018427387904", "field offset: not a whole number"},
                                                                {"\"offset\": 0", "\"offset\": -8", "field offset: not a whole number"}};
  for (int k = 0; k < 4; k++) {
    sh("rm -rf '%s' && cp -r '%s' '%s'", d, BASE, d);
    edit(dp_test_tmp("r-ovl/manifest.json"), "{\"name\": ", k ? 1 : 2, R[k].from, R[k].to);
    dp_model_file *mf = NULL;
    dp_status st = dp_model_file_open(d, &mf);
    CHECK(st == DP_ERR_FORMAT && strstr(dp_error_message(), R[k].want), "rdrr %d: got \"%s\"", k, st ? dp_error_message() : "success");
    dp_model_file_close(mf);
    char *t;
    size_t n;
    if (!dp_file_read_all(dp_test_tmp("r-ovl/manifest.json"), &t, &n)) { /* the validator alone (fuzzer, update-manifest) agrees */
      CHECK(dp_rdrr_manifest_check(t, n, "m") == DP_ERR_FORMAT && strstr(dp_error_message(), R[k].want), "manifest check %d", k);
      dp_free(t);
    }
  }
}

/* ---------------------------------------------------------------- broken sources */

/* An HF directory like llama2's without tensor `drop` (the header rewritten, data kept). */
static void hf_without(const char *dir, const char *drop) {
  char p[600];
  snprintf(p, sizeof p, "%s/model.safetensors", LLAMA2);
  dp_mapped m;
  dp_safetensors st = {0};
  if (dp_file_map(p, &m) || dp_safetensors_parse(m.data, m.size, p, &st)) { CHECK(0, "read llama2"); return; }
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | m.data[i];
  dp_buf h = {0};
  dp_buf_puts(&h, "{");
  int first = 1;
  for (size_t i = 0; i < st.n; i++) {
    if (!strcmp(st.t[i].name, drop)) continue;
    dp_buf_printf(&h, "%s\"%s\": {\"dtype\": \"F32\", \"shape\": [", first ? "" : ", ", st.t[i].name);
    for (int k = 0; k < st.t[i].n_dims; k++) dp_buf_printf(&h, "%s%llu", k ? ", " : "", (unsigned long long)st.t[i].shape[k]);
    uint64_t b = st.t[i].offset - 8 - hl;
    dp_buf_printf(&h, "], \"data_offsets\": [%llu, %llu]}", (unsigned long long)b, (unsigned long long)(b + st.t[i].nbytes));
    first = 0;
  }
  dp_buf_puts(&h, "}");
  dp_buf f = {0};
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
  dp_buf_append(&f, len, 8);
  dp_buf_append(&f, h.data, h.len);
  dp_buf_append(&f, m.data + 8 + hl, (size_t)(m.size - 8 - hl));
  sh("mkdir -p '%s' && cp '%s/config.json' '%s/'", dir, LLAMA2, dir);
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  dp_file_write_atomic(p, f.data, f.len);
  dp_buf_free(&h), dp_buf_free(&f);
  for (size_t i = 0; i < st.n; i++) dp_free(st.t[i].name);
  dp_free(st.t);
  dp_file_unmap(&m);
}

static dp_status fail_on_output(const char *path, void *ctx) {
  (void)ctx;
  return strstr(path, ".tmp-") ? dp_error(DP_ERR_FORMAT, "%s: injected check failure", path) : DP_OK;
}

static void test_broken_sources(void) {
  /* broken tokenizer: doppler-tiny with a tokenizer.json the tokenizer refuses */
  const char *d = dp_test_tmp("src-tok");
  sh("mkdir -p '%s' && ln -s '%s/config.json' '%s/model.safetensors' '%s/' && echo '{\"model\": {\"type\": \"WordPiece\"}}' > '%s/tokenizer.json'", d, TINY,
     TINY, d, d);
  refused(d, dp_test_tmp("out-tok"), "tokenizer", "broken tokenizer");
  CHECK(!exists(dp_test_tmp("out-tok")), "nothing at OUT");
  refused(d, dp_test_tmp("out-tok.gguf"), "tokenizer", "broken tokenizer to GGUF");
  CHECK(!exists(dp_test_tmp("out-tok.gguf")), "no GGUF at OUT");
  /* a missing tensor */
  hf_without(dp_test_tmp("src-miss"), "model.layers.1.mlp.up_proj.weight");
  refused(dp_test_tmp("src-miss"), dp_test_tmp("out-miss"), "model.layers.1.mlp.up_proj.weight: missing", "missing tensor");
  CHECK(!exists(dp_test_tmp("out-miss")), "nothing at OUT");
  /* a shape mismatch: config says intermediate_size 255, the tensors have 256 rows */
  d = dp_test_tmp("src-shape");
  sh("mkdir -p '%s' && ln -s '%s/model.safetensors' '%s/' && sed 's/\"intermediate_size\": 256/\"intermediate_size\": 255/' '%s/config.json' > '%s/config.json'", d,
     LLAMA2, d, LLAMA2, d);
  refused(d, dp_test_tmp("out-shape"), "expected [255,96]", "shape mismatch");
  CHECK(!exists(dp_test_tmp("out-shape")), "nothing at OUT");
  /* the output is checked before it replaces anything: a failing check leaves the old model */
  d = dp_test_tmp("keep-old");
  sh("cp -r '%s' '%s'", BASE, d);
  dp_convert_opts o = {.check = fail_on_output};
  CHECK(dp_convert(TINY, d, &o) != DP_OK && strstr(dp_error_message(), "injected check failure") && no_tmp_left(d), "output check failure");
  dp_model_file *mf = NULL;
  CHECK(dp_model_file_open(d, &mf) == DP_OK && dp_model_file_hparams(mf)->d_model == 96, "old model kept");
  dp_model_file_close(mf);
  o.check = check_hook;
  CHECK(dp_convert(TINY, d, &o) == DP_OK && dp_model_check(d) == DP_OK, "a good conversion passes its own check: %s", dp_error_message());
}

int main(void) {
  if (!dp_test_tmp_open("safety")) return 1;
  snprintf(LLAMA2, sizeof LLAMA2, "%s", dp_test_shared("fixtures/golden/llama2"));
  snprintf(TINY, sizeof TINY, "%s", dp_test_shared("models/doppler-tiny"));
  snprintf(BASE, sizeof BASE, "%s", dp_test_tmp("base"));
  snprintf(BASE_GGUF, sizeof BASE_GGUF, "%s", dp_test_tmp("base.gguf"));
  CHECK(dp_convert(LLAMA2, BASE, NULL) == DP_OK && dp_convert(LLAMA2, BASE_GGUF, NULL) == DP_OK, "base models: %s", dp_error_message());
  test_outputs();
  test_leftovers();
  test_foreign_leftovers();
  test_synth_leftovers();
  test_concurrent_edits();
  test_ranges();
  test_overlaps();
  test_broken_sources();
  dp_test_tmp_close();
  return dp_test_summary("test_format_safety");
}
