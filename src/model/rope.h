/* rope.h -- RoPE frequency rules of the architectures (rope.c). */
#ifndef DP_MODEL_ROPE_H
#define DP_MODEL_ROPE_H
#include "doppler_status.h"
#include "format/hparams.h"

/* RoPE inverse frequencies inv_freq[i], i < rot_dim/2, for the rule in r (default, linear,
 * llama3, YaRN; rot_dim = r->rotary_dim or head_dim when that is 0), computed in double as
 * HF transformers does; *attn_factor gets the factor on cos/sin (YaRN mscale, else 1). */
dp_status dp_rope_freqs(const dp_rope *r, int head_dim, float *inv_freq, float *attn_factor);
#endif
