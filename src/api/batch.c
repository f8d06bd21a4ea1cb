/* batch.c -- continuous batching for the public API (doppler.h dp_gen_resume_batch): each
 * generation's completed read-back is collected as dp_gen_resume collects it (tokens through
 * its callback, stop strings, its end), then every one still running gets its next decode
 * step in ONE batched step of the runtime (runtime/batch.c: one forward pass with a row per
 * generation, one sampling per row, one submit, one read-back shared by all). Never waits.
 * A server (one thread) calls it with the generations whose read-backs completed; output of
 * each is that of dp_gen_resume alone (batch-invariant decode, docs/runtime.md). */
#include "api/api_internal.h"
#include "core/alloc.h"
#include "core/error.h"

dp_status dp_gen_resume_batch(dp_gen **gens, size_t n, dp_status *st, size_t *rows) {
  if (rows) *rows = 0;
  if (n && (!gens || !st)) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_resume_batch: NULL argument");
  for (size_t i = 0; i < n; i++) {
    if (!gens[i]) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_resume_batch: generation %zu is NULL", i);
    if (dp_gen_model(gens[i]) != dp_gen_model(gens[0]))
      return dp_error(DP_ERR_INVALID_ARG, "dp_gen_resume_batch: generation %zu belongs to another model than generation 0", i);
    for (size_t j = 0; j < i; j++)
      if (gens[j] == gens[i]) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_resume_batch: generation %zu is generation %zu again", i, j);
  }
  if (n == 0) return DP_OK;
  dp_rt_gen **step = dp_malloc(n * sizeof *step);
  size_t *who = dp_malloc(n * sizeof *who);
  if (!step || !who) { dp_free(step); dp_free(who); return DP_ERR_NOMEM; }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int more = 0;
    st[i] = dp_gen_collect(gens[i], &more);
    if (more) step[k] = dp_gen_rt(gens[i]), who[k++] = i;
  }
  dp_status r = k ? dp_rt_batch_step(dp_gen_model(gens[0])->rt, step, k) : DP_OK;
  if (r) /* the step failed: each of its generations ends with the error, as a failed dp_gen_resume */
    for (size_t j = 0; j < k; j++) st[who[j]] = dp_gen_fail(gens[who[j]], r);
  else if (rows) *rows = k;
  dp_free(step);
  dp_free(who);
  return r;
}
