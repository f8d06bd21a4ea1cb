/* probe.h -- the two probe ops of `doppler bench` (probe.wgsl): a memory read-bandwidth
 * kernel and an FP32 FMA-throughput kernel, each recording one dispatch of n_groups
 * workgroups of DP_PROBE_WG invocations (nothing is submitted). Their results are
 * checkable on the CPU (dp_ref_probe_read / dp_ref_probe_fma in src/ref/kernels_ref.h), so
 * a timing is only believed after the numbers came back right. */
#ifndef DP_KERNELS_PROBE_H
#define DP_KERNELS_PROBE_H
#include <stdint.h>
#include "kernels/ops.h"

#define DP_PROBE_WG 256
/* out[i], i < n_groups * DP_PROBE_WG: the sum of all components of the vec4s src[j],
 * j = i, i + S, ... < n4 (S = n_groups * DP_PROBE_WG). src: [n4] vec4<f32> (16 n4 bytes,
 * within maxStorageBufferBindingSize); out: [n_groups * DP_PROBE_WG] f32. */
dp_status dp_op_probe_read(dp_ops *o, dp_view out, dp_view src, uint32_t n4, uint32_t n_groups);
/* out[i]: the sum of 16 chains x <- fma(x, a, b) run `iters` times from 0..15;
 * 32 * iters FLOPs per invocation. out: [n_groups * DP_PROBE_WG] f32. */
dp_status dp_op_probe_fma(dp_ops *o, dp_view out, uint32_t iters, float a, float b, uint32_t n_groups);
#endif
