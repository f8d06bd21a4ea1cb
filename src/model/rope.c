/* rope.c -- RoPE inverse-frequency tables from a layer's rope rule (model/rope.h): default,
 * linear, llama3 and YaRN, computed in double as HF transformers does. The runtime uploads the
 * table once per distinct rule; the CPU reference (src/ref) uses the same function. Depends on
 * core (errors) and format/hparams.h (dp_rope). */
#define _USE_MATH_DEFINES
#include "model/rope.h"
#include <math.h>
#include "core/error.h"
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* YaRN helpers, as in HF transformers' _compute_yarn_parameters. */
static double yarn_corr_dim(double rot, int dim, double base, double orig) {
  return dim * log(orig / (rot * 2 * M_PI)) / (2 * log(base));
}
static double yarn_mscale(double f) { return f <= 1 ? 1.0 : 0.1 * log(f) + 1.0; }

dp_status dp_rope_freqs(const dp_rope *r, int head_dim, float *inv_freq, float *attn_factor) {
  int dim = r->rotary_dim > 0 ? r->rotary_dim : head_dim;
  if (dim <= 0 || dim % 2 || dim > head_dim || r->theta <= 0)
    return dp_error(DP_ERR_INVALID_ARG, "rope: rotary dim %d (head_dim %d, theta %g) invalid", dim, head_dim, r->theta);
  double f = r->factor > 0 ? r->factor : 1.0;
  *attn_factor = 1.0f;
  double lo = 0, hi = 0;
  if (r->type == DP_ROPE_YARN) {
    double orig = r->original_max_pos;
    if (orig <= 0) return dp_error(DP_ERR_INVALID_ARG, "rope: yarn needs original_max_position_embeddings");
    double bf = r->beta_fast > 0 ? r->beta_fast : 32, bs = r->beta_slow > 0 ? r->beta_slow : 1;
    lo = yarn_corr_dim(bf, dim, r->theta, orig);
    hi = yarn_corr_dim(bs, dim, r->theta, orig);
    if (r->truncate) { lo = floor(lo); hi = ceil(hi); }
    if (lo < 0) lo = 0;
    if (hi > dim - 1) hi = dim - 1;
    if (lo == hi) hi += 0.001;
    *attn_factor = (float)(r->attention_factor > 0 ? r->attention_factor : yarn_mscale(f));
  }
  for (int i = 0; i < dim / 2; i++) {
    double base_f = 1.0 / pow(r->theta, (2.0 * i) / dim), v = base_f;
    switch (r->type) {
    case DP_ROPE_DEFAULT: break;
    case DP_ROPE_LINEAR: v = base_f / f; break;
    case DP_ROPE_LLAMA3: {
      double orig = r->original_max_pos, lf = r->low_freq_factor, hf = r->high_freq_factor;
      if (orig <= 0 || lf <= 0 || hf <= lf) return dp_error(DP_ERR_INVALID_ARG, "rope: llama3 needs original_max_position_embeddings and high_freq_factor > low_freq_factor > 0");
      double wavelen = 2 * M_PI / base_f;
      if (wavelen > orig / lf) v = base_f / f;                /* low frequencies: scaled */
      else if (wavelen < orig / hf) v = base_f;               /* high frequencies: kept */
      else {                                                  /* in between: smooth blend */
        double s = (orig / wavelen - lf) / (hf - lf);
        v = (1 - s) * base_f / f + s * base_f;
      }
      break;
    }
    case DP_ROPE_YARN: {
      double ramp = (i - lo) / (hi - lo);
      ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
      double extrap = 1 - ramp; /* weight of the unscaled (extrapolated) frequency */
      v = base_f / f * (1 - extrap) + base_f * extrap;
      break;
    }
    }
    inv_freq[i] = (float)v;
  }
  return DP_OK;
}

