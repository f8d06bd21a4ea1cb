/* synth_blocks.c -- the random values of synthetic weights (synth_rng.h): the streams and
 * value tables synth.c writes HF checkpoints with, and the converter's synthetic source for
 * `synth --quant` (synth_gen_rows), which writes quantized blocks straight from the streams.
 * Depends on core (parallel-safe: no state), quant (f16 rounding, block packing) and the
 * format layer's tensor description.
 *
 * Random blocks (every word position is a function of the tensor's stream and the block index,
 * so any row range can be made by any thread; sd is the tensor's standard deviation):
 *   Q4_K  x = d*sc*(q - 6) (dmin = d, m = 6*sc), q ~ Binomial(12, 1/2): the sum of the bit
 *         counts of three random nibbles (mean 6, variance 3, +-3.46 sd as the Irwin-Hall bytes),
 *         sc in 7..10 per sub-block of 32 (mean sc^2 73.5), d = sd / sqrt(3 * 73.5).
 *         49 words a block: one for the scales, 3 per 16 codes.
 *   Q6_K  x = d*sc*(q - 32), q - 32 = Binomial(48, 1/2) - 24 (the bit counts of six random
 *         bytes: variance 12, within -24..24), sc in 8..15 per 16 (mean sc^2 137.5),
 *         d = sd / sqrt(12 * 137.5). 193 words a block.
 *   Q8_0  x = d*q, q = (S - 510) / 4 truncated, S the sum of four random bytes (-127..127,
 *         sd 36.95), d = sd / 36.95. 16 words a block.
 *   MXFP4 random bytes (every nibble an E2M1 code, rms 2.93) under the E8M0 scale nearest
 *         sd / 2.93, as gpt-oss's HF blocks. 2 words a block.
 * Float types get f32 values from the tables (element e from word e / 2). */
#include "tools/synth_rng.h"
#include "quant/quant.h"
#include <math.h>
#include <string.h>

uint64_t synth_stream(uint64_t seed, const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
  return (seed ^ h) + SYNTH_GAMMA;
}

/* base + sd * z, z the centred sum of four uniform bytes (mean 510, variance 65535 / 3) scaled
 * to unit variance; the table holds the values already in the stored type (so an f16 model is
 * exactly the f32 model rounded). */
void synth_table(double base, double sd, dp_dtype dt, float *f, uint8_t *tab) {
  const double k = sd / sqrt(65535.0 / 3.0);
  for (int i = 0; i < SYNTH_LEVELS; i++) f[i] = (float)(base + (double)(i - 510) * k);
  if (dt == DP_F32) memcpy(tab, f, SYNTH_LEVELS * sizeof *f);
  else dp_quantize(dt, f, tab, SYNTH_LEVELS); /* f16/bf16: cannot fail */
}

/* The sums of bytes 0-3 and 4-7 of z. */
static inline void two_sums(uint64_t z, uint32_t *a, uint32_t *b) {
  uint64_t t = (z & 0x00ff00ff00ff00ffull) + ((z >> 8) & 0x00ff00ff00ff00ffull);
  t = (t & 0x0000ffff0000ffffull) + ((t >> 16) & 0x0000ffff0000ffffull);
  *a = (uint32_t)(t & 0xffffffffu), *b = (uint32_t)(t >> 32);
}

void synth_fill(uint8_t *out, size_t n, uint64_t *s, const uint8_t *tab, size_t es) {
  uint64_t c = *s;
  uint32_t x, y;
  size_t i = 0;
  if (es == 2) {
    const uint16_t *t = (const uint16_t *)(const void *)tab;
    uint16_t *o = (uint16_t *)(void *)out;
    for (; i + 1 < n; i += 2) two_sums(synth_mix64(c += SYNTH_GAMMA), &x, &y), o[i] = t[x], o[i + 1] = t[y];
  } else {
    const uint32_t *t = (const uint32_t *)(const void *)tab;
    uint32_t *o = (uint32_t *)(void *)out;
    for (; i + 1 < n; i += 2) two_sums(synth_mix64(c += SYNTH_GAMMA), &x, &y), o[i] = t[x], o[i + 1] = t[y];
  }
  if (i < n) two_sums(synth_mix64(c += SYNTH_GAMMA), &x, &y), memcpy(out + i * es, tab + x * es, es);
  *s = c;
}

/* ---------------------------------------------------------------- random blocks */

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }

/* Bit counts of each nibble (0..4) / each byte (0..8) of z. */
static inline uint64_t nibble_counts(uint64_t z) {
  z -= (z >> 1) & 0x5555555555555555ull;
  return (z & 0x3333333333333333ull) + ((z >> 2) & 0x3333333333333333ull);
}
static inline uint64_t byte_counts(uint64_t z) {
  z = nibble_counts(z);
  return (z + (z >> 4)) & 0x0f0f0f0f0f0f0f0full;
}

#define Q4K_WORDS 49
static void q4k_blocks(uint64_t s, double sd, uint64_t b0, uint64_t nb, uint8_t *out) {
  uint16_t d = dp_f32_to_f16((float)(sd / sqrt(3 * 73.5)));
  for (uint64_t b = 0; b < nb; b++) {
    uint64_t c = s + (b0 + b) * Q4K_WORDS * SYNTH_GAMMA, z = synth_mix64(c += SYNTH_GAMMA);
    uint8_t *p = out + b * 144, sc[8], m[8];
    for (int j = 0; j < 8; j++) sc[j] = (uint8_t)(7 + ((z >> (2 * j)) & 3)), m[j] = (uint8_t)(6 * sc[j]);
    wr16(p, d), wr16(p + 2, d);
    dp_q4k_pack_scales(sc, m, p + 4);
    for (int w = 0; w < 16; w++) { /* 16 codes a word, each the bit count of three nibbles: 0..12 */
      uint64_t q = nibble_counts(synth_mix64(c += SYNTH_GAMMA));
      q += nibble_counts(synth_mix64(c += SYNTH_GAMMA));
      q += nibble_counts(synth_mix64(c += SYNTH_GAMMA));
      for (int k = 0; k < 8; k++) p[16 + 8 * w + k] = (uint8_t)(q >> (8 * k));
    }
  }
}

#define Q6K_WORDS 193
static void q6k_blocks(uint64_t s, double sd, uint64_t b0, uint64_t nb, uint8_t *out) {
  uint16_t d = dp_f32_to_f16((float)(sd / sqrt(12 * 137.5)));
  for (uint64_t b = 0; b < nb; b++) {
    uint64_t c = s + (b0 + b) * Q6K_WORDS * SYNTH_GAMMA, z = synth_mix64(c += SYNTH_GAMMA);
    int8_t sc[16], q[256];
    for (int j = 0; j < 16; j++) sc[j] = (int8_t)(8 + ((z >> (3 * j)) & 7));
    for (int i = 0; i < 256; i += 8) { /* 8 codes from six words' byte bit counts: 0..48 */
      uint64_t n = 0;
      for (int k = 0; k < 6; k++) n += byte_counts(synth_mix64(c += SYNTH_GAMMA));
      for (int k = 0; k < 8; k++) q[i + k] = (int8_t)((int)((n >> (8 * k)) & 0xff) - 24);
    }
    dp_q6k_pack(d, sc, q, out + b * 210);
  }
}

#define Q8_WORDS 16
static void q8_blocks(uint64_t s, double sd, uint64_t b0, uint64_t nb, uint8_t *out) {
  uint16_t d = dp_f32_to_f16((float)(sd / 36.95));
  for (uint64_t b = 0; b < nb; b++) {
    uint64_t c = s + (b0 + b) * Q8_WORDS * SYNTH_GAMMA;
    uint8_t *p = out + b * 34;
    wr16(p, d);
    for (int i = 0; i < 32; i += 2) {
      uint32_t x, y;
      two_sums(synth_mix64(c += SYNTH_GAMMA), &x, &y);
      p[2 + i] = (uint8_t)(int8_t)(((int)x - 510) / 4), p[3 + i] = (uint8_t)(int8_t)(((int)y - 510) / 4);
    }
  }
}

#define MXFP4_WORDS 2
static void mxfp4_blocks(uint64_t s, double sd, uint64_t b0, uint64_t nb, uint8_t *out) {
  long e = 127 + lround(log2(sd / 2.926));
  uint8_t scale = (uint8_t)(e < 1 ? 1 : e > 254 ? 254 : e);
  for (uint64_t b = 0; b < nb; b++) {
    uint64_t c = s + (b0 + b) * MXFP4_WORDS * SYNTH_GAMMA, z[2];
    z[0] = synth_mix64(c += SYNTH_GAMMA), z[1] = synth_mix64(c += SYNTH_GAMMA);
    out[b * 17] = scale;
    for (int k = 0; k < 16; k++) out[b * 17 + 1 + k] = (uint8_t)(z[k / 8] >> (8 * (k % 8)));
  }
}

/* ---------------------------------------------------------------- the converter's source */

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* A tensor's spread as synth.c's list gives it, from its name and shape as the HF reader
 * presents it: 1-D norm weights base 1 (Gemma 0) sd 0.1; other 1-D tensors (biases, sinks, the
 * experts' biases) base 0 sd 0.1; matrices sd 1/sqrt(fan_in), the embedding and lm_head
 * 2/sqrt(d_model). */
static void spread(const synth_gen *g, const dp_tensor_info *t, double *base, double *sd) {
  uint64_t in = t->shape[t->n_dims - 1];
  *base = 0, *sd = 0.1;
  if (t->n_dims == 1) *base = ends_with(t->name, "norm.weight") && !g->gemma ? 1 : 0;
  else *sd = (ends_with(t->name, "embed_tokens.weight") || !strcmp(t->name, "lm_head.weight") ? 2 : 1) / sqrt((double)in);
}

void synth_gen_rows(void *ctx, const dp_tensor_info *t, dp_dtype dt, uint64_t row_len, uint64_t row0, uint64_t rows, void *out) {
  const synth_gen *g = ctx;
  double base, sd;
  spread(g, t, &base, &sd);
  uint64_t s = synth_stream(g->seed, t->name), be = dp_dtype_block_elems(dt);
  if (be > 1) {
    uint64_t b0 = row0 * row_len / be, nb = rows * row_len / be;
    switch (dt) {
    case DP_Q4_K: q4k_blocks(s, sd, b0, nb, out); break;
    case DP_Q6_K: q6k_blocks(s, sd, b0, nb, out); break;
    case DP_Q8_0: q8_blocks(s, sd, b0, nb, out); break;
    default: mxfp4_blocks(s, sd, b0, nb, out); break; /* the converter's only other block type */
    }
    return;
  }
  /* f32 values: element e from word e / 2 (its first or second byte sum) */
  float f[SYNTH_LEVELS];
  uint8_t tab[SYNTH_LEVELS * 4];
  synth_table(base, sd, DP_F32, f, tab);
  uint64_t e0 = row0 * row_len, n = rows * row_len, c = s + (e0 / 2) * SYNTH_GAMMA;
  float *o = out;
  if (e0 % 2) { /* the second value of a word first */
    uint32_t x, y;
    two_sums(synth_mix64(c += SYNTH_GAMMA), &x, &y);
    *o++ = f[y], n--;
  }
  synth_fill((uint8_t *)o, (size_t)n, &c, tab, 4);
}
