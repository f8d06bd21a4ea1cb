/* mix.c -- which GGUF type each tensor gets: the q4_k_m mix and the row-size fallback.
 * Called by the converter (src/format) when it plans a quantized output. Depends on core/dtype.
 * The rule (llama.cpp's Q4_K_M, limited to this project's types; docs/quantization.md):
 *  - the output tensor (lm_head), or the token embedding when it is tied to the output: Q6_K;
 *  - attn_v (v_proj) and ffn_down (down_proj, MoE experts' down/w2 included) of layer i when
 *    use_more_bits(i, n) holds: i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 (integer division);
 *  - every other matrix: Q4_K;
 *  - then, if a row does not divide into the chosen type's block (256 for K-quants), Q8_0 if it
 *    divides into 32, else F16. */
#include "quant/quant.h"
#include <stdlib.h>
#include <string.h>

static int use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* Block index from "model.layers.N." / "layers.N." / "blk.N." / "h.N.", or -1. */
static int layer_of(const char *name) {
  static const char *keys[] = {"layers.", "blk.", "h."};
  for (int k = 0; k < 3; k++) {
    for (const char *p = strstr(name, keys[k]); p; p = strstr(p + 1, keys[k])) {
      if (p != name && p[-1] != '.') continue;
      const char *s = p + strlen(keys[k]);
      if (*s < '0' || *s > '9') continue;
      return atoi(s);
    }
  }
  return -1;
}

static int is_any(const char *name, const char *const *subs) {
  for (; *subs; subs++)
    if (strstr(name, *subs)) return 1;
  return 0;
}

dp_dtype dp_quant_fallback(dp_dtype want, uint64_t row_len) {
  uint32_t be = dp_dtype_block_elems(want);
  if (be <= 1 || (row_len && row_len % be == 0)) return want;
  return row_len && row_len % 32 == 0 ? DP_Q8_0 : DP_F16;
}

dp_dtype dp_q4km_tensor_type(const char *name, int layer, int n_layers,
                             int is_output_or_tied_embedding, uint64_t row_len) {
  static const char *const v_names[] = {"v_proj", "attn_v.", NULL};
  static const char *const down_names[] = {"down_proj", "ffn_down", ".w2.", "experts.down", NULL};
  dp_dtype t = DP_Q4_K;
  if (layer < 0 && name) layer = layer_of(name);
  if (is_output_or_tied_embedding) t = DP_Q6_K;
  else if (name && layer >= 0 && n_layers > 0 && (is_any(name, v_names) || is_any(name, down_names)) &&
           use_more_bits(layer, n_layers))
    t = DP_Q6_K;
  return dp_quant_fallback(t, row_len);
}
