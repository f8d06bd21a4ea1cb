/* loop.c -- the event loop of `doppler serve` (srv_serve): the one thread that owns the model
 * and every session, and the only one that calls the engine (include/doppler.h). Each turn it
 *   1. takes the requests the HTTP thread handed over (srv_inbox_take), parses them
 *      (request.c; a bad one is answered 400 at once) and queues them for a slot;
 *   2. starts a generation in each free slot (the chat template or the joined contents,
 *      tokenized, checked against the context, prefill submitted: dp_gen_start_ids);
 *   3. cancels generations whose client went away (the slot is free at once);
 *   4. once every generation's GPU read-back has completed, runs one scheduler step (step()):
 *      their tokens reach the clients through the token callback, the next decode step of
 *      all of them is ONE forward pass (continuous batching: sessions join and leave between
 *      steps), finished ones are answered and their slots freed;
 *   5. waits: for the GPU read-back in flight (dp_gen_wait), or when idle on the wake pipe
 *      (a new request or a signal writes a byte).
 * A stop signal closes the listening socket and lets every request in flight finish (drain);
 * a second one cancels them. The only blocking call on the GPU is that wait for a step.
 * Depends on doppler.h, the server/ headers. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "server/internal.h"
#include "server/reply.h"

typedef struct loop loop;

/* One session and the request generating in it. */
typedef struct slot {
  loop *L;
  dp_session *s;
  dp_gen *g;               /* NULL: the slot is free */
  srv_req *r;
  srv_params p;
  srv_reply_head h;
  char id[48];
  dp_buf text;             /* a whole answer: the text generated */
  dp_buf chunk;            /* one server-sent event being written */
  int gone;                /* the client went away: output is dropped, the generation cancelled */
} slot;

typedef struct waiting { srv_req *r; srv_params p; } waiting;

struct loop {
  srv *S;
  dp_model *m;
  slot *slots;             /* [parallel] */
  int n_slots, ctx;
  waiting *wait;           /* [parallel + queue]: requests parsed, waiting for a slot, oldest first */
  int n_wait;
  dp_gen **gens;           /* [parallel]: the generations of one step */
  dp_status *st;           /* [parallel]: their results */
  uint64_t rng;
};

static volatile sig_atomic_t g_signals;
static int g_wake_fd = -1;

void srv_on_signal(int sig) {
  (void)sig;
  g_signals++;
  if (g_wake_fd >= 0) {
    char b = 1;
    ssize_t w = write(g_wake_fd, &b, 1);
    (void)w;
  }
}

int srv_stop_requested(void) { return g_signals > 0; }

static uint64_t next_random(loop *L) { /* splitmix64 */
  uint64_t z = (L->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- answers ---- */

static int busy_slots(const loop *L) {
  int n = 0;
  for (int i = 0; i < L->n_slots; i++) n += L->slots[i].g != NULL;
  return n;
}

/* Running and queued requests into the metrics: before an answer leaves, so a client that got
 * its answer reads gauges that no longer count it. */
static void gauges(loop *L) { srv_metrics_gauges(&L->S->metrics, busy_slots(L), L->n_wait); }

static void answer_error(loop *L, srv_req *r, int status, const char *param, const char *code, const char *msg) {
  srv_error e;
  srv_error_set(&e, status, param, "%s", msg);
  e.code = code;
  srv_req_answer_error(L->S, r, &e);
}

/* ---- the token callback and the end of a generation ---- */

static int on_token(void *user, int32_t token, const char *text, size_t len) {
  slot *sl = user;
  srv *S = sl->L->S;
  if (token >= 0) srv_metrics_tokens(&S->metrics, 0, 1);
  if (!len || sl->gone) return 0;
  if (!sl->p.stream) {
    dp_buf_append(&sl->text, text, len);
    return 0;
  }
  sl->chunk.len = 0;
  srv_reply_chunk(&sl->chunk, &sl->h, 0, text, len, NULL);
  srv_req_stream_write(S, sl->r, sl->chunk.data, sl->chunk.len, 0);
  return 0;
}

/* The generation of sl ended (or is cut short: the client went away, a stop signal): answer
 * and free the slot. */
static void finish(loop *L, slot *sl) {
  srv *S = L->S;
  dp_generate_stats gs;
  memset(&gs, 0, sizeof gs);
  dp_status st = dp_gen_finish(sl->g, &gs); /* flushes held-back text through on_token */
  sl->g = NULL;
  gauges(L);
  const char *why = st ? dp_error_message() : NULL;
  if (sl->gone) {
    srv_metrics_cancelled(&S->metrics);
    srv_req_abort(S, sl->r);
  } else if (sl->p.stream) {
    sl->chunk.len = 0;
    if (!st) {
      srv_reply_chunk(&sl->chunk, &sl->h, 0, "", 0, srv_finish_reason(gs.stop_reason));
      if (sl->p.include_usage) srv_reply_usage_chunk(&sl->chunk, &sl->h, gs.n_prompt, gs.n_generated);
    } else {
      srv_error e;
      srv_error_set(&e, 500, NULL, "generation failed: %s", why);
      srv_reply_error_event(&sl->chunk, &e);
    }
    srv_reply_done(&sl->chunk);
    srv_req_stream_write(S, sl->r, sl->chunk.data, sl->chunk.len, 1);
  } else if (!st) {
    dp_buf b = {0};
    srv_reply_completion(&b, &sl->h, sl->text.data ? sl->text.data : "", sl->text.len, srv_finish_reason(gs.stop_reason),
                         gs.n_prompt, gs.n_generated);
    if (b.failed) answer_error(L, sl->r, 500, NULL, NULL, "out of memory writing the answer");
    else srv_req_answer(S, sl->r, 200, &b);
    dp_buf_free(&b);
  } else {
    srv_error e;
    srv_error_set(&e, 500, NULL, "generation failed: %s", why);
    srv_req_answer_error(S, sl->r, &e);
  }
  srv_req_release(S, sl->r);
  srv_params_free(&sl->p);
  sl->r = NULL;
  sl->gone = 0;
  sl->text.len = 0;
}

/* ---- the scheduler step ---- */

/* Every generation in ready[0..n) has its read-back completed: deliver their tokens and record
 * the next decode step of all that go on as ONE forward pass (dp_gen_resume_batch: rows =
 * sessions, each its own KV cache, position and sampling; one token per submit); a lone
 * generation goes through dp_gen_resume instead, which records several decode steps per submit
 * (the session default, 8) as `doppler run` does. The outputs are the same either way.
 * doppler_batch_size observes the sessions of each submit. Generations that ended are
 * answered and their slots freed. */
static void step(loop *L, slot **ready, int n) {
  size_t rows = 0;
  for (int i = 0; i < n; i++) L->gens[i] = ready[i]->g;
  if (n == 1) {
    L->st[0] = dp_gen_resume(L->gens[0]);
    rows = dp_gen_pending(L->gens[0]) ? 1 : 0;
  } else {
    dp_gen_resume_batch(L->gens, (size_t)n, L->st, &rows); /* a failed step is in st[] too */
  }
  if (rows) srv_metrics_batch(&L->S->metrics, (int)rows);
  for (int i = 0; i < n; i++)
    if (L->st[i] || !dp_gen_pending(ready[i]->g)) finish(L, ready[i]);
}

/* ---- admission ---- */

/* The prompt text of p: the chat template over the messages, or for a model without one the
 * contents joined by newlines (fed as `doppler run -p` feeds a prompt); the completion prompt.
 * NULL after answering r (a template that cannot render these messages). */
static const char *prompt_text(loop *L, srv_req *r, const srv_params *p, char **templated, dp_buf *joined) {
  if (p->kind == SRV_COMPLETION) return p->prompt;
  dp_status st = dp_chat_format(L->m, p->msgs, p->n_msgs, 1, templated);
  if (!st) return *templated;
  if (st != DP_ERR_NOT_FOUND) {
    answer_error(L, r, st == DP_ERR_NOMEM ? 500 : 400, "messages", NULL, dp_error_message());
    return NULL;
  }
  for (size_t i = 0; i < p->n_msgs; i++) {
    if (i) dp_buf_append(joined, "\n", 1);
    dp_buf_puts(joined, p->msgs[i].content);
  }
  if (joined->failed) {
    answer_error(L, r, 500, NULL, NULL, "out of memory");
    return NULL;
  }
  return joined->data ? joined->data : "";
}

/* Start w's generation in the free slot sl; on a refusal w is answered and released. */
static void admit(loop *L, waiting *w, slot *sl) {
  srv *S = L->S;
  srv_req *r = w->r;
  sl->r = r;
  sl->p = w->p;
  sl->p.o.stop = sl->p.o.n_stop ? sl->p.stops : NULL; /* the copy's own array */
  const char *input = sl->p.kind == SRV_CHAT ? "messages" : "prompt";
  char *templated = NULL, msg[256];
  dp_buf joined = {0};
  int32_t *ids = NULL;
  size_t n = 0;
  int ctx = dp_session_context_length(sl->s);
  const char *text = prompt_text(L, r, &sl->p, &templated, &joined);
  dp_session_reset(sl->s);
  dp_status st = DP_OK;
  if (!text) goto refused;
  st = dp_tokenize_prompt(sl->s, text, &sl->p.o, NULL, 0, &n);
  if (!st && !(ids = dp_malloc((n ? n : 1) * sizeof *ids))) st = DP_ERR_NOMEM;
  if (!st) st = dp_tokenize_prompt(sl->s, text, &sl->p.o, ids, n, &n);
  if (st) {
    answer_error(L, r, 500, NULL, NULL, dp_error_message());
    goto refused;
  }
  if (!n) {
    answer_error(L, r, 400, input, NULL, "the prompt is empty");
    goto refused;
  }
  if ((int)n >= ctx || (sl->p.o.max_tokens > 0 && (int)n + sl->p.o.max_tokens > ctx)) {
    if ((int)n >= ctx) snprintf(msg, sizeof msg, "the prompt is %zu tokens: no room to generate in a context of %d tokens (--ctx)", n, ctx);
    else snprintf(msg, sizeof msg, "the prompt (%zu tokens) and max_tokens (%d) exceed the context of %d tokens (--ctx)", n, sl->p.o.max_tokens, ctx);
    answer_error(L, r, 400, (int)n >= ctx ? input : "max_tokens", "context_length_exceeded", msg);
    goto refused;
  }
  if (!sl->p.seed_given) sl->p.o.sampling.seed = next_random(L);
  st = dp_gen_start_ids(sl->s, ids, n, &sl->p.o, on_token, sl, &sl->g);
  if (st) {
    answer_error(L, r, st == DP_ERR_INVALID_ARG || st == DP_ERR_CONTEXT_FULL ? 400 : 500, NULL, NULL, dp_error_message());
    goto refused;
  }
  srv_metrics_tokens(&S->metrics, (int)n, 0);
  uint64_t a = next_random(L), b = next_random(L);
  snprintf(sl->id, sizeof sl->id, "%s-%016llx%08llx", sl->p.kind == SRV_CHAT ? "chatcmpl" : "cmpl", (unsigned long long)a,
           (unsigned long long)(b & 0xffffffffu));
  sl->h = (srv_reply_head){sl->p.kind, sl->id, (long long)time(NULL), S->opt.model_id};
  if (sl->p.stream) {
    srv_req_stream_start(S, r);
    if (sl->p.kind == SRV_CHAT) { /* OpenAI's first chunk: the role */
      sl->chunk.len = 0;
      srv_reply_chunk(&sl->chunk, &sl->h, 1, "", 0, NULL);
      srv_req_stream_write(S, r, sl->chunk.data, sl->chunk.len, 0);
    }
  }
  dp_free(ids);
  dp_string_free(templated);
  dp_buf_free(&joined);
  return;
refused:
  dp_free(ids);
  dp_string_free(templated);
  dp_buf_free(&joined);
  srv_req_release(S, r);
  srv_params_free(&sl->p);
  sl->r = NULL;
}

/* Take the requests handed over: parse them; answer the bad ones, queue the others. */
static void take_inbox(loop *L) {
  dp_generate_options def = dp_generate_defaults();
  srv_req *r;
  while ((r = srv_inbox_take(L->S))) {
    srv_params p;
    srv_error e;
    if (srv_request_parse(r->kind, r->body.data ? r->body.data : "", r->body.len, L->S->opt.model_id, &def, &p, &e)) {
      srv_req_answer_error(L->S, r, &e);
      srv_req_release(L->S, r);
      continue;
    }
    L->wait[L->n_wait++] = (waiting){r, p}; /* admitted <= parallel + queue: room is certain */
  }
}

static void fill_slots(loop *L) {
  for (int i = 0; i < L->n_slots && L->n_wait; i++) {
    if (L->slots[i].g) continue;
    waiting w = L->wait[0];
    memmove(L->wait, L->wait + 1, (size_t)(L->n_wait - 1) * sizeof *L->wait);
    L->n_wait--;
    admit(L, &w, &L->slots[i]);
    gauges(L);
  }
}

/* Requests whose client went away: generation cancelled, slot or queue place freed. all: every
 * request, gone or not (a second stop signal). */
static void drop_gone(loop *L, int all) {
  for (int i = 0; i < L->n_slots; i++) {
    slot *sl = &L->slots[i];
    if (sl->g && (all || srv_req_client_gone(L->S, sl->r))) {
      sl->gone = 1;
      finish(L, sl);
    }
  }
  for (int i = 0; i < L->n_wait;) {
    waiting w = L->wait[i];
    if (!all && !srv_req_client_gone(L->S, w.r)) { i++; continue; }
    memmove(&L->wait[i], &L->wait[i + 1], (size_t)(L->n_wait - i - 1) * sizeof w);
    L->n_wait--;
    gauges(L);
    srv_metrics_cancelled(&L->S->metrics);
    srv_req_abort(L->S, w.r);
    srv_req_release(L->S, w.r);
    srv_params_free(&w.p);
  }
}

/* Sleep until a byte on the wake pipe or timeout_ms; empty the pipe. */
static void sleep_on_wake(srv *S, int timeout_ms) {
  struct pollfd pf = {S->wake[0], POLLIN, 0};
  if (poll(&pf, 1, timeout_ms) > 0) {
    char buf[256];
    while (read(S->wake[0], buf, sizeof buf) > 0) {}
  }
}

static int loop_init(loop *L, srv *S, dp_model *m) {
  memset(L, 0, sizeof *L);
  L->S = S, L->m = m, L->n_slots = S->opt.parallel;
  if (getrandom(&L->rng, sizeof L->rng, 0) != sizeof L->rng) L->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  L->slots = dp_calloc((size_t)L->n_slots, sizeof *L->slots);
  L->wait = dp_calloc((size_t)(S->opt.parallel + S->opt.queue), sizeof *L->wait);
  L->gens = dp_calloc((size_t)L->n_slots, sizeof *L->gens);
  L->st = dp_calloc((size_t)L->n_slots, sizeof *L->st);
  if (!L->slots || !L->wait || !L->gens || !L->st) {
    fprintf(stderr, "doppler serve: out of memory for %d sessions\n", L->n_slots);
    return -1;
  }
  dp_session_options so = {S->opt.ctx, 0};
  for (int i = 0; i < L->n_slots; i++) {
    L->slots[i].L = L;
    if (dp_session_create(m, &so, &L->slots[i].s)) {
      fprintf(stderr, "doppler serve: session %d of %d (--parallel, --ctx): %s\n", i + 1, L->n_slots, dp_error_message());
      return -1;
    }
  }
  L->ctx = dp_session_context_length(L->slots[0].s);
  return 0;
}

static void loop_free(loop *L) {
  for (int i = 0; L->slots && i < L->n_slots; i++) {
    dp_session_free(L->slots[i].s);
    dp_buf_free(&L->slots[i].text);
    dp_buf_free(&L->slots[i].chunk);
  }
  dp_free(L->slots);
  dp_free(L->wait);
  dp_free(L->gens);
  dp_free(L->st);
}

int srv_serve(srv *S, dp_model *m) {
  loop L;
  g_wake_fd = S->wake[1];
  if (loop_init(&L, S, m)) {
    loop_free(&L);
    return 1;
  }
  pthread_mutex_lock(&S->mu);
  S->ready = 1;
  pthread_mutex_unlock(&S->mu);
  srv_metrics_ready(&S->metrics);
  fprintf(stderr, "doppler serve: ready: model '%s', %d slots of %d tokens, queue %d\n", S->opt.model_id, L.n_slots, L.ctx,
          S->opt.queue);
  int draining = 0, cancelled = 0;
  double last_gone_check = 0;
  slot **ready = dp_calloc((size_t)L.n_slots, sizeof *ready);
  if (!ready) { loop_free(&L); return 1; }
  for (;;) {
    if (g_signals >= 1 && !draining) {
      draining = 1;
      pthread_mutex_lock(&S->mu);
      S->draining = 1;
      pthread_mutex_unlock(&S->mu);
      srv_http_quiesce(S);
      fprintf(stderr, "doppler serve: stopping: finishing %d requests (a second signal cancels them)\n",
              busy_slots(&L) + L.n_wait);
    }
    take_inbox(&L);
    if (g_signals >= 2 && !cancelled) {
      cancelled = 1;
      drop_gone(&L, 1);
    }
    fill_slots(&L);
    double t = now_ms();
    if (t - last_gone_check >= 20) {
      drop_gone(&L, 0);
      last_gone_check = t;
    }
    /* Step once EVERY generation is ready: a new request's prefill and the running batch then
     * join in one step instead of alternating as two groups out of phase (the GPU runs its
     * queue in order: the running batch's next step would wait behind the prefill anyway). */
    int n = 0, busy = 0;
    dp_gen *waiting_for = NULL; /* the first generation whose read-back is in flight */
    for (int i = 0; i < L.n_slots; i++)
      if (L.slots[i].g) {
        busy++;
        if (n == busy - 1 && dp_gen_poll(L.slots[i].g)) ready[n++] = &L.slots[i];
        else if (!waiting_for) waiting_for = L.slots[i].g;
      }
    if (n && n == busy) step(&L, ready, n);
    else n = 0;
    srv_metrics_gauges(&S->metrics, busy_slots(&L), L.n_wait);
    if (draining && !busy_slots(&L) && !L.n_wait) {
      pthread_mutex_lock(&S->mu);
      int left = S->admitted;
      pthread_mutex_unlock(&S->mu);
      if (!left) break;
    }
    /* Nothing to step: block until the GPU finishes what is in flight (a step takes
     * milliseconds: polling at a coarser grain would idle the GPU between steps; new requests
     * wait in the inbox meanwhile), else sleep until a request or a signal comes. */
    if (!n && !(waiting_for && !dp_gen_wait(waiting_for))) sleep_on_wake(S, busy ? 1 : 500);
  }
  /* let the last answers reach their clients (at most 10 s) */
  for (int i = 0; i < 1000 && srv_http_live(S) > 0 && g_signals < 2; i++) usleep(10000);
  dp_free(ready);
  loop_free(&L);
  g_wake_fd = -1;
  fprintf(stderr, "doppler serve: stopped\n");
  return 0;
}
