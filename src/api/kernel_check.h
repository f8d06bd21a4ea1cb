/* kernel_check.h -- run one entry of the ops' variant table (kernels/ops.h) on a small problem
 * that makes its op pick it, and compare with the CPU reference (src/ref). Used by the kernel
 * hot-swap of dp_model_load (dp_load_options.kernels: a replaced variant must pass before the
 * model runs with it) and by tests/gpu_kernels_variants.c (every variant of the table). */
#ifndef DP_API_KERNEL_CHECK_H
#define DP_API_KERNEL_CHECK_H
#include "kernels/ops.h"

/* Entry i on o (which must be able to run it, dp_ops_variant_available): DP_OK when every output
 * is within its tolerance of the reference (||out - ref|| / ||ref||; ids and copies exact) and
 * the op ran entry i; else an error whose message says which output and by how much, or why
 * the dispatch failed. *worst (may be NULL) gets the largest relative error seen. The ops'
 * kernel family and subgroup settings are restored afterwards. */
dp_status dp_kernel_check(dp_ops *o, size_t i, double *worst);
#endif
