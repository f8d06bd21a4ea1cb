/* f16.c -- IEEE binary16 and bfloat16 <-> binary32 conversions (see quant.h).
 * Called by the dequantizers and quantizers in this folder (block scales are f16), by the
 * format readers/writers and the CPU reference. Depends on nothing but <string.h>.
 * Narrowing rounds to nearest, ties to even; overflow gives inf; inf stays inf and NaN stays a
 * (quiet) NaN with its sign and the top bits of its payload; f32 values below half the smallest
 * f16 subnormal give signed zero. */
#include "quant/quant.h"
#include <string.h>

static uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

uint16_t dp_f32_to_f16(float f) {
  uint32_t x = bits_of(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) /* inf or NaN (quiet bit forced so a NaN never becomes inf) */
    return ax == 0x7f800000u ? sign | 0x7c00u : (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520: rounds to inf */
  if (ax >= 0x38800000u) {                       /* normal f16: rebias 127 -> 15 */
    uint32_t h = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  /* f16 subnormal or zero: value in units of 2^-24 is m * 2^(e-126) */
  uint32_t e = ax >> 23;
  if (e < 102) return sign; /* below 2^-25: rounds to zero */
  uint32_t m = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;
  uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

float dp_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    float v = (float)m * 0x1p-24f; /* exact: m < 2^10 */
    return sign ? -v : v;
  }
  if (e == 31) return float_of(sign | 0x7f800000u | (m << 13));
  return float_of(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t dp_f32_to_bf16(float f) {
  uint32_t x = bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

float dp_bf16_to_f32(uint16_t h) { return float_of((uint32_t)h << 16); }
