/* ops_internal.h -- what the op files beside ops.c (ops_moe.c) share with it: the variant
 * table rows they dispatch, and ops.c's binding, pipeline and dispatch helpers. Not for the
 * runtime: it calls the ops of ops.h. */
#ifndef DP_KERNELS_OPS_INTERNAL_H
#define DP_KERNELS_OPS_INTERNAL_H
#include "kernels/ops.h"

/* Rows of ops.c's variant table used by ops_moe.c, by role; dp_ops_moe_row[role] is the row. */
enum { DP_VROW_MOE_ROUTE, DP_VROW_MOE_GEMV, DP_VROW_MOE_ROWS, DP_VROW_MOE_TILED, DP_VROW_MOE_GROUP, DP_VROW_MOE_COMBINE,
       DP_VROW_GLU, DP_VROW_GLU_INPLACE, DP_VROW_COUNT };
extern const int dp_ops_vrow[DP_VROW_COUNT];

/* The pipeline of table row v for weight type wt, workgroup size wg (a power of two <= 256);
 * counts the dispatch it is for. */
dp_status dp_ops_pipeline(dp_ops *o, int v, dp_dtype wt, uint32_t wg, dp_gpu_kernel **out);
/* A binding of `bytes` bytes at view v, checked against alignment, buffer size and limits. */
dp_status dp_ops_bind(dp_ops *o, const char *op, const char *what, dp_view v, uint64_t bytes, dp_gpu_binding *b);
/* The binding for an absent optional read-only input. */
dp_gpu_binding dp_ops_dummy(dp_ops *o);
/* Dispatch n_groups workgroups (linear ids) over a 2-D grid. */
dp_status dp_ops_run(dp_ops *o, dp_gpu_kernel *k, const void *p, size_t ps, const dp_gpu_binding *b, size_t nb,
                     uint64_t n_groups);
/* Workgroup size of the CPU-adapter (barrier-free) kernel family: one SIMD batch. */
uint32_t dp_ops_cpu_wg(const dp_ops *o);
#endif
