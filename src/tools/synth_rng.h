/* synth_rng.h -- internal to tools/synth*.c: the random values of synthetic weights.
 * splitmix64 streams, one per tensor, seeded from the seed and the FNV-1a hash of its name:
 * word i (from 0) of a stream is synth_mix64(s + (i + 1) * SYNTH_GAMMA) with s = synth_stream(seed,
 * name), so a generator carries only a counter and any position can be reached directly. A normal deviate
 * is the centred sum of four random bytes (Irwin-Hall: 1021 levels within +-3.45 sd), two per
 * word, looked up in a per-tensor table of the 1021 values in the stored type.
 * synth.c writes HF checkpoints with them; synth_blocks.c generates quantized blocks (and f32
 * values) for `--quant`, handed to the converter as its synthetic source. */
#ifndef DP_TOOLS_SYNTH_RNG_H
#define DP_TOOLS_SYNTH_RNG_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "format/model_file.h"

#define SYNTH_GAMMA 0x9E3779B97F4A7C15ull
static inline uint64_t synth_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* The counter of a tensor's stream before its first word. */
uint64_t synth_stream(uint64_t seed, const char *name);

#define SYNTH_LEVELS 1021
/* The 1021 values base + sd * z into f (f32) and tab (in type dt: F32, F16 or BF16). */
void synth_table(double base, double sd, dp_dtype dt, float *f, uint8_t *tab);
/* n elements of es bytes (2 or 4) from the table into out, continuing stream counter *s. */
void synth_fill(uint8_t *out, size_t n, uint64_t *s, const uint8_t *tab, size_t es);

/* The converter's synthetic source (dp_convert_opts.gen) for `synth --quant`; ctx is a
 * synth_gen. Values per tensor as the HF checkpoint's (synth.h): matrices N(0, 1/fan_in)
 * (embedding and lm_head 4/d_model), norm weights 1 + N(0, 0.01) (Gemma: N(0, 0.01)), biases
 * and sinks N(0, 0.01); block types are written as random blocks of that spread directly
 * (synth_blocks.c), never quantized from f32. */
typedef struct synth_gen {
  uint64_t seed;
  int gemma; /* Gemma norms: w ~ N(0, 0.01) (applied as 1 + w) */
} synth_gen;
void synth_gen_rows(void *ctx, const dp_tensor_info *t, dp_dtype dt, uint64_t row_len, uint64_t row0, uint64_t rows, void *out);
#endif
