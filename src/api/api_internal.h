/* api_internal.h -- the structs behind the public handles of include/doppler.h, shared by
 * src/api/model.c (models, tokenizer, sessions) and src/api/generate.c (text generation)
 * and src/api/native.c (its blocking loop). */
#ifndef DP_API_INTERNAL_H
#define DP_API_INTERNAL_H
#include "doppler.h"
#include "gpu/gpu.h"
#include "runtime/runtime.h"
#include "tokenizer/tokenizer.h"

/* overrides.c: the run-time overrides in force and where each came from (doppler.h). */
typedef struct dp_overrides {
  int q4k, prec;                        /* DP_Q4K_FUSED / _DEQUANT; DP_PRECISION_F32 / _F16 */
  const char *q4k_from, *prec_from;     /* "flag", "manifest hint", "default", "fallback: ..." */
} dp_overrides;
dp_status dp_api_resolve_overrides(const dp_load_options *opt, const dp_model_file *mf, const dp_gpu_info *gi,
                                   dp_overrides *out);
dp_rt_load_opts dp_api_load_opts(const dp_overrides *o); /* what the runtime's upload does for them */

struct dp_model {
  dp_gpu *gpu;
  dp_rt_model *rt;
  dp_tokenizer *tok;       /* NULL when the model came without one (golden fixtures) */
  char arch[32];
  char kind[8];
  char adapter[256];
  dp_chat_kind chat;
  dp_overrides ov;
};

struct dp_session {
  dp_model *m;
  dp_rt_session *rt;
  dp_gen *active;          /* the generation in progress (generate.c), NULL when none */
};
/* generate.c: the read-back a dp_gen waits for (NULL when none), for native.c's wait. */
dp_gpu_readback *dp_gen_readback(const dp_gen *g);
dp_gpu *dp_gen_gpu(const dp_gen *g);
/* generate.c, for batch.c: dp_gen_resume in halves. Collect: take the completed read-back and
 * deliver its tokens; *more = 1 when g continues (then its runtime generation dp_gen_rt awaits
 * its next step: dp_rt_gen_submit alone, or a dp_rt_batch_step), else returns what
 * dp_gen_resume returns (its end, or DP_ERR_INVALID_ARG: resumed too early, nothing changed).
 * dp_gen_fail ends g after a failed step and returns its result. */
dp_status dp_gen_collect(dp_gen *g, int *more);
dp_status dp_gen_fail(dp_gen *g, dp_status st);
dp_rt_gen *dp_gen_rt(const dp_gen *g);   /* NULL once ended */
dp_model *dp_gen_model(const dp_gen *g);
/* model.c: the read-back a dp_logits waits for, for native.c's wait. */
dp_gpu_readback *dp_logits_readback(const dp_logits *r);
dp_gpu *dp_logits_gpu(const dp_logits *r);
/* load.c: the device a dp_load uploads to, for native.c's drain. */
dp_gpu *dp_load_gpu(const dp_load *l);
#endif
