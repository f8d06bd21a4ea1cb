/* test_quant_f16.c -- f16/bf16 conversions (src/quant/f16.c): every f16 value round-trips,
 * every rounding boundary between neighbouring f16 values (subnormals, normals, the overflow to
 * inf) rounds to nearest with ties to even, inf/nan are kept, bf16 likewise; against the
 * compiler's _Float16 on random floats where it exists. */
#include "quant/quant.h"
#include "testlib.h"
#include <math.h>
#include <string.h>

static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bitsf(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

int main(void) {
  /* every f16 round-trips exactly (NaNs stay NaN with their sign) */
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = dp_f16_to_f32((uint16_t)h);
    uint16_t back = dp_f32_to_f16(f);
    int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (is_nan ? !(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff) && (back & 0x8000) == (h & 0x8000))
               : back != h)
      bad++;
  }
  CHECK(bad == 0, "%d f16 values do not round-trip", bad);
  /* each boundary between h and h+1 (positive finite): midpoint ties to even, either side nearest */
  int bad_mid = 0;
  for (uint32_t h = 0; h < 0x7c00; h++) {
    for (int s = 0; s < 2; s++) {
      uint32_t sg = s ? 0x8000 : 0;
      double a = dp_f16_to_f32((uint16_t)h), b = h + 1 == 0x7c00 ? 65536.0 : dp_f16_to_f32((uint16_t)(h + 1));
      float mid = (float)((a + b) / 2); /* exact: 12 significant bits */
      if (s) mid = -mid;
      uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
      float below = nextafterf(mid, 0), above = nextafterf(mid, s ? -INFINITY : INFINITY);
      if (dp_f32_to_f16(mid) != (sg | even) || dp_f32_to_f16(below) != (sg | h) ||
          dp_f32_to_f16(above) != (sg | (h + 1)))
        bad_mid++;
    }
  }
  CHECK(bad_mid == 0, "%d f16 rounding boundaries wrong", bad_mid);
  CHECK(dp_f32_to_f16(65519.99f) == 0x7bff && dp_f32_to_f16(65520.0f) == 0x7c00, "overflow edge");
  CHECK(dp_f32_to_f16(INFINITY) == 0x7c00 && dp_f32_to_f16(-INFINITY) == 0xfc00, "inf");
  CHECK(dp_f32_to_f16(1e30f) == 0x7c00 && dp_f32_to_f16(-1e30f) == 0xfc00, "huge -> inf");
  uint16_t hn = dp_f32_to_f16(fbits(0x7f800001u)); /* NaN with only a low payload bit */
  CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "nan kept as nan: %04x", hn);
  CHECK(dp_f32_to_f16(-NAN) & 0x8000, "nan sign kept");
  CHECK(dp_f32_to_f16(0x1p-24f) == 1 && dp_f32_to_f16(0x1p-25f) == 0 && dp_f32_to_f16(0x1.0001p-25f) == 1,
        "smallest subnormal and its half");
  CHECK(dp_f32_to_f16(fbits(1)) == 0 && dp_f32_to_f16(-fbits(1)) == 0x8000, "f32 subnormal -> signed zero");
  CHECK(dp_f32_to_f16(-0.0f) == 0x8000 && dp_f16_to_f32(0x8000) == 0 && signbit(dp_f16_to_f32(0x8000)), "-0");
  CHECK(dp_f16_to_f32(0x0001) == 0x1p-24f && dp_f16_to_f32(0x03ff) == 0x3ffp-24f && dp_f16_to_f32(0x0400) == 0x1p-14f,
        "subnormal decode");
  CHECK(dp_f16_to_f32(0x3c00) == 1.0f && dp_f16_to_f32(0xc000) == -2.0f && dp_f16_to_f32(0x7bff) == 65504.0f, "normals");
  CHECK(isinf(dp_f16_to_f32(0x7c00)) && isnan(dp_f16_to_f32(0x7e00)), "inf/nan decode");

#ifdef __FLT16_MAX__
  int bad_hw = 0;
  for (int i = 0; i < 200000; i++) {
    uint32_t u = dp_test_rand_u32();
    /* bias toward the f16 range: exponents 100..145 half the time */
    if (i & 1) u = (u & 0x807fffffu) | ((100u + dp_test_rand_u32() % 46) << 23);
    float f = fbits(u);
    if (isnan(f)) continue;
    _Float16 h = (_Float16)f;
    uint16_t hb;
    memcpy(&hb, &h, 2);
    if (dp_f32_to_f16(f) != hb) bad_hw++;
  }
  CHECK(bad_hw == 0, "%d random floats differ from the compiler's _Float16", bad_hw);
#endif

  /* bf16 */
  CHECK(dp_f32_to_bf16(1.0f) == 0x3f80 && dp_bf16_to_f32(0x3f80) == 1.0f, "bf16 1");
  CHECK(dp_f32_to_bf16(fbits(0x3f808000u)) == 0x3f80, "bf16 tie to even (down)");
  CHECK(dp_f32_to_bf16(fbits(0x3f818000u)) == 0x3f82, "bf16 tie to even (up)");
  CHECK(dp_f32_to_bf16(fbits(0x3f808001u)) == 0x3f81 && dp_f32_to_bf16(fbits(0x3f807fffu)) == 0x3f80, "bf16 nearest");
  CHECK(dp_f32_to_bf16(INFINITY) == 0x7f80 && dp_f32_to_bf16(-INFINITY) == 0xff80, "bf16 inf");
  CHECK(dp_f32_to_bf16(fbits(0x7f7fffffu)) == 0x7f80, "bf16 overflow to inf");
  uint16_t bn = dp_f32_to_bf16(fbits(0x7f800001u));
  CHECK((bn & 0x7f80) == 0x7f80 && (bn & 0x7f), "bf16 nan kept: %04x", bn);
  CHECK(dp_f32_to_bf16(fbits(0x00000001u)) == 0 && dp_f32_to_bf16(fbits(0x00018000u)) == 0x0002,
        "bf16 subnormals round too");
  int bad_bf = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = dp_bf16_to_f32((uint16_t)h);
    if (bitsf(f) != h << 16) bad_bf++;
    if (!isnan(f) && dp_f32_to_bf16(f) != h) bad_bf++;
  }
  CHECK(bad_bf == 0, "%d bf16 values do not round-trip", bad_bf);
  return dp_test_summary("test_quant_f16");
}
