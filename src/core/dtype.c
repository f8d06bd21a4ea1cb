/* dtype.c -- dtype names and sizes (see dtype.h). */
#include "core/dtype.h"
#include <string.h>

static const struct { const char *name; uint32_t elems, bytes; } T[DP_DTYPE_COUNT] = {
  [DP_F32] = {"f32", 1, 4},     [DP_F16] = {"f16", 1, 2},       [DP_BF16] = {"bf16", 1, 2},
  [DP_Q8_0] = {"q8_0", 32, 34}, [DP_Q4_K] = {"q4_k", 256, 144}, [DP_Q6_K] = {"q6_k", 256, 210},
  [DP_MXFP4] = {"mxfp4", 32, 17}, [DP_I32] = {"i32", 1, 4},     [DP_U8] = {"u8", 1, 1},
  [DP_I8] = {"i8", 1, 1},       [DP_I16] = {"i16", 1, 2},       [DP_I64] = {"i64", 1, 8},
  [DP_F64] = {"f64", 1, 8},     [DP_BOOL] = {"bool", 1, 1},
};

const char *dp_dtype_name(dp_dtype t) { return (unsigned)t < DP_DTYPE_COUNT ? T[t].name : "?"; }
int dp_dtype_from_name(const char *name, dp_dtype *t) {
  for (int i = 0; i < DP_DTYPE_COUNT; i++)
    if (!strcmp(T[i].name, name)) { *t = (dp_dtype)i; return 0; }
  return -1;
}
uint32_t dp_dtype_block_elems(dp_dtype t) { return (unsigned)t < DP_DTYPE_COUNT ? T[t].elems : 0; }
uint32_t dp_dtype_block_bytes(dp_dtype t) { return (unsigned)t < DP_DTYPE_COUNT ? T[t].bytes : 0; }
uint64_t dp_dtype_row_bytes(dp_dtype t, uint64_t n) {
  uint32_t e = dp_dtype_block_elems(t);
  if (!e || n % e) return UINT64_MAX;
  return n / e * T[t].bytes;
}
