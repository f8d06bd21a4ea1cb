/* wgsl_layout.h -- the bind-group layout of a WGSL module, read from its
 * `@group(0) @binding(N) var...` declarations, as the device layer builds it explicitly
 * (gpu.h: binding 0 the uniform parameters). Portable C with no WebGPU
 * types: used by the device layer's common half (gpu_common.c) and both backends. */
#ifndef DP_GPU_WGSL_LAYOUT_H
#define DP_GPU_WGSL_LAYOUT_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

enum {
  DP_WGSL_NONE = 0,       /* no declaration with this number */
  DP_WGSL_UNIFORM,        /* var<uniform> */
  DP_WGSL_STORAGE_RO,     /* var<storage, read> (also var<storage>) */
  DP_WGSL_STORAGE_RW,     /* var<storage, read_write> */
  DP_WGSL_TEXTURE_U32,    /* var NAME: texture_2d<u32> */
};
#define DP_WGSL_MAX_BINDINGS 16

/* kinds[i] for every binding number i < *n (*n = the highest declared number + 1). Comments
 * are skipped. DP_ERR_INVALID_ARG (with dp_error) for a group other than 0, a number past
 * DP_WGSL_MAX_BINDINGS - 1, one declared twice with different kinds, or a declaration of
 * another kind. */
dp_status dp_wgsl_layout(const char *src, uint8_t kinds[DP_WGSL_MAX_BINDINGS], size_t *n);
#endif
