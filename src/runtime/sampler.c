/* sampler.c -- the runtime's sampling steps over the session's buffers: GPU sampling
 * (dp_op_sample), per-row negative log-likelihood for perplexity (dp_op_nll) and final logit
 * soft-capping (dp_op_softcap), each one op of kernels/ops.h (the only route to a dispatch).
 * Each function records one dispatch and never waits. Called by session.c, forward.c and
 * generate.c. */
#include <string.h>

#include "core/error.h"
#include "runtime/runtime.h"

dp_status dp_rt_record_sample(dp_rt_session *s, const dp_rt_sampling *sp, uint32_t out_index, uint32_t hist_pos,
                              uint64_t step) {
  return dp_rt_record_sample_from(s, sp, dp_view_of(s->logits, 0) /* row 0 */, dp_view_of(s->out_ids, 0), out_index, hist_pos,
                                  step);
}

dp_status dp_rt_record_sample_from(dp_rt_session *s, const dp_rt_sampling *sp, dp_view logits, dp_view out_ids,
                                   uint32_t out_index, uint32_t hist_pos, uint64_t step) {
  const dp_plan *p = s->m->plan;
  dp_sample_params P;
  memset(&P, 0, sizeof P);
  P.vocab = (uint32_t)p->vocab_size;
  P.temperature = sp->temperature > 0 ? sp->temperature : 0;
  P.top_k = sp->top_k > 0 ? (uint32_t)sp->top_k : 0;
  P.top_p = sp->top_p > 0 && sp->top_p < 1 ? sp->top_p : 1;
  P.min_p = sp->min_p > 0 ? sp->min_p : 0;
  P.penalty = sp->repeat_penalty > 0 ? sp->repeat_penalty : 1;
  P.repeat_n = sp->repeat_last_n > 0 ? (uint32_t)sp->repeat_last_n : 0;
  P.hist_pos = hist_pos;
  P.seed_lo = (uint32_t)sp->seed, P.seed_hi = (uint32_t)(sp->seed >> 32);
  P.step_lo = (uint32_t)step, P.step_hi = (uint32_t)(step >> 32);
  P.out_index = out_index;
  if (sp->no_eos)
    for (int i = 0; i < s->m->n_eos && i < 16; i++) P.eos[P.n_eos++] = (uint32_t)s->m->eos[i];
  /* the session's own buffers: its bind group made once; a batch's (which may be remade at the
   * same address while the session lives): one of its own */
  int own = logits.buf == s->logits && out_ids.buf == s->out_ids;
  if (own) dp_ops_sites_begin(s->m->ops, s->sites[DP_RT_SITES_SAMPLE]);
  dp_status st = dp_op_sample(s->m->ops, &P, logits, dp_view_of(s->work, 0), dp_view_of(s->hist, 0), dp_view_of(s->cur_id, 0),
                              out_ids);
  if (own) dp_ops_sites_end(s->m->ops);
  return st;
}

dp_status dp_rt_record_nll(dp_rt_session *s, uint32_t rows, uint32_t out_off, uint32_t tgt_off) {
  return dp_op_nll(s->m->ops, dp_view_of(s->nll, 0), dp_view_of(s->logits, 0), dp_view_of(s->targets, 0), rows,
                   (uint32_t)s->m->plan->vocab_size, out_off, tgt_off);
}

dp_status dp_rt_record_softcap(dp_rt_session *s, uint32_t rows, float c) {
  uint64_t n = (uint64_t)rows * (uint64_t)s->m->plan->vocab_size;
  if (n > UINT32_MAX) return dp_error(DP_ERR_UNSUPPORTED, "softcap: %llu logits", (unsigned long long)n);
  return dp_op_softcap(s->m->ops, dp_view_of(s->logits, 0), (uint32_t)n, c);
}
