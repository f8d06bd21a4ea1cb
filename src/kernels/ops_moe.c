/* ops_moe.c -- the mixture-of-experts ops of ops.h (moe_route, moe_matmul, moe_combine,
 * glu_clamp): shapes checked, parameters filled (each struct checked against its WGSL
 * Params), dispatches recorded through ops.c's helpers (ops_internal.h) with rows of its
 * variant table. The routing decisions never leave the GPU: moe_matmul reads the chosen ids
 * and the expert -> slot map from buffers, one dispatch per buffer of an expert bank. */
#include <string.h>
#include "core/error.h"
#include "kernels/ops_internal.h"

#define TRY(x) do { dp_status s_ = (x); if (s_) return s_; } while (0)

static uint64_t cdiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

typedef struct { uint32_t T, E, k, p0; } route_params;
_Static_assert(sizeof(route_params) == 16, "moe_route.wgsl Params");

dp_status dp_op_moe_route(dp_ops *o, dp_view ids, dp_view weights, dp_view logits, uint32_t T, uint32_t E, uint32_t k) {
  if (E == 0 || E > DP_MOE_MAX_EXPERTS || k == 0 || k > E)
    return dp_error(DP_ERR_INVALID_ARG, "moe_route: top-%u of %u experts (1 <= k <= E <= %d)", k, E, DP_MOE_MAX_EXPERTS);
  if (T == 0) return DP_OK;
  dp_gpu_binding b[3];
  TRY(dp_ops_bind(o, "moe_route", "logits", logits, (uint64_t)T * E * 4, &b[0]));
  TRY(dp_ops_bind(o, "moe_route", "ids", ids, (uint64_t)T * k * 4, &b[1]));
  TRY(dp_ops_bind(o, "moe_route", "weights", weights, (uint64_t)T * k * 4, &b[2]));
  uint32_t wg = dp_ops_cpu_kernels(o) ? dp_ops_cpu_wg(o) : 64;
  dp_gpu_kernel *kk;
  TRY(dp_ops_pipeline(o, dp_ops_vrow[DP_VROW_MOE_ROUTE], DP_F32, wg, &kk));
  route_params p = {T, E, k, 0};
  return dp_ops_run(o, kk, &p, sizeof p, b, 3, cdiv(T, wg));
}

typedef struct { uint32_t R, N, K, row_bytes, xdiv, s0, ns, flags, estride, p0, p1, p2; } moe_matmul_params;
_Static_assert(sizeof(moe_matmul_params) == 48, "moe_matmul.wgsl Params");

typedef struct { uint32_t R, E, p0, p1; } group_params;
_Static_assert(sizeof(group_params) == 16, "moe_group.wgsl Params");

dp_status dp_op_moe_group(dp_ops *o, dp_view groups, dp_view ids, uint32_t R, uint32_t E) {
  if (E == 0 || E > DP_MOE_MAX_EXPERTS) return dp_error(DP_ERR_INVALID_ARG, "moe_group: %u experts (1..%d)", E, DP_MOE_MAX_EXPERTS);
  if (R == 0) return DP_OK;
  dp_gpu_binding b[2];
  TRY(dp_ops_bind(o, "moe_group", "ids", ids, (uint64_t)R * 4, &b[0]));
  TRY(dp_ops_bind(o, "moe_group", "groups", groups, ((uint64_t)E + 1 + R) * 4, &b[1]));
  dp_gpu_kernel *kk;
  TRY(dp_ops_pipeline(o, dp_ops_vrow[DP_VROW_MOE_GROUP], DP_F32, DP_MOE_MAX_EXPERTS, &kk));
  group_params p = {R, E, 0, 0};
  return dp_ops_run(o, kk, &p, sizeof p, b, 2, 1);
}

dp_status dp_op_moe_matmul(dp_ops *o, dp_view y, dp_view x, dp_view ids, dp_view groups, const dp_moe_bank *bank,
                           uint32_t R, uint32_t xdiv) {
  const dp_moe_bank *k = bank;
  uint64_t rb = k->K ? dp_dtype_row_bytes(k->type, k->K) : UINT64_MAX;
  if (k->type > DP_MXFP4 || rb == UINT64_MAX || k->N == 0 || xdiv == 0 || R % xdiv || k->E == 0 || k->E > DP_MOE_MAX_EXPERTS)
    return dp_error(DP_ERR_INVALID_ARG, "moe_matmul: [%u, %u] %s experts, %u pairs / %u", k->N, k->K, dp_dtype_name(k->type), R, xdiv);
  if (k->estride % 4 || k->estride < k->N * rb || k->per_buf == 0 || !k->map.buf)
    return dp_error(DP_ERR_INVALID_ARG, "moe_matmul: expert bank stride %u for %u rows of %llu bytes", k->estride, k->N,
                    (unsigned long long)rb);
  if (R == 0 || k->n_slots == 0) return DP_OK;
  if ((uint64_t)k->per_buf * k->estride > UINT32_MAX || (uint64_t)R * k->N > UINT32_MAX || (uint64_t)R * k->K > UINT32_MAX)
    return dp_error(DP_ERR_UNSUPPORTED, "moe_matmul: %u pairs x [%u, %u] too large for 32-bit indexing", R, k->N, k->K);
  uint32_t E = k->E;
  dp_gpu_binding b[7];
  TRY(dp_ops_bind(o, "moe_matmul", "x", x, (uint64_t)R / xdiv * k->K * 4, &b[0]));
  if (k->bias.buf) TRY(dp_ops_bind(o, "moe_matmul", "bias", k->bias, (uint64_t)E * k->N * 4, &b[2]));
  else b[2] = dp_ops_dummy(o);
  TRY(dp_ops_bind(o, "moe_matmul", "ids", ids, (uint64_t)R * 4, &b[3]));
  TRY(dp_ops_bind(o, "moe_matmul", "map", k->map, (uint64_t)E * 4, &b[4]));
  TRY(dp_ops_bind(o, "moe_matmul", "y", y, (uint64_t)R * k->N * 4, &b[5]));
  int cpu = dp_ops_cpu_kernels(o), tiled = !cpu && groups.buf;
  if (tiled) TRY(dp_ops_bind(o, "moe_matmul", "groups", groups, ((uint64_t)E + 1 + R) * 4, &b[6]));
  uint32_t wg = cpu ? dp_ops_cpu_wg(o) : tiled || k->K > 512 ? 256 : 64;
  dp_gpu_kernel *kk;
  TRY(dp_ops_pipeline(o, dp_ops_vrow[cpu ? DP_VROW_MOE_ROWS : tiled ? DP_VROW_MOE_TILED : DP_VROW_MOE_GEMV], k->type, wg, &kk));
  uint64_t ntm = cdiv(R, 32), ntn = cdiv(k->N, 32);
  for (uint32_t s0 = 0, i = 0; s0 < k->n_slots; s0 += k->per_buf, i++) {
    uint32_t ns = k->n_slots - s0 < k->per_buf ? k->n_slots - s0 : k->per_buf;
    TRY(dp_ops_bind(o, "moe_matmul", "W", dp_view_of(k->buf[i], 0), (uint64_t)ns * k->estride, &b[1]));
    moe_matmul_params p = {R, k->N, k->K, (uint32_t)rb, xdiv, s0, ns, k->bias.buf ? 1u : 0u, k->estride, (uint32_t)ntm, E, 0};
    uint64_t groups_n = cpu ? cdiv((uint64_t)R * k->N, wg) : tiled ? E * ntm * ntn : (uint64_t)R * k->N;
    TRY(dp_ops_run(o, kk, &p, sizeof p, b, tiled ? 7 : 6, groups_n));
  }
  return DP_OK;
}

typedef struct { uint32_t T, D, k, flags; } combine_params;
_Static_assert(sizeof(combine_params) == 16, "moe_combine.wgsl Params");

dp_status dp_op_moe_combine(dp_ops *o, dp_view x, dp_view y, dp_view weights, uint32_t T, uint32_t D, uint32_t k,
                            uint32_t flags) {
  if (k == 0) return dp_error(DP_ERR_INVALID_ARG, "moe_combine: k = 0");
  if (T == 0 || D == 0) return DP_OK;
  if ((uint64_t)T * k * D > UINT32_MAX) return dp_error(DP_ERR_UNSUPPORTED, "moe_combine: %u x %u x %u too large", T, k, D);
  dp_gpu_binding b[3];
  TRY(dp_ops_bind(o, "moe_combine", "y", y, (uint64_t)T * k * D * 4, &b[0]));
  TRY(dp_ops_bind(o, "moe_combine", "weights", weights, (uint64_t)T * k * 4, &b[1]));
  TRY(dp_ops_bind(o, "moe_combine", "x", x, (uint64_t)T * D * 4, &b[2]));
  uint32_t wg = dp_ops_cpu_kernels(o) ? dp_ops_cpu_wg(o) : 256;
  dp_gpu_kernel *kk;
  TRY(dp_ops_pipeline(o, dp_ops_vrow[DP_VROW_MOE_COMBINE], DP_F32, wg, &kk));
  combine_params p = {T, D, k, flags & DP_MM_ACCUM ? 1u : 0u};
  return dp_ops_run(o, kk, &p, sizeof p, b, 3, cdiv((uint64_t)T * D, wg));
}

typedef struct { uint32_t n, act; float alpha, limit; } glu_params; /* glu.wgsl: act 2 reads p0, p1 as f32 */
_Static_assert(sizeof(glu_params) == 16, "glu.wgsl Params");

dp_status dp_op_glu_clamp(dp_ops *o, dp_view y, dp_view gate, dp_view up, uint32_t n, float alpha, float limit) {
  if (n == 0) return DP_OK;
  int inplace = y.buf == gate.buf && y.offset == gate.offset;
  dp_gpu_binding b[3];
  TRY(dp_ops_bind(o, "glu_clamp", "gate", gate, (uint64_t)n * 4, &b[0]));
  TRY(dp_ops_bind(o, "glu_clamp", "up", up, (uint64_t)n * 4, &b[1]));
  if (!inplace) TRY(dp_ops_bind(o, "glu_clamp", "y", y, (uint64_t)n * 4, &b[2]));
  dp_gpu_kernel *k;
  TRY(dp_ops_pipeline(o, dp_ops_vrow[inplace ? DP_VROW_GLU_INPLACE : DP_VROW_GLU], DP_F32, 256, &k));
  glu_params p = {n, 2, alpha, limit};
  return dp_ops_run(o, k, &p, sizeof p, b, inplace ? 2 : 3, cdiv(n, 256));
}
