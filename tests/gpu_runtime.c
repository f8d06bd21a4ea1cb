/* gpu_runtime.c -- end-to-end GPU runtime tests on doppler-tiny (../shared/models/doppler-tiny):
 * * the greedy samples of eval.json reproduced token for token, from the HF checkpoint and
 *   from the GGUF file llama.cpp wrote (../shared/fixtures/gguf/doppler-tiny-llamacpp-f16.gguf),
 *   through the batched decode loop (several steps per submit, ids read back in batches);
 * * the same ids with 1 step per submit and through the text API (tokenizer, BOS policy,
 *   streaming callback), and the text of the first sample;
 * * sampling: a fixed seed reproduces itself, a different seed differs; top-k 1 equals greedy;
 *   sampled ids stay inside the top-k set (checked against the logits of the first step);
 * * stop strings, EOS, cancel from the callback, reset, and the context-length error;
 * * max_tokens 0 up to a full context (DP_OK, stop_reason 4), the prompt ids dp_generate feeds
 *   (dp_tokenize_prompt) and token pieces (dp_token_piece). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "doppler.h"
#include "testlib.h"

typedef struct sample { int32_t prompt[64]; int np; int32_t greedy[64]; int ng; const char *text; } sample;

static int load_samples(sample *out, int max, dp_json_doc **doc) {
  *doc = dp_json_parse_file(dp_test_shared("models/doppler-tiny/eval.json"));
  if (!*doc) return 0;
  const dp_json *arr = dp_json_get(dp_json_root(*doc), "samples");
  int n = 0;
  for (size_t i = 0; i < dp_json_len(arr) && n < max; i++, n++) {
    const dp_json *s = dp_json_at(arr, i), *p = dp_json_get(s, "prompt_ids"), *g = dp_json_get(s, "greedy_ids");
    out[n].np = (int)dp_json_len(p);
    out[n].ng = (int)dp_json_len(g);
    for (int j = 0; j < out[n].np && j < 64; j++) out[n].prompt[j] = (int32_t)dp_json_int(dp_json_at(p, j), -1);
    for (int j = 0; j < out[n].ng && j < 64; j++) out[n].greedy[j] = (int32_t)dp_json_int(dp_json_at(g, j), -1);
    out[n].text = dp_json_get_str(s, "text", "");
  }
  return n;
}

static int first_diff(const int32_t *a, const int32_t *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return -1;
}

typedef struct textcap { char buf[4096]; size_t len; int calls; int stop_after; dp_session *cancel; } textcap;
static int on_text(void *user, int32_t tok, const char *text, size_t len) {
  textcap *c = user;
  if (c->len + len < sizeof c->buf) { memcpy(c->buf + c->len, text, len); c->len += len; c->buf[c->len] = 0; }
  c->calls++;
  if (c->cancel && c->calls == c->stop_after) dp_session_cancel(c->cancel);
  return !c->cancel && c->stop_after && c->calls >= c->stop_after;
}

static void greedy_samples(const char *what, const char *path, const sample *S, int ns, int steps) {
  dp_model *m = NULL;
  dp_status st = dp_model_load(path, NULL, &m);
  CHECK(!st, "%s: load %s: %s", what, path, dp_error_message());
  if (st) return;
  dp_session_options so = {0, steps};
  dp_session *s = NULL;
  st = dp_session_create(m, &so, &s);
  CHECK(!st, "%s: session: %s", what, dp_error_message());
  for (int i = 0; !st && i < ns; i++) {
    int32_t got[64];
    dp_session_reset(s);
    st = dp_session_eval(s, S[i].prompt, (size_t)S[i].np, NULL);
    if (!st) st = dp_session_greedy(s, (size_t)S[i].ng, got, NULL);
    CHECK(!st, "%s: sample %d: %s", what, i, dp_error_message());
    if (st) break;
    int d = first_diff(got, S[i].greedy, S[i].ng);
    CHECK(d < 0, "%s (steps %d): sample %d: first differing token at %d: %d vs %d", what, steps, i, d, d >= 0 ? got[d] : 0,
          d >= 0 ? S[i].greedy[d] : 0);
    if (d < 0) printf("%s (steps %d): sample %d: %d greedy tokens match eval.json\n", what, steps, i, S[i].ng);
  }
  dp_session_free(s);
  dp_model_free(m);
}

/* The text API on the first sample: BOS from the tokenizer policy, streamed text. */
static void text_api(const char *path, const sample *S) {
  dp_model *m = NULL;
  dp_session *s = NULL;
  dp_status st = dp_model_load(path, NULL, &m);
  if (!st) st = dp_session_create(m, NULL, &s);
  CHECK(!st, "text api: %s", dp_error_message());
  if (st) { dp_model_free(m); return; }
  dp_generate_options o = dp_generate_defaults();
  o.sampling.temperature = 0;
  o.max_tokens = S[0].ng;
  o.ignore_eos = 1;
  textcap c = {0};
  dp_generate_stats gs;
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  CHECK(!st, "generate: %s", dp_error_message());
  CHECK(gs.n_prompt == S[0].np, "prompt of %d tokens, eval.json has %d (BOS policy)", gs.n_prompt, S[0].np);
  CHECK(gs.n_generated == S[0].ng, "generated %d tokens", gs.n_generated);
  CHECK(!strcmp(c.buf, S[0].text), "text differs:\n got  '%s'\n want '%s'", c.buf, S[0].text);
  printf("text api: \"The jury said\" -> \"%.60s...\" (%d callbacks)\n", c.buf, c.calls);

  /* stop string: generation ends before " of the United", nothing of it emitted */
  const char *stops[] = {" of the United"};
  o.stop = stops, o.n_stop = 1;
  memset(&c, 0, sizeof c);
  dp_session_reset(s);
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  const char *cut = strstr(S[0].text, stops[0]);
  CHECK(!st && cut && gs.stop_reason == 2 && c.len == (size_t)(cut - S[0].text) && !strncmp(c.buf, S[0].text, c.len),
        "stop string: st %d reason %d text '%s'", st, gs.stop_reason, c.buf);
  o.stop = NULL, o.n_stop = 0;

  /* callback stop after 3 calls */
  memset(&c, 0, sizeof c);
  c.stop_after = 3;
  dp_session_reset(s);
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  CHECK(!st && gs.stop_reason == 3 && c.calls == 3, "callback stop: st %d reason %d calls %d", st, gs.stop_reason, c.calls);

  /* cancel from the callback: DP_ERR_CANCELLED after the current batch */
  memset(&c, 0, sizeof c);
  c.stop_after = 2, c.cancel = s;
  dp_session_reset(s);
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  CHECK(st == DP_ERR_CANCELLED, "cancel: status %d (%s)", st, dp_error_message());

  /* continuing a conversation: the second call's prompt follows the first reply */
  dp_session_reset(s);
  o.max_tokens = 5;
  memset(&c, 0, sizeof c);
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  int pos1 = dp_session_position(s);
  memset(&c, 0, sizeof c);
  if (!st) st = dp_generate(s, " and then", &o, on_text, &c, &gs);
  CHECK(!st && pos1 == S[0].np + 5 && gs.n_generated == 5, "continue: st %d pos %d gen %d: %s", st, pos1, gs.n_generated,
        dp_error_message());

  /* context length: a clear error, nothing generated */
  dp_session_reset(s);
  o.max_tokens = dp_session_context_length(s);
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  CHECK(st == DP_ERR_CONTEXT_FULL && strstr(dp_error_message(), "context length"), "context: status %d '%s'", st,
        dp_error_message());
  printf("context error: %s\n", dp_error_message());

  /* max_tokens 0: until EOS or a full context; the full context ends it with DP_OK, reason 4 */
  dp_session *small = NULL;
  dp_session_options so16 = {16, 0};
  st = dp_session_create(m, &so16, &small);
  o.max_tokens = 0;
  o.ignore_eos = 1;
  memset(&c, 0, sizeof c);
  if (!st) st = dp_generate(small, "The jury said", &o, on_text, &c, &gs);
  CHECK(!st && gs.stop_reason == 4 && gs.n_prompt + gs.n_generated == 16 && dp_session_position(small) == 16,
        "until a full context: st %d reason %d prompt %d generated %d: %s", st, gs.stop_reason, gs.n_prompt, gs.n_generated,
        dp_error_message());
  /* the prompt ids dp_generate feeds: eval.json's (BOS first) at position 0, no BOS later */
  int32_t pid[64];
  size_t np = 0;
  st = dp_tokenize_prompt(small, "The jury said", &o, pid, 64, &np);
  CHECK(!st && np == (size_t)S[0].np - 1 && !memcmp(pid, S[0].prompt + 1, np * sizeof *pid), "tokenize mid-session: %d n %zu", st, np);
  dp_session_reset(small);
  st = dp_tokenize_prompt(small, "The jury said", &o, pid, 64, &np);
  CHECK(!st && np == (size_t)S[0].np && !memcmp(pid, S[0].prompt, np * sizeof *pid), "tokenize at 0: %d n %zu", st, np);
  char piece[64] = "", bos[64] = "";
  size_t plen = 0, blen = 0;
  st = dp_token_piece(m, S[0].prompt[1], piece, sizeof piece, &plen);
  dp_status st2 = dp_token_piece(m, S[0].prompt[0], bos, sizeof bos, &blen);
  CHECK(!st && plen == 3 && !strcmp(piece, "The") && !st2 && !strcmp(bos, "<|begin_of_text|>"), "pieces: '%s' '%s'", piece, bos);
  CHECK(dp_token_piece(m, 1 << 30, piece, sizeof piece, &plen) == DP_ERR_INVALID_ARG, "piece of a bad id: %s", dp_error_message());
  dp_session_free(small);
  o.ignore_eos = 0;

  /* bad arguments: an error code and a message, never a crash */
  o = dp_generate_defaults();
  o.sampling.top_p = 0;
  st = dp_generate(s, "The jury said", &o, on_text, &c, &gs);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "top_p"), "top_p 0: %d '%s'", st, dp_error_message());
  int32_t bad[2] = {0, 999999};
  dp_session_reset(s);
  st = dp_session_eval(s, bad, 2, NULL);
  CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "vocabulary"), "bad id: %d '%s'", st, dp_error_message());
  dp_session_reset(s);
  int32_t g1;
  st = dp_session_greedy(s, 1, &g1, NULL);
  CHECK(st == DP_ERR_INVALID_ARG, "greedy on an empty session: %d '%s'", st, dp_error_message());
  dp_model *none = NULL;
  st = dp_model_load("/nonexistent/model", NULL, &none);
  CHECK(st != DP_OK && !none && dp_error_message()[0], "loading a missing model: %d '%s'", st, dp_error_message());
  printf("missing model: %s\n", dp_error_message());
  dp_session_free(s);
  dp_model_free(m);
}

typedef struct idcap { int32_t ids[256]; int n; } idcap;
static int on_id(void *user, int32_t tok, const char *text, size_t len) {
  idcap *c = user;
  if (tok >= 0 && c->n < 256) c->ids[c->n++] = tok;
  return 0;
}

static void sampling(const char *path, const sample *S) {
  dp_model *m = NULL;
  dp_session *s = NULL;
  dp_status st = dp_model_load(path, NULL, &m);
  if (!st) st = dp_session_create(m, NULL, &s);
  CHECK(!st, "sampling: %s", dp_error_message());
  if (st) { dp_model_free(m); return; }
  dp_generate_options o = dp_generate_defaults();
  o.max_tokens = 40;
  o.ignore_eos = 1;
  o.sampling.temperature = 1.0f, o.sampling.top_k = 0, o.sampling.top_p = 1, o.sampling.min_p = 0;
  idcap a = {0}, b = {0}, c = {0};
  o.sampling.seed = 1234;
  st = dp_generate_ids(s, S[0].prompt, (size_t)S[0].np, &o, on_id, &a, NULL);
  dp_session_reset(s);
  if (!st) st = dp_generate_ids(s, S[0].prompt, (size_t)S[0].np, &o, on_id, &b, NULL);
  o.sampling.seed = 99;
  dp_session_reset(s);
  if (!st) st = dp_generate_ids(s, S[0].prompt, (size_t)S[0].np, &o, on_id, &c, NULL);
  CHECK(!st, "sampling: %s", dp_error_message());
  CHECK(a.n == 40 && b.n == 40 && first_diff(a.ids, b.ids, 40) < 0, "same seed, different ids");
  CHECK(first_diff(a.ids, c.ids, 40) >= 0, "seeds 1234 and 99 gave the same 40 ids");
  CHECK(first_diff(a.ids, S[0].greedy, 40) >= 0, "temperature 1 gave the greedy ids");
  /* top-k 1 is greedy whatever the temperature */
  o.sampling.top_k = 1, o.sampling.temperature = 1.5f;
  idcap d = {0};
  dp_session_reset(s);
  if (!st) st = dp_generate_ids(s, S[0].prompt, (size_t)S[0].np, &o, on_id, &d, NULL);
  CHECK(!st && first_diff(d.ids, S[0].greedy, 40) < 0, "top-k 1 differs from greedy");
  /* first-step draws stay in the top-k / top-p / min-p sets of the prompt's logits */
  dp_model_info mi;
  dp_model_get_info(m, &mi);
  float *lg = dp_malloc((size_t)S[0].np * (size_t)mi.vocab_size * sizeof *lg);
  dp_session_reset(s);
  st = dp_session_eval(s, S[0].prompt, (size_t)S[0].np, lg);
  CHECK(!st, "eval: %s", dp_error_message());
  const float *row = lg + (size_t)(S[0].np - 1) * (size_t)mi.vocab_size;
  int bad_k = 0, bad_p = 0;
  for (int trial = 0; trial < 24 && !st; trial++) {
    o.sampling.temperature = 1.0f, o.sampling.top_k = 5, o.sampling.top_p = 1, o.sampling.min_p = 0;
    o.sampling.seed = 1000 + (uint64_t)trial;
    o.max_tokens = 1;
    idcap e = {0};
    dp_session_reset(s);
    st = dp_generate_ids(s, S[0].prompt, (size_t)S[0].np, &o, on_id, &e, NULL);
    int rank = 0;
    for (int j = 0; j < mi.vocab_size; j++) rank += row[j] > row[e.ids[0]];
    bad_k += rank >= 5;
    /* min-p 0.5: only tokens with p >= 0.5 p_max */
    o.sampling.top_k = 0, o.sampling.min_p = 0.5f;
    idcap f = {0};
    dp_session_reset(s);
    if (!st) st = dp_generate_ids(s, S[0].prompt, (size_t)S[0].np, &o, on_id, &f, NULL);
    float mx = row[0];
    for (int j = 1; j < mi.vocab_size; j++) mx = row[j] > mx ? row[j] : mx;
    bad_p += row[f.ids[0]] < mx + logf(0.5f) - 1e-4f;
  }
  CHECK(!st && !bad_k, "%d draws outside the top-5 set", bad_k);
  CHECK(!st && !bad_p, "%d draws outside the min-p set", bad_p);
  dp_free(lg);
  dp_session_free(s);
  dp_model_free(m);
}

int main(void) {
  sample S[8];
  dp_json_doc *doc;
  int ns = load_samples(S, 8, &doc);
  CHECK(ns == 4, "eval.json: %d samples", ns);
  const char *hf = dp_test_shared("models/doppler-tiny");
  char hfp[1024];
  snprintf(hfp, sizeof hfp, "%s", hf);
  greedy_samples("hf", hfp, S, ns, 8);
  greedy_samples("hf", hfp, S, 1, 1);
  char gg[1024];
  snprintf(gg, sizeof gg, "%s", dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf"));
  greedy_samples("gguf-f16", gg, S, ns, 8);
  text_api(hfp, S);
  sampling(hfp, S);
  dp_json_free(doc);
  return dp_test_summary("gpu_runtime");
}
