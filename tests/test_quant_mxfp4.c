/* test_quant_mxfp4.c -- MXFP4: the gptoss golden checkpoint's packed experts (HF/OpenAI layout:
 * *_blocks U8 [E, out, in/32, 16] with element 2j in the low nibble of byte j, *_scales U8
 * [E, out, in/32]) repacked by dp_mxfp4_from_hf_packed into GGUF 17-byte blocks and decoded by
 * dp_dequantize must equal experts_dequant.safetensors ([E, in, out], transformers' own
 * dequantization, transposed) bit for bit; re-encoding those values with our MXFP4 quantizer
 * gives them back exactly (they lie on the grid); the nibble order is checked on a hand block. */
#include "quant/quant.h"
#include "testlib.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"

/* The whole file (core's reader; NULL if unreadable). Free with free(): dp_free is free. */
static uint8_t *slurp(const char *path, size_t *len) {
  char *d;
  return dp_file_read_all(path, &d, len) ? NULL : (uint8_t *)d;
}

/* Minimal safetensors lookup: data of tensor `name` with `want` bytes, or NULL. */
static const uint8_t *st_find(const uint8_t *buf, size_t len, const char *name, uint64_t want) {
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)buf[i] << (8 * i);
  char key[256];
  snprintf(key, sizeof key, "\"%s\":{", name);
  const char *h = (const char *)buf + 8, *p = strstr(h, key);
  if (!p || p > h + hl) return NULL;
  const char *off = strstr(p, "\"data_offsets\":[");
  unsigned long long a, b;
  if (!off || sscanf(off, "\"data_offsets\":[%llu,%llu]", &a, &b) != 2) return NULL;
  if (b - a != want || 8 + hl + b > len) return NULL;
  return buf + 8 + hl + a;
}

int main(void) {
  /* hand block: HF byte j = codes (2j, 2j+1); element k gets code k % 16 */
  uint8_t hf[16], g[17];
  for (int j = 0; j < 16; j++) hf[j] = (uint8_t)(((2 * j) % 16) | (((2 * j + 1) % 16) << 4));
  dp_mxfp4_from_hf_packed(hf, 128, g);
  float y[32];
  dp_dequantize(DP_MXFP4, g, y, 32);
  int hand_bad = 0;
  for (int k = 0; k < 32; k++) hand_bad += y[k] != 2.0f * dp_e2m1_value[k % 16];
  CHECK(g[0] == 128 && hand_bad == 0, "hand block: %d wrong", hand_bad);
  CHECK(g[1] == (0 | (0 << 4)) && g[2] == (1 | (1 << 4)), "GGUF byte j holds element j and j+16: %02x %02x", g[1], g[2]);
  CHECK(dp_e8m0_to_f32(0) == 0x1p-127f && dp_e8m0_to_f32(127) == 1 && dp_e8m0_to_f32(254) == 0x1p127f, "e8m0");

  size_t ml, dl;
  uint8_t *m = slurp(dp_test_shared("fixtures/golden/gptoss/model.safetensors"), &ml);
  uint8_t *d = slurp(dp_test_shared("fixtures/golden/gptoss/experts_dequant.safetensors"), &dl);
  CHECK(m && d, "read the gptoss fixture");
  if (!m || !d) return dp_test_summary("test_quant_mxfp4");
  static const char *proj[] = {"down_proj", "gate_up_proj"};
  long checked = 0, bad = 0, requant_bad = 0;
  for (int layer = 0; layer < 2; layer++)
    for (int pi = 0; pi < 2; pi++) {
      /* E = 8 experts, in = 128 (hidden or intermediate), out = 128 or 256 */
      const int E = 8, in = 128, out = pi ? 256 : 128, G = in / 32;
      char nb[128], ns[128], nd[128];
      snprintf(nb, sizeof nb, "model.layers.%d.mlp.experts.%s_blocks", layer, proj[pi]);
      snprintf(ns, sizeof ns, "model.layers.%d.mlp.experts.%s_scales", layer, proj[pi]);
      snprintf(nd, sizeof nd, "model.layers.%d.mlp.experts.%s", layer, proj[pi]);
      const uint8_t *blocks = st_find(m, ml, nb, (uint64_t)E * out * G * 16);
      const uint8_t *scales = st_find(m, ml, ns, (uint64_t)E * out * G);
      const uint8_t *ref = st_find(d, dl, nd, (uint64_t)E * in * out * 4);
      CHECK(blocks && scales && ref, "tensors of %s", nd);
      if (!blocks || !scales || !ref) continue;
      for (int e = 0; e < E; e++)
        for (int o = 0; o < out; o++)
          for (int gi = 0; gi < G; gi++) {
            size_t bi = ((size_t)e * out + o) * G + gi;
            uint8_t blk[17], again[17];
            float v[32], v2[32];
            dp_mxfp4_from_hf_packed(blocks + bi * 16, scales[bi], blk);
            dp_dequantize(DP_MXFP4, blk, v, 32);
            for (int k = 0; k < 32; k++) {
              float r; /* ref[e][in = gi*32+k][o] */
              memcpy(&r, ref + 4 * (((size_t)e * in + gi * 32 + k) * out + o), 4);
              bad += memcmp(&r, &v[k], 4) != 0; /* bit for bit, the sign of zero included */
              checked++;
            }
            dp_quantize(DP_MXFP4, v, again, 32);
            dp_dequantize(DP_MXFP4, again, v2, 32);
            for (int k = 0; k < 32; k++) requant_bad += v2[k] != v[k];
          }
    }
  printf("mxfp4: %ld values checked against experts_dequant, %ld differ; requantized: %ld differ\n", checked, bad,
         requant_bad);
  CHECK(checked == 2L * 8 * 128 * (128 + 256), "all expert values checked: %ld", checked);
  CHECK(bad == 0, "%ld values differ from transformers' dequantization", bad);
  CHECK(requant_bad == 0, "%ld values change when re-encoded", requant_bad);
  free(m), free(d);
  return dp_test_summary("test_quant_mxfp4");
}
