/* batch.c -- continuous batching: one decode step for several generations (sessions of one
 * model) recorded as one forward pass whose rows are the sessions, one sampling per
 * session with its own parameters, one submit and one read-back shared by all.
 *
 * Rows: the generations with a token to feed (the last accepted id, `pending`) are the rows
 * of a forward pass over the model's batch activations (a dp_rt_session without KV cache,
 * session.c's dp_rt_session_create_rows, whose `rows` names each row's session): matrix
 * products with M = rows, attention per row against the row's own KV cache at its own
 * position (forward.c). Generations just prefilled (logits valid, nothing pending) only
 * sample. More rows than the activations hold (bounded by the storage binding and 64 MiB of
 * logits) run as several passes in the same submit.
 * Sampling: each generation's sampler (sample.wgsl over its own session's scratch, history
 * and RNG step) reads its logits row and writes its id to the session's cur_id and to row i
 * of the step's `out`, which is read back once (dp_rt_shared: the first generation resumed
 * after it completed finishes it for all).
 * Batch-invariance: decode runs every op row by row (forward.c, DP_MM_ROWS in ops.h), so each
 * generation's logits -- hence its ids -- are bit for bit those of stepping it alone.
 * Ordering: the input ids of each pass go to their own region of `ids` (queued writes land
 * before the submit, so passes of one step must not share one); the previous step was
 * submitted before this one writes anything. Bind groups (ops.h dispatch sites): the pass's
 * dispatches over the batch's own buffers and the weights are resolved once in the scratch's
 * sites (dropped whenever a buffer they bind is remade); those that bind a row's session (its
 * KV cache, its sampler) get bind groups of their own each step, since sessions come and go
 * and a new one may reuse a freed one's addresses. Called by src/api/batch.c; never waits. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/runtime.h"

void dp_rt_batch_free(struct dp_rt_batch *b) {
  if (!b) return;
  dp_rt_session_free(b->act);
  dp_gpu_buffer_free(b->ids);
  dp_gpu_buffer_free(b->out);
  dp_free(b->rs);
  dp_free(b->host);
  dp_free(b);
}

static size_t pow2_at_least(size_t n, size_t lo) {
  size_t r = lo;
  while (r < n) r *= 2;
  return r;
}

/* Scratch for a step of n generations, nf of them rows of a forward pass: grown, never shrunk. */
static dp_status ensure(dp_rt_model *m, size_t nf, size_t n) {
  struct dp_rt_batch *b = m->batch;
  dp_status st = DP_OK;
  if (!b) {
    if (!(b = dp_calloc(1, sizeof *b))) return DP_ERR_NOMEM;
    m->batch = b;
  }
  if (nf > b->want && (!b->act || b->cap == b->want)) { /* more rows, unless the limits already cap them */
    size_t want = pow2_at_least(nf, 8);
    dp_rt_session *act = NULL;
    if ((st = dp_rt_session_create_rows(m, (int)(want < 4096 ? want : 4096), &act))) return st;
    dp_rt_session_free(b->act);
    dp_free(b->rs), dp_free(b->host);
    b->act = act, b->want = want, b->cap = (uint32_t)act->chunk, b->n_regions = 0;
    b->stride = ((uint64_t)b->cap * 4 + 255) & ~255ull;
    b->rs = dp_calloc(b->cap, sizeof *b->rs);
    b->host = dp_calloc(b->cap, sizeof *b->host);
    if (!b->rs || !b->host) return DP_ERR_NOMEM;
  }
  size_t regions = b->cap ? (nf + b->cap - 1) / b->cap : 0;
  if (regions > b->n_regions) {
    /* the pass's dispatch sites bind the old ids buffer: dropped with it (a new buffer may
     * come at the same address) */
    for (int i = 0; i < 3 && !st; i++) {
      dp_op_sites_free(b->act->sites[i]);
      b->act->sites[i] = NULL;
      st = dp_op_sites_create(&b->act->sites[i]);
    }
    if (st) return st;
    dp_gpu_buffer_free(b->ids);
    b->ids = NULL, b->n_regions = 0;
    if ((st = dp_gpu_buffer_create(m->gpu, regions * b->stride, "batch-ids", &b->ids))) return st;
    b->n_regions = regions;
  }
  if (n > b->n_out) {
    size_t want = pow2_at_least(n, 64);
    dp_gpu_buffer_free(b->out);
    b->out = NULL, b->n_out = 0;
    if ((st = dp_gpu_buffer_create(m->gpu, want * 4, "batch-out", &b->out))) return st;
    b->n_out = want;
  }
  return DP_OK;
}

/* Before recording g's step: the session state to restore if it is dropped (dp_rt_gen_free). */
static void begin_row(dp_rt_gen *g) {
  dp_rt_session *s = g->s;
  g->prev_pos = s->pos, g->prev_pending = s->pending, g->prev_logits_valid = s->logits_valid;
}

/* The sampler of g from `logits` into out[i]: its position and RNG step as a single step. */
static dp_status sample_row(struct dp_rt_batch *b, dp_rt_gen *g, dp_view logits, uint32_t i) {
  dp_rt_session *s = g->s;
  g->B = 1, g->p0 = (uint32_t)s->pos;
  return dp_rt_record_sample_from(s, &g->sp, logits, dp_view_of(b->out, 0), i, (uint32_t)s->pos, s->n_sampled);
}

/* One forward pass over rows [r0, r0 + T) of the generations with a pending token (idx[]:
 * their places in gens), its LM head, and each row's sampler. */
static dp_status record_pass(dp_rt_model *m, dp_rt_gen **gens, const size_t *idx, uint32_t T, size_t region) {
  struct dp_rt_batch *b = m->batch;
  dp_rt_session *a = b->act;
  const dp_plan *p = m->plan;
  uint64_t vb = (uint64_t)p->vocab_size * 4;
  for (uint32_t r = 0; r < T; r++) {
    dp_rt_gen *g = gens[idx[r]];
    b->rs[r] = g->s;
    b->host[r] = (uint32_t)g->s->pending; /* a sampled id: within the vocabulary */
  }
  dp_view ids = dp_view_of(b->ids, region * b->stride);
  dp_status st = dp_gpu_buffer_write(m->gpu, b->ids, ids.offset, b->host, (size_t)T * 4);
  a->rows = b->rs;
  if (!st) st = dp_rt_record_body(a, ids, T, 0);
  if (!st) st = dp_rt_record_head(a, 0, T);
  a->rows = NULL;
  for (uint32_t r = 0; r < T && !st; r++) {
    dp_rt_gen *g = gens[idx[r]];
    dp_rt_session *s = g->s;
    s->pos++, s->pending = -1, s->pending_in_cur = 0;
    dp_view row = dp_view_of(a->logits, r * vb);
    if (row.offset % 256) { /* the sampler binds its row at a 256-aligned offset: the session's own logits */
      st = dp_gpu_copy(m->gpu, a->logits, row.offset, s->logits, 0, vb);
      row = dp_view_of(s->logits, 0);
      s->logits_valid = !st;
    } else {
      s->logits_valid = 0; /* they are in the batch's rows, not the session's */
    }
    if (!st) st = sample_row(b, g, row, (uint32_t)idx[r]);
  }
  return st;
}

static dp_status record_step(dp_rt_model *m, dp_rt_gen **gens, size_t n, size_t *idx) {
  struct dp_rt_batch *b = m->batch;
  dp_status st = DP_OK;
  size_t nf = 0;
  for (size_t i = 0; i < n && !st; i++) {
    dp_rt_gen *g = gens[i];
    begin_row(g);
    if (g->s->pending >= 0) idx[nf++] = i;
    else if (!g->s->logits_valid) st = dp_error(DP_ERR_INVALID_ARG, "batch row %zu: nothing to continue from", i);
    else st = sample_row(b, g, dp_view_of(g->s->logits, 0), (uint32_t)i); /* just prefilled: its own logits */
  }
  for (size_t r0 = 0, region = 0; r0 < nf && !st; r0 += b->cap, region++) {
    uint32_t T = (uint32_t)(nf - r0 < b->cap ? nf - r0 : b->cap);
    st = record_pass(m, gens, idx + r0, T, region);
  }
  dp_rt_shared *sh = NULL;
  if (!st) {
    if (!(sh = dp_calloc(1, sizeof *sh + n * sizeof sh->ids[0]))) return DP_ERR_NOMEM;
    sh->gpu = m->gpu;
    st = dp_gpu_read_start(m->gpu, b->out, 0, n * 4, &sh->rb);
  }
  if (st) { dp_free(sh); return st; }
  for (size_t i = 0; i < n; i++) {
    dp_rt_gen *g = gens[i];
    g->sh = sh, g->row = (uint32_t)i, g->batch++;
    sh->refs++;
  }
  return DP_OK;
}

dp_status dp_rt_batch_step(dp_rt_model *m, dp_rt_gen **gens, size_t n) {
  if (n == 0) return DP_OK;
  if (!m || !gens) return dp_error(DP_ERR_INVALID_ARG, "batch step: NULL argument");
  dp_status st = DP_OK;
  size_t nf = 0, i = 0;
  for (; i < n && !st; i++) {
    dp_rt_gen *g = gens[i];
    if (!g) st = dp_error(DP_ERR_INVALID_ARG, "batch step: generation %zu is NULL", i);
    else if (g->s->m != m) st = dp_error(DP_ERR_INVALID_ARG, "batch step: generation %zu belongs to another model", i);
    else if (g->mark) st = dp_error(DP_ERR_INVALID_ARG, "batch step: generation %zu appears twice", i);
    else if (g->ahead)
      st = dp_error(DP_ERR_INVALID_ARG, "batch step: generation %zu records batches ahead (step it alone)", i);
    else if (g->done || g->rb || g->sh)
      st = dp_error(DP_ERR_INVALID_ARG, "batch step: generation %zu %s", i, g->done ? "has ended" : "has a step in flight");
    else g->mark = 1, nf += g->s->pending >= 0;
  }
  for (size_t j = 0; j < i; j++)
    if (gens[j]) gens[j]->mark = 0;
  if (st) return st;
  size_t *idx = dp_malloc(n * sizeof *idx);
  if (!idx) return DP_ERR_NOMEM;
  st = ensure(m, nf, n);
  if (!st) st = record_step(m, gens, n, idx);
  dp_free(idx);
  if (st) /* a failed step ends each of its generations, as a failed submit ends one */
    for (i = 0; i < n; i++) gens[i]->s->logits_valid = 0, gens[i]->done = 1;
  return st;
}
