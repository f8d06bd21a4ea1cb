/* quant.h -- CPU quantizers and dequantizers, bit-compatible with GGUF blocks.
 *   Q8_0: 32 elems, 34 bytes: f16 d, int8 q[32]; x = d*q
 *   Q4_K: 256 elems, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins (8 sub-blocks
 *         of 32), 128 bytes of nibbles; x = d*sc*q - dmin*m
 *   Q6_K: 256 elems, 210 bytes: ql[128], qh[64], int8 scales[16], f16 d; x = d*sc*(q-32)
 *   MXFP4: 32 elems, 17 bytes: E8M0 scale e, 16 bytes E2M1 (element j low nibble, j+16 high);
 *         x = 2^(e-127) * fp4(q)  (GGUF's block; note HF's packed order differs)
 * Quantizers search scales/mins to minimise squared error (not plain min/max). */
#ifndef DP_QUANT_QUANT_H
#define DP_QUANT_QUANT_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"

uint16_t dp_f32_to_f16(float f);   /* round to nearest even, inf/nan kept */
float dp_f16_to_f32(uint16_t h);
uint16_t dp_f32_to_bf16(float f);  /* round to nearest even */
float dp_bf16_to_f32(uint16_t h);

/* n elements (a multiple of the block size) of type t at src -> f32. */
dp_status dp_dequantize(dp_dtype t, const void *src, float *dst, uint64_t n);
/* f32 -> type t (F32, F16, BF16, Q8_0, Q4_K, Q6_K, MXFP4). `imatrix` may be NULL. */
dp_status dp_quantize(dp_dtype t, const float *src, void *dst, uint64_t n);

/* Single blocks (GGUF layout). Decoders: b -> y[32 or 256]. Encoders: x[32 or 256] -> b. */
void dp_dequant_q8_0_block(const uint8_t *b, float *y);   /* b: [34]  */
void dp_dequant_q4_k_block(const uint8_t *b, float *y);   /* b: [144] */
void dp_dequant_q6_k_block(const uint8_t *b, float *y);   /* b: [210] */
void dp_dequant_mxfp4_block(const uint8_t *b, float *y);  /* b: [17]  */
void dp_quant_q8_0_block(const float *x, uint8_t *b);
void dp_quant_q4_k_block(const float *x, uint8_t *b);
void dp_quant_q6_k_block(const float *x, uint8_t *b);
void dp_quant_mxfp4_block(const float *x, uint8_t *b);
/* Q4_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes s12, and back
 * (sc[8], m[8], each 0..63 -> s12[12]). */
void dp_q4k_scale_min(const uint8_t *s12, int j, uint8_t *sc, uint8_t *m);
void dp_q4k_pack_scales(const uint8_t *sc, const uint8_t *m, uint8_t *s12);
/* Q6_K: a block from its f16 super-scale d, int8 sub-scales sc[16] and codes q[256] in
 * -32..31 (element order) -> b[210]. */
void dp_q6k_pack(uint16_t d, const int8_t *sc, const int8_t *q, uint8_t *b);
extern const float dp_e2m1_value[16]; /* E2M1 code -> value */
float dp_e8m0_to_f32(uint8_t e);      /* 2^(e-127) (e = 0: 2^-127) */

/* HF/OpenAI packed MXFP4 (byte j = element 2j low nibble, 2j+1 high nibble) + its E8M0 scale
 * -> one GGUF 17-byte block (scale byte, then element j low / j+16 high). */
void dp_mxfp4_from_hf_packed(const uint8_t hf16[16], uint8_t scale, uint8_t out17[17]);

/* q4_k_m mix (llama.cpp's rule; docs/quantization.md). hf_tensor_name is the HF name
 * ("model.layers.3.self_attn.v_proj.weight") or the GGUF one ("blk.3.attn_v.weight");
 * layer is its block index (-1 if none), n_layers the block count; is_output_or_tied_embedding
 * marks lm_head, or the embedding when it is tied; row_len the elements per row. Returns Q6_K
 * or Q4_K, or the fallback when row_len does not divide into 256: Q8_0 if it divides into 32,
 * else F16. 1-D tensors (norms, biases) are the caller's business (they stay F32). */
dp_dtype dp_q4km_tensor_type(const char *hf_tensor_name, int layer, int n_layers,
                             int is_output_or_tied_embedding, uint64_t row_len);
/* The type to store a tensor wanted as `want` with rows of row_len elements: `want` if the rows
 * divide into its block, else Q8_0 if they divide into 32, else F16 (F32/F16/BF16 unchanged). */
dp_dtype dp_quant_fallback(dp_dtype want, uint64_t row_len);
#endif
