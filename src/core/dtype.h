/* dtype.h -- element/block types shared by formats, quantizers, kernels and runtime.
 * Block types follow GGUF exactly (bytes per block / elements per block). */
#ifndef DP_CORE_DTYPE_H
#define DP_CORE_DTYPE_H
#include <stdint.h>
typedef enum dp_dtype {
  DP_F32 = 0, DP_F16, DP_BF16, DP_Q8_0, DP_Q4_K, DP_Q6_K, DP_MXFP4,
  DP_I32, DP_U8, DP_I8, DP_I16, DP_I64, DP_F64, DP_BOOL,
  DP_DTYPE_COUNT
} dp_dtype;
const char *dp_dtype_name(dp_dtype t);            /* "f32", "q4_k", ... */
int dp_dtype_from_name(const char *name, dp_dtype *t); /* 0 ok, -1 unknown */
uint32_t dp_dtype_block_elems(dp_dtype t);        /* 1, or 32 / 256 for block types */
uint32_t dp_dtype_block_bytes(dp_dtype t);        /* bytes per block (or per element) */
/* Bytes for n elements (n a multiple of the block size), or UINT64_MAX if not. */
uint64_t dp_dtype_row_bytes(dp_dtype t, uint64_t n);
#endif
