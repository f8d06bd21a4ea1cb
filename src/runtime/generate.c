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
 * Called by the public API (src/api/) and tests; depends on forward.c, sampler.c,
 * session.c. Never blocks except in the device layer's read-back. */
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
static dp_status record_feed_pending(dp_rt_session *s) {
  dp_status st = dp_rt_record_body(s, dp_view_of(s->cur_id, 0), 1, (uint32_t)s->pos);
  if (!st) st = dp_rt_record_head(s, 0, 1);
  if (st) return st;
  s->pos++, s->pending = -1, s->pending_in_cur = 0, s->logits_valid = 1;
  return DP_OK;
}

static dp_status start(dp_rt_session *s) {
  if (s->pending >= 0) return pending_to_gpu(s);
  if (!s->logits_valid) return dp_error(DP_ERR_INVALID_ARG, "nothing to continue from: the session holds no tokens");
  return DP_OK;
}

dp_status dp_rt_generate(dp_rt_session *s, const dp_rt_sampling *sp, int max_new, dp_rt_ids_fn cb, void *user,
                         int *n_out, int *hit_eos) {
  dp_gpu *g = s->m->gpu;
  *n_out = 0;
  if (hit_eos) *hit_eos = 0;
  dp_status st = start(s);
  if (st) return st;
  int room = s->ctx - s->pos - (s->pending >= 0); /* each new token needs a position */
  if (max_new > room)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded: %d tokens in the session + %d to generate", s->ctx,
                    s->pos + (s->pending >= 0), max_new);
  int limit = max_new > 0 ? max_new : room;
  int32_t ids[256];
  uint32_t got[256];
  int steps = s->steps < 256 ? s->steps : 256;
  s->cancel = 0;
  int eos = 0;
  for (int batch = 0; *n_out < limit; batch++) {
    int B = batch == 0 ? 1 : steps; /* first token as early as possible */
    if (B > limit - *n_out) B = limit - *n_out;
    if (s->pending >= 0 && (st = record_feed_pending(s))) break;
    uint32_t p0 = (uint32_t)s->pos; /* position of the batch's first sampled id */
    for (int j = 0; j < B && !st; j++) {
      if (j > 0) {
        st = dp_rt_record_body(s, dp_view_of(s->cur_id, 0), 1, p0 + (uint32_t)j - 1);
        if (!st) st = dp_rt_record_head(s, 0, 1);
      }
      if (!st) st = dp_rt_record_sample(s, sp, (uint32_t)j, p0 + (uint32_t)j, s->n_sampled + (uint64_t)j);
    }
    if (!st) st = dp_gpu_buffer_read(g, s->out_ids, 0, got, (size_t)B * 4);
    if (st) break;
    s->n_sampled += (uint64_t)B;
    int k = 0;
    while (k < B) {
      ids[k] = (int32_t)got[k];
      k++;
      if (!sp->no_eos && dp_rt_is_eos(s->m, ids[k - 1])) { eos = 1; break; }
    }
    /* ids[0..k) accepted: ids[0..k-1) were fed (positions p0..), ids[k-1] is pending */
    s->pos = (int)p0 + k - 1;
    s->pending = ids[k - 1];
    s->pending_in_cur = k == B;
    s->logits_valid = 0;
    *n_out += k;
    int stop = cb ? cb(user, ids, (size_t)k) : 0;
    if (eos || stop) break;
    if (s->cancel) return dp_error(DP_ERR_CANCELLED, "generation cancelled");
  }
  if (st) {
    s->logits_valid = 0;
    return st;
  }
  if (hit_eos) *hit_eos = eos;
  if (max_new <= 0 && *n_out >= limit && !eos)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d reached after %d generated tokens", s->ctx, *n_out);
  return DP_OK;
}

typedef struct collect { int32_t *ids; size_t n, cap; } collect;
static int collect_ids(void *user, const int32_t *ids, size_t n) {
  collect *c = user;
  for (size_t i = 0; i < n && c->n < c->cap; i++) c->ids[c->n++] = ids[i];
  return 0;
}

dp_status dp_rt_greedy(dp_rt_session *s, size_t n, int32_t *ids, float *logits) {
  dp_gpu *g = s->m->gpu;
  dp_rt_sampling sp = {0};
  sp.no_eos = 1;
  if (!logits) { /* batched: ids only */
    collect c = {ids, 0, n};
    int got = 0;
    dp_status st = dp_rt_generate(s, &sp, (int)n, collect_ids, &c, &got, NULL);
    if (!st && (size_t)got != n) st = dp_error(DP_ERR_INTERNAL, "greedy produced %d of %zu tokens", got, n);
    return st;
  }
  dp_status st = start(s);
  if (st) return st;
  if ((size_t)s->pos + (s->pending >= 0) + n > (size_t)s->ctx)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded: %d tokens + %zu to generate", s->ctx, s->pos, n);
  uint64_t V = (uint64_t)s->m->plan->vocab_size;
  for (size_t i = 0; i < n; i++) {
    if (s->pending >= 0 && (st = record_feed_pending(s))) return st;
    if ((st = dp_gpu_buffer_read(g, s->logits, 0, logits + i * V, (size_t)(V * 4)))) return st;
    if ((st = dp_rt_record_sample(s, &sp, 0, (uint32_t)s->pos, s->n_sampled++))) return st;
    uint32_t id;
    if ((st = dp_gpu_buffer_read(g, s->out_ids, 0, &id, 4))) return st;
    ids[i] = (int32_t)id;
    s->pending = (int32_t)id, s->pending_in_cur = 1, s->logits_valid = 0;
  }
  return DP_OK;
}
