/* sampler.c -- the C side of the runtime's own kernels: GPU sampling (sample.wgsl), per-row
 * negative log-likelihood for perplexity (sample_nll.wgsl) and final logit soft-capping
 * (sample_softcap.wgsl). Each function records one dispatch into the session's buffers and
 * never waits. Called by session.c and generate.c; depends on the device layer and the
 * embedded kernel registry. The uniform structs below mirror the WGSL `Params` exactly. */
#include <string.h>

#include "core/error.h"
#include "kernels/registry.h"
#include "runtime/runtime.h"

typedef struct sample_params {
  uint32_t vocab, top_k, hist_pos, repeat_n;
  float temperature, top_p, min_p, penalty;
  uint32_t seed_lo, seed_hi, step_lo, step_hi;
  uint32_t out_index, n_eos, pad0, pad1;
  uint32_t eos[16];
} sample_params;
_Static_assert(sizeof(sample_params) == 128, "sample_params must match sample.wgsl Params");

typedef struct nll_params { uint32_t vocab, rows, out_off, tgt_off; } nll_params;
_Static_assert(sizeof(nll_params) == 16, "nll_params must match sample_nll.wgsl Params");

typedef struct softcap_params { uint32_t n; float cap; } softcap_params;
_Static_assert(sizeof(softcap_params) == 8, "softcap_params must match sample_softcap.wgsl Params");

static dp_status kernel(dp_gpu *g, const char *name, dp_gpu_kernel **k) {
  return dp_gpu_kernel_get(g, name, dp_kernel_source(name), "main", NULL, 0, k);
}

static dp_gpu_binding bind(dp_gpu_buffer *b) {
  dp_gpu_binding x = {b, 0, 0, NULL};
  return x;
}

dp_status dp_rt_record_sample(dp_rt_session *s, const dp_rt_sampling *sp, uint32_t out_index, uint32_t hist_pos,
                              uint64_t step) {
  const dp_plan *p = s->m->plan;
  dp_gpu *g = s->m->gpu;
  dp_gpu_kernel *k;
  /* one SIMD batch of lavapipe / SwiftShader per workgroup on CPU adapters: barriers there
   * are a coroutine switch through every batch of the workgroup */
  dp_gpu_constant wg = {"WG", strcmp(dp_gpu_get_info(g)->adapter_type, "cpu") ? 256 : 8};
  dp_status st = dp_gpu_kernel_get(g, "sample", dp_kernel_source("sample"), "main", &wg, 1, &k);
  if (st) return st;
  sample_params P;
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
  dp_gpu_binding b[5] = {bind(s->logits), bind(s->work), bind(s->hist), bind(s->cur_id), bind(s->out_ids)};
  b[0].size = (uint64_t)p->vocab_size * 4; /* row 0 */
  return dp_gpu_dispatch(g, k, &P, sizeof P, b, 5, 1, 1, 1);
}

dp_status dp_rt_record_nll(dp_rt_session *s, uint32_t rows, uint32_t out_off, uint32_t tgt_off) {
  dp_gpu *g = s->m->gpu;
  dp_gpu_kernel *k;
  dp_status st = kernel(g, "sample_nll", &k);
  if (st) return st;
  nll_params P = {(uint32_t)s->m->plan->vocab_size, rows, out_off, tgt_off};
  dp_gpu_binding b[3] = {bind(s->logits), bind(s->targets), bind(s->nll)};
  uint32_t gx, gy;
  dp_gpu_grid_2d(g, rows, &gx, &gy);
  return dp_gpu_dispatch(g, k, &P, sizeof P, b, 3, gx, gy, 1);
}

dp_status dp_rt_record_softcap(dp_rt_session *s, uint32_t rows, float c) {
  dp_gpu *g = s->m->gpu;
  dp_gpu_kernel *k;
  dp_status st = kernel(g, "sample_softcap", &k);
  if (st) return st;
  uint64_t n = (uint64_t)rows * (uint64_t)s->m->plan->vocab_size;
  softcap_params P = {(uint32_t)n, c};
  dp_gpu_binding b[1] = {bind(s->logits)};
  uint32_t gx, gy;
  dp_gpu_grid_2d(g, (n + 255) / 256, &gx, &gy);
  return dp_gpu_dispatch(g, k, &P, sizeof P, b, 1, gx, gy, 1);
}
