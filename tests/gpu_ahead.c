/* gpu_ahead.c -- decode batches recorded ahead (runtime/generate.c dp_rt_gen_set_ahead, which
 * dp_generate and the blocking loops turn on): the next batch is recorded and submitted while
 * the one before runs, and dropped when that one stops. Checked against the same generation
 * driven by hand (dp_gen_wait / dp_gen_resume, which never records ahead), on doppler-tiny
 * (full attention) and a synthetic gemma3 with a sliding window of 5 (the ring cache then takes
 * the dropped batch's writes past the stop), at 1, 3 and 8 steps a submit:
 * * greedy: a callback stop after k tokens (mid-batch, at a batch's end, in the first batch),
 *   then a continuation: both the same ids as by hand, and the stopped + continued ids equal one
 *   uninterrupted generation (the ids sampled after the stop in its batch never enter the
 *   context; the stop's pending token is fed again from the host: the dropped batch overwrote
 *   it on the GPU);
 * * max_tokens reached exactly at a batch's end and mid-batch (no batch beyond the limit);
 * * sampled (temperature 1, top-k 40, a fixed seed): stop + continue the same ids as by hand;
 * * cancel from the callback: DP_ERR_CANCELLED, then the session continues as by hand.
 * Deliberately broken version caught: the whole batch kept in the context after a stop
 * mid-batch (the behaviour before 2026-12-03 evening: the ids after the stop, never shown,
 * changed every later token). A continuation feeds the pending token from the host (eval), so
 * the dropped batch's id left in cur_id cannot reach it through this API. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doppler.h"
#include "testlib.h"
#include "tools/synth.h"

#define MAXT 160
typedef struct cap { int32_t ids[MAXT]; int n; int stop_at; int cancel_at; dp_session *s; } cap;
static int on_tok(void *user, int32_t tok, const char *text, size_t len) {
  (void)text, (void)len;
  cap *c = user;
  if (tok < 0) return 0;
  if (c->n < MAXT) c->ids[c->n++] = tok;
  if (c->cancel_at && c->n == c->cancel_at) dp_session_cancel(c->s);
  return c->stop_at && c->n >= c->stop_at;
}

/* Generate from ids (n may be 0: continue) with or without batches ahead; appends to c. */
static dp_status gen(dp_session *s, const int32_t *ids, size_t n, const dp_generate_options *o, cap *c, int ahead) {
  if (ahead) return dp_generate_ids(s, ids, n, o, on_tok, c, NULL);
  dp_gen *g;
  dp_status st = dp_gen_start_ids(s, ids, n, o, on_tok, c, &g);
  if (st) return st;
  while (!st && dp_gen_pending(g)) {
    st = dp_gen_wait(g);
    if (!st) st = dp_gen_resume(g);
  }
  dp_status fs = dp_gen_finish(g, NULL);
  return st ? st : fs;
}

static int same_ids(const cap *a, const cap *b) { return a->n == b->n && !memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids); }

static const int32_t prompt[] = {1, 415, 28, 300, 17};

/* One scenario on a fresh session each way: a first generation (max m, stop after k, cancel
 * after x), then a continuation of c2 tokens; the ids of both ways must agree. */
static void scenario(const char *what, dp_model *m, int steps, const dp_sampling *sp, int m1, int k, int x, int c2, cap *out) {
  cap r[2];
  dp_status st1[2], st2[2];
  for (int ahead = 0; ahead < 2; ahead++) {
    dp_session_options so = {256, steps};
    dp_session *s = NULL;
    cap *c = &r[ahead];
    memset(c, 0, sizeof *c);
    st1[ahead] = st2[ahead] = DP_ERR_INTERNAL;
    if (dp_session_create(m, &so, &s)) { CHECK(0, "%s: session: %s", what, dp_error_message()); return; }
    dp_generate_options o = dp_generate_defaults();
    o.sampling = *sp, o.max_tokens = m1, o.ignore_eos = 1;
    c->stop_at = k, c->cancel_at = x, c->s = s;
    st1[ahead] = gen(s, prompt, sizeof prompt / sizeof *prompt, &o, c, ahead);
    c->stop_at = c->cancel_at = 0;
    o.max_tokens = c2;
    st2[ahead] = c2 ? gen(s, NULL, 0, &o, c, ahead) : DP_OK;
    dp_session_free(s);
  }
  CHECK(st1[0] == st1[1] && st2[0] == DP_OK && st2[1] == DP_OK, "%s (steps %d): status %d/%d then %d/%d", what, steps, st1[0],
        st1[1], st2[0], st2[1]);
  int ok = same_ids(&r[0], &r[1]);
  int d = 0;
  while (d < r[0].n && d < r[1].n && r[0].ids[d] == r[1].ids[d]) d++;
  CHECK(ok, "%s (steps %d): %d ids by hand, %d ahead, first difference at %d", what, steps, r[0].n, r[1].n, d);
  if (out) *out = r[1];
}

static void run_model(const char *what, const char *path) {
  dp_model *m = NULL;
  if (dp_model_load(path, NULL, &m)) { CHECK(0, "%s: load: %s", what, dp_error_message()); return; }
  dp_sampling greedy = dp_generate_defaults().sampling, samp = greedy;
  greedy.temperature = 0;
  samp.temperature = 1, samp.top_k = 40, samp.top_p = 1, samp.seed = 1234;
  static const int steps[] = {1, 3, 8};
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    int S = steps[i];
    cap whole, parts;
    /* uninterrupted: 60 tokens (no stop) */
    scenario(what, m, S, &greedy, 60, 0, 0, 0, &whole);
    CHECK(whole.n == 60, "%s (steps %d): %d tokens of 60", what, S, whole.n);
    /* the first batch is 1 step, then S: stops mid-batch, at a batch's end, in the first batch */
    int ks[] = {1, 1 + S, 2 + S, 5, 12, 23};
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
      scenario(what, m, S, &greedy, 60, ks[j], 0, 60 - ks[j], &parts);
      CHECK(same_ids(&parts, &whole), "%s (steps %d): stopped after %d and continued: not the uninterrupted ids", what, S, ks[j]);
    }
    /* max_tokens: at a batch's end and mid-batch */
    scenario(what, m, S, &greedy, 1 + 2 * S, 0, 0, 7, NULL);
    scenario(what, m, S, &greedy, 3 + 2 * S, 0, 0, 7, NULL);
    /* sampled: stop mid-batch, continue */
    scenario(what, m, S, &samp, 50, 7, 0, 30, NULL);
    /* cancel: DP_ERR_CANCELLED after the batch in flight, then the session continues */
    scenario(what, m, S, &greedy, 50, 0, 6, 20, NULL);
    printf("%s (steps %d): ahead = by hand in every scenario\n", what, S);
  }
  /* a generation recording ahead is refused by the batched step (its next batch may be in flight) */
  dp_session_options so = {256, 4};
  dp_session *s = NULL;
  if (!dp_session_create(m, &so, &s)) {
    dp_generate_options o = dp_generate_defaults();
    o.sampling = greedy, o.max_tokens = 20, o.ignore_eos = 1;
    cap c;
    memset(&c, 0, sizeof c);
    dp_gen *g = NULL;
    dp_status st = dp_gen_start_ids(s, prompt, sizeof prompt / sizeof *prompt, &o, on_tok, &c, &g);
    if (!st) {
      dp_gen_set_ahead(g, 1);
      st = dp_gen_wait(g);
      dp_status one = DP_OK;
      size_t rows = 9;
      dp_status r = st ? st : dp_gen_resume_batch(&g, 1, &one, &rows);
      CHECK(r == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "ahead"), "%s: batched step of an ahead generation: %d %s", what,
            r, dp_error_message());
      dp_gen_finish(g, NULL);
    }
    dp_session_free(s);
  }
  dp_model_free(m);
}

int main(void) {
  double t0 = dp_test_now();
  printf("seed %llu\n", (unsigned long long)dp_test_seed());
  run_model("doppler-tiny", dp_test_shared("models/doppler-tiny"));
  char base[256];
  snprintf(base, sizeof base, "%s/dp_gpu_ahead_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(base)) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/gemma3", base);
    dp_synth_opts o = {.arch = "gemma3", .vocab = 512, .d_model = 64, .n_heads = 2, .n_kv_heads = 1, .head_dim = 32, .d_ff = 96,
                       .n_layers = 2, .window = 5, .dtype = DP_F32};
    o.seed = dp_test_rand_u32();
    dp_status st = dp_synth_write(&o, dir);
    CHECK(!st, "synth gemma3: %s", dp_error_message());
    if (!st) run_model("gemma3, window 5", dir);
    dp_test_rm_synth(dir);
    rmdir(base);
  } else {
    CHECK(0, "mkdtemp %s", base);
  }
  double el = dp_test_now() - t0;
  printf("total %.1f s\n", el);
  CHECK(el < 240, "took %.0f s (bound 240 s)", el);
  return dp_test_summary("gpu_ahead");
}
