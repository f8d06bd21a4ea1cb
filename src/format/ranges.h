/* ranges.h -- tensor byte ranges must not overlap: one check for the three readers
 * (safetensors.c, gguf.c, rdrr_read.c). */
#ifndef DP_FORMAT_RANGES_H
#define DP_FORMAT_RANGES_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

typedef struct dp_range {
  uint64_t begin, end; /* [begin, end) in one address space (file or concatenated shards) */
  const char *name;    /* the tensor, for the error */
} dp_range;
/* Sorts r by begin; empty ranges never overlap. Error (DP_ERR_FORMAT) naming `what`, both
 * tensors and the byte offset where the later one starts inside the earlier one. */
dp_status dp_ranges_disjoint(dp_range *r, size_t n, const char *what);
#endif
