/* probe.c -- the probe ops of probe.h: check the views, fill probe.wgsl's Params, record one
 * dispatch. Called by src/api/bench.c (the ceilings of `doppler bench`) and tests/gpu_bench.c.
 * Depends on the device layer and the embedded WGSL (registry.h); the source needs no
 * library (no reductions, no weight decoding), so it is compiled as it is embedded. */
#include "kernels/probe.h"
#include "core/error.h"
#include "kernels/registry.h"

typedef struct { uint32_t n4, iters; float a, b; } probe_params;
_Static_assert(sizeof(probe_params) == 16, "probe.wgsl Params");

static dp_status probe(dp_ops *o, const char *entry, const probe_params *p, dp_view out, dp_view src, uint32_t n_groups) {
  dp_gpu *g = dp_ops_gpu(o);
  const dp_gpu_info *in = dp_gpu_get_info(g);
  uint64_t inv = (uint64_t)n_groups * DP_PROBE_WG;
  if (!n_groups) return dp_error(DP_ERR_INVALID_ARG, "probe %s: no workgroups", entry);
  dp_view v[2] = {out, src};
  uint64_t bytes[2] = {inv * 4, (uint64_t)p->n4 * 16};
  dp_gpu_binding b[2];
  size_t nb = src.buf ? 2 : 1;
  for (size_t i = 0; i < nb; i++) {
    if (!v[i].buf || v[i].offset % 256 || v[i].offset + bytes[i] > dp_gpu_buffer_size(v[i].buf))
      return dp_error(DP_ERR_INVALID_ARG, "probe %s: %s view: %llu bytes at offset %llu do not fit its buffer", entry,
                      i ? "src" : "out", (unsigned long long)bytes[i], (unsigned long long)v[i].offset);
    if (bytes[i] > in->max_storage_binding)
      return dp_error(DP_ERR_UNSUPPORTED, "probe %s: %llu bytes exceed the storage binding limit %llu", entry,
                      (unsigned long long)bytes[i], (unsigned long long)in->max_storage_binding);
    b[i] = (dp_gpu_binding){v[i].buf, v[i].offset, bytes[i], NULL};
  }
  dp_gpu_constant wg = {"WG", DP_PROBE_WG};
  dp_gpu_kernel *k;
  dp_status st = dp_gpu_kernel_get(g, "probe", dp_kernel_source("probe"), entry, &wg, 1, &k);
  if (st) return st;
  uint32_t gx, gy;
  dp_gpu_grid_2d(g, n_groups, &gx, &gy);
  if ((uint64_t)gx * gy != n_groups)
    return dp_error(DP_ERR_INVALID_ARG, "probe %s: %u workgroups do not fill a 2-D grid exactly", entry, n_groups);
  return dp_gpu_dispatch(g, k, p, sizeof *p, b, nb, gx, gy, 1);
}

dp_status dp_op_probe_read(dp_ops *o, dp_view out, dp_view src, uint32_t n4, uint32_t n_groups) {
  probe_params p = {n4, 0, 0, 0};
  if (!src.buf) return dp_error(DP_ERR_INVALID_ARG, "probe read: no source buffer");
  return probe(o, "read_sum", &p, out, src, n_groups);
}

dp_status dp_op_probe_fma(dp_ops *o, dp_view out, uint32_t iters, float a, float b, uint32_t n_groups) {
  probe_params p = {0, iters, a, b};
  return probe(o, "fma_chains", &p, out, (dp_view){0}, n_groups);
}
