/* gpu_resumable.c -- the resumable generation API (doppler.h dp_gen_*) driven by hand on
 * doppler-tiny (../shared/models/doppler-tiny), the way the browser (from JS promises) and the
 * server (several sessions on one thread) drive it:
 * * two sessions (one greedy from text, steps 8; one sampled at temperature 1 from ids, steps 3)
 *   interleaved step by step on one thread with dp_gen_poll, each giving the same ids, text,
 *   stop reason and counts as dp_generate alone; both had a read-back in flight at once;
 * * no blocking wait for the GPU from start, poll, resume or finish: the device layer's wait
 *   counter (dp_gpu_wait_count) does not move while they run, and does under dp_generate;
 * * a resume before the read-back completed is refused and changes nothing;
 * * cancel between steps (DP_ERR_CANCELLED after the batch in flight, the session continues
 *   with the reference ids), finish before the end (the batch in flight dropped, the session
 *   continues with the reference ids), a second generation on a busy session refused. */
#include <string.h>

#include "api/api_internal.h"
#include "core/error.h"
#include "doppler.h"
#include "testlib.h"

#define MAXT 128
typedef struct cap { int32_t ids[MAXT]; int n; char text[4096]; size_t len; } cap;
static int on_tok(void *user, int32_t tok, const char *text, size_t len) {
  cap *c = user;
  if (tok >= 0 && c->n < MAXT) c->ids[c->n++] = tok;
  if (c->len + len < sizeof c->text) { memcpy(c->text + c->len, text, len); c->len += len; c->text[c->len] = 0; }
  return 0;
}

static int same(const cap *a, const cap *b) {
  return a->n == b->n && !memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids) && a->len == b->len && !strcmp(a->text, b->text);
}

/* Spin on dp_gen_poll (never blocks) until g may resume; returns the polls it took. */
static long spin(dp_gen *g) {
  long n = 0;
  while (!dp_gen_poll(g)) n++;
  return n;
}

static const int32_t prompt_b[] = {1, 415, 2083, 300}; /* arbitrary in-vocabulary ids */

int main(void) {
  dp_model *m = NULL;
  dp_status st = dp_model_load(dp_test_shared("models/doppler-tiny"), NULL, &m);
  CHECK(!st, "load: %s", dp_error_message());
  if (st) return dp_test_summary("gpu_resumable");
  dp_gpu *gpu = m->gpu;
  dp_session_options soa = {0, 8}, sob = {0, 3};
  dp_session *sa = NULL, *sb = NULL;
  st = dp_session_create(m, &soa, &sa);
  if (!st) st = dp_session_create(m, &sob, &sb);
  CHECK(!st, "sessions: %s", dp_error_message());
  if (st) return dp_test_summary("gpu_resumable");

  dp_generate_options oa = dp_generate_defaults(), ob = dp_generate_defaults();
  oa.max_tokens = 50, oa.sampling.temperature = 0, oa.ignore_eos = 1;
  ob.max_tokens = 40, ob.sampling.temperature = 1.0f, ob.sampling.top_k = 0, ob.sampling.top_p = 1, ob.sampling.min_p = 0;
  ob.sampling.seed = 7, ob.ignore_eos = 1;
  const char *prompt_a = "The jury said";
  size_t nb = sizeof prompt_b / sizeof *prompt_b;

  /* references: each alone through the blocking dp_generate (which does wait) */
  cap ra = {0}, rb = {0};
  dp_generate_stats gra, grb;
  uint64_t w0 = dp_gpu_wait_count(gpu);
  st = dp_generate(sa, prompt_a, &oa, on_tok, &ra, &gra);
  if (!st) st = dp_generate_ids(sb, prompt_b, nb, &ob, on_tok, &rb, &grb);
  CHECK(!st && ra.n == 50 && rb.n == 40, "references: %s (%d, %d tokens)", st ? dp_error_message() : "ok", ra.n, rb.n);
  CHECK(dp_gpu_wait_count(gpu) > w0, "dp_generate did not wait: the wait counter does not count");
  printf("reference A: %d ids, text \"%.40s...\"\n", ra.n, ra.text);

  /* both at once, by hand, on this thread */
  dp_session_reset(sa), dp_session_reset(sb);
  cap ca = {0}, cb = {0};
  dp_gen *ga = NULL, *gb = NULL;
  uint64_t w1 = dp_gpu_wait_count(gpu);
  st = dp_gen_start(sa, prompt_a, &oa, on_tok, &ca, &ga);
  if (!st) st = dp_gen_start_ids(sb, prompt_b, nb, &ob, on_tok, &cb, &gb);
  CHECK(!st, "start: %s", dp_error_message());
  dp_gen *busy = NULL;
  CHECK(dp_gen_start(sa, prompt_a, &oa, on_tok, &ca, &busy) == DP_ERR_INVALID_ARG && !busy, "second generation on a busy session");
  int both = 0, steps_a = 0, steps_b = 0, early = 0;
  long polls = 0;
  dp_status ea = DP_OK, eb = DP_OK;
  while (!st && (dp_gen_pending(ga) || dp_gen_pending(gb))) {
    if (dp_gen_pending(ga) && dp_gen_pending(gb)) both++;
    dp_gen *g = dp_gen_pending(ga) ? ga : gb;
    if (dp_gen_pending(ga) && dp_gen_pending(gb) && (steps_a + steps_b) % 2) g = gb; /* alternate */
    if (!dp_gen_poll(g)) { /* not yet: resuming now must be refused, harmlessly */
      CHECK(dp_gen_resume(g) == DP_ERR_INVALID_ARG, "resume before the read-back completed was accepted");
      early++;
      polls += spin(g);
    }
    dp_status r = dp_gen_resume(g);
    if (g == ga) ea = r, steps_a++; else eb = r, steps_b++;
    if (r) break;
  }
  CHECK(dp_gpu_wait_count(gpu) == w1, "the hand-driven generations waited %llu times inside the core",
        (unsigned long long)(dp_gpu_wait_count(gpu) - w1));
  dp_generate_stats sta, stb;
  dp_status fa = dp_gen_finish(ga, &sta), fb = dp_gen_finish(gb, &stb);
  CHECK(!ea && !eb && !fa && !fb, "interleaved: %s", dp_error_message());
  CHECK(dp_gpu_wait_count(gpu) == w1, "dp_gen_finish waited");
  printf("interleaved: %d + %d resumes, both in flight at %d points, %d early resumes refused, %ld polls\n", steps_a, steps_b,
         both, early, polls);
  CHECK(both >= 4 && steps_a >= 3 && steps_b >= 3, "the two generations did not overlap (%d)", both);
  CHECK(same(&ca, &ra), "session A interleaved: %d ids \"%s\" vs alone %d \"%s\"", ca.n, ca.text, ra.n, ra.text);
  CHECK(same(&cb, &rb), "session B interleaved: %d ids vs alone %d (first %d vs %d)", cb.n, rb.n, cb.ids[0], rb.ids[0]);
  CHECK(sta.n_generated == gra.n_generated && sta.stop_reason == gra.stop_reason && sta.n_prompt == gra.n_prompt &&
            stb.n_generated == grb.n_generated && stb.stop_reason == grb.stop_reason,
        "stats differ from dp_generate's");
  CHECK(sta.prefill_ms > 0 && sta.ttft_ms >= sta.prefill_ms && sta.decode_ms > 0, "stats times %g %g %g", sta.prefill_ms,
        sta.ttft_ms, sta.decode_ms);

  /* cancel between steps: the batch in flight is delivered, then DP_ERR_CANCELLED */
  dp_session_reset(sa);
  cap cc = {0};
  dp_gen *gc = NULL;
  st = dp_gen_start(sa, prompt_a, &oa, on_tok, &cc, &gc);
  for (int i = 0; !st && i < 3; i++) { spin(gc); st = dp_gen_resume(gc); } /* prefill, 1 token, 8 more; 8 in flight */
  CHECK(!st && cc.n == 9 && dp_gen_pending(gc), "before cancel: %d tokens, pending %d", cc.n, dp_gen_pending(gc));
  dp_session_cancel(sa);
  spin(gc);
  dp_status rc = dp_gen_resume(gc);
  CHECK(rc == DP_ERR_CANCELLED && !dp_gen_pending(gc) && cc.n == 17, "cancel: %d tokens, status %d", cc.n, (int)rc);
  CHECK(dp_gen_finish(gc, NULL) == DP_ERR_CANCELLED, "finish after cancel");
  cap cd = {0};
  dp_generate_options rest = oa;
  rest.max_tokens = oa.max_tokens - cc.n;
  st = dp_generate_ids(sa, NULL, 0, &rest, on_tok, &cd, NULL);
  CHECK(!st && cc.n + cd.n == ra.n && !memcmp(cc.ids, ra.ids, (size_t)cc.n * 4) && !memcmp(cd.ids, ra.ids + cc.n, (size_t)cd.n * 4),
        "after cancel the session does not continue with the reference ids: %s", st ? dp_error_message() : "ids differ");

  /* finish before the end: the batch in flight is dropped, the session continues from what was delivered */
  dp_session_reset(sa);
  cap ce = {0}, cf = {0};
  dp_gen *ge = NULL;
  st = dp_gen_start(sa, prompt_a, &oa, on_tok, &ce, &ge);
  for (int i = 0; !st && i < 2; i++) { spin(ge); st = dp_gen_resume(ge); } /* prefill, 1 token; 8 in flight */
  CHECK(!st && ce.n == 1 && dp_gen_pending(ge), "before finish: %d tokens", ce.n);
  CHECK(dp_gen_finish(ge, NULL) == DP_ERR_CANCELLED, "early finish is not DP_ERR_CANCELLED");
  CHECK(dp_session_position(sa) == gra.n_prompt + 1, "position after early finish %d, expected %d", dp_session_position(sa),
        gra.n_prompt + 1);
  rest.max_tokens = oa.max_tokens - ce.n;
  st = dp_generate_ids(sa, NULL, 0, &rest, on_tok, &cf, NULL);
  CHECK(!st && ce.n + cf.n == ra.n && ce.ids[0] == ra.ids[0] && !memcmp(cf.ids, ra.ids + 1, (size_t)cf.n * 4),
        "after an early finish the session does not continue with the reference ids: %s", st ? dp_error_message() : "ids differ");

  dp_session_free(sa);
  dp_session_free(sb);
  dp_model_free(m);
  return dp_test_summary("gpu_resumable");
}
