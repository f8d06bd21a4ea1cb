/* generate.c -- the batched decode loop: several decode steps recorded per GPU submit, the
 * input id of each step read by the GPU from the previous step's sampler output, token ids
 * (4 bytes each) read back once per batch. Also the exact greedy continuation used by
 * `doppler logits --decode` and the golden tests (logits read back every step).
 *
 * A batch of B steps records:  [forward(cur_id) if a token is pending]  sample -> cur_id,
 * then B-1 times  forward(cur_id) at the next position, sample -> cur_id. The sampler
 * (sample.wgsl) writes each id to cur_id (the next forward's input), out_ids[j] and
 * hist[position]. After the batch the CPU reads out_ids, accepts ids up to and including the
 * first end-of-generation id, and hands them to the callback. The last accepted id is always
 * `pending` (sampled, its K/V not yet computed); when it is the batch's last id it is still in
 * cur_id, so the next batch starts by feeding it on the GPU and nothing is ever re-sent.
 * Forward passes that ran past an accepted EOS leave K/V in slots that are rewritten later
 * (session.c sizes ring caches for that).
 *
 * Resumable: dp_rt_gen_begin records and submits, dp_rt_gen_step takes the ids of the read-back
 * that completed, accepts them and records + submits the next batch; nothing here waits for the
 * GPU (the host does, between steps: src/api/native.c natively, JS in the browser).
 * Called by the public API (src/api/), blocking.c and tests; depends on forward.c, sampler.c,
 * session.c and the device layer's read-back halves. */
#include "core/alloc.h"
#include "core/error.h"
#include "runtime/runtime.h"

int dp_rt_is_eos(const dp_rt_model *m, int32_t id) {
  for (int i = 0; i < m->n_eos; i++)
    if (m->eos[i] == id) return 1;
  return 0;
}

void dp_rt_model_add_eos(dp_rt_model *m, int32_t id) {
  if (id < 0 || dp_rt_is_eos(m, id) || m->n_eos >= (int)(sizeof m->eos / sizeof *m->eos)) return;
  m->eos[m->n_eos++] = id;
}

/* Put the pending token (if any) into cur_id on the GPU. */
static dp_status pending_to_gpu(dp_rt_session *s) {
  if (s->pending < 0 || s->pending_in_cur) return DP_OK;
  uint32_t id = (uint32_t)s->pending;
  dp_status st = dp_gpu_buffer_write(s->m->gpu, s->cur_id, 0, &id, 4);
  if (!st) s->pending_in_cur = 1;
  return st;
}

/* Record the forward pass of the pending token (in cur_id): logits then predict s->pos + 1. */
dp_status dp_rt_record_feed_pending(dp_rt_session *s) {
  dp_status st = dp_rt_record_body(s, dp_view_of(s->cur_id, 0), 1, (uint32_t)s->pos);
  if (!st) st = dp_rt_record_head(s, 0, 1);
  if (st) return st;
  s->pos++, s->pending = -1, s->pending_in_cur = 0, s->logits_valid = 1;
  return DP_OK;
}

/* The session's pending token, if any, goes to cur_id; else its logits must be valid. */
dp_status dp_rt_gen_prepare(dp_rt_session *s) {
  if (s->pending >= 0) return pending_to_gpu(s);
  if (!s->logits_valid) return dp_error(DP_ERR_INVALID_ARG, "nothing to continue from: the session holds no tokens");
  return DP_OK;
}

dp_status dp_rt_gen_begin(dp_rt_session *s, const dp_rt_sampling *sp, int max_new, int sync_prefill, dp_rt_gen **out) {
  *out = NULL;
  dp_status st = dp_rt_gen_prepare(s);
  if (st) return st;
  int room = s->ctx - s->pos - (s->pending >= 0); /* each new token needs a position */
  if (max_new > room)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded: %d tokens in the session + %d to generate", s->ctx,
                    s->pos + (s->pending >= 0), max_new);
  dp_rt_gen *g = dp_calloc(1, sizeof *g);
  if (!g) return DP_ERR_NOMEM;
  g->s = s, g->sp = *sp, g->max_new = max_new;
  g->limit = max_new > 0 ? max_new : room;
  g->steps = s->steps < DP_RT_GEN_MAX_STEPS ? s->steps : DP_RT_GEN_MAX_STEPS;
  s->cancel = 0;
  if (sync_prefill) st = dp_gpu_read_start(s->m->gpu, s->cur_id, 0, 4, &g->rb); /* completes with the prefill */
  else st = dp_rt_gen_step(g, NULL, NULL);
  if (st) { dp_rt_gen_free(g); return st; }
  *out = g;
  return DP_OK;
}

/* Record B steps from the session's state, sampling RNG steps n0.., and start reading their ids back. */
static dp_status record_batch(dp_rt_gen *g, int B, uint64_t n0, dp_gpu_readback **rb, uint32_t *p0out) {
  dp_rt_session *s = g->s;
  dp_status st = DP_OK;
  if (s->pending >= 0 && (st = dp_rt_record_feed_pending(s))) return st;
  uint32_t p0 = (uint32_t)s->pos; /* position of the batch's first sampled id */
  for (int j = 0; j < B && !st; j++) {
    if (j > 0) {
      st = dp_rt_record_body(s, dp_view_of(s->cur_id, 0), 1, p0 + (uint32_t)j - 1);
      if (!st) st = dp_rt_record_head(s, 0, 1);
    }
    if (!st) st = dp_rt_record_sample(s, &g->sp, (uint32_t)j, p0 + (uint32_t)j, n0 + (uint64_t)j);
  }
  if (!st) st = dp_gpu_read_start(s->m->gpu, s->out_ids, 0, (size_t)B * 4, rb);
  *p0out = p0;
  return st;
}

/* The batch in flight (the first of a call is one step: the first token as early as possible). */
static dp_status submit_batch(dp_rt_gen *g) {
  dp_rt_session *s = g->s;
  int B = g->batch == 0 ? 1 : g->steps;
  if (B > g->limit - g->made) B = g->limit - g->made;
  g->prev_pos = s->pos, g->prev_pending = s->pending, g->prev_logits_valid = s->logits_valid;
  uint32_t p0;
  dp_status st = record_batch(g, B, s->n_sampled, &g->rb, &p0);
  if (st) return st;
  g->B = B, g->p0 = p0, g->batch++;
  return DP_OK;
}

/* The batch after the one in flight, as if that one is accepted whole: its last id is then
 * pending in cur_id (where its sampler left it) at position p0 + B - 1. */
static dp_status submit_ahead(dp_rt_gen *g) {
  dp_rt_session *s = g->s;
  int B = g->steps;
  if (B > g->limit - g->made - g->B) B = g->limit - g->made - g->B;
  if (B <= 0) return DP_OK; /* the batch in flight reaches the limit */
  s->pos = (int)g->p0 + g->B - 1, s->pending = 0 /* its value is on the GPU */, s->pending_in_cur = 1, s->logits_valid = 0;
  uint32_t p0;
  dp_status st = record_batch(g, B, s->n_sampled + (uint64_t)g->B, &g->next.rb, &p0);
  if (st) return st;
  g->next.B = B, g->next.p0 = p0, g->next.pos = s->pos, g->next.logits_valid = s->logits_valid;
  return DP_OK;
}

dp_status dp_rt_gen_submit(dp_rt_gen *g) {
  if (g->done || g->sh || (g->rb && (!g->ahead || g->next.rb)))
    return dp_error(DP_ERR_INVALID_ARG, "generation submit: %s", g->done ? "ended" : "a step is in flight");
  dp_status st = g->rb ? DP_OK : submit_batch(g);
  if (!st && g->ahead && g->batch > 1) st = submit_ahead(g); /* not behind the first token's batch */
  if (st) g->s->logits_valid = 0, g->done = 1;
  return st;
}

void dp_rt_gen_set_ahead(dp_rt_gen *g, int on) { g->ahead = on != 0; }

/* After the batch in flight was accepted: the ahead batch becomes the one in flight (the
 * session back in the state its recording left), or, when generation ends there, is dropped
 * (the session keeps the accepted state, but cur_id now holds the ahead batch's last id). */
static void take_next(dp_rt_gen *g, int end) {
  dp_rt_session *s = g->s;
  if (!g->next.rb) return;
  if (end) {
    dp_gpu_read_discard(s->m->gpu, g->next.rb);
    s->pending_in_cur = 0, s->logits_valid = 0;
  } else {
    g->prev_pos = s->pos, g->prev_pending = s->pending, g->prev_logits_valid = 0;
    s->pos = g->next.pos, s->pending = -1, s->pending_in_cur = 0, s->logits_valid = g->next.logits_valid;
    g->rb = g->next.rb, g->B = g->next.B, g->p0 = g->next.p0, g->batch++;
  }
  g->next.rb = NULL;
}

/* Accept the ids of the batch just read back; 1 when generation ends here. */
static int accept(dp_rt_gen *g, const uint32_t *got, dp_rt_ids_fn cb, void *user, dp_status *st) {
  dp_rt_session *s = g->s;
  int32_t ids[DP_RT_GEN_MAX_STEPS];
  int B = g->B, k = 0;
  s->n_sampled += (uint64_t)B;
  while (k < B) {
    ids[k] = (int32_t)got[k];
    k++;
    if (!g->sp.no_eos && dp_rt_is_eos(s->m, ids[k - 1])) { g->eos = 1; break; }
  }
  /* a stop from the callback after j of the ids: only those stay in the context (an EOS
   * after them, the batch's last id k - 1, is then not accepted either) */
  int stop = cb ? cb(user, ids, (size_t)k) : 0;
  if (stop > 0 && stop < k) k = stop, g->eos = 0;
  /* ids[0..k) accepted: ids[0..k-1) were fed (positions p0..), ids[k-1] is pending */
  s->pos = (int)g->p0 + k - 1;
  s->pending = ids[k - 1];
  s->pending_in_cur = k == B;
  s->logits_valid = 0;
  g->made += k;
  if (!g->eos && !stop && s->cancel) { *st = dp_error(DP_ERR_CANCELLED, "generation cancelled"); return 1; }
  return g->eos || stop;
}

void dp_rt_shared_release(dp_rt_shared *sh) {
  if (!sh || --sh->refs > 0) return;
  dp_gpu_read_discard(sh->gpu, sh->rb);
  dp_free(sh);
}

/* The ids of the read-back in flight (its own, or its row of a batched step's), once it
 * completed; 0 while it has not (nothing changes). */
static int take_ids(dp_rt_gen *g, uint32_t *got, dp_status *st) {
  dp_gpu *gpu = g->s->m->gpu;
  if (!dp_rt_gen_poll(g)) return 0;
  if (g->rb) {
    dp_gpu_readback *rb = g->rb;
    g->rb = NULL;
    *st = dp_gpu_read_finish(gpu, rb, got);
  } else if (g->sh) {
    dp_rt_shared *sh = g->sh;
    if (sh->rb) { /* the first generation of the step to get here finishes it for all */
      sh->st = dp_gpu_read_finish(gpu, sh->rb, sh->ids);
      sh->rb = NULL;
    }
    *st = sh->st;
    got[0] = sh->ids[g->row];
    g->sh = NULL;
    dp_rt_shared_release(sh);
  }
  return 1;
}

dp_status dp_rt_gen_collect(dp_rt_gen *g, dp_rt_ids_fn cb, void *user) {
  if (g->done) return dp_error(DP_ERR_INVALID_ARG, "generation step after the end");
  dp_rt_session *s = g->s;
  dp_status st = DP_OK;
  int end = 0;
  if (g->rb || g->sh) {
    uint32_t got[DP_RT_GEN_MAX_STEPS];
    if (!take_ids(g, got, &st)) return dp_error(DP_ERR_INVALID_ARG, "generation step before its read-back completed");
    if (!st && g->batch) end = accept(g, got, cb, user, &st);
    g->prefilled = 1;
  }
  if (!st && !end && g->made >= g->limit) end = 1;
  take_next(g, st || end);
  if (!st && end && g->max_new <= 0 && g->made >= g->limit && !g->eos)
    st = dp_error(DP_ERR_CONTEXT_FULL, "context length %d reached after %d generated tokens", s->ctx, g->made);
  if (st) s->logits_valid = 0;
  if (st || end) g->done = 1;
  return st;
}

dp_status dp_rt_gen_step(dp_rt_gen *g, dp_rt_ids_fn cb, void *user) {
  dp_status st = dp_rt_gen_collect(g, cb, user);
  if (st || g->done) return st;
  return dp_rt_gen_submit(g);
}

int dp_rt_gen_pending(const dp_rt_gen *g) { return g->rb != NULL || g->sh != NULL; }
dp_gpu_readback *dp_rt_gen_readback(const dp_rt_gen *g) { return g->rb ? g->rb : g->sh ? g->sh->rb : NULL; }
int dp_rt_gen_poll(const dp_rt_gen *g) {
  dp_gpu_readback *rb = dp_rt_gen_readback(g);
  return !rb || dp_gpu_read_poll(g->s->m->gpu, rb);
}

void dp_rt_gen_free(dp_rt_gen *g) {
  if (!g) return;
  if (g->next.rb) dp_gpu_read_discard(g->s->m->gpu, g->next.rb); /* behind the one in flight: restored below */
  if (g->rb || g->sh) { /* a batch in flight (or this generation's row of one) is dropped: back to the state before it */
    dp_rt_session *s = g->s;
    dp_gpu_read_discard(s->m->gpu, g->rb);
    dp_rt_shared_release(g->sh);
    if (g->batch) {
      s->pos = g->prev_pos, s->pending = g->prev_pending, s->pending_in_cur = 0;
      s->logits_valid = g->prev_pending < 0 && g->B == 1 ? g->prev_logits_valid : 0; /* a forward overwrote them */
    }
  }
  dp_free(g);
}
