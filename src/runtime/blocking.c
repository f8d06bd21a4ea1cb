/* blocking.c -- blocking drivers over the resumable decode steps (generate.c), for native
 * callers that may wait: `doppler bench` (src/api/bench.c), dp_session_greedy (`doppler logits
 * --decode`, golden tests). dp_rt_generate is the same begin / wait / step loop as the public
 * dp_generate (src/api/native.c) without the text layer; dp_rt_greedy with logits reads every
 * step's logits back. Not part of the browser's path (which never waits inside the core).
 * Depends on generate.c, forward.c, sampler.c and the device layer's read-backs. */
#include "core/error.h"
#include "runtime/runtime.h"

dp_status dp_rt_generate(dp_rt_session *s, const dp_rt_sampling *sp, int max_new, dp_rt_ids_fn cb, void *user,
                         int *n_out, int *hit_eos) {
  *n_out = 0;
  if (hit_eos) *hit_eos = 0;
  dp_rt_gen *g;
  dp_status st = dp_rt_gen_begin(s, sp, max_new, 0, &g);
  if (!st) dp_rt_gen_set_ahead(g, 1); /* stepped alone: record each batch while the one before runs */
  while (!st && dp_rt_gen_pending(g)) {
    st = dp_gpu_read_wait(s->m->gpu, dp_rt_gen_readback(g));
    if (!st) st = dp_rt_gen_step(g, cb, user);
  }
  if (g) {
    *n_out = g->made;
    if (hit_eos && !st) *hit_eos = g->eos;
  }
  dp_rt_gen_free(g);
  return st;
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
  dp_status st = dp_rt_gen_prepare(s);
  if (st) return st;
  if ((size_t)s->pos + (s->pending >= 0) + n > (size_t)s->ctx)
    return dp_error(DP_ERR_CONTEXT_FULL, "context length %d exceeded: %d tokens + %zu to generate", s->ctx, s->pos, n);
  uint64_t V = (uint64_t)s->m->plan->vocab_size;
  for (size_t i = 0; i < n; i++) {
    if (s->pending >= 0 && (st = dp_rt_record_feed_pending(s))) return st;
    if ((st = dp_gpu_buffer_read(g, s->logits, 0, logits + i * V, (size_t)(V * 4)))) return st;
    if ((st = dp_rt_record_sample(s, &sp, 0, (uint32_t)s->pos, s->n_sampled++))) return st;
    uint32_t id;
    if ((st = dp_gpu_buffer_read(g, s->out_ids, 0, &id, 4))) return st;
    ids[i] = (int32_t)id;
    s->pending = (int32_t)id, s->pending_in_cur = 1, s->logits_valid = 0;
  }
  return DP_OK;
}

dp_status dp_rt_model_load(dp_gpu *g, dp_model_file *mf, dp_rt_model **out) {
  return dp_rt_model_load_with(g, mf, NULL, out);
}

dp_status dp_rt_model_load_with(dp_gpu *g, dp_model_file *mf, const dp_rt_load_opts *o, dp_rt_model **out) {
  *out = NULL;
  dp_rt_loader *L;
  dp_status st = dp_rt_load_begin(g, mf, o, &L);
  if (st) return st;
  int state = DP_RT_LOAD_DRAIN;
  dp_mf_piece piece;
  while (!st && state != DP_RT_LOAD_DONE) {
    st = dp_rt_load_step(L, &state, &piece);
    if (!st && state == DP_RT_LOAD_DRAIN) st = dp_gpu_finish(g);
    if (!st && state == DP_RT_LOAD_NEED)
      st = dp_error(DP_ERR_INVALID_ARG, "%s: bytes of %s are not local (a supplied model loads through dp_load_*)",
                    dp_model_file_path(mf), piece.file);
  }
  if (!st) st = dp_gpu_finish(g);
  if (st) { dp_rt_load_free(L); return st; }
  return dp_rt_load_end(L, out);
}
