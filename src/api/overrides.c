/* overrides.c -- the run-time overrides of the seed's interface (doppler.h dp_load_options
 * q4k_matmul / compute_precision; `--q4k-matmul`, `--compute-precision` on the CLI): parsing
 * with the seed's aliases, and the choice made at load: the caller's flag, else the RDRR
 * manifest's hint (hints.q4kMatmul, hints.computePrecision, written by convert and
 * `doppler update-manifest`), else the default (fused, f32); f16 where the adapter lacks
 * shader-f16 falls back to f32 with a one-line warning. The result picks how the runtime
 * uploads the matrices (dp_rt_load_opts). Called by model.c. */
#include <string.h>

#include "api/api_internal.h"
#include "core/error.h"
#include "core/log.h"

dp_status dp_parse_q4k_matmul(const char *s, int *mode, int *precision) {
  if (s && (!strcmp(s, "fused") || !strcmp(s, "fused_q4k"))) { *mode = DP_Q4K_FUSED; return DP_OK; }
  if (s && (!strcmp(s, "dequant") || !strcmp(s, "dequant_f16"))) {
    *mode = DP_Q4K_DEQUANT;
    if (precision && !strcmp(s, "dequant_f16")) *precision = DP_PRECISION_F16;
    return DP_OK;
  }
  return dp_error(DP_ERR_INVALID_ARG, "'%s': expected fused or dequant (aliases fused_q4k, dequant_f16)", s ? s : "");
}

dp_status dp_parse_matvec_input(const char *s, int *mode) {
  if (s && !strcmp(s, "q8")) { *mode = DP_MATVEC_Q8; return DP_OK; }
  if (s && !strcmp(s, "f32")) { *mode = DP_MATVEC_F32; return DP_OK; }
  return dp_error(DP_ERR_INVALID_ARG, "'%s': expected q8 or f32", s ? s : "");
}

dp_status dp_parse_compute_precision(const char *s, int *precision) {
  if (s && !strcmp(s, "f32")) { *precision = DP_PRECISION_F32; return DP_OK; }
  if (s && !strcmp(s, "f16")) { *precision = DP_PRECISION_F16; return DP_OK; }
  return dp_error(DP_ERR_INVALID_ARG, "'%s': expected f16 or f32", s ? s : "");
}

dp_status dp_api_resolve_overrides(const dp_load_options *opt, const dp_model_file *mf, const dp_gpu_info *gi,
                                   dp_overrides *out) {
  memset(out, 0, sizeof *out);
  int q = opt ? opt->q4k_matmul : 0, p = opt ? opt->compute_precision : 0, hint_p = 0;
  if (q < DP_Q4K_AUTO || q > DP_Q4K_DEQUANT) return dp_error(DP_ERR_INVALID_ARG, "dp_load_options.q4k_matmul: %d", q);
  if (p < DP_PRECISION_AUTO || p > DP_PRECISION_F16)
    return dp_error(DP_ERR_INVALID_ARG, "dp_load_options.compute_precision: %d", p);
  out->q4k_from = "flag", out->prec_from = "flag";
  const char *hq = dp_model_file_hint(mf, "q4kMatmul"), *hp = dp_model_file_hint(mf, "computePrecision");
  if (!q && hq) {
    if (dp_parse_q4k_matmul(hq, &q, &hint_p))
      return dp_error(DP_ERR_FORMAT, "%s: manifest hints.q4kMatmul '%s': expected fused or dequant", dp_model_file_path(mf), hq);
    out->q4k_from = "manifest hint";
  }
  if (!q) q = DP_Q4K_FUSED, out->q4k_from = "default";
  if (!p && hp) {
    if (dp_parse_compute_precision(hp, &p))
      return dp_error(DP_ERR_FORMAT, "%s: manifest hints.computePrecision '%s': expected f16 or f32", dp_model_file_path(mf), hp);
    out->prec_from = "manifest hint";
  }
  if (!p && hint_p) p = hint_p, out->prec_from = "manifest hint"; /* hints.q4kMatmul "dequant_f16" */
  if (!p) p = DP_PRECISION_F32, out->prec_from = "default";
  if (p == DP_PRECISION_F16 && !gi->has_f16) {
    dp_log(DP_LOG_WARN, "compute precision f16 (%s): adapter '%s' has no shader-f16; using f32", out->prec_from, gi->adapter);
    p = DP_PRECISION_F32, out->prec_from = "fallback: no shader-f16";
  }
  out->q4k = q, out->prec = p;
  return DP_OK;
}

dp_rt_load_opts dp_api_load_opts(const dp_overrides *o) {
  dp_rt_load_opts lo = {o->q4k == DP_Q4K_DEQUANT, o->prec == DP_PRECISION_F16, 0, 0};
  return lo;
}
