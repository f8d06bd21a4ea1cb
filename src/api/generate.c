/* generate.c -- resumable text generation for the public API (dp_gen_start, dp_gen_resume,
 * dp_gen_finish; the blocking dp_generate is a loop over them in native.c): prompt -> ids
 * (tokenizer, BOS policy) -> prefill (runtime/session.c) -> batched GPU decode, one batch per
 * resume (runtime/generate.c) -> streaming detokenizer -> stop strings -> the caller's callback.
 * Nothing here waits for the GPU: each call submits work and returns; the host waits for the
 * read-back in between (dp_gen_wait natively, the mapAsync promise in the browser), so one
 * thread can interleave several sessions.
 *
 * With max_tokens 0, generation runs until end-of-sequence or a full context; the latter ends
 * it with DP_OK and stop_reason 4.
 * Stop strings: decoded text is held back while its tail could still be the start of a stop
 * string; a complete match ends generation and nothing from the match on is emitted.
 * Timing (dp_generate_stats): the prefill is timed to completion of its GPU work; the time to
 * first token runs from the call to the first token's arrival on the host. */
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "core/alloc.h"
#include "core/error.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

dp_generate_options dp_generate_defaults(void) {
  dp_generate_options o;
  memset(&o, 0, sizeof o);
  o.max_tokens = 128;
  o.sampling.temperature = 0.8f;
  o.sampling.top_k = 40;
  o.sampling.top_p = 0.95f;
  o.sampling.min_p = 0.05f;
  o.sampling.repeat_penalty = 1.0f;
  o.sampling.repeat_last_n = 64;
  o.sampling.seed = 0x5eed;
  o.add_bos = -1;
  return o;
}

struct dp_gen {
  dp_session *s;
  dp_generate_options opts;  /* the caller's, copied (stop strings: its pointers, kept by the caller) */
  const dp_generate_options *o; /* &opts */
  dp_rt_gen *rt;
  dp_token_fn cb;
  void *user;
  dp_detok *detok;
  dp_buf held;           /* decoded text not yet emitted */
  double t0, t_first;
  int stopped_by;        /* 0 none, 2 stop string, 3 callback */
  dp_status err;         /* a failure inside the callback path (detokenizer, memory) */
  dp_status result;      /* how generation ended (DP_OK until then) */
  int ended;
  dp_generate_stats stats;
};
typedef struct dp_gen gen_ctx;

/* Bytes at the end of held that could begin a stop string (must be kept back). */
static size_t holdback(const gen_ctx *g) {
  size_t keep = 0;
  for (size_t i = 0; i < g->o->n_stop; i++) {
    const char *st = g->o->stop[i];
    size_t sl = strlen(st);
    if (!sl) continue;
    for (size_t L = sl - 1 < g->held.len ? sl - 1 : g->held.len; L > keep; L--)
      if (!memcmp(g->held.data + g->held.len - L, st, L)) { keep = L; break; }
  }
  return keep;
}

static int emit(gen_ctx *g, int32_t id, size_t n) {
  int r = g->cb ? g->cb(g->user, id, g->held.data ? g->held.data : "", n) : 0;
  if (n) {
    memmove(g->held.data, g->held.data + n, g->held.len - n);
    g->held.len -= n;
    g->held.data[g->held.len] = 0;
  }
  return r;
}

static int on_ids(void *user, const int32_t *ids, size_t n) {
  gen_ctx *g = user;
  if (!g->t_first) g->t_first = now_ms();
  for (size_t i = 0; i < n; i++) {
    if (g->detok && (g->err = dp_detok_push(g->detok, ids[i], &g->held))) return (int)i + 1;
    if (g->held.failed) { g->err = DP_ERR_NOMEM; return (int)i + 1; }
    /* a complete stop string: emit what precedes it and stop */
    size_t cut = SIZE_MAX;
    for (size_t k = 0; k < g->o->n_stop; k++) {
      const char *hit = g->o->stop[k][0] && g->held.data ? strstr(g->held.data, g->o->stop[k]) : NULL;
      if (hit && (size_t)(hit - g->held.data) < cut) cut = (size_t)(hit - g->held.data);
    }
    if (cut != SIZE_MAX) {
      g->held.len = cut;
      g->held.data[cut] = 0;
      emit(g, ids[i], cut);
      g->held.len = 0;
      g->stopped_by = 2;
      return (int)i + 1; /* the ids after it never enter the context */
    }
    if (emit(g, ids[i], g->held.len - holdback(g))) { g->stopped_by = 3; return (int)i + 1; }
  }
  return 0;
}

static dp_rt_sampling to_rt(const dp_sampling *s, int no_eos) {
  dp_rt_sampling r;
  memset(&r, 0, sizeof r);
  r.temperature = s->temperature;
  r.top_k = s->top_k;
  r.top_p = s->top_p;
  r.min_p = s->min_p;
  r.repeat_penalty = s->repeat_penalty;
  r.repeat_last_n = s->repeat_last_n > 0 ? s->repeat_last_n : 64;
  r.seed = s->seed;
  r.no_eos = no_eos;
  return r;
}

static dp_status check_options(const dp_generate_options *o) {
  const dp_sampling *s = &o->sampling;
  if (o->max_tokens < 0) return dp_error(DP_ERR_INVALID_ARG, "max_tokens %d < 0", o->max_tokens);
  if (!(s->temperature >= 0)) return dp_error(DP_ERR_INVALID_ARG, "temperature %g must be >= 0", s->temperature);
  if (s->top_k < 0) return dp_error(DP_ERR_INVALID_ARG, "top_k %d must be >= 0", s->top_k);
  if (!(s->top_p > 0 && s->top_p <= 1)) return dp_error(DP_ERR_INVALID_ARG, "top_p %g must be in (0, 1]", s->top_p);
  if (!(s->min_p >= 0 && s->min_p <= 1)) return dp_error(DP_ERR_INVALID_ARG, "min_p %g must be in [0, 1]", s->min_p);
  if (!(s->repeat_penalty > 0)) return dp_error(DP_ERR_INVALID_ARG, "repeat_penalty %g must be > 0", s->repeat_penalty);
  if (o->n_stop && !o->stop) return dp_error(DP_ERR_INVALID_ARG, "n_stop %zu with no stop strings", o->n_stop);
  return DP_OK;
}

/* Generation ended (or failed) with st: flush held text, fill the stats, release the runtime
 * generation. */
static void end(gen_ctx *g, dp_status st) {
  int full = st == DP_ERR_CONTEXT_FULL && g->o->max_tokens == 0; /* asked for "until the end": not an error */
  if (full) st = DP_OK;
  if (!st && g->err) st = g->err;
  /* flush the detokenizer and any held-back text unless a stop string ended it */
  if (g->detok && !g->stopped_by && !g->err) {
    dp_status fs = dp_detok_flush(g->detok, &g->held);
    if (!fs && g->held.len) emit(g, -1, g->held.len);
    if (fs && !st) st = fs;
  } else if (!g->detok && g->held.len && !g->stopped_by) {
    emit(g, -1, g->held.len);
  }
  double t2 = now_ms();
  dp_generate_stats *stats = &g->stats;
  stats->n_generated = g->rt ? g->rt->made : 0;
  stats->ttft_ms = g->t_first ? g->t_first - g->t0 : 0;
  stats->decode_ms = g->t_first ? t2 - g->t_first : 0;
  int eos = g->rt && g->rt->eos;
  stats->stop_reason = eos ? 1 : g->stopped_by ? g->stopped_by : full ? 4 : 0;
  dp_rt_gen_free(g->rt);
  g->rt = NULL;
  g->ended = 1;
  g->result = st;
}

dp_status dp_gen_start_ids(dp_session *s, const int32_t *ids, size_t n, const dp_generate_options *o, dp_token_fn cb,
                           void *user, dp_gen **out) {
  if (!out) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_start_ids: NULL argument");
  *out = NULL;
  if (!s || (n && !ids)) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_start_ids: NULL argument");
  if (s->active) return dp_error(DP_ERR_INVALID_ARG, "the session is already generating (dp_gen_finish it first)");
  dp_generate_options def = dp_generate_defaults();
  if (!o) o = &def;
  dp_status st = check_options(o);
  if (st) return st;
  /* the whole request must fit: prompt plus max_tokens */
  int have = dp_session_position(s);
  if (o->max_tokens > 0 && (size_t)have + n + (size_t)o->max_tokens > (size_t)s->rt->ctx)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded: %d tokens in the session + %zu prompt + %d to generate",
                    s->rt->ctx, have, n, o->max_tokens);
  gen_ctx *g = dp_calloc(1, sizeof *g);
  if (!g) return DP_ERR_NOMEM;
  g->s = s, g->opts = *o, g->o = &g->opts, g->cb = cb, g->user = user, g->t0 = now_ms();
  g->stats.n_prompt = (int)n;
  dp_rt_sampling sp = to_rt(&o->sampling, o->ignore_eos);
  st = dp_rt_eval(s->rt, ids, n, NULL); /* submitted, not waited for */
  if (!st && s->m->tok) st = dp_detok_new(s->m->tok, 1, &g->detok);
  if (!st) st = dp_rt_gen_begin(s->rt, &sp, o->max_tokens, 1, &g->rt); /* pending: the prefill's completion */
  if (st) {
    dp_detok_free(g->detok);
    dp_free(g);
    return st;
  }
  s->active = g;
  *out = g;
  return DP_OK;
}

dp_status dp_gen_start(dp_session *s, const char *prompt, const dp_generate_options *o, dp_token_fn cb, void *user,
                       dp_gen **out) {
  if (!out) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_start: NULL argument");
  *out = NULL;
  if (!s || !prompt) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_start: NULL argument");
  if (!s->m->tok) return dp_error(DP_ERR_UNSUPPORTED, "this model has no tokenizer (use dp_gen_start_ids)");
  size_t n = 0;
  dp_status st = dp_tokenize_prompt(s, prompt, o, NULL, 0, &n);
  if (st) return st;
  int32_t *ids = dp_malloc((n ? n : 1) * sizeof *ids);
  if (!ids) return DP_ERR_NOMEM;
  st = dp_tokenize_prompt(s, prompt, o, ids, n, &n);
  if (!st) st = dp_gen_start_ids(s, ids, n, o, cb, user, out);
  dp_free(ids);
  return st;
}

int dp_gen_pending(const dp_gen *g) { return g && !g->ended && g->rt && dp_rt_gen_pending(g->rt); }

dp_gpu_readback *dp_gen_readback(const dp_gen *g) { return dp_gen_pending(g) ? dp_rt_gen_readback(g->rt) : NULL; }
dp_gpu *dp_gen_gpu(const dp_gen *g) { return g->s->m->gpu; }

int dp_gen_poll(dp_gen *g) {
  if (!dp_gen_pending(g)) return 1;
  return dp_rt_gen_poll(g->rt);
}

dp_status dp_gen_collect(dp_gen *g, int *more) {
  *more = 0;
  if (g->ended) return g->result;
  int was_prefilled = g->rt->prefilled;
  dp_status st = dp_rt_gen_collect(g->rt, on_ids, g);
  if (st == DP_ERR_INVALID_ARG && !g->rt->done) return st; /* resumed too early: nothing changed */
  if (!was_prefilled && g->rt->prefilled) g->stats.prefill_ms = now_ms() - g->t0;
  if (st || g->rt->done) {
    end(g, st);
    return st ? g->result : DP_OK;
  }
  *more = 1;
  return DP_OK;
}

dp_rt_gen *dp_gen_rt(const dp_gen *g) { return g->ended ? NULL : g->rt; }
dp_model *dp_gen_model(const dp_gen *g) { return g->s->m; }

dp_status dp_gen_fail(dp_gen *g, dp_status st) {
  if (!g->ended) end(g, st);
  return g->result;
}

void dp_gen_set_ahead(dp_gen *g, int on) {
  if (g && !g->ended && g->rt) dp_rt_gen_set_ahead(g->rt, on);
}

dp_status dp_gen_resume(dp_gen *g) {
  if (!g) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_resume: NULL argument");
  int more;
  dp_status st = dp_gen_collect(g, &more);
  if (!more) return st;
  st = dp_rt_gen_submit(g->rt);
  return st ? dp_gen_fail(g, st) : DP_OK;
}

dp_status dp_gen_finish(dp_gen *g, dp_generate_stats *stats) {
  if (!g) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_finish: NULL argument");
  if (!g->ended) end(g, dp_error(DP_ERR_CANCELLED, "generation finished before its end"));
  dp_status st = g->result;
  if (stats) *stats = g->stats;
  g->s->active = NULL;
  dp_detok_free(g->detok);
  dp_buf_free(&g->held);
  dp_free(g);
  return st;
}
