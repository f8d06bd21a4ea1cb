/* native.c -- the blocking host loop over the resumable generation of generate.c, for native
 * callers (the CLI, tests, and any embedder that may block): dp_gen_wait blocks until the
 * read-back in flight has completed (the device layer's dp_gpu_read_wait, Dawn's instance
 * event processing); dp_load_drain waits for the uploads a model load queued; dp_generate and dp_generate_ids are start, then wait + resume until
 * nothing is pending, then finish. This file is the only one in src/api and src/runtime's
 * generation path that waits for the GPU (scripts/wasm_check.sh checks; the browser build
 * awaits the map in JS instead and calls dp_gen_resume). */
#include "api/api_internal.h"
#include "core/error.h"

dp_status dp_load_drain(dp_load *l) {
  if (!l) return dp_error(DP_ERR_INVALID_ARG, "dp_load_drain: NULL loader");
  return dp_gpu_finish(dp_load_gpu(l));
}

dp_status dp_logits_wait(dp_logits *r) {
  if (!r) return dp_error(DP_ERR_INVALID_ARG, "dp_logits_wait: NULL argument");
  return dp_gpu_read_wait(dp_logits_gpu(r), dp_logits_readback(r));
}

dp_status dp_gen_wait(dp_gen *g) {
  if (!g) return dp_error(DP_ERR_INVALID_ARG, "dp_gen_wait: NULL argument");
  dp_gpu_readback *rb = dp_gen_readback(g); /* NULL: nothing pending, or a shared step's already taken */
  return rb ? dp_gpu_read_wait(dp_gen_gpu(g), rb) : DP_OK;
}

/* Drive g to its end: wait, resume, ..., finish. */
static dp_status run(dp_gen *g, dp_generate_stats *stats) {
  dp_status st = DP_OK;
  dp_gen_set_ahead(g, 1); /* stepped alone: each batch recorded while the one before runs */
  while (!st && dp_gen_pending(g)) {
    st = dp_gen_wait(g);
    if (!st) st = dp_gen_resume(g);
  }
  dp_status fs = dp_gen_finish(g, stats);
  return st ? st : fs;
}

dp_status dp_generate_ids(dp_session *s, const int32_t *ids, size_t n, const dp_generate_options *o, dp_token_fn cb,
                          void *user, dp_generate_stats *stats) {
  dp_gen *g;
  dp_status st = dp_gen_start_ids(s, ids, n, o, cb, user, &g);
  return st ? st : run(g, stats);
}

dp_status dp_generate(dp_session *s, const char *prompt, const dp_generate_options *o, dp_token_fn cb, void *user,
                      dp_generate_stats *stats) {
  dp_gen *g;
  dp_status st = dp_gen_start(s, prompt, o, cb, user, &g);
  return st ? st : run(g, stats);
}
